import json

import keras
import numpy as np
import pytest
import yaml

import kerasdl.training
from kerasdl.history import read_history
from kerasdl.rundir import run_state
from kerasdl.training import train

QUIET = {"verbose": "0", "variants": "float32"}  # variants are export tests' business


class _Interrupt(Exception):
    pass


class _InterruptAfter(keras.callbacks.Callback):
    """Simulates a killed process: raises once `epochs` epochs have finished."""

    def __init__(self, epochs):
        super().__init__()
        self.epochs = epochs

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epochs:
            raise _Interrupt()


class _CountEpochs(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.ran = []

    def on_epoch_begin(self, epoch, logs=None):
        self.ran.append(epoch)


def test_an_interrupted_run_resumes_where_it_stopped(in_tmp, monkeypatch):
    settings = QUIET | {"epochs": "5", "early_stopping": "0"}
    original = kerasdl.training.run_callbacks
    monkeypatch.setattr(kerasdl.training, "run_callbacks", lambda *a, **k: original(*a, **k) + [_InterruptAfter(2)])
    with pytest.raises(_Interrupt):
        train("iris_ann", settings, log=lambda line: None)
    run_dir = in_tmp / "saved_models/iris_ann"
    assert run_state(run_dir) == "interrupted"
    assert len(read_history(run_dir / "history.csv")["loss"]) == 2
    assert not (run_dir / "model.tflite").exists()

    counter = _CountEpochs()
    monkeypatch.setattr(kerasdl.training, "run_callbacks", lambda *a, **k: original(*a, **k) + [counter])
    lines = []
    result = train("iris_ann", settings, log=lines.append)
    assert result.resumed and result.run_dir == run_dir.relative_to(in_tmp)
    assert any("resuming the interrupted run" in line for line in lines)
    assert counter.ran == [2, 3, 4]  # only the epochs that were missing
    assert len(result.metrics["history"]["loss"]) == 5
    assert run_state(run_dir) == "finished"
    assert not (run_dir / "checkpoints" / "backup").exists()


def test_a_second_run_of_the_same_command_keeps_the_first(in_tmp):
    first = train("iris_ann", QUIET | {"epochs": "1"}, log=lambda line: None)
    second = train("iris_ann", QUIET | {"epochs": "1"}, log=lambda line: None)
    assert str(first.run_dir) == "saved_models/iris_ann" and str(second.run_dir) == "saved_models/iris_ann-2"
    assert (in_tmp / first.run_dir / "model.tflite").exists()


def test_runs_repeat_with_the_same_seed(in_tmp):
    results = [
        train("iris_ann", QUIET | {"epochs": "3", "run_dir": f"run{index}"}, log=lambda line: None)
        for index in range(2)
    ]
    first, second = (result.metrics["history"]["loss"] for result in results)
    np.testing.assert_allclose(first, second, rtol=1e-5)


def test_run_directory_contents(iris_run):
    run_dir = iris_run.run_dir
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert config["preset"] == "iris_ann" and config["seed"] == 42 and config["model.hidden_units"] == [16, 16]
    assert config["versions"]["tensorflow"].startswith("2.21")
    assert "oneDNN kernels: " in config["resolved"]["cpu"]  # a seeded run repeats on the same kind of CPU
    # 105 training examples in batches of 16 make 7 steps: auto runs the whole epoch per execution.
    assert config["resolved"]["steps_per_execution"] == "7 (auto: 16, or one epoch's 7 steps if fewer)"
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert set(metrics["test"]) == {"accuracy", "loss"}
    assert len(metrics["history"]["val_loss"]) == 3
    assert (run_dir / "checkpoints" / "best.weights.h5").exists()
    assert {path.name for path in run_dir.iterdir()} == {
        "config.yaml",
        "metrics.json",
        "history.csv",
        "logs",
        "checkpoints",
        "model.keras",
        "saved_model",
        "model.tflite",
        "model_float16.tflite",
        "model_dynamic.tflite",
        "model_int8.tflite",
        "labels.txt",
        "model_card.json",
        "report.md",
        "report.html",
        "plots",
        ".kerasdl.lock",  # the run's lock file: empty of meaning once no process holds it
    }
    assert not (run_dir / "checkpoints" / "backup").exists()  # removed once the run finished
    event_dirs = {path.parent.name for path in (run_dir / "logs").rglob("events.out.tfevents.*")}
    # Keras's scalars, the validation inspections, the test split, and the HParams session in logs/ itself.
    assert event_dirs == {"train", "validation", "inspection", "test", "logs"}
    # Tabular data: the mistakes are a text table, not a picture.
    assert {path.name for path in (run_dir / "plots").iterdir()} == {"training_curves.png", "confusion_matrix.png"}


def test_tensorboard_logs_train_validation_and_learning_rate(iris_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tags = {}
    for split in ("train", "validation"):
        accumulator = EventAccumulator(str(iris_run.run_dir / "logs" / split))
        accumulator.Reload()
        tags[split] = set(accumulator.Tags()["tensors"]) | set(accumulator.Tags()["scalars"])
    assert {"epoch_loss", "epoch_accuracy", "epoch_learning_rate"} <= tags["train"]
    assert {"epoch_loss", "epoch_accuracy"} <= tags["validation"]


def test_mirrored_strategy_through_train(in_tmp):
    result = train("iris_ann", QUIET | {"epochs": "2", "strategy": "mirrored"}, log=lambda line: None)
    config = yaml.safe_load((in_tmp / result.run_dir / "config.yaml").read_text())
    assert config["resolved"]["strategy"] == "MirroredStrategy, 2 replicas (CPU:0, CPU:1)"
    assert config["resolved"]["global_batch_size"] == 32  # 16 per replica x 2
    # Keras fails to run several steps per execution under MirroredStrategy.
    assert config["resolved"]["steps_per_execution"] == "1 (auto: 1 under MirroredStrategy (keras-team/keras#19246))"
    assert result.card["variants"]["float32"]["parity"]["top1_agreement"] == 1.0


def test_an_interruption_after_training_does_not_train_again(in_tmp, monkeypatch):
    settings = QUIET | {"epochs": "6", "early_stopping": "1"}

    def fail_export(*args, **kwargs):
        raise KeyboardInterrupt

    original_export = kerasdl.training.export_run
    monkeypatch.setattr(kerasdl.training, "export_run", fail_export)
    with pytest.raises(KeyboardInterrupt):
        train("iris_ann", settings, log=lambda line: None)
    epochs_trained = len(read_history(in_tmp / "saved_models/iris_ann/history.csv")["loss"])

    monkeypatch.setattr(kerasdl.training, "export_run", original_export)
    counter = _CountEpochs()
    original = kerasdl.training.run_callbacks
    monkeypatch.setattr(kerasdl.training, "run_callbacks", lambda *a, **k: original(*a, **k) + [counter])
    result = train("iris_ann", settings, log=lambda line: None)
    assert counter.ran == [] and result.resumed
    assert len(result.metrics["history"]["loss"]) == epochs_trained
    assert (in_tmp / result.run_dir / "model.tflite").exists()


def test_the_model_is_compiled_with_the_resolved_steps_per_execution(in_tmp, monkeypatch):
    compiled = []
    original = kerasdl.training.compile_model

    def recording(model, *args, **kwargs):
        original(model, *args, **kwargs)
        compiled.append(model.steps_per_execution)

    monkeypatch.setattr(kerasdl.training, "compile_model", recording)
    train("iris_ann", QUIET | {"epochs": "1", "steps_per_execution": "3"}, log=lambda line: None)
    assert compiled == [3]
