import json
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasdl.export
from kerasdl.config import make_config
from kerasdl.data import load_dataset
from kerasdl.errors import RunFailed
from kerasdl.export import export_run
from kerasdl.export.portable import portable_copy
from kerasdl.export.tflite import check_builtin_only, convert_to_tflite
from kerasdl.export.verify import check_parity, tflite_predict
from kerasdl.models import build_model


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def _fitted(family, dataset, **params):
    keras.utils.set_random_seed(1)
    model = build_model(family, dataset.info, **params)
    model.compile("adam", "sparse_categorical_crossentropy")
    features, labels = dataset.arrays("train")
    model.fit(features[:64], labels[:64], epochs=1, verbose=0)
    return model


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [True, False])
def test_rnns_convert_to_builtin_ops_with_parity(digits, cell, bidirectional):
    model = _fitted("rnn", digits, cell=cell, units=8, bidirectional=bidirectional)
    flatbuffer, ops = convert_to_tflite(model, digits.info)
    assert not {"WHILE", "IF"} & set(ops) and not any(op.startswith("Flex") for op in ops)
    parity = check_parity(model, flatbuffer, *digits.arrays("test"))
    assert parity.top1_agreement == 1.0 and parity.max_abs_diff < 1e-5


def test_unrolled_copy_shares_the_trained_weights(digits):
    model = _fitted("rnn", digits, units=8)
    copy = portable_copy(model, unroll=True)
    assert copy.get_layer("bi_lstm1").forward_layer.unroll and not model.get_layer("bi_lstm1").forward_layer.unroll
    batch = digits.arrays("test")[0][:4]
    np.testing.assert_allclose(copy(batch), model(batch), atol=1e-6)


def test_cnn_converts_with_parity(digits):
    model = _fitted("cnn", digits, filters=(8, 16), dense_units=16)
    flatbuffer, ops = convert_to_tflite(model, digits.info)
    assert "CONV_2D" in ops and "SOFTMAX" in ops
    probabilities = tflite_predict(flatbuffer, digits.arrays("test")[0][:3])
    np.testing.assert_allclose(probabilities, model.predict(digits.arrays("test")[0][:3], verbose=0), atol=1e-5)


@pytest.mark.parametrize("ops, named", [(["ADD", "FlexErf"], "FlexErf"), (["WHILE", "ADD"], "WHILE")])
def test_non_builtin_ops_fail_with_their_names(ops, named):
    with pytest.raises(RunFailed, match=f"outside the builtin set: {named}"):
        check_builtin_only(ops)


def test_a_parity_mismatch_fails(digits):
    model = _fitted("ann", digits, hidden_units=(8,))
    other = _fitted("ann", digits, hidden_units=(8,), activation="tanh")
    flatbuffer, _ = convert_to_tflite(other, digits.info)
    with pytest.raises(RunFailed, match="disagrees with the Keras model"):
        check_parity(model, flatbuffer, *digits.arrays("test"))


def test_export_writes_a_consistent_bundle(tmp_path, digits):
    model = _fitted("ann", digits, hidden_units=(8,))
    config = make_config("digits_cnn", {"model": "ann", "model.hidden_units": "8"})
    card = export_run(tmp_path, model, digits, config, {"test": {"accuracy": 0.5, "loss": 1.0}})
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(kerasdl.export.EXPORTED_FILES)
    assert (tmp_path / "labels.txt").read_text().splitlines() == [str(digit) for digit in range(10)]
    assert json.loads((tmp_path / "model_card.json").read_text()) == card
    assert card["input"]["value_range"] == [0.0, 16.0] and card["input"]["shape"] == [1, 8, 8, 1]
    assert card["variants"]["float32"]["size_bytes"] == (tmp_path / "model.tflite").stat().st_size
    assert card["variants"]["float32"]["parity"]["examples"] == len(digits.arrays("test")[1])

    # The Keras file reloads in safe mode and predicts the same.
    reloaded = keras.saving.load_model(tmp_path / "model.keras", safe_mode=True)
    batch = digits.arrays("test")[0][:5]
    np.testing.assert_allclose(reloaded.predict(batch, verbose=0), model.predict(batch, verbose=0), atol=1e-6)

    # The SavedModel serves raw pixels under serving_default, as its consumers load it.
    served = tf.saved_model.load(str(tmp_path / "saved_model")).signatures["serving_default"]
    np.testing.assert_allclose(served(pixels=tf.constant(batch))["probabilities"], model(batch), atol=1e-6)
    shown = subprocess.run(
        [
            sys.executable,
            "-m",
            "tensorflow.python.tools.saved_model_cli",
            "show",
            "--all",
            "--dir",
            str(tmp_path / "saved_model"),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "signature_def['serving_default']" in shown and "pixels" in shown and "probabilities" in shown


def test_a_failed_export_leaves_the_earlier_one_untouched(tmp_path, digits, monkeypatch):
    model = _fitted("ann", digits, hidden_units=(8,))
    config = make_config("digits_cnn", {"model": "ann"})
    export_run(tmp_path, model, digits, config, {"test": {"accuracy": 0.5, "loss": 1.0}})
    before = {path.name: path.stat().st_mtime_ns for path in tmp_path.iterdir()}
    tflite_bytes = (tmp_path / "model.tflite").read_bytes()

    def fail(*args, **kwargs):
        raise RunFailed("parity check failed")

    monkeypatch.setattr(kerasdl.export, "check_parity", fail)
    with pytest.raises(RunFailed):
        export_run(tmp_path, _fitted("ann", digits, hidden_units=(4,)), digits, config, {"test": {}})
    assert {path.name: path.stat().st_mtime_ns for path in tmp_path.iterdir()} == before
    assert (tmp_path / "model.tflite").read_bytes() == tflite_bytes


@pytest.mark.parametrize("precision", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_models_export_in_float32(tmp_path, digits, precision):
    from kerasdl.distribute import precision_policy

    with precision_policy(precision):
        model = _fitted("cnn", digits, filters=(8,), dense_units=16)
    assert model.get_layer("block1_conv1").compute_dtype != "float32"
    copy = portable_copy(model)
    assert copy.get_layer("block1_conv1").compute_dtype == "float32"
    config = make_config("digits_cnn", {"precision": precision})
    card = export_run(tmp_path, model, digits, config, {"test": {"accuracy": 0.5, "loss": 1.0}})
    assert card["variants"]["float32"]["parity"]["top1_agreement"] == 1.0
    # The float32 computation of the mixed-precision model predicts the same classes.
    batch = digits.arrays("test")[0]
    agreement = np.mean(np.argmax(model.predict(batch, verbose=0), -1) == np.argmax(copy.predict(batch, verbose=0), -1))
    assert agreement > 0.95
