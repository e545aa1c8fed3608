"""Progress of a long step outside `fit()` (reading a folder, the bfloat16
probe, each TFLite variant's conversion and checks) on one terminal line.

The line is rewritten in place, at most a few times a second, with the time
the step has taken, and erased when the step ends, so the screen ends as it
would without it (Keras's epoch bars above, kerasdl's summary below). Where
standard output is not a terminal (a log file, CI, a test) nothing is
written: a log gets kerasdl's own lines only.

Example:
    >>> with StageLine("export") as line:
    ...     line.say("float16: converting")
    ...     line.count("reading", 120, 5000)
"""

import sys
import time

REFRESH_SECONDS = 0.2


class StageLine:
    """One transient status line on `stream` (default: standard output).

    Args:
        label: what the step is, the line's first word(s).
        stream: where to write; nothing is written unless it is a terminal.
        enabled: False writes nothing (a run with `verbose=0`).
    """

    def __init__(self, label, stream=None, enabled=True):
        self.label = label
        self.stream = stream or sys.stdout
        self.live = enabled and _is_terminal(self.stream)
        self.started = time.monotonic()
        self._shown = 0.0
        self._width = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def say(self, text, force=True):
        """Shows `label: text (N s)`; with `force=False`, only if the last update is old enough."""
        if not self.live:
            return
        now = time.monotonic()
        if not force and now - self._shown < REFRESH_SECONDS:
            return
        self._shown = now
        line = f"{self.label}: {text} ({now - self.started:.1f} s)"
        self.stream.write("\r" + line.ljust(self._width))
        self.stream.flush()
        self._width = len(line)

    def count(self, text, done, total):
        """Shows `text done/total`, throttled: call it for every item."""
        self.say(f"{text} {done}/{total}", force=done >= total)

    def close(self):
        """Erases the line."""
        if self.live and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
            self._width = 0


def _is_terminal(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
