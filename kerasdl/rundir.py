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
- A folder that another live command holds (`runlock`) is neither resumed
  nor replaced: with the default directory the run goes to the next free
  numbered sibling and says why; with an explicit `run_dir=` it is an error
  naming the holder's PID. The lock is taken before the folder's state is
  trusted, so a run that finishes in the meantime is not resumed.
"""

import dataclasses
import os
import shutil
from pathlib import Path

import yaml

from kerasdl.config import as_read_now
from kerasdl.errors import UserError, first_few
from kerasdl.runlock import LOCK_FILE, RunDirHeld, acquire, refused_train

# Settings that may differ between the parts of one resumed run.
_RESUMABLE_DIFFERENCES = {"overwrite", "verbose", "description", "run_dir"}


@dataclasses.dataclass
class RunPlan:
    path: Path
    resume: bool = False
    replace: bool = False
    note: str = ""
    # The run's lock: taken while planning for a folder that may be live, by
    # open_run_dir for a new one; None while not taken (or not wanted).
    lock: object = None

    def release(self):
        if self.lock is not None:
            self.lock.release()
            self.lock = None


def existing_run(run_dir):
    """`run_dir` as a `Path`, once it is a folder with a `config.yaml`; a
    one-line error otherwise. It needs no TensorFlow, so `evaluate` and
    `export` refuse a wrong path at once, before the libraries load."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UserError(f"Run directory {str(run_dir)!r} does not exist or is not a folder")
    if not (run_dir / "config.yaml").exists():
        raise UserError(f"{str(run_dir)!r} has no config.yaml; is it a kerasdl run directory?")
    return run_dir


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
    if all(entry.name == LOCK_FILE for entry in path.iterdir()):
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


def plan_run_dir(config, lock=True):
    """Decides where `config`'s run goes, without writing anything.

    Args:
        config: the run's `Config` (`run_dir`, `overwrite`, `preset`).
        lock: take the run's lock on a folder that exists (a new folder is
            locked by `open_run_dir`); False for a multi-worker run's
            non-chief workers, which write elsewhere.

    Returns:
        A `RunPlan`: the path, whether to resume or replace, a note for the
        user when the choice is not the obvious one, and the lock. The
        caller releases it (`plan.release()`) when the run ends.

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
    passed_over = []  # why earlier candidates were not taken
    for path in candidates:
        plan, reason = _plan_candidate(path, config, explicit, lock)
        if plan is not None:
            if passed_over:
                plan.note = f"{first_few(passed_over)}; {plan.note or f'this run goes to {path}'}"
            return plan
        passed_over.append(reason)
    raise UserError(f"Too many finished or busy runs beside {base}; remove some or set run_dir")


def _plan_candidate(path, config, explicit, lock):
    """`(plan, None)` to take `path`, `(None, reason)` to pass it over; or raises."""
    state = run_state(path)
    # A run that may be live is locked before its state is trusted. A new
    # folder is locked when open_run_dir creates it, and so is an empty one
    # without a lock file (no command can be starting there).
    may_be_live = state == "interrupted" or (state == "finished" and config.overwrite)
    may_be_starting = state == "empty" and (path / LOCK_FILE).exists()
    if not lock or not (may_be_live or may_be_starting):
        return _choose(path, state, config, explicit)
    try:
        taken = acquire(path, f"kerasdl train {config.preset}")
    except RunDirHeld as busy:
        if explicit:
            raise UserError(refused_train(path, busy.holder)) from None
        return None, f"{path} is in use by {busy.holder}"
    try:
        plan, reason = _choose(path, run_state(path), config, explicit)  # nobody else can change it now
    except BaseException:
        taken.release()
        raise
    if plan is None:
        taken.release()
        return None, reason
    plan.lock = taken
    return plan, None


def _choose(path, state, config, explicit):
    """The rules of this module's docstring for one candidate folder in `state`."""
    if state == "file":
        raise UserError(f"run_dir {str(path)!r} is a file, not a directory; choose another run_dir")
    if state == "foreign":
        raise UserError(f"{str(path)!r} is a non-empty folder that is not a kerasdl run; choose another run_dir")
    if state in ("absent", "empty"):
        return RunPlan(path), None
    if config.overwrite:
        return RunPlan(path, replace=True, note=f"overwrite=true: replacing the run in {path}"), None
    if state == "interrupted":
        differences = _differences(path, config)
        if differences:
            raise UserError(
                f"{path} holds an interrupted run with other settings ({differences}); "
                "run the same command to resume it, or add overwrite=true to start over"
            )
        return RunPlan(path, resume=True, note=f"resuming the interrupted run in {path}"), None
    if explicit:
        raise UserError(
            f"run_dir {str(path)!r} holds a finished run; add overwrite=true to replace it or choose another run_dir"
        )
    return None, f"{path} holds a finished run"


def _check_writable_parent(path):
    """A run directory needs an existing, writable folder somewhere above it."""
    parent = path.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise UserError(f"run_dir {str(path)!r} is inside {str(parent)!r}, which is a file; choose another run_dir")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(f"run_dir {str(path)!r}: no permission to write in {str(parent)!r}; choose another run_dir")


def open_run_dir(plan, config=None):
    """Creates (or empties, for a replace) the planned directory, and locks a new one.

    Two commands started at the same moment may both plan the same new
    folder; the one that locks it second plans again with `config` (and
    updates `plan` in place): the default directory then moves on to the
    next free one, an explicit `run_dir` is a `UserError` naming the holder.

    Returns:
        The directory, `plan.path`.
    """
    if plan.replace:
        _empty(plan.path)
    plan.path.mkdir(parents=True, exist_ok=True)
    if plan.lock is not None or config is None:  # locked while planning, or not to be locked here
        return plan.path
    try:
        plan.lock = acquire(plan.path, f"kerasdl train {config.preset}")
        if run_state(plan.path) == "empty":
            return plan.path
        plan.release()  # another command started and left a run here since the plan
    except RunDirHeld:
        pass
    again = plan_run_dir(config)
    for field in dataclasses.fields(RunPlan):
        setattr(plan, field.name, getattr(again, field.name))
    return open_run_dir(plan, config)


def _empty(path):
    """Removes everything in `path` but its lock file, which this process holds."""
    for entry in path.iterdir():
        if entry.name == LOCK_FILE:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def _differences(path, config):
    try:
        saved = yaml.safe_load((path / "config.yaml").read_text()) or {}
    except (OSError, yaml.YAMLError):
        return "its config.yaml is unreadable"
    wanted = config.to_dict() | {"preset": config.preset}
    saved = as_read_now(saved, config.preset)
    changed = [
        f"{key}: {saved.get(key)!r} -> {wanted.get(key)!r}"
        for key in sorted(set(wanted) | (set(saved) - {"versions", "resolved"}))
        if key not in _RESUMABLE_DIFFERENCES and saved.get(key) != wanted.get(key)
    ]
    return ", ".join(changed)
