"""`kerasdl runs`: every run under a folder as one line, and two runs side by side.

Reads only what a run directory holds as text (config.yaml, metrics.json,
history.csv, model_card.json) and the TFLite file's size: no TensorFlow, so
it answers at once.
"""

import dataclasses
import datetime
import json
import math
from pathlib import Path

import yaml

from kerasdl import tasks
from kerasdl.errors import UserError
from kerasdl.history import best_epoch, parse_history
from kerasdl.runlock import holder

SORT_KEYS = ("when", "name", "preset", "metric", "size")


@dataclasses.dataclass
class RunRow:
    """One run directory, summarised."""

    path: Path
    preset: str
    task: str
    status: str
    metric_name: str
    metric: float
    best_epoch: int
    epochs: int
    tflite_bytes: int
    when: float

    def cells(self, root):
        name = str(self.path.relative_to(root)) if self.path.is_relative_to(root) else str(self.path)
        metric = "" if math.isnan(self.metric) else f"{self.metric_name} {self.metric:.4f}"
        best = f"{self.best_epoch}/{self.epochs}" if self.best_epoch else (f"-/{self.epochs}" if self.epochs else "")
        size = f"{self.tflite_bytes / 1024:.1f} KiB" if self.tflite_bytes else ""
        when = datetime.datetime.fromtimestamp(self.when).strftime("%Y-%m-%d %H:%M")
        return [name, self.preset, self.task, self.status, metric, best, size, when]


COLUMNS = ["run", "preset", "task", "status", "test metric", "best epoch", "TFLite (float32)", "when"]


def find_runs(root):
    """The run directories under `root` (any depth): those with a config.yaml."""
    root = Path(root)
    if not root.is_dir():
        raise UserError(f"{str(root)!r} is not a folder; give the folder that holds the runs (default saved_models)")
    return sorted(path.parent for path in root.rglob("config.yaml") if not _hidden(path.parent, root))


def run_row(path):
    """The `RunRow` of one run directory."""
    config = _read_config(path)
    task = config.get("task") or "classify"
    metric_name = tasks.get(task).TEST_METRIC if task in tasks.tasks() else "loss"
    metrics = _read_json(path / "metrics.json")
    test = metrics.get("test", {}) if metrics else {}
    history = parse_history(path / "history.csv").metrics() if (path / "history.csv").exists() else {}
    monitor = tasks.checkpoint_rule(config.get("model", ""), config.get("monitor", "val_loss"))
    tflite = path / "model.tflite"
    return RunRow(
        path=path,
        preset=str(config.get("preset", "?")),
        task=task,
        status=_status(path, metrics),
        metric_name=metric_name,
        metric=float(test.get(metric_name, math.nan)) if isinstance(test.get(metric_name), (int, float)) else math.nan,
        best_epoch=best_epoch(history.get(monitor, history.get("loss", [])), monitor) or 0,
        epochs=len(history.get("loss", [])),
        tflite_bytes=tflite.stat().st_size if metrics and tflite.exists() else 0,
        when=(path / "metrics.json" if metrics else path / "config.yaml").stat().st_mtime,
    )


def list_runs(root, sort="when"):
    """`(header, rows of cells)` for every run under `root`, sorted by `sort` (`SORT_KEYS`)."""
    if sort not in SORT_KEYS:
        raise UserError(f"--sort must be one of: {', '.join(SORT_KEYS)}; got {sort!r}")
    rows = [run_row(path) for path in find_runs(root)]
    order = {
        "when": lambda row: -row.when,
        "name": lambda row: str(row.path),
        "preset": lambda row: (row.preset, -row.when),
        "metric": lambda row: -row.metric if not math.isnan(row.metric) else math.inf,
        "size": lambda row: row.tflite_bytes or math.inf,
    }[sort]
    return COLUMNS, [row.cells(Path(root)) for row in sorted(rows, key=order)]


def compare_runs(first, second):
    """`(header, rows)`: each setting and test metric of two runs side by side,
    those that differ first."""
    configs = [_read_config(Path(path)) for path in (first, second)]
    rows = []
    for key in dict.fromkeys([*configs[0], *configs[1]]):
        if key in ("resolved", "versions", "description", "run_dir"):
            continue
        values = [_text(config.get(key, "")) for config in configs]
        rows.append([key, *values])
    resolved = [config.get("resolved", {}) for config in configs]
    for key in dict.fromkeys([*resolved[0], *resolved[1]]):
        if key not in ("run_dir",):
            rows.append([f"resolved {key}", *(_text(r.get(key, "")) for r in resolved)])
    tests = [(_read_json(Path(path) / "metrics.json") or {}).get("test", {}) for path in (first, second)]
    for key in dict.fromkeys([*tests[0], *tests[1]]):
        rows.append([f"test {key}", *(_text(test.get(key, "")) for test in tests)])
    differing = [row for row in rows if row[1] != row[2]]
    same = [row for row in rows if row[1] == row[2]]
    return ["", str(first), str(second)], differing + same, len(differing)


def aligned(header, rows):
    """Rows of cells as aligned text lines, the header first."""
    table = [header, *rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in table]


def _status(path, metrics):
    if metrics is not None:
        return "finished"
    return "running" if holder(path) else "interrupted"


def _read_config(path):
    config_path = Path(path) / "config.yaml"
    if not config_path.is_file():
        raise UserError(f"{str(path)!r} is not a run directory (it has no config.yaml)")
    try:
        return yaml.safe_load(config_path.read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        raise UserError(f"Cannot read {config_path}: {error}") from None


def _read_json(path):
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def _text(value, width=60):
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, dict):
        value = ", ".join(f"{key} {_text(inner)}" for key, inner in value.items())
    value = str(value)
    return value if len(value) <= width else value[: width - 3] + "..."


def _hidden(path, root):
    return any(part.startswith(".") for part in path.relative_to(root).parts)
