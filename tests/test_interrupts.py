"""Ctrl-C and SIGTERM reach the command however Python meets them.

Each case runs in a child Python (no TensorFlow: a second or less), because
signal handlers belong to the whole process and pytest's must stay as they are.
"""

import subprocess
import sys
import textwrap


def run_child(body, stderr=None):
    prelude = "import gc, signal, sys, time\n"
    prelude += "from kerasdl.interrupts import deferred, raise_if_interrupted, watch_interrupts\n"
    script = prelude + textwrap.dedent(body)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    if stderr is not None:
        stderr.append(done.stderr)
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
    gc.collect()  # Python drops the KeyboardInterrupt raised in __del__
    raise_if_interrupted()  # a safe point, as between batches

{watch}
try:
    work()
    print("finished")
except KeyboardInterrupt:
    print("interrupted")
"""


def test_a_ctrl_c_python_drops_inside_a_finalizer_is_raised_again_at_the_safe_point():
    stderr = []
    assert run_child(SIGNAL_IN_A_FINALIZER.format(signum="SIGINT", watch="watch_interrupts()"), stderr) == [
        "interrupted"
    ]
    assert stderr == [""]  # no "Exception ignored in ... KeyboardInterrupt" traceback after a Ctrl-C


def test_other_errors_in_finalizers_are_still_reported():
    stderr = []
    body = """
        watch_interrupts()
        class Broken:
            def __del__(self):
                raise ValueError("a finalizer failed")
        Broken()
        print("went-on")
        """
    assert run_child(body, stderr) == ["went-on"]
    assert "ValueError: a finalizer failed" in stderr[0]


def test_without_the_watch_python_drops_it_and_the_work_finishes():
    # What the CLI did before: the reason for this module.
    stderr = []
    assert run_child(SIGNAL_IN_A_FINALIZER.format(signum="SIGINT", watch=""), stderr) == ["finished"]
    assert "KeyboardInterrupt" in stderr[0]  # Python's "Exception ignored in" report


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


def test_an_interrupt_swallowed_by_library_code_is_raised_again_at_the_next_safe_point():
    # jaxlib's copy of a device array to NumPy ran the handler and dropped the
    # exception without a word; only the recorded interrupt is left then.
    words = run_child(
        """
        from kerasdl.interrupts import stopped
        watch_interrupts()
        try:
            signal.raise_signal(signal.SIGINT)
        except KeyboardInterrupt:
            pass  # what the library did
        try:
            raise_if_interrupted()
        except KeyboardInterrupt:
            print("raised-again")
        stopped()  # the command stopped for it: nothing pending any more
        raise_if_interrupted()
        print("clear")
        """
    )
    assert words == ["raised-again", "clear"]


# Keras fit, 16 batches an epoch, where a batch end swallows a Ctrl-C (as
# jaxlib's copy of the batch logs did) after batch {batch} of {epochs} epochs.
SWALLOWED_IN_FIT = """
import os
os.environ["KERAS_BACKEND"] = "tensorflow"
import numpy as np, keras
from kerasdl.callbacks import InterruptCheck

class SwallowsOnce(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        if batch == {batch} and not hasattr(self, "done"):
            self.done = True
            try:
                signal.raise_signal(signal.SIGINT)
            except KeyboardInterrupt:
                pass

class Counts(keras.callbacks.Callback):
    batches = 0
    def on_train_batch_begin(self, batch, logs=None):
        Counts.batches += 1

watch_interrupts()
model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
model.compile("sgd", "mse")
x = np.zeros((64, 2), "float32")
try:
    callbacks = [InterruptCheck(), Counts(), SwallowsOnce()]
    model.fit(x, x[:, :1], batch_size=4, epochs={epochs}, verbose=0, callbacks=callbacks)
    print("finished")
except KeyboardInterrupt:
    print("stopped-after", Counts.batches)
"""


def test_training_stops_at_the_next_batch_when_a_batch_end_swallowed_the_ctrl_c():
    words = run_child(SWALLOWED_IN_FIT.format(batch=2, epochs=3))
    assert words == ["stopped-after", "3"]  # batches 0-2 ran; batch 3 never began


def test_a_ctrl_c_swallowed_in_the_last_batch_stops_the_run_when_fit_ends():
    # No batch follows: fit itself raises it, so the run's exception handler
    # writes the checkpoints and the command says "interrupted".
    words = run_child(SWALLOWED_IN_FIT.format(batch=15, epochs=1))
    assert words == ["stopped-after", "16"]
