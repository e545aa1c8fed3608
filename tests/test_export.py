import json
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasdl.export
import kerasdl.export.variants
from kerasdl import litert_runner
from kerasdl.config import make_config
from kerasdl.data import load_dataset
from kerasdl.errors import RunFailed
from kerasdl.export import export_run, verify
from kerasdl.export.portable import portable_copy
from kerasdl.export.tflite import check_builtin_only, convert_to_tflite
from kerasdl.export.variants import VARIANT_FILES
from kerasdl.export.verify import measure_parity
from kerasdl.litert_runner import examples_per_call, tflite_predict
from kerasdl.models import build_model
from kerasdl.photos import prepare_digit_photo
from kerasdl.tasks import classify


def _float32_parity(model, flatbuffer, dataset):
    """Parity on the whole test split; a float32 problem is a test failure."""
    inputs, labels = dataset.arrays("test")
    parity = measure_parity(classify, model.predict(inputs, verbose=0), flatbuffer, inputs, labels)
    assert classify.parity_problem("float32", parity) is None
    return parity


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def _fitted(family, dataset, epochs=3, **params):
    keras.utils.set_random_seed(1)
    model = build_model(family, dataset.info, **params)
    model.compile("adam", "sparse_categorical_crossentropy")
    features, labels = dataset.arrays("train")
    # Trained enough to be confident: a barely trained model's near-ties flip
    # under quantization and say nothing about the exporter.
    model.fit(features, labels, epochs=epochs, batch_size=64, verbose=0)
    return model


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [True, False])
def test_rnns_convert_to_builtin_ops_with_parity(digits, cell, bidirectional):
    model = _fitted("rnn", digits, cell=cell, units=8, bidirectional=bidirectional)
    flatbuffer, ops = convert_to_tflite(model, digits.info, digits.arrays("test")[0][:8])
    assert not {"WHILE", "IF"} & set(ops) and not any(op.startswith("Flex") for op in ops)
    parity = _float32_parity(model, flatbuffer, digits)
    assert parity.top1_agreement == 1.0 and parity.max_abs_diff < 1e-5


@pytest.mark.parametrize("bidirectional", [True, False])
def test_fused_lstm_is_smaller_stateful_and_reset_by_the_runner(tmp_path, digits, bidirectional):
    model = _fitted("rnn", digits, units=8, bidirectional=bidirectional)
    # int8 once: its fused bidirectional conversion alone took 20 s here.
    variants = "float32" if bidirectional else "float32,int8"
    config = make_config("digits_rnn", {"variants": variants, "fused_lstm": "true", "model.units": "8"})
    card = export_run(tmp_path, model, digits, config, {"test": {"accuracy": 0.5}}, log=print)
    fused = card["variants"]["float32"]
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in fused["ops"] and fused["recurrent_layers"] == "fused"
    assert "reset the interpreter's variable tensors before every input" in fused["stateful"]
    assert fused["input"]["name"] == "pixels" and card["input"]["shape"] == [1, 8, 8, 1]
    # The runner resets between examples, so all 360 test digits agree.
    assert fused["parity"]["top1_agreement"] == 1.0 and fused["parity"]["max_abs_diff"] < 1e-4
    # Without the reset, the state of one example leaks into the next.
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(tmp_path / "model.tflite"))
    runner = interpreter.get_signature_runner("serving_default")
    inputs = digits.arrays("test")[0][:20]
    leaked = np.concatenate([runner(pixels=inputs[i : i + 1])["probabilities"] for i in range(20)])
    assert not np.allclose(leaked, model.predict(inputs, verbose=0), atol=1e-3)


def test_fused_lstm_falls_back_to_unrolled_for_gru(tmp_path, digits):
    model = _fitted("rnn", digits, cell="gru", units=8)
    warnings = []
    config = make_config("digits_rnn", {"variants": "float32", "fused_lstm": "true", "model.cell": "gru"})
    card = export_run(tmp_path, model, digits, config, {"test": {"accuracy": 0.5}}, log=warnings.append)
    assert (
        card["variants"]["float32"]["recurrent_layers"] == "unrolled" and "stateful" not in card["variants"]["float32"]
    )
    assert "cannot be fused" in warnings[0]


def test_unrolled_copy_shares_the_trained_weights(digits):
    model = _fitted("rnn", digits, units=8)
    copy = portable_copy(model, unroll=True)
    assert copy.get_layer("bi_lstm1").forward_layer.unroll and not model.get_layer("bi_lstm1").forward_layer.unroll
    batch = digits.arrays("test")[0][:4]
    np.testing.assert_allclose(copy(batch), model(batch), atol=1e-6)


