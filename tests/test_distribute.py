import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasdl.config import make_config
from kerasdl.data import load_dataset
from kerasdl.distribute import (
    describe_strategy,
    precision_policy,
    resolve_precision,
    resolve_steps_per_execution,
    resolve_strategy,
)
from kerasdl.errors import UserError
from kerasdl.models import build_model

NO_GPU = pytest.mark.skipif(bool(tf.config.list_physical_devices("GPU")), reason="checks the CPU-only choice")


@NO_GPU
def test_auto_on_a_cpu_machine_is_the_default_strategy():
    strategy = resolve_strategy("auto")
    assert strategy.num_replicas_in_sync == 1
    assert resolve_precision("auto", strategy)[0] in ("float32", "mixed_bfloat16")  # see test_precision_probe.py
    assert describe_strategy(strategy).startswith("default strategy, 1 replica")


def test_mirrored_uses_every_logical_cpu_when_there_is_no_gpu():
    strategy = resolve_strategy("mirrored")
    assert strategy.num_replicas_in_sync == 2  # conftest splits the CPU in two
    assert describe_strategy(strategy) == "MirroredStrategy, 2 replicas (CPU:0, CPU:1)"


def _train_weights(strategy, features, labels, info):
    keras.utils.set_random_seed(0)
    with strategy.scope():
        model = build_model("ann", info, hidden_units=(8,), dropout=0.0)
        model.compile(keras.optimizers.SGD(0.1), keras.losses.SparseCategoricalCrossentropy())
    # A global batch of 32: two replicas see 16 examples each.
    initial = model.get_weights()
    data = tf.data.Dataset.from_tensor_slices((features, labels)).batch(32)
    model.fit(data, epochs=3, verbose=0, shuffle=False)
    return model, initial, model.get_weights()


def test_mirrored_training_is_synchronous_data_parallel():
    dataset = load_dataset("iris")
    features, labels = (array[:96] for array in dataset.arrays("train"))
    mirrored_model, initial, mirrored = _train_weights(resolve_strategy("mirrored"), features, labels, dataset.info)
    _, _, single = _train_weights(resolve_strategy("cpu"), features, labels, dataset.info)
    assert not np.allclose(initial[0], single[0])  # training moved the weights
    assert type(mirrored_model.trainable_weights[0].value).__name__ == "MirroredVariable"
    # All-reduced gradients over the split batch equal the single-device step.
    for replicated, reference in zip(mirrored, single, strict=True):
        np.testing.assert_allclose(replicated, reference, atol=1e-5)


@NO_GPU
@pytest.mark.parametrize(
    "name, message",
    [
        ("gpu", "strategy=gpu but TensorFlow sees no GPU"),
        ("tpu", "strategy=tpu but no TPU was found"),
        ("multi_worker", "strategy=multi_worker needs TF_CONFIG"),
        ("warp", "Unknown strategy 'warp'; choose one of: auto, cpu"),
    ],
)
def test_missing_hardware_is_a_one_line_user_error(name, message):
    with pytest.raises(UserError) as error:
        resolve_strategy(name)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_tf_config_with_one_worker_is_not_a_cluster(monkeypatch):
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": ["localhost:1"]}, "task": {"index": 0}}))
    assert resolve_strategy("auto").num_replicas_in_sync == 1


def test_precision_policy_is_restored_after_the_block():
    assert resolve_precision("mixed_bfloat16", None) == ("mixed_bfloat16", "set by precision=")
    with precision_policy("mixed_bfloat16"):
        assert keras.config.dtype_policy().name == "mixed_bfloat16"
    assert keras.config.dtype_policy().name == "float32"


def test_two_mirrored_runs_in_one_process():
    # A notebook trains twice; the second run must not collide with the first
    # run's collective ops (different shapes, same instance keys).
    dataset = load_dataset("iris")
    features, labels = (array[:64] for array in dataset.arrays("train"))
    for hidden in (5, 7):
        keras.utils.set_random_seed(0)
        strategy = resolve_strategy("mirrored")
        with strategy.scope():
            model = build_model("ann", dataset.info, hidden_units=(hidden,))
            model.compile("adam", "sparse_categorical_crossentropy")
        model.fit(features, labels, batch_size=32, epochs=1, verbose=0)
    assert strategy is resolve_strategy("mirrored")


@pytest.mark.parametrize("value", ["[]", '{"cluster": ["a"]}', "not json"])
def test_a_malformed_tf_config_is_a_user_error(monkeypatch, value):
    monkeypatch.setenv("TF_CONFIG", value)
    with pytest.raises(UserError, match="TF_CONFIG must be a JSON object"):
        resolve_strategy("auto")


