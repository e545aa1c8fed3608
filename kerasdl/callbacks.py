"""The callbacks of a run, and the NaN guard that explains itself.

Keras provides TensorBoard (which also logs the learning rate),
ModelCheckpoint, BackupAndRestore, EarlyStopping and CSVLogger; kerasdl
only configures them so that a rerun of the same command resumes.
"""

import contextlib
import json
import os
import signal
import threading

import keras

from kerasdl import tasks
from kerasdl.errors import RunFailed
from kerasdl.history import read_history


class NanGuard(keras.callbacks.TerminateOnNaN):
    """Stops at the first NaN or infinite loss with a message that says why.

    Raising (rather than `stop_training`) skips `on_train_end`, so the
    backup of the last good epoch survives for inspection or a resume.
    """

    def __init__(self, learning_rate):
        super().__init__(raise_error=True)
        self.learning_rate = learning_rate
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_batch_end(self, batch, logs=None):
        try:
            super().on_batch_end(batch, logs)
        except RuntimeError:
            raise RunFailed(
                f"Training diverged: the loss became NaN or infinite at epoch {self.epoch + 1}, "
                f"batch {batch + 1}; try a lower learning_rate (now {self.learning_rate:g}) "
                "and overwrite=true"
            ) from None


class AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
    """BackupAndRestore whose backup is never half-written.

    Keras writes the backup in place, so a Ctrl-C or a kill during the write
    leaves a weights file with no variables, and the resume then fails
    ("expected 2 variables, but received 0"): seen in this project's resume
    test. Here both files are written beside their targets and renamed into
    place, with Ctrl-C and SIGTERM held back until the pair is complete.
    """

    def _save_model(self):
        os.makedirs(self.backup_dir, exist_ok=True)
        with _signals_deferred():
            self.model.save_weights(self._weights_path + ".tmp.weights.h5", overwrite=True)
            with open(self._training_metadata_path + ".tmp", "w") as handle:
                json.dump({"epoch": self._current_epoch, "batch": self._last_batch_seen}, handle)
            os.replace(self._weights_path + ".tmp.weights.h5", self._weights_path)
            os.replace(self._training_metadata_path + ".tmp", self._training_metadata_path)


class BestCheckpoint(keras.callbacks.ModelCheckpoint):
    """ModelCheckpoint that a Ctrl-C cannot interrupt in the middle of a write."""

    def on_epoch_end(self, epoch, logs=None):
        with _signals_deferred():
            super().on_epoch_end(epoch, logs)


@contextlib.contextmanager
def _signals_deferred():
    """Holds SIGINT and SIGTERM until the block ends (main thread, POSIX)."""
    deferrable = hasattr(signal, "pthread_sigmask") and threading.current_thread() is threading.main_thread()
    held = {signal.SIGINT, signal.SIGTERM}
    if deferrable:
        signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        if deferrable:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, held)


def best_so_far(history, monitor):
    """Best value of `monitor` in an earlier part of the run, or None."""
    values = history.get(monitor)
    if not values:
        return None
    return max(values) if "accuracy" in monitor else min(values)


def run_callbacks(run_dir, config, dataset=None):
    """The callbacks of one run in `run_dir`, ready for `fit()`.

    Args:
        run_dir: the run directory (a `Path`).
        config: the run's `Config` (`monitor`, `early_stopping`, ...).
        dataset: the run's `Dataset`, for the task's TensorBoard samples
            (`sample_callbacks`); None shows scalars only.

    Returns:
        A list of callbacks. The best-model checkpoint starts from the best
        value an interrupted earlier part of the run reached, so a resume
        never replaces a better checkpoint with a worse one.
    """
    mode = "max" if "accuracy" in config.monitor else "min"
    checkpoints = run_dir / "checkpoints"
    # Order matters at the end of an epoch: the backup comes after the best
    # checkpoint, the history row and the learning-rate change, so an epoch
    # the backup counts as done is recorded everywhere else too.
    callbacks = [
        NanGuard(config.learning_rate),
        BestCheckpoint(
            str(checkpoints / "best.weights.h5"),
            monitor=config.monitor,
            mode=mode,
            save_best_only=True,
            save_weights_only=True,
            initial_value_threshold=best_so_far(read_history(run_dir / "history.csv"), config.monitor),
        ),
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
    callbacks.append(AtomicBackupAndRestore(str(checkpoints / "backup"), delete_checkpoint=False))
    callbacks.append(keras.callbacks.TensorBoard(log_dir=str(run_dir / "logs")))
    if dataset is not None:
        callbacks += tasks.get(config.task).sample_callbacks(run_dir / "logs", dataset)
    return callbacks