def test_cnn_converts_with_parity(digits, monkeypatch):
    # With image_cnn's training-only shifts: the exported model does not shift.
    model = _fitted("cnn", digits, filters=(8, 16), dense_units=16, shift=0.1)
    flatbuffer, ops = convert_to_tflite(model, digits.info, digits.arrays("test")[0][:8])
    assert "CONV_2D" in ops and "SOFTMAX" in ops
    parity = _float32_parity(model, flatbuffer, digits)
    assert parity.top1_agreement == 1.0 and parity.max_abs_diff < 1e-5
    probabilities = tflite_predict(flatbuffer, digits.arrays("test")[0][:3])
    np.testing.assert_allclose(probabilities, model.predict(digits.arrays("test")[0][:3], verbose=0), atol=1e-5)
    # The parity check runs on every core; what it measures must be what one thread computes.
    inputs = digits.arrays("test")[0]
    probabilities_of_20 = tflite_predict(flatbuffer, inputs[:20])
    np.testing.assert_array_equal(tflite_predict(flatbuffer, inputs, num_threads=2), tflite_predict(flatbuffer, inputs))
    # Large inputs go in bounded calls; the chunks give what one call gives.
    monkeypatch.setattr(litert_runner, "MAX_INPUT_VALUES_PER_CALL", 64 * 7)  # 7 digits of 8x8 per call
    assert examples_per_call(inputs.shape[1:]) == 7
    np.testing.assert_allclose(tflite_predict(flatbuffer, inputs[:20]), probabilities_of_20, atol=1e-6)
    # The Keras reference likewise, batch by batch into one array (a last, partial batch included).
    reference = verify.keras_outputs(model, inputs[:20], batch_size=7)
    assert reference.shape == (20, 10) and reference.dtype == np.float32
    np.testing.assert_allclose(reference, model.predict(inputs[:20], verbose=0), atol=1e-6)


def test_calls_are_bounded_by_input_values():
    assert examples_per_call((128, 128, 1)) == 16
    assert examples_per_call((512, 512, 3)) == 1  # never fewer than one
    assert examples_per_call((4,)) == 256  # never more than `most`
    assert examples_per_call((4,), most=10) == 10


@pytest.mark.parametrize("ops, named", [(["ADD", "FlexErf"], "FlexErf"), (["WHILE", "ADD"], "WHILE")])
def test_non_builtin_ops_fail_with_their_names(ops, named):
    with pytest.raises(RunFailed, match=f"outside the builtin set: {named}"):
        check_builtin_only(ops)


def test_a_parity_mismatch_fails(digits):
    model = _fitted("ann", digits, hidden_units=(8,))
    other = _fitted("ann", digits, hidden_units=(8,), activation="tanh")
    flatbuffer, _ = convert_to_tflite(other, digits.info, digits.arrays("test")[0][:8])
    inputs, labels = digits.arrays("test")
    parity = measure_parity(classify, model.predict(inputs, verbose=0), flatbuffer, inputs, labels)
    assert classify.parity_problem("float32", parity) is not None  # a different network is caught


