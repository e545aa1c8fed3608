import keras
import numpy as np
import pytest

from kerasdl.callbacks import AtomicBackupAndRestore, BestCheckpoint, NanGuard, run_callbacks
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
    callbacks = run_callbacks(tmp_path, make_config("iris_ann"))
    (best,) = [callback for callback in callbacks if isinstance(callback, BestCheckpoint)]
    assert best.best == pytest.approx(0.42)
    assert isinstance(callbacks[-2], AtomicBackupAndRestore)  # after checkpoint, history and LR changes
    assert isinstance(callbacks[-1], keras.callbacks.TensorBoard)


def test_the_backup_is_renamed_into_place_complete(tmp_path):
    model = _tiny_model()
    backup = AtomicBackupAndRestore(str(tmp_path / "backup"), delete_checkpoint=False)
    model.fit(np.ones((4, 2)), np.zeros(4), epochs=2, verbose=0, callbacks=[backup])
    assert sorted(path.name for path in (tmp_path / "backup").iterdir()) == [
        "latest.weights.h5",
        "training_metadata.json",
    ]
    restored = _tiny_model()
    again = AtomicBackupAndRestore(str(tmp_path / "backup"), delete_checkpoint=False)
    history = restored.fit(np.ones((4, 2)), np.zeros(4), epochs=3, verbose=0, callbacks=[again])
    assert len(history.history["loss"]) == 1  # epochs 1-2 came from the backup
