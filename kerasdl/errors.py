"""Errors that the `kerasdl` command shows as one line instead of a traceback."""


class UserError(ValueError):
    """Bad input from the user: a preset, key, value, path or file.

    The command prints the message as one line on stderr and exits with
    status 2. Raise it before anything is written, with a message that names
    the argument, the value received and what is allowed.
    """

    exit_status = 2


class RunFailed(RuntimeError):
    """A run that started but could not finish (diverged, failed a check).

    The command prints the message as one line and exits with status 1; the
    run directory keeps what a rerun needs to resume or to be inspected.
    """

    exit_status = 1


def first_line(error):
    """An exception's first line of text (its type's name if it has none), for one-line messages."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def first_few(phrases, shown=3):
    """`"a; b; c; and 2 more"`: a list of phrases that still fits one line."""
    more = len(phrases) - shown
    return "; ".join(phrases[:shown]) + (f"; and {more} more" if more > 0 else "")