def test_export_writes_a_consistent_bundle(tmp_path, digits):
    model = _fitted("ann", digits, hidden_units=(64,))
    config = make_config("digits_cnn", {"model": "ann", "model.hidden_units": "64"})
    card = export_run(tmp_path, model, digits, config, {"test": {"accuracy": 0.5, "loss": 1.0}}, log=print)
    expected_files = set(kerasdl.export.EXPORTED_FILES) | set(VARIANT_FILES.values())
    assert {path.name for path in tmp_path.iterdir()} == expected_files | {"logs"}  # the test split in TensorBoard
    assert (tmp_path / "labels.txt").read_text().splitlines() == [str(digit) for digit in range(10)]
    assert json.loads((tmp_path / "model_card.json").read_text()) == card
    assert card["input"]["value_range"] == [0.0, 16.0] and card["input"]["shape"] == [1, 8, 8, 1]
    for name, file in VARIANT_FILES.items():
        entry = card["variants"][name]
        assert entry["size_bytes"] == (tmp_path / file).stat().st_size and entry["builtins_only"]
        assert entry["parity"]["examples"] == len(digits.arrays("test")[1])
        assert set(entry["latency_ms"]) == {"1_thread", "2_threads"}
        assert 0 < entry["latency_ms"]["1_thread"]["median_ms"] <= entry["latency_ms"]["1_thread"]["p90_ms"]
    report = (tmp_path / "report.md").read_text()
    assert all(f"| {name} | {file} |" in report for name, file in VARIANT_FILES.items())
    # No history was passed: no curves; the test split's pictures and table, in the Markdown and inlined in the HTML.
    assert {path.name for path in (tmp_path / "plots").iterdir()} == {"confusion_matrix.png", "worst_mistakes.png"}
    assert "![Test split: confusion matrix](plots/confusion_matrix.png)" in report
    assert "| class | precision | recall | F1 | examples |" in report
    page = (tmp_path / "report.html").read_text()
    assert page.count('src="data:image/png;base64,') == 2 and "plots/" not in page and "<table>" in page

    # The Keras file reloads in safe mode and predicts the same.
    reloaded = keras.saving.load_model(tmp_path / "model.keras", safe_mode=True)
    batch = digits.arrays("test")[0][:5]
    np.testing.assert_allclose(reloaded.predict(batch, verbose=0), model.predict(batch, verbose=0), atol=1e-6)

    # The SavedModel serves the TFLite input under serving_default, as its consumers load it.
    signatures = tf.saved_model.load(str(tmp_path / "saved_model")).signatures
    served = signatures["serving_default"](pixels=tf.constant(batch))["probabilities"]
    np.testing.assert_allclose(served, model(batch), atol=1e-6)
    # serve_raw takes 8-bit photos: the digits as 0-255 RGB give the same classes.
    photos = np.repeat(np.round(batch / 16 * 255), 3, axis=-1).astype("uint8")
    raw = signatures["serve_raw"](images=tf.constant(photos))["probabilities"]
    np.testing.assert_allclose(raw, served, atol=0.02)
    assert np.array_equal(np.argmax(raw, -1), np.argmax(served, -1))
    # A digit photographed (enlarged, dark ink on light paper, margins) is
    # prepared as the digits were made, as predict prepares it.
    ink = np.kron(batch[0, ..., 0] / 16, np.ones((6, 6)))
    paper = np.pad(230 - ink * 200, 30, constant_values=230).astype("uint8")[np.newaxis, ..., np.newaxis]
    served_photo = signatures["serve_raw"](images=tf.constant(paper))["probabilities"]
    np.testing.assert_allclose(served_photo, model(prepare_digit_photo(paper[0])), atol=1e-5)
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
    assert "signature_def['serving_default']" in shown and "signature_def['serve_raw']" in shown
    assert "pixels" in shown and "images" in shown and "DT_UINT8" in shown and "probabilities" in shown


@pytest.fixture(scope="module")
def digits_cnn(digits):
    return _fitted("cnn", digits, epochs=5)  # the digits_cnn architecture


def test_cnn_variants_meet_the_size_and_agreement_bar(tmp_path, digits, digits_cnn):
    model = digits_cnn
    card = export_run(tmp_path, model, digits, make_config("digits_cnn"), {"test": {"accuracy": 0.5}}, log=print)
    variants = card["variants"]
    assert variants["int8"]["size_vs_float32"] <= 0.3 and variants["float16"]["size_vs_float32"] <= 0.55
    assert all(entry["parity"]["top1_agreement"] >= 0.98 for entry in variants.values())
    assert "QUANTIZE" in variants["int8"]["ops"]  # float in, quantized inside
    assert variants["int8"]["input"] == {"name": "pixels", "dtype": "float32", "preprocessing": "none"}


def test_int8_io_records_scale_and_zero_point(tmp_path, digits, digits_cnn):
    model = digits_cnn
    config = make_config("digits_cnn", {"variants": "int8", "int8_io": "uint8"})
    card = export_run(tmp_path, model, digits, config, {"test": {"accuracy": 0.5}}, log=print)
    entry = card["variants"]["int8"]
    assert entry["input"]["dtype"] == "uint8" and entry["output"]["dtype"] == "uint8"
    assert entry["input"]["quantization"]["scale"] > 0 and "zero_point" in entry["output"]["quantization"]
    assert entry["parity"]["top1_agreement"] >= 0.98
    assert not (tmp_path / "model_float16.tflite").exists()


def test_tabular_int8_takes_standardised_features(tmp_path):
    cancer = load_dataset("breast_cancer")
    model = _fitted("ann", cancer, hidden_units=(16,))
    config = make_config("breast_cancer_ann", {"variants": "int8"})
    card = export_run(tmp_path, model, cancer, config, {"test": {"accuracy": 0.5}}, log=print)
    entry = card["variants"]["int8"]
    assert entry["input"]["preprocessing"] == "standardise"
    assert card["variants"]["float32"]["input"]["preprocessing"] == "none"
    assert entry["parity"]["top1_agreement"] >= 0.98


