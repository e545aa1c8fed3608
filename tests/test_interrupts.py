"""Ctrl-C and SIGTERM reach the command however Python meets them.

Each case runs in a child Python (no TensorFlow: a second or less), because
signal handlers and `sys.unraisablehook` belong to the whole process and
pytest's own must stay as they are.
"""

import subprocess
import sys
import textwrap


def run_child(body):
    prelude = "import gc, signal, sys, time\nfrom kerasdl.interrupts import deferred, watch_interrupts\n"
    script = prelude + textwrap.dedent(body)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


# A signal that arrives while the garbage collector runs a finalizer: what
# TensorFlow's ConcreteFunction.__del__ and JAX's gc callback did to a Ctrl-C
# during a TFLite conversion, which calls gc.collect().
SIGNAL_IN_A_FINALIZER = """
class Finalized:
    def __del__(self):
        signal.raise_signal(signal.{signum})  # the handler runs here, inside __del__

def work():
    cycle = Finalized()
    cycle.itself = cycle
    del cycle
    gc.collect()
    for _ in range(200):  # 2 s of plain code, where the interrupt can be raised
        time.sleep(0.01)

{watch}
try:
    work()
    print("finished")
except KeyboardInterrupt:
    print("interrupted")
"""


def test_a_ctrl_c_python_drops_inside_a_finalizer_is_delivered_again():
    assert run_child(SIGNAL_IN_A_FINALIZER.format(signum="SIGINT", watch="watch_interrupts()")) == ["interrupted"]


def test_without_the_watch_python_drops_it_and_the_work_finishes():
    # What the CLI did before: the reason `watch_interrupts` exists.
    assert run_child(SIGNAL_IN_A_FINALIZER.format(signum="SIGINT", watch="")) == ["finished"]


def test_sigterm_stops_the_work_as_ctrl_c_does_even_inside_a_finalizer():
    assert run_child(SIGNAL_IN_A_FINALIZER.format(signum="SIGTERM", watch="watch_interrupts()")) == ["interrupted"]


def test_a_deferred_block_finishes_and_the_signal_acts_when_it_ends():
    words = run_child(
        """
        watch_interrupts()
        for signum in (signal.SIGINT, signal.SIGTERM):
            try:
                with deferred():
                    with deferred():  # a write inside a write: held until the outer one ends
                        signal.raise_signal(signum)
                        print("inner-done")
                    print("outer-done")
                print("not-reached")
            except KeyboardInterrupt:
                print("interrupted")
            assert signal.getsignal(signum).__name__ == "_interrupt", "the handler is put back"
        """
    )
    assert words == ["inner-done", "outer-done", "interrupted"] * 2


def test_a_deferred_block_without_signals_changes_nothing():
    words = run_child(
        """
        before = signal.getsignal(signal.SIGINT)
        with deferred():
            print("done")
        print(signal.getsignal(signal.SIGINT) is before)
        """
    )
    assert words == ["done", "True"]


def test_other_unraisable_errors_are_still_reported():
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                """
                from kerasdl.interrupts import watch_interrupts
                watch_interrupts()
                class Broken:
                    def __del__(self):
                        raise ValueError("a finalizer failed")
                Broken()
                print("went on")
                """
            ),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and done.stdout.split() == ["went", "on"]
    assert "ValueError: a finalizer failed" in done.stderr
