import json

import keras
import numpy as np
import pytest

from kerasdl.callbacks import NanGuard, run_callbacks
from kerasdl.checkpoints import RunCheckpoints, epochs_on_disk
from kerasdl.config import make_config
from kerasdl.errors import RunFailed


def _tiny_model():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2, activation="softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy")
    return model


def test_a_diverging_loss_stops_with_a_clear_message():
    inputs = np.array([[np.inf, 1.0]] * 4, dtype="float32")
    with pytest.raises(RunFailed, match=r"loss became NaN or infinite at epoch 1, batch 1; try a lower learning_rate"):
        _tiny_model().fit(inputs, np.zeros(4), epochs=1, verbose=0, callbacks=[NanGuard(learning_rate=0.5)])


def test_a_resumed_run_only_replaces_the_best_checkpoint_with_a_better_one(tmp_path):
    (tmp_path / "history.csv").write_text("epoch,loss,val_loss\n0,1.0,0.9\n1,0.8,0.42\n")
    _write_backup_count(tmp_path / "checkpoints", 2)
    callbacks = run_callbacks(tmp_path, make_config("iris_ann"))
    (checkpoints,) = [callback for callback in callbacks if isinstance(callback, RunCheckpoints)]
    assert checkpoints.best == pytest.approx(0.42)
    # The checkpoints come after the history row and the learning-rate change.
    kinds = [type(callback) for callback in callbacks]
    after = [keras.callbacks.CSVLogger, keras.callbacks.ReduceLROnPlateau]
    assert all(kinds.index(kind) < kinds.index(RunCheckpoints) for kind in after if kind in kinds), kinds
    assert keras.callbacks.CSVLogger in kinds and keras.callbacks.TensorBoard in kinds


def test_history_rows_beyond_the_backup_do_not_count_as_best(tmp_path):
    # Killed after epoch 2's row but before its checkpoints were written: the
    # best file on disk is epoch 1's, and the resume trains epoch 2 again.
    (tmp_path / "history.csv").write_text("epoch,loss,val_loss\n0,1.0,0.9\n1,0.8,0.42\n")
    _write_backup_count(tmp_path / "checkpoints", 1)
    (checkpoints,) = [c for c in run_callbacks(tmp_path, make_config("iris_ann")) if isinstance(c, RunCheckpoints)]
    assert checkpoints.best == pytest.approx(0.9)
    assert epochs_on_disk(tmp_path / "empty") == 0


def _write_backup_count(checkpoints, epochs):
    (checkpoints / "backup").mkdir(parents=True)
    (checkpoints / "backup" / "training_metadata.json").write_text(json.dumps({"epoch": epochs, "batch": 0}))


class _Recorder(keras.callbacks.Callback):
    """Keeps the model's first weight and val_loss after each epoch; Ctrl-C as epoch `stop_at` begins."""

    def __init__(self, stop_at=None):
        super().__init__()
        self.kernels, self.val_losses, self.stop_at = [], [], stop_at

    def on_epoch_end(self, epoch, logs=None):
        self.kernels.append(self.model.weights[0].numpy().copy())
        self.val_losses.append(logs["val_loss"])

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.stop_at:
            raise KeyboardInterrupt


def _fit(model, checkpoints, epochs, recorder):
    inputs, labels = np.random.default_rng(0).normal(size=(8, 2)).astype("float32"), np.arange(8) % 2
    return model.fit(
        inputs,
        labels,
        validation_data=(inputs, labels),
        epochs=epochs,
        verbose=0,
        callbacks=[recorder, checkpoints],
    )


def test_the_checkpoints_are_written_at_the_end_and_a_rerun_resumes(tmp_path):
    model, recorder = _tiny_model(), _Recorder()
    checkpoints = RunCheckpoints(tmp_path, "val_loss", "min", None)
    _fit(model, checkpoints, 2, recorder)
    assert sorted(path.name for path in tmp_path.rglob("*") if path.is_file()) == [
        "best.weights.h5",
        "latest.weights.h5",
        "training_metadata.json",
    ]
    assert epochs_on_disk(tmp_path) == 2
    again = RunCheckpoints(tmp_path, "val_loss", "min", None)
    restored = _tiny_model()
    history = _fit(restored, again, 3, _Recorder())
    assert len(history.history["loss"]) == 1  # epochs 1-2 came from the backup


