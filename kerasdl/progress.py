"""Keras's progress bar, counting the steps an epoch really has.

With several steps per execution Keras reports the last step of each
execution as `step + steps_per_execution - 1`, even when the epoch ends
inside the execution: `make train` (40 steps an epoch, 16 per execution)
printed `48/40` every epoch. The bar here stops at the epoch's total. The
steps per execution stay as they are: they are what makes a small model's
epoch fast on a CPU (see docs/hardware.md, steps per execution).
"""

import keras


class EpochProgress(keras.callbacks.ProgbarLogger):
    """`keras.callbacks.ProgbarLogger` whose count never passes the epoch's
    step total. Put it in `fit`'s callbacks when `verbose` is not 0; Keras
    then uses it instead of its own."""

    def on_train_batch_end(self, batch, logs=None):
        super().on_train_batch_end(self._within_epoch(batch), logs)

    def on_test_batch_end(self, batch, logs=None):
        super().on_test_batch_end(self._within_epoch(batch), logs)

    def on_predict_batch_end(self, batch, logs=None):
        super().on_predict_batch_end(self._within_epoch(batch), logs)

    def _within_epoch(self, batch):
        # `target` is the epoch's step count (None when the data's length is unknown).
        return batch if self.target is None else min(batch, self.target - 1)
