"""Ctrl-C and SIGTERM, turned into a KeyboardInterrupt that is never lost,
and held back while a checkpoint is written.

Python runs a signal's handler in the main thread at the next bytecode, or
when C code calls `PyErr_CheckSignals`, and the exception it raises there can
vanish. Seen in this project, with the handler logging where it ran:
- inside a `__del__` or a garbage-collector callback (TensorFlow's
  ConcreteFunction finalizer, JAX's `_xla_gc_callback`, both run by the
  `gc.collect()` of every TFLite conversion), where Python reports the
  exception as "unraisable" and drops it;
- inside jaxlib's copy of a device array to NumPy (Keras's per-batch logs on
  the JAX backend), whose C++ dropped it without a word.
Either way the command ran to the end with status 0. So the handler records
the interrupt, and `raise_if_interrupted` raises it again at safe points
(the start of every training or validation batch, the end of `fit`, every
export step) until the command's top level has stopped for it. Raising it
again at once from another thread (`_thread.interrupt_main`) would often land
in the next finalizer of the same collection; safe points are plain code.
Python's "Exception ignored in <finalizer>" traceback for such a drop is
kept off the screen; every other unraisable error is still reported.

Blocking the signals with `pthread_sigmask` does not hold them back either:
the mask is per thread, and the kernel hands a process's signal to a thread
that does not block it. `deferred` swaps in handlers that only note the
signal and raises it again when the block ends.
"""

import contextlib
import signal
import sys
import threading

HELD = (signal.SIGINT, signal.SIGTERM)

_state = {"pending": False}  # True: a signal became a KeyboardInterrupt the command has not stopped for


def watch_interrupts():
    """SIGINT and SIGTERM raise KeyboardInterrupt in the main thread and are
    remembered for `raise_if_interrupted`. Call from the main thread (the
    CLI does, before a command starts); calling it again is harmless."""
    if threading.current_thread() is threading.main_thread():
        for signum in HELD:
            signal.signal(signum, _interrupt)
        if sys.unraisablehook is not _quiet_when_ours:
            _quiet_when_ours.previous = sys.unraisablehook
            sys.unraisablehook = _quiet_when_ours


def _quiet_when_ours(unraisable):
    # A dropped KeyboardInterrupt of ours would print "Exception ignored in
    # <finalizer>" and a traceback after a Ctrl-C; it is raised again at the
    # next safe point, so it says nothing. Everything else is reported.
    if not (issubclass(unraisable.exc_type, KeyboardInterrupt) and _state["pending"]):
        _quiet_when_ours.previous(unraisable)


def _interrupt(signum, frame):
    # Preemptible machines and schedulers stop jobs with SIGTERM: it leaves
    # the way Ctrl-C does, with the last epoch's backup intact for the resume.
    _state["pending"] = True
    raise KeyboardInterrupt


def raise_if_interrupted():
    """Raises KeyboardInterrupt again if a signal was turned into one and the
    command has not stopped for it: something swallowed it. Call where an
    exception may propagate (between batches, between export steps)."""
    if _state["pending"]:
        raise KeyboardInterrupt


def stopped():
    """The command has stopped for the interrupt (its top level caught it, or
    it ended anyway): nothing is pending any more."""
    _state["pending"] = False


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
