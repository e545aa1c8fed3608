"""The two checkpoints of a run, kept in memory every epoch and written to
disk only now and then: the best epoch's weights and the backup of the last
finished epoch.

Writing both after every epoch (Keras's ModelCheckpoint and BackupAndRestore)
costs about 0.2 s each for a small U-Net with its optimizer state (measured
in this project on a Xeon with 2 cores): a fifth of a 21-image epoch, and
a quarter of the whole run for a tabular preset whose epochs take
milliseconds. Here each epoch end copies the values into memory (about
40 ms for the U-Net) and the files are written together when `WRITE_INTERVAL_SECONDS`
have passed since the last write, at the end of training, and when training
stops on an exception: Ctrl-C, SIGTERM (the CLI turns it into
KeyboardInterrupt), a NaN loss, an error in the data. Only a SIGKILL or a
power cut loses work, at most the interval and one epoch. The best weights
and the backup are written as a pair (best first), so the backup never
counts an epoch whose best is missing on disk; `epochs_on_disk` tells a
resume which epochs of `history.csv` the files cover.
"""

import contextlib
import json
import os
import time
from pathlib import Path

import keras

from kerasdl.finetune import PHASE_MARKER
from kerasdl.history import LAST_EPOCH
from kerasdl.interrupts import deferred

# At least this long between two writes; longer when a write is slow, so that
# writing costs at most 1/SLOW_WRITE_FACTOR of the training time.
WRITE_INTERVAL_SECONDS = 30.0
SLOW_WRITE_FACTOR = 20
BEST_FILE = "best.weights.h5"
BACKUP_FOLDER = "backup"


class RunCheckpoints(keras.callbacks.BackupAndRestore):
    """The best epoch's weights and the backup of the last finished epoch.

    A rerun restores the backup in `on_train_begin` (Keras's
    BackupAndRestore), then continues from the epoch after it.

    Args:
        checkpoints: the run's `checkpoints/` folder (`Path`); the best
            weights go to `best.weights.h5`, the backup to `backup/`.
        monitor: the metric the best epoch is chosen by (`val_loss`, ...),
            or `LAST_EPOCH`: every epoch is the best so far (a GAN, whose
            validation losses depend on a discriminator that changes every
            epoch; `tasks.checkpoint_rule`).
        mode: "min" or "max".
        best: the best value of `monitor` that the files already on disk
            reached (a resumed run), or None.
        interval: seconds between writes at least; 0 writes after every
            epoch (multi-worker runs, where every worker must write at the
            same epochs).

    Example:
        >>> checkpoints = RunCheckpoints(run_dir / "checkpoints", "val_loss", "min", None)
        >>> try:
        ...     model.fit(batches, epochs=10, callbacks=[checkpoints])
        ... except BaseException:
        ...     checkpoints.write_pending()  # the last finished epoch survives
        ...     raise
    """

    def __init__(self, checkpoints, monitor, mode, best, interval=WRITE_INTERVAL_SECONDS):
        super().__init__(str(checkpoints / BACKUP_FOLDER), delete_checkpoint=False)
        self.best_path = checkpoints / BEST_FILE
        self.monitor = monitor
        self.mode = mode
        self.best = best
        self.interval = interval
        self._best_weights = None  # the best epoch's model weights, when not yet on disk
        self._state = None  # (epochs done, model and optimizer values), when not yet on disk
        self._written_at = None
        self._write_seconds = 0.0

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self._written_at = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        # Ctrl-C held back: the best and the state kept in memory must come
        # from the same epochs, or a write could pair a newer best with an
        # older backup.
        with deferred():
            value = (logs or {}).get(self.monitor)
            improved = self.monitor == LAST_EPOCH or (value is not None and self._improves(float(value)))
            wait = max(self.interval, SLOW_WRITE_FACTOR * self._write_seconds) if self.interval else 0
            if time.monotonic() - self._written_at >= wait:
                self._write(epoch + 1, best_is_current=improved)
                if improved and value is not None:
                    self.best = float(value)
                self._state = None
                return
            best_weights = self.model.get_weights() if improved else self._best_weights
            state = (epoch + 1, [variable.numpy() for variable in self._variables()])
            if improved and value is not None:
                self.best = float(value)
            self._best_weights, self._state = best_weights, state

    def on_train_end(self, logs=None):
        self.write_pending()

    def write_pending(self):
        """Writes what is kept in memory and not yet on disk: the last
        finished epoch's backup and the best weights, and leaves the model
        with that epoch's values (training has stopped). A best weight is
        only ever pending together with a state: the two are kept as one."""
        if self._state is None:
            return
        with deferred():
            epochs, values = self._state
            for variable, value in zip(self._variables(), values, strict=True):
                variable.assign(value)
            self._write(epochs)
            self._state = None

    def _improves(self, value):
        if value != value:  # NaN is never best
            return False
        if self.best is None:
            return True
        return value < self.best if self.mode == "min" else value > self.best

    def _variables(self):
        """What `save_weights` writes: the model's variables and its
        optimizers' (a GAN's `optimizers` are two)."""
        optimizers = getattr(self.model, "optimizers", [self.model.optimizer])
        return list(self.model.variables) + [v for optimizer in optimizers if optimizer for v in optimizer.variables]

    def _write(self, epochs, best_is_current=False):
        """The best weights (the model as it is now if `best_is_current`,
        else those kept since a better epoch, if any) and the backup of the
        model as it is now, counting `epochs` epochs done.

        Every file is written beside its target first and the renames follow
        one another, so a failed write (a full disk) changes nothing on disk
        and a kill leaves at most microseconds between old and new. Keras
        writes its backup in place, and a kill during that write left a file
        the resume could not load ("expected 2 variables, but received 0").
        """
        began = time.monotonic()
        with deferred():
            ready = []  # (temporary, target)
            if best_is_current:
                ready.append(self._save_beside(self.best_path))
            elif self._best_weights is not None:
                current = self.model.get_weights()
                self.model.set_weights(self._best_weights)
                try:
                    ready.append(self._save_beside(self.best_path))
                finally:
                    self.model.set_weights(current)
            ready.append(self._save_beside(Path(self._weights_path)))
            metadata = Path(self._training_metadata_path)
            metadata.with_name(metadata.name + ".tmp").write_text(json.dumps({"epoch": epochs, "batch": 0}))
            ready.append((metadata.with_name(metadata.name + ".tmp"), metadata))
            for temporary, target in ready:
                os.replace(temporary, target)
            self._best_weights = None
        self._written_at = time.monotonic()
        self._write_seconds = self._written_at - began

    def _save_beside(self, path):
        """`save_weights` to a temporary file beside `path`; returns `(temporary, path)`."""
        temporary = path.with_name(path.name.replace(".weights.h5", ".tmp.weights.h5"))
        path.parent.mkdir(parents=True, exist_ok=True)
        self.model.save_weights(temporary, overwrite=True)
        return temporary, path


def epochs_on_disk(checkpoints):
    """How many epochs the files in `checkpoints/` cover: the backup's count,
    else (fine-tuning not begun) the count at which phase 2 starts, else 0.
    Rows of `history.csv` beyond it come from epochs a resume trains again."""
    metadata = checkpoints / BACKUP_FOLDER / "training_metadata.json"
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        return int(json.loads(metadata.read_text())["epoch"])
    with contextlib.suppress(OSError, ValueError):
        return int((checkpoints / PHASE_MARKER).read_text())
    return 0
