"""Choosing the run directory: new, resumed, numbered, or replaced.

The rules, in order, for `kerasdl train PRESET`:

- An interrupted run (it has `config.yaml` but no `metrics.json`) with the
  same settings is resumed in place; with other settings it is an error,
  because resuming would mix two runs.
- A finished run (it has `metrics.json`) is never silently destroyed. With
  the default directory the new run goes to the next free numbered sibling
  (`saved_models/digits_cnn-2`, `-3`, ...); with an explicit `run_dir=` it
  is an error unless `overwrite=true`, which replaces it.
- A path that is a file, or a non-empty folder that is not a kerasdl run,
  is an error; kerasdl does not write into what it did not create.
"""

import dataclasses
import os
import shutil
from pathlib import Path

import yaml

from kerasdl.config import Config
from kerasdl.errors import UserError

# Settings that may differ between the parts of one resumed run.
_RESUMABLE_DIFFERENCES = {"overwrite", "verbose", "description", "run_dir"}


@dataclasses.dataclass
class RunPlan:
    path: Path
    resume: bool = False
    replace: bool = False
    note: str = ""


def run_state(path):
    """`absent`, `file`, `empty`, `foreign`, `interrupted` or `finished`.

    A folder counts as a kerasdl run only if its config.yaml is one kerasdl
    wrote (it names a preset and the library versions); any other non-empty
    folder is foreign and is never written into or replaced.
    """
    path = Path(path)
    if not path.exists():
        return "absent"
    if not path.is_dir():
        return "file"
    if not any(path.iterdir()):
        return "empty"
    if not _is_kerasdl_config(path / "config.yaml"):
        return "foreign"
    return "finished" if (path / "metrics.json").exists() else "interrupted"


def _is_kerasdl_config(path):
    try:
        saved = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return False
    return isinstance(saved, dict) and "preset" in saved and "versions" in saved


def plan_run_dir(config):
    """Decides where `config`'s run goes, without writing anything.

    Args:
        config: the run's `Config` (`run_dir`, `overwrite`, `preset`).

    Returns:
        A `RunPlan`: the path, whether to resume or replace, and a note for
        the user when the choice is not the obvious one.

    Raises:
        UserError: see the rules in this module's docstring.

    Example:
        >>> plan_run_dir(make_config("iris_ann")).path
        PosixPath('saved_models/iris_ann')
    """
    explicit = bool(config.run_dir)
    base = config.resolved_run_dir()
    candidates = [base] if explicit else [base] + [base.with_name(f"{base.name}-{n}") for n in range(2, 1000)]
    _check_writable_parent(base)
    for path in candidates:
        state = run_state(path)
        if state == "file":
            raise UserError(f"run_dir {str(path)!r} is a file, not a directory; choose another run_dir")
        if state in ("absent", "empty"):
            note = f"{base} holds a finished run; this run goes to {path}" if path != base else ""
            return RunPlan(path, note=note)
        if config.overwrite and state in ("finished", "interrupted"):
            return RunPlan(path, replace=True, note=f"overwrite=true: replacing the run in {path}")
        if state == "foreign":
            raise UserError(f"{str(path)!r} is a non-empty folder that is not a kerasdl run; choose another run_dir")
        if state == "interrupted":
            differences = _differences(path, config)
            if differences:
                raise UserError(
                    f"{path} holds an interrupted run with other settings ({differences}); "
                    "run the same command to resume it, or add overwrite=true to start over"
                )
            return RunPlan(path, resume=True, note=f"resuming the interrupted run in {path}")
        if explicit:
            raise UserError(
                f"run_dir {str(path)!r} holds a finished run; add overwrite=true to replace it "
                "or choose another run_dir"
            )
    raise UserError(f"Too many finished runs beside {base}; remove some or set run_dir")


def _check_writable_parent(path):
    """A run directory needs an existing, writable folder somewhere above it."""
    parent = path.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise UserError(f"run_dir {str(path)!r} is inside {str(parent)!r}, which is a file; choose another run_dir")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(f"run_dir {str(path)!r}: no permission to write in {str(parent)!r}; choose another run_dir")


def open_run_dir(plan):
    """Creates (or empties, for a replace) the planned directory."""
    if plan.replace:
        shutil.rmtree(plan.path)
    plan.path.mkdir(parents=True, exist_ok=True)
    return plan.path


def _differences(path, config):
    try:
        saved = yaml.safe_load((path / "config.yaml").read_text()) or {}
    except (OSError, yaml.YAMLError):
        return "its config.yaml is unreadable"
    wanted = config.to_dict() | {"preset": config.preset}
    # A key added to kerasdl after the run started had its default then.
    saved = Config(preset=config.preset).to_dict() | saved
    changed = [
        f"{key}: {saved.get(key)!r} -> {wanted.get(key)!r}"
        for key in sorted(set(wanted) | (set(saved) - {"versions", "resolved"}))
        if key not in _RESUMABLE_DIFFERENCES and saved.get(key) != wanted.get(key)
    ]
    return ", ".join(changed)
