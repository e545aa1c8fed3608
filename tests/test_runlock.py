"""One live command per run directory: the lock itself, the planning rules
around it, and two real `kerasdl train` processes started at the same moment."""

import errno
import os
import signal
import subprocess
import sys
import time

import pytest
from interrupt import start_interruptible

from kerasdl.config import make_config
from kerasdl.errors import UserError
from kerasdl.history import parse_history
from kerasdl.rundir import open_run_dir, plan_run_dir, run_state
from kerasdl.runlock import LOCK_FILE, RunDirHeld, acquire, holder

HOLD = """
import sys, time
from pathlib import Path
from kerasdl.runlock import acquire
lock = acquire(Path(sys.argv[1]), "kerasdl train iris_ann")
print("held", flush=True)
time.sleep(120)
"""


def test_a_held_directory_names_its_holder_and_a_killed_holder_blocks_nothing(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline() == "held\n"
        with pytest.raises(RunDirHeld) as refused:
            acquire(tmp_path, "kerasdl export")
        assert refused.value.holder == f"PID {child.pid} (kerasdl train iris_ann)"
        assert holder(tmp_path) == refused.value.holder
        # The refused command wrote nothing.
        assert (tmp_path / LOCK_FILE).read_text() == f"{child.pid}\nkerasdl train iris_ann\n"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    # The kernel dropped the dead process's lock: nothing to clean up.
    assert holder(tmp_path) is None
    with acquire(tmp_path, "kerasdl export") as lock:
        assert lock.held
        with pytest.raises(RunDirHeld, match=f"PID {os.getpid()} .kerasdl export."):
            acquire(tmp_path, "kerasdl train iris_ann")  # another open file: refused in one process too
    acquire(tmp_path, "again").release()


def test_a_file_system_that_cannot_lock_is_said_once_and_the_command_runs(tmp_path, monkeypatch):
    def no_locks(descriptor, operation):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr("kerasdl.runlock.fcntl.flock", no_locks)
    lines = []
    lock = acquire(tmp_path, "kerasdl train iris_ann", log=lines.append)
    assert not lock.held
    assert lines == [
        f"note: cannot lock {tmp_path} on this file system (No locks available); do not run two commands on it at once"
    ]


def _interrupted_run(path, config):
    import yaml

    path.mkdir(parents=True)
    document = {"preset": config.preset} | config.to_dict() | {"versions": {"keras": "3"}}
    (path / "config.yaml").write_text(yaml.safe_dump(document))


def test_a_live_run_is_not_resumed_the_default_run_goes_next_an_explicit_one_is_refused(in_tmp):
    config = make_config("iris_ann")
    _interrupted_run(in_tmp / "saved_models/iris_ann", config)
    with acquire(in_tmp / "saved_models/iris_ann", "kerasdl train iris_ann"):
        plan = plan_run_dir(config)
        assert str(plan.path) == "saved_models/iris_ann-2" and not plan.resume
        assert plan.note == (
            f"saved_models/iris_ann is in use by PID {os.getpid()} (kerasdl train iris_ann); "
            "this run goes to saved_models/iris_ann-2"
        )
        for settings in ({"run_dir": "saved_models/iris_ann"}, {"run_dir": "saved_models/iris_ann", "overwrite": "1"}):
            with pytest.raises(UserError, match=f"is in use by PID {os.getpid()} .kerasdl train iris_ann.; wait for"):
                plan_run_dir(make_config("iris_ann", settings))
    # Once the holder is gone, the same command resumes it, and holds it.
    plan = plan_run_dir(config)
    assert plan.resume and plan.lock.held
    with pytest.raises(RunDirHeld):
        acquire(in_tmp / "saved_models/iris_ann", "kerasdl export")
    plan.release()


def test_two_plans_of_one_new_directory_the_second_to_open_moves_on(in_tmp):
    first, second = plan_run_dir(make_config("iris_ann")), plan_run_dir(make_config("iris_ann"))
    assert first.path == second.path  # both looked before either opened
    open_run_dir(first, make_config("iris_ann"))
    open_run_dir(second, make_config("iris_ann"))
    assert str(second.path) == "saved_models/iris_ann-2" and "saved_models/iris_ann is in use by PID" in second.note
    explicit = make_config("iris_ann", {"run_dir": "mine"})
    mine, again = plan_run_dir(explicit), plan_run_dir(explicit)
    open_run_dir(mine, explicit)
    with pytest.raises(UserError, match="run_dir 'mine' is in use by PID"):
        open_run_dir(again, explicit)
    for plan in (first, second, mine):
        plan.release()


def test_a_replaced_run_keeps_its_lock_while_it_is_emptied(in_tmp):
    config = make_config("iris_ann", {"run_dir": "mine", "overwrite": "true"})
    _interrupted_run(in_tmp / "mine", config)
    (in_tmp / "mine" / "metrics.json").write_text("{}")
    plan = plan_run_dir(config)
    assert plan.replace and plan.lock.held
    open_run_dir(plan, config)
    assert [path.name for path in (in_tmp / "mine").iterdir()] == [LOCK_FILE]
    assert run_state(in_tmp / "mine") == "empty" and holder(in_tmp / "mine")
    plan.release()


def test_two_trains_at_the_same_moment_then_a_third_and_an_export_beside_them(tmp_path, monkeypatch):
    """As a user: `kerasdl train iris_ann` in two terminals at once, then a
    third command on a directory they hold, an export of one, and a kill."""
    env = {key: value for key, value in os.environ.items() if key != "KERASDL_VERBOSE"} | {"PYTHONUNBUFFERED": "1"}
    settings = ["epochs=5000", "early_stopping=0", "verbose=0", "variants=float32"]  # stopped long before the end
    train = [sys.executable, "-m", "kerasdl", "train", "iris_ann", *settings]
    # Started as from a terminal: one of them gets a Ctrl-C below, which a
    # suite run in the background would otherwise pass on as ignored.
    runs = [start_interruptible(train, tmp_path, env) for _ in range(2)]
    directories = [tmp_path / "saved_models" / name for name in ("iris_ann", "iris_ann-2")]
    deadline = time.monotonic() + 300
    while not all(parse_history(path / "history.csv").rows for path in directories):
        assert time.monotonic() < deadline and all(run.poll() is None for run in runs), runs[0].stderr.read()
        time.sleep(0.2)
    pids = {path: int((path / LOCK_FILE).read_text().split()[0]) for path in directories}
    assert sorted(pids.values()) == sorted(run.pid for run in runs)

    # A third train naming a held directory, and an export of the other, from elsewhere.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    third = [*train, f"run_dir={directories[0]}"]
    export = [sys.executable, "-m", "kerasdl", "export", str(directories[1])]
    refused = [
        subprocess.Popen(command, cwd=elsewhere, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for command in (third, export)
    ]
    for process, path in zip(refused, directories, strict=True):
        _, stderr = process.communicate(timeout=300)
        assert process.returncode == 2, stderr
        lines = [line for line in stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("kerasdl: error: ") and "Traceback" not in stderr
        assert f"is in use by PID {pids[path]} (kerasdl train iris_ann)" in lines[0]
    assert not list(elsewhere.iterdir())
    assert {path: int((path / LOCK_FILE).read_text().split()[0]) for path in directories} == pids

    # One run is killed outright, the other stopped with Ctrl-C.
    runs[0].send_signal(signal.SIGKILL)
    runs[1].send_signal(signal.SIGINT)
    outputs = [run.communicate(timeout=120)[0] for run in runs]
    assert runs[1].returncode == 130
    moved = [output for output in outputs if "this run goes to saved_models/iris_ann-2" in output]
    assert len(moved) == 1 and "saved_models/iris_ann is in use by PID" in moved[0]
    assert "resuming" not in "".join(outputs)  # a live run is never taken for an interrupted one
    for path in directories:
        assert not any("header" in problem for problem in parse_history(path / "history.csv").problems)
    # Neither holds anything now: the same command resumes the first directory.
    monkeypatch.chdir(tmp_path)
    plan = plan_run_dir(make_config("iris_ann", {"epochs": "5000", "early_stopping": "0", "variants": "float32"}))
    assert plan.resume and str(plan.path) == "saved_models/iris_ann"
    plan.release()


def test_the_lock_itself_refuses_an_export_and_an_evaluate_says_the_run_is_training(tmp_path):
    """Past the command's early look (tested above with real processes), the
    export's own lock refuses, and a run still training is named as such."""
    from kerasdl.runs import evaluate_run, export_existing_run

    _interrupted_run(tmp_path / "run", make_config("iris_ann"))
    with acquire(tmp_path / "run", "kerasdl train iris_ann"):
        with pytest.raises(UserError, match=f"is in use by PID {os.getpid()} .kerasdl train iris_ann.; export it when"):
            export_existing_run(tmp_path / "run")
        with pytest.raises(UserError, match=f"is still training .PID {os.getpid()} .kerasdl train iris_ann..; wait"):
            evaluate_run(tmp_path / "run")
    with pytest.raises(UserError, match="has no model.keras; the run has not finished"):
        export_existing_run(tmp_path / "run")


def test_a_folder_the_lock_file_cannot_be_written_in_is_one_line(tmp_path, monkeypatch):
    def refuse(*args):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("kerasdl.runlock.os.open", refuse)
    with pytest.raises(UserError, match=r"cannot write in .* \(Permission denied\); choose a run directory you can"):
        acquire(tmp_path, "kerasdl export")


def test_a_pid_left_by_a_dead_holder_is_not_named(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / LOCK_FILE).write_text(f"{dead.pid}\nkerasdl train iris_ann\n")
    from kerasdl.runlock import _holder

    assert _holder(tmp_path / LOCK_FILE) == "another kerasdl process"


def test_only_a_process_that_would_hold_the_directory_is_refused_early(tmp_path, monkeypatch, capsys):
    """A multi-worker run's other workers write elsewhere: the chief's lock must not stop them."""
    import json

    from kerasdl.cli import main

    bad_strategy = ["train", "iris_ann", f"run_dir={tmp_path}", "strategy=nope"]  # fails after the early look
    with acquire(tmp_path, "kerasdl train iris_ann"):
        assert main(bad_strategy) == 2
        assert "is in use by PID" in capsys.readouterr().err
        cluster = {"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 1}}
        monkeypatch.setenv("TF_CONFIG", json.dumps(cluster))
        assert main(bad_strategy) == 2
        assert "strategy='nope' is out of range" in capsys.readouterr().err
