"""Ctrl-C and SIGTERM, turned into KeyboardInterrupt that is never lost, and
held back while a checkpoint is written.

Python runs a signal's handler in the main thread at the next bytecode,
wherever that is; it can be inside a `__del__` or a garbage-collector
callback (TensorFlow's ConcreteFunction.__del__, JAX's `_xla_gc_callback`,
both run by the `gc.collect()` in every TFLite conversion), and an exception
raised there is "unraisable": Python drops it. Seen in this project: a Ctrl-C
during an export vanished that way and the command finished with status 0,
or one during training surfaced only in an `atexit` callback. Here a
KeyboardInterrupt the hook `sys.unraisablehook` reports as dropped is
delivered again, from a helper thread, with `_thread.interrupt_main`: the
main thread raises it at its next bytecode, where it is usually in plain
code again.

Blocking the signals with `pthread_sigmask` does not hold them back either:
the mask is per thread, and the kernel hands a process's signal to a thread
that does not block it. `deferred` swaps in handlers that only note the
signal and raises it again when the block ends.
"""

import _thread
import contextlib
import signal
import sys
import threading

HELD = (signal.SIGINT, signal.SIGTERM)

_dropped = threading.Event()  # set: a KeyboardInterrupt of ours went unraisable
_state = {"signum": signal.SIGINT, "helper": None}


def watch_interrupts():
    """SIGINT and SIGTERM raise KeyboardInterrupt in the main thread, and one
    raised where Python cannot propagate it is raised again. Call from the
    main thread (the CLI does, before a command starts); calling it again is
    harmless."""
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in HELD:
        signal.signal(signum, _interrupt)
    if sys.unraisablehook is not _report_or_redeliver:
        _report_or_redeliver.previous = sys.unraisablehook
        sys.unraisablehook = _report_or_redeliver
    if _state["helper"] is None:
        _state["helper"] = threading.Thread(target=_redeliver, name="kerasdl-interrupts", daemon=True)
        _state["helper"].start()


def _interrupt(signum, frame):
    # Preemptible machines and schedulers stop jobs with SIGTERM: it leaves
    # the way Ctrl-C does, with the last epoch's backup intact for the resume.
    _state["signum"] = signum
    raise KeyboardInterrupt


def _report_or_redeliver(unraisable):
    ours = signal.getsignal(_state["signum"]) is _interrupt
    if (
        ours
        and issubclass(unraisable.exc_type, KeyboardInterrupt)
        and threading.current_thread() is threading.main_thread()
    ):
        _dropped.set()
        return
    _report_or_redeliver.previous(unraisable)


def _redeliver():
    while True:
        _dropped.wait()
        _dropped.clear()
        _thread.interrupt_main(_state["signum"])


@contextlib.contextmanager
def deferred():
    """Holds SIGINT and SIGTERM until the block ends, then lets them act.

    For writes that must not be cut in two (a checkpoint and its metadata).
    Outside the main thread no handler runs, so there is nothing to hold."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received = []

    def note(signum, frame):
        received.append(signum)

    # A handler installed outside Python (getsignal gives None) cannot be put back: left alone.
    previous = {signum: signal.signal(signum, note) for signum in HELD if signal.getsignal(signum) is not None}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        for signum in dict.fromkeys(received):
            signal.raise_signal(signum)  # the handler just restored acts on it now
