"""The progress bar counts the steps an epoch has, with several steps per execution."""

import re
import time

import keras
import numpy as np

from kerasdl.progress import EpochProgress


class Slow(keras.callbacks.Callback):
    # Keras redraws the bar at most every 0.05 s: each execution gets a redraw.
    def on_train_batch_end(self, batch, logs=None):
        time.sleep(0.06)


def fit_and_show(capsys, callbacks):
    # 40 steps an epoch, 16 per execution: the case `make train` printed as 48/40.
    callbacks = [Slow(), *callbacks]
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse", steps_per_execution=16)
    x = np.zeros((160, 2), "float32")
    model.fit(x, x[:, :1], batch_size=4, epochs=2, verbose=1, callbacks=callbacks)
    return capsys.readouterr().out


def counts(output):
    """(steps seen, total) of every bar drawn; Keras colours them with ANSI codes."""
    plain = re.sub(r"\x1b\[[0-9;]*m", "", output)
    return {(int(seen), int(total)) for seen, total in re.findall(r"(\d+)/(\d+) ", plain)}


def test_keras_own_bar_counts_past_the_epoch(capsys):
    # Why EpochProgress exists; if Keras fixes this, the class can go.
    assert (48, 40) in counts(fit_and_show(capsys, []))


def test_the_bar_stops_at_the_epochs_total(capsys):
    output = fit_and_show(capsys, [EpochProgress()])
    assert (40, 40) in counts(output)
    assert all(seen <= total for seen, total in counts(output) if total == 40), output
