"""The callbacks of a run, and the NaN guard that explains itself.

Keras provides TensorBoard (which also logs the learning rate),
EarlyStopping, ReduceLROnPlateau and CSVLogger; the best checkpoint and the
backup a rerun resumes from are kerasdl's `RunCheckpoints`, which writes
them only now and then (kerasdl/checkpoints.py).
"""

import math

import keras

from kerasdl import tasks
from kerasdl.checkpoints import WRITE_INTERVAL_SECONDS, RunCheckpoints, epochs_on_disk
from kerasdl.errors import RunFailed
from kerasdl.history import monitor_mode, parse_history
from kerasdl.interrupts import raise_if_interrupted
from kerasdl.profiling import profile_batches
from kerasdl.progress import EpochProgress


class InterruptCheck(keras.callbacks.Callback):
    """Raises a Ctrl-C again at the next batch, or when `fit` ends, if
    something swallowed it (kerasdl/interrupts.py). Batch *begin*: a
    batch-end hook would make Keras wait for every step's logs. First in the
    list, so at the end of `fit` it stops the run before the checkpoints'
    `on_train_end`, and the run's exception handler writes them instead."""

    def on_train_batch_begin(self, batch, logs=None):
        raise_if_interrupted()

    def on_test_batch_begin(self, batch, logs=None):
        raise_if_interrupted()

    def on_train_end(self, logs=None):
        raise_if_interrupted()


class NanGuard(keras.callbacks.TerminateOnNaN):
    """Stops at the first NaN or infinite loss with a message that says why.

    Raising (rather than `stop_training`) ends `fit` at once; the run's
    checkpoints then write the last finished epoch whose losses were finite
    (`RunCheckpoints.write_pending`), for inspection or a resume. Put it
    before the checkpoints in the callback list.
    """

    def __init__(self, learning_rate):
        super().__init__(raise_error=True)
        self.learning_rate = learning_rate
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        # A last step that blows the weights up still has a finite loss; the
        # epoch's losses show it, before the checkpoints keep that epoch.
        for key in ("loss", "val_loss"):
            value = (logs or {}).get(key)
            if value is not None and not math.isfinite(float(value)):
                which = "validation loss" if key == "val_loss" else "loss"
                raise RunFailed(
                    f"Training diverged: the {which} was NaN or infinite at the end of epoch {epoch + 1}; "
                    f"try a lower learning_rate (now {self.learning_rate:g}) and overwrite=true"
                )

    def on_batch_end(self, batch, logs=None):
        try:
            super().on_batch_end(batch, logs)
        except RuntimeError:
            raise RunFailed(
                f"Training diverged: the loss became NaN or infinite at epoch {self.epoch + 1}, "
                f"batch {batch + 1}; try a lower learning_rate (now {self.learning_rate:g}) "
                "and overwrite=true"
            ) from None


def best_so_far(history, monitor):
    """Best value of `monitor` in an earlier part of the run, or None.

    Args:
        history: `{metric: [value per epoch]}` (`History.metrics`), of the
            epochs the checkpoints on disk cover.
        monitor: the metric, e.g. `val_loss`.
    """
    values = history.get(monitor, [])
    if not values:
        return None
    return max(values) if monitor_mode(monitor) == "max" else min(values)


def run_callbacks(run_dir, config, dataset=None, write_interval=WRITE_INTERVAL_SECONDS, steps_per_execution=1):
    """The callbacks of one run in `run_dir`, ready for `fit()`.

    Args:
        run_dir: the run directory (a `Path`).
        config: the run's `Config` (`monitor`, `early_stopping`, ...).
        dataset: the run's `Dataset`, for the task's TensorBoard samples
            (`sample_callbacks`); None shows scalars only.
        write_interval: seconds at least between two writes of the
            checkpoints (`RunCheckpoints`); 0 for every epoch.
        steps_per_execution: the compiled model's, for `profile`'s steps.

    Returns:
        A list of callbacks, the run's `RunCheckpoints` among them. The best
        checkpoint starts from the best value that the epochs on disk
        reached, so a resume never replaces a better checkpoint with a
        worse one.
    """
    mode = monitor_mode(config.monitor)
    checkpoints = run_dir / "checkpoints"
    # By epoch number: a damaged row left out must not shift a later epoch in.
    covered = parse_history(run_dir / "history.csv").metrics(before=epochs_on_disk(checkpoints))
    best = best_so_far(covered, config.monitor)
    # Order matters at the end of an epoch: the checkpoints come after the
    # history row and the learning-rate change, so an epoch the backup counts
    # as done is recorded everywhere else too.
    callbacks = [
        InterruptCheck(),
        NanGuard(config.learning_rate),
        keras.callbacks.CSVLogger(str(run_dir / "history.csv"), append=True),
    ]
    if config.lr_schedule == "plateau" and config.reduce_lr:
        callbacks.append(
            keras.callbacks.ReduceLROnPlateau(
                monitor=config.monitor,
                mode=mode,
                factor=0.5,
                patience=config.reduce_lr,
                min_lr=config.learning_rate / 100,
            )
        )
    if config.early_stopping:
        callbacks.append(
            keras.callbacks.EarlyStopping(monitor=config.monitor, mode=mode, patience=config.early_stopping)
        )
    kept_by = tasks.checkpoint_rule(config.model, config.monitor)  # a GAN keeps its last epoch
    callbacks.append(RunCheckpoints(checkpoints, kept_by, mode, best, interval=write_interval))
    callbacks.append(
        keras.callbacks.TensorBoard(
            log_dir=str(run_dir / "logs"), profile_batch=profile_batches(config.profile, steps_per_execution)
        )
    )
    if dataset is not None:
        callbacks += tasks.get(config.task).sample_callbacks(run_dir / "logs", dataset, config)
    if config.verbose:
        callbacks.append(EpochProgress())  # Keras's own bar counts past the epoch's end
    return callbacks