def test_auto_falls_back_when_the_configured_tpu_is_unreachable(monkeypatch):
    import kerasdl.distribute

    def unreachable():
        raise UserError("no TPU was found (connection refused)")

    monkeypatch.setenv("TPU_NAME", "my-tpu")
    monkeypatch.setattr(kerasdl.distribute, "_tpu_strategy", unreachable)
    lines = []
    strategy = resolve_strategy("auto", log=lines.append)
    assert strategy.num_replicas_in_sync >= 1
    assert lines == ["strategy=auto: no TPU was found (connection refused); falling back to GPUs or the CPU"]


def test_steps_per_execution_auto_is_16_or_one_epoch_and_explicit_values_win():
    assert resolve_steps_per_execution("auto", 100)[0] == 16
    assert resolve_steps_per_execution("auto", 5) == (5, "auto: 16, or one epoch's 5 steps if fewer")
    assert resolve_steps_per_execution("3", 100) == (3, "set by steps_per_execution=")
    assert resolve_steps_per_execution("auto", 100, resolve_strategy("mirrored"))[0] == 1
    assert resolve_steps_per_execution("auto", 100, resolve_strategy("cpu"))[0] == 16
    assert make_config("digits_cnn", {"steps_per_execution": 4}).steps_per_execution == "4"  # YAML integers
    for bad in ("0", "-2", "fast", "1.5", "\u00b2"):  # "²" is a digit to str.isdigit, not to int()
        with pytest.raises(UserError, match="steps_per_execution=.* allowed: auto or an integer >= 1"):
            make_config("digits_cnn", {"steps_per_execution": bad})


def test_the_pipeline_turns_the_tf_data_autotuner_off():
    batches = load_dataset("iris").pipeline("train", 8, shuffle=True)
    assert batches.options().autotune.enabled is False
    assert sum(int(labels.shape[0]) for _, labels in batches) == len(load_dataset("iris").arrays("train")[1])


def test_whole_batches_get_a_static_batch_dimension_and_no_example_is_dropped():
    from kerasdl.data.dataset import Dataset

    features, labels = np.zeros((96, 3), "float32"), np.arange(96) % 2
    # (examples, batch, replicas, static batch size or None, examples per epoch)
    cases = ((96, 32, 1, 32, 96), (90, 32, 1, None, 90), (8, 32, 4, 8, 8), (38, 32, 4, None, 38))
    # Except where a last batch smaller than the replicas would leave one
    # with none: 10 examples on 4 replicas are one batch of 8.
    cases += ((10, 32, 4, 8, 8),)
    for examples, batch, replicas, static, per_epoch in cases:
        data = Dataset(info=None, splits={"train": (features[:examples], labels[:examples])})
        for shuffle in (True, False):
            batches = data.pipeline("train", batch, shuffle=shuffle, replicas=replicas)
            assert batches.element_spec[1].shape[0] == static
            assert sum(int(y.shape[0]) for _, y in batches) == per_epoch


def test_the_tpu_to_connect_to_comes_from_the_environment_or_this_machine(monkeypatch):
    from kerasdl.distribute import tpu_name

    monkeypatch.delenv("TPU_NAME", raising=False)
    monkeypatch.delenv("COLAB_TPU_ADDR", raising=False)
    monkeypatch.setattr("glob.glob", lambda pattern: [])  # no TPU chips
    assert tpu_name() is None
    monkeypatch.setenv("COLAB_TPU_ADDR", "10.0.0.2:8470")
    assert tpu_name() == ""  # the resolver reads COLAB_TPU_ADDR itself
    monkeypatch.setenv("TPU_NAME", "my-tpu")
    assert tpu_name() == "my-tpu"
    monkeypatch.delenv("TPU_NAME")
    monkeypatch.delenv("COLAB_TPU_ADDR")
    monkeypatch.setattr("glob.glob", lambda pattern: ["/dev/accel0"] if "accel" in pattern else [])
    monkeypatch.setattr("importlib.util.find_spec", lambda name: object() if name == "libtpu" else None)
    assert tpu_name() == "local"  # a TPU VM


def test_only_tpus_and_jax_data_parallel_need_whole_even_batches():
    from types import SimpleNamespace

    from kerasdl.distribute import needs_even_batches

    assert not needs_even_batches(resolve_strategy("cpu"))
    assert not needs_even_batches(resolve_strategy("mirrored"))
    assert needs_even_batches(SimpleNamespace(even_batches=True))
