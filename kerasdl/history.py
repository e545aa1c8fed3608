"""`history.csv`, the per-epoch record of a run, read without trusting it.

Keras's CSVLogger writes a header, then appends one row per epoch, across
resumes. The file can still be damaged: a crash in the middle of a row, two
processes appending at once (before run directories were locked, two
`kerasdl train` at the same moment interleaved two headers), a hand edit.
Reading never raises: rows that are not intact are left out and described.
Before a resume the file is rewritten from its intact rows and the damaged
one kept beside it, so the resumed run appends to a clean file (an appended
row would otherwise continue a half-written last line).
"""

import csv
import dataclasses
import math
import os
from pathlib import Path

from kerasdl.errors import UserError, first_few

# What chose the best checkpoint of a family that keeps its last epoch (a
# GAN), in place of a monitored metric (`tasks.checkpoint_rule`).
LAST_EPOCH = "last epoch"

HISTORY_FILE = "history.csv"
DAMAGED_COPY = "history.damaged.csv"


@dataclasses.dataclass
class History:
    """What a history file holds: its header, its intact rows, what is wrong."""

    header: list
    rows: dict  # epoch -> the row's cells as written; an epoch redone after a resume: its last row
    problems: list  # one phrase each, e.g. "line 5 repeats the header"

    def metrics(self, before=None):
        """`{metric: [value per epoch]}` from the intact rows, in epoch order;
        with `before`, only the epochs numbered below it (0-based)."""
        history = {}
        for epoch in sorted(self.rows):
            if before is not None and epoch >= before:
                break
            for key, cell in zip(self.header[1:], self.rows[epoch][1:], strict=True):
                history.setdefault(key, []).append(float(cell))
        return history

    def epochs_done(self):
        """How many epochs the intact rows say were trained (the last epoch + 1)."""
        return max(self.rows) + 1 if self.rows else 0

    def summary(self):
        return first_few(self.problems)


def parse_history(path):
    """Reads a history file; an absent one is empty. Never raises for its content.

    Example:
        >>> parse_history(Path("saved_models/iris_ann/history.csv")).problems
        []
    """
    path = Path(path)
    if not path.exists():
        return History(header=[], rows={}, problems=[])
    try:
        text = path.read_bytes().decode("utf-8", errors="replace")
    except OSError as error:
        return History(header=[], rows={}, problems=[f"it cannot be read ({error.strerror})"])
    header, rows, problems = [], {}, []
    lines = text.splitlines(keepends=True)
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        if not line.endswith(("\n", "\r")):
            problems.append(f"line {number} is cut short (no end of line)")
            continue
        try:
            cells = next(csv.reader([line]))
        except (csv.Error, StopIteration):
            problems.append(f"line {number} is not CSV")
            continue
        if not header:
            if cells[:1] != ["epoch"]:
                problems.append(f"line {number} is not the header (it should start with 'epoch')")
                # Without the header no row can be read: what the columns are is unknown.
                return History(header=[], rows={}, problems=problems)
            header = cells
            continue
        problem = _row_problem(cells, header)
        if problem:
            problems.append(f"line {number} {problem}")
        else:
            rows[int(cells[0])] = cells
    return History(header=header, rows=rows, problems=problems)


def _row_problem(cells, header):
    if cells[:1] == ["epoch"]:
        return "repeats the header" if cells == header else "is a second, different header"
    if len(cells) != len(header):
        return f"has {len(cells)} of the header's {len(header)} fields"
    if not cells[0].strip().isdecimal():
        return f"has epoch {cells[0]!r}, not a whole number"
    for name, cell in zip(header[1:], cells[1:], strict=True):
        try:
            float(cell)
        except ValueError:
            return f"has {cell!r} for {name}, not a number"
    return ""


def _free_name(path):
    """`history.damaged.csv`, or `history.damaged-2.csv`, ... if an earlier repair kept one."""
    candidate, number = path, 2
    while candidate.exists():
        candidate = path.with_name(f"{path.stem}-{number}{path.suffix}")
        number += 1
    return candidate


def read_history(path):
    """Per-epoch metrics from a history file as `{metric: [values]}`; damaged rows left out.

    An epoch redone after an interruption appears twice in the file; its last
    row wins.
    """
    return parse_history(path).metrics()


def repair_history(run_dir, log=print):
    """Before a resume: a damaged `history.csv` is rewritten from its intact
    rows, the damaged file kept as `history.damaged.csv`, and one line says so.

    Raises:
        UserError: the file cannot be read or replaced at all (what to do is in the message).
    """
    path = Path(run_dir) / HISTORY_FILE
    history = parse_history(path)
    if not history.problems:
        return
    damaged = _free_name(path.with_name(DAMAGED_COPY))
    staged = path.with_name(HISTORY_FILE + ".tmp")
    try:
        # The clean copy first: if anything fails, history.csv is still there, as it was.
        if history.header:
            with open(staged, "w", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(history.header)
                for epoch in sorted(history.rows):
                    writer.writerow(history.rows[epoch])
        os.replace(path, damaged)
        if history.header:
            os.replace(staged, path)
    except OSError as error:
        raise UserError(
            f"{path} is damaged ({history.summary()}) and cannot be replaced ({error.strerror}); "
            "move it out of the run directory and run the same command again"
        ) from None
    kept = len(history.rows)
    log(
        f"note: {path} was damaged ({history.summary()}); kept its {kept} intact epoch row{'s' if kept != 1 else ''} "
        f"and resumed; the damaged file is now {damaged.name}"
    )


def monitor_mode(monitor):
    """ "max" for an accuracy, "min" for a loss."""
    return "max" if "accuracy" in monitor else "min"


def best_epoch(values, monitor):
    """The 1-based epoch whose `monitor` value in `values` (one per epoch) was
    best, the first of equals; None when no value is finite. With `monitor`
    `LAST_EPOCH` (a GAN's rule), the last of `values`.

    Example:
        >>> best_epoch([0.9, 0.5, 0.7], "val_loss"), best_epoch([0.6, 0.8, 0.8], "val_accuracy")
        (2, 2)
    """
    if monitor == LAST_EPOCH:
        return len(values) or None
    finite = [(value, index) for index, value in enumerate(values) if math.isfinite(value)]
    if not finite:
        return None
    sign = -1 if monitor_mode(monitor) == "max" else 1
    return min(finite, key=lambda pair: (sign * pair[0], pair[1]))[1] + 1
