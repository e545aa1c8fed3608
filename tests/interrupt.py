"""Starting a `kerasdl train` process and pressing Ctrl-C in it, for the resume tests."""

import signal
import subprocess
import time

from kerasdl.history import read_history


def start_interruptible(command, cwd, env):
    """Starts `command` so that SIGINT reaches it as a terminal's Ctrl-C would.

    A suite started in the background (`make test &`, some CI runners)
    ignores SIGINT, and a child inherits that; a handled signal is reset to
    the default at exec, so a handler installed around the start does it.
    """
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    finally:
        signal.signal(signal.SIGINT, previous)


def interrupt_after(process, history, epochs, timeout=120):
    """Sends SIGINT once `history` (history.csv) has `epochs` rows; returns the process's stderr."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and len(read_history(history).get("loss", [])) < epochs:
        time.sleep(0.2)
    assert process.poll() is None, "the run ended before it could be interrupted"
    rows_at_signal = len(read_history(history).get("loss", []))
    process.send_signal(signal.SIGINT)
    stderr = process.communicate(timeout=timeout)[1]
    if process.returncode != 130:  # say what the run did with the signal
        rows = len(read_history(history).get("loss", []))
        stderr += f"\n[test] SIGINT sent after {rows_at_signal} epochs; exit {process.returncode} after {rows}"
    return stderr