def test_a_variant_below_the_bar_is_left_out_with_a_warning(tmp_path, digits, monkeypatch):
    monkeypatch.setitem(classify.MIN_AGREEMENT, "float16", 1.01)
    model = _fitted("ann", digits, hidden_units=(8,))
    warnings = []
    config = make_config("digits_cnn", {"model": "ann", "variants": "float16"})
    card = export_run(tmp_path, model, digits, config, {"test": {"accuracy": 0.5}}, log=warnings.append)
    assert "below 101%" in card["variants"]["float16"]["rejected"]
    assert warnings and "float16 left out" in warnings[0]
    assert not (tmp_path / "model_float16.tflite").exists() and (tmp_path / "model.tflite").exists()
    assert "left out" in (tmp_path / "report.md").read_text()


def test_a_reexport_with_fewer_variants_removes_the_others(tmp_path, digits):
    model = _fitted("ann", digits, hidden_units=(8,))
    config = make_config("digits_cnn", {"model": "ann", "variants": "float32,dynamic"})
    export_run(tmp_path, model, digits, config, {"test": {"accuracy": 0.5}}, log=print)
    assert (tmp_path / "model_dynamic.tflite").exists()
    config = make_config("digits_cnn", {"model": "ann", "variants": "float32"})
    export_run(tmp_path, model, digits, config, {"test": {"accuracy": 0.5}}, log=print)
    assert not (tmp_path / "model_dynamic.tflite").exists() and (tmp_path / "model.tflite").exists()


def test_a_failed_export_leaves_the_earlier_one_untouched(tmp_path, digits, monkeypatch):
    model = _fitted("ann", digits, hidden_units=(8,))
    config = make_config("digits_cnn", {"model": "ann", "variants": "float32,int8"})
    export_run(tmp_path, model, digits, config, {"test": {"accuracy": 0.5, "loss": 1.0}})
    before = {path.name: path.stat().st_mtime_ns for path in tmp_path.iterdir()}
    tflite_bytes = (tmp_path / "model.tflite").read_bytes()

    monkeypatch.setattr(classify, "parity_problem", lambda variant, parity: "made to fail")
    with pytest.raises(RunFailed, match="disagrees with the Keras model: made to fail"):
        export_run(tmp_path, _fitted("ann", digits, hidden_units=(4,)), digits, config, {"test": {}})
    assert {path.name: path.stat().st_mtime_ns for path in tmp_path.iterdir()} == before
    assert (tmp_path / "model.tflite").read_bytes() == tflite_bytes


def test_flex_ops_pass_only_when_allowed():
    check_builtin_only(["ADD", "FlexErf"], allow_flex=True)
    with pytest.raises(RunFailed, match="WHILE"):
        check_builtin_only(["WHILE", "FlexErf"], allow_flex=True)


@pytest.mark.parametrize("precision", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_models_export_in_float32(tmp_path, digits, precision):
    from kerasdl.distribute import precision_policy

    with precision_policy(precision):
        model = _fitted("cnn", digits, filters=(8,), dense_units=16)
    assert model.get_layer("block1_conv1").compute_dtype != "float32"
    copy = portable_copy(model)
    assert copy.get_layer("block1_conv1").compute_dtype == "float32"
    config = make_config("digits_cnn", {"precision": precision, "variants": "float32"})
    card = export_run(tmp_path, model, digits, config, {"test": {"accuracy": 0.5, "loss": 1.0}})
    assert card["variants"]["float32"]["parity"]["top1_agreement"] == 1.0
    # The float32 computation of the mixed-precision model predicts the same classes.
    batch = digits.arrays("test")[0]
    agreement = np.mean(np.argmax(model.predict(batch, verbose=0), -1) == np.argmax(copy.predict(batch, verbose=0), -1))
    assert agreement > 0.95


def test_latency_of_a_slow_model_stops_at_its_time_budget():
    import time

    from kerasdl.export import latency

    calls = []
    result = latency._time(lambda: (calls.append(1), time.sleep(0.02)), runs=200, warmup=20, budget=0.1)
    # warming stops after budget / 5; timing after the budget, but never below MIN_RUNS
    assert latency.MIN_RUNS <= result["runs"] < 200 and len(calls) < 30
    assert 20 <= result["median_ms"] <= result["p90_ms"]
    quick = latency._time(lambda: None, runs=50, warmup=5, budget=10)
    assert quick["runs"] == 50