def test_an_interrupted_run_writes_its_last_finished_epoch_and_its_best(tmp_path):
    # A long interval: nothing is written while training, all of it when
    # training stops on an exception (here Ctrl-C before the fourth epoch).
    model, recorder = _tiny_model(), _Recorder(stop_at=3)
    model.compile(keras.optimizers.SGD(0.5), "sparse_categorical_crossentropy")
    checkpoints = RunCheckpoints(tmp_path, "val_loss", "min", None, interval=3600)
    with pytest.raises(KeyboardInterrupt):
        _fit(model, checkpoints, 6, recorder)
    assert not (tmp_path / "backup").exists() and not (tmp_path / "best.weights.h5").exists()
    checkpoints.write_pending()
    assert epochs_on_disk(tmp_path) == 3
    backup = _tiny_model()
    backup.load_weights(tmp_path / "backup" / "latest.weights.h5")
    np.testing.assert_array_equal(backup.weights[0].numpy(), recorder.kernels[2])
    best = _tiny_model()
    best.load_weights(tmp_path / "best.weights.h5")
    best_epoch = int(np.argmin(recorder.val_losses))
    np.testing.assert_array_equal(best.weights[0].numpy(), recorder.kernels[best_epoch])


def test_with_no_interval_every_epoch_is_written(tmp_path):
    model, recorder = _tiny_model(), _Recorder()
    counts = []

    class Count(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            counts.append(epochs_on_disk(tmp_path))

    checkpoints = RunCheckpoints(tmp_path, "val_loss", "min", None, interval=0)
    model.fit(
        np.ones((4, 2)),
        np.zeros(4),
        validation_data=(np.ones((4, 2)), np.zeros(4)),
        epochs=3,
        verbose=0,
        callbacks=[recorder, checkpoints, Count()],
    )
    assert counts == [1, 2, 3]


def test_a_non_finite_validation_loss_stops_before_the_checkpoints_keep_it():
    validation = (np.array([[np.inf, 1.0]] * 2, dtype="float32"), np.zeros(2))
    with pytest.raises(RunFailed, match=r"validation loss was NaN or infinite at the end of epoch 1"):
        _tiny_model().fit(
            np.ones((4, 2)), np.zeros(4), validation_data=validation, epochs=1, verbose=0, callbacks=[NanGuard(0.5)]
        )


def test_a_failed_write_changes_nothing_on_disk(tmp_path, monkeypatch):
    model = _tiny_model()
    _fit(model, RunCheckpoints(tmp_path, "val_loss", "min", None, interval=0), 1, _Recorder())
    before = {path.name: path.read_bytes() for path in tmp_path.rglob("*") if path.is_file()}
    checkpoints = RunCheckpoints(tmp_path, "val_loss", "min", None, interval=0)
    saved = []

    def full_disk(self, path, **kwargs):  # the best file is written, then the backup fails
        if saved:
            raise OSError(28, "No space left on device")
        saved.append(path)
        return original(self, path, **kwargs)

    original = keras.Model.save_weights
    monkeypatch.setattr(keras.Model, "save_weights", full_disk)
    with pytest.raises(OSError):
        _fit(model, checkpoints, 2, _Recorder())
    after = {path.name: path.read_bytes() for path in tmp_path.rglob("*") if path.is_file() and ".tmp" not in path.name}
    assert after == before and saved  # the best file's new version was never renamed into place


def test_the_resume_bar_counts_epochs_by_number_not_by_row(tmp_path):
    # Epoch 1's row was damaged and left out; the backup covers epochs 0-1,
    # so epoch 2's 0.1 (to be trained again) must not become the bar.
    (tmp_path / "history.csv").write_text("epoch,loss,val_loss\n0,1.0,0.9\n1,0.8\n2,0.5,0.1\n")
    _write_backup_count(tmp_path / "checkpoints", 2)
    (checkpoints,) = [c for c in run_callbacks(tmp_path, make_config("iris_ann")) if isinstance(c, RunCheckpoints)]
    assert checkpoints.best == pytest.approx(0.9)
