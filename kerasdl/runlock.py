"""One live command per run directory: an OS-level lock on it.

A command that writes a run directory (`train`, `export`) holds an
exclusive `flock(2)` on the directory's `.kerasdl.lock` file for as long as
it runs. The kernel drops the lock when the holder's process ends, however
it ends (Ctrl-C, `kill -9`, a crash, a lost machine), so a dead run never
blocks the next command and there is nothing stale to clean up. The holder
writes its PID and command into the file, so a command that is refused can
say who holds the directory.

Two commands at once on one directory used to corrupt it for good: both
appended to `history.csv` (two interleaved headers) and both wrote the same
HDF5 checkpoint (h5py's "unable to lock file"). With the lock, the second
command stops before it writes anything (`rundir.plan_run_dir` says what
happens instead).

File systems without `flock` (some network mounts) cannot lock: the
command then says so once and runs unlocked, as before.
"""

import contextlib
import errno
import os
import time
from pathlib import Path

from kerasdl.errors import UserError

try:
    import fcntl
except ImportError:  # not POSIX: no locking, as before
    fcntl = None

LOCK_FILE = ".kerasdl.lock"
_HELD = (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES)
# A holder writes its PID right after it takes the lock; a reader that
# catches the moment in between waits this long for it.
_PID_WAIT_S = 1.0
# `holder()` holds a shared lock for an instant; a command that meets it
# tries again for this long before it counts the directory as held.
_RETRY_S = 0.3


class RunDirHeld(Exception):
    """The run directory is held by another live process (`holder` says which)."""

    def __init__(self, path, holder):
        super().__init__(f"{path} is in use by {holder}")
        self.holder = holder


class RunLock:
    """An exclusive lock on one run directory; `release()` (or the process's end) lets go."""

    def __init__(self, descriptor):
        self._descriptor = descriptor

    @property
    def held(self):
        return self._descriptor is not None

    def release(self):
        if self._descriptor is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._descriptor, 0)  # no stale PID for the next reader
            os.close(self._descriptor)  # closing the file drops the flock
            self._descriptor = None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.release()


def acquire(path, what, log=print):
    """Locks the existing directory `path` for this process.

    Args:
        path: a run directory that exists.
        what: what this process does there, for a refused command to show
            (e.g. `"kerasdl train iris_ann"`).
        log: where the one-time notice goes when the file system cannot lock.

    Returns:
        A `RunLock` (not `held` where the file system cannot lock).

    Raises:
        RunDirHeld: another live process holds the directory.

    Example:
        >>> with acquire(Path("saved_models/iris_ann"), "kerasdl export"):
        ...     pass
    """
    path = Path(path)
    if fcntl is None:
        return RunLock(None)
    # O_CREAT on an existing file writes nothing: a refused command leaves
    # the directory as it was.
    try:
        descriptor = os.open(path / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as error:
        raise UserError(f"cannot write in {path} ({error.strerror}); choose a run directory you can write to") from None
    deadline = time.monotonic() + _RETRY_S
    while True:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except OSError as error:
            if error.errno not in _HELD:
                os.close(descriptor)
                log(
                    f"note: cannot lock {path} on this file system ({error.strerror}); do not run two commands "
                    "on it at once"
                )
                return RunLock(None)
            if time.monotonic() > deadline:
                os.close(descriptor)
                raise RunDirHeld(path, _holder(path / LOCK_FILE)) from None
            time.sleep(0.05)
    os.ftruncate(descriptor, 0)
    os.write(descriptor, f"{os.getpid()}\n{what}\n".encode())
    return RunLock(descriptor)


def refused_train(path, holder):
    """The one line for a `train` whose run_dir another command holds."""
    return f"run_dir {str(path)!r} is in use by {holder}; wait for it to finish or stop it, or choose another run_dir"


def refused_export(path, holder):
    """The one line for an `export` of a directory another command holds."""
    return f"{str(path)!r} is in use by {holder}; export it when that command has finished"


def _holder(lock_file):
    """`PID 1234 (kerasdl train iris_ann)`, from what the holder wrote."""
    deadline = time.monotonic() + _PID_WAIT_S
    while True:
        try:
            lines = lock_file.read_text(errors="replace").splitlines()
        except OSError:
            lines = []
        if lines and lines[0].strip().isdecimal() and _alive(int(lines[0])):
            doing = f" ({lines[1].strip()})" if len(lines) > 1 and lines[1].strip() else ""
            return f"PID {lines[0].strip()}{doing}"
        if time.monotonic() > deadline:
            return "another kerasdl process"
        time.sleep(0.05)


def _alive(pid):
    """A PID left by a killed holder, read before the new holder wrote its own, is not the holder."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        pass  # another user's process, or a PID this system cannot check
    return True


def holder(path):
    """Who holds the directory `path` (`PID 1234 (kerasdl train iris_ann)`), or None.

    For messages only: the answer may be stale by the time it is shown, and
    the look itself holds a shared lock for an instant, so commands that
    write take the lock with `acquire` instead of asking first.
    """
    if fcntl is None:
        return None
    try:
        descriptor = os.open(Path(path) / LOCK_FILE, os.O_RDONLY)
    except OSError:
        return None  # no lock file: no command has held it
    try:
        fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as error:
        if error.errno in _HELD:
            return _holder(Path(path) / LOCK_FILE)
        return None
    finally:
        os.close(descriptor)
    return None
