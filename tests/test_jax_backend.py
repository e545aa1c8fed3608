"""Training on Keras's JAX backend: choices, even batches, and real runs on
two virtual CPU devices (data parallel) that export like TensorFlow runs.

The suite's own process runs Keras on TensorFlow, and a process has one
backend, so the runs happen in child processes, as a user starts them.
"""

import json
import os
import subprocess
import sys
from types import SimpleNamespace

import pytest
import yaml

from kerasdl.config import make_config
from kerasdl.data import load_dataset
from kerasdl.errors import UserError
from kerasdl.history import read_history
from kerasdl.jax_backend import JaxDevices, check_backend, jax_jit, jax_precision, select_backend
from kerasdl.training import train


def _devices(platform, count, **extra):
    return tuple(SimpleNamespace(platform=platform, id=index, **extra) for index in range(count))


def test_precision_auto_follows_the_jax_platform():
    assert jax_precision("auto", JaxDevices(_devices("tpu", 8)))[0] == "mixed_bfloat16"
    assert jax_precision("auto", JaxDevices(_devices("gpu", 1, compute_capability="8.0")))[0] == "mixed_float16"
    assert jax_precision("auto", JaxDevices(_devices("gpu", 1, compute_capability="6.1")))[0] == "float32"
    assert jax_precision("auto", JaxDevices(_devices("cpu", 2)))[0] == "float32"
    assert jax_precision("mixed_bfloat16", JaxDevices(_devices("cpu", 1))) == ("mixed_bfloat16", "set by precision=")


def test_jax_always_compiles_unless_told_not_to():
    assert jax_jit("auto")[0] is True
    assert jax_jit("true")[0] is True
    assert jax_jit("false") == (False, "set by jit_compile= (JAX then runs every step op by op: slow)")


def test_one_device_runs_without_a_distribution():
    single = JaxDevices(_devices("cpu", 1))
    assert single.num_replicas_in_sync == 1
    assert not single.even_batches
    assert single.describe() == "JAX, one device (cpu:0)"


def test_jax_devices_that_are_not_there_are_one_clear_line():
    from kerasdl.jax_backend import resolve_jax_devices

    with pytest.raises(UserError, match=r"strategy=tpu but JAX sees no TPU \(it sees: cpu\)"):
        resolve_jax_devices("tpu")
    with pytest.raises(UserError, match="strategy=multi_worker runs on the TensorFlow backend"):
        resolve_jax_devices("multi_worker")
    assert resolve_jax_devices("cpu").describe() == "JAX, one device (cpu:0)"


def test_asking_for_another_backend_than_the_running_one_is_one_clear_line():
    check_backend("auto")
    check_backend("tensorflow")
    with pytest.raises(UserError, match="already runs on tensorflow; set KERAS_BACKEND=jax before"):
        check_backend("jax")
    with pytest.raises(UserError, match="already runs on tensorflow"):
        train("iris_ann", {"backend": "jax"})


def test_backend_jax_without_jax_installed_says_how_to_get_it(monkeypatch):
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    with pytest.raises(UserError, match=r"backend=jax needs JAX: pip install 'kerasdl\[jax\]'"):
        select_backend("jax")
    assert "KERAS_BACKEND" not in os.environ


def test_an_unknown_backend_is_refused():
    with pytest.raises(UserError, match="backend=.torch. is out of range; allowed: one of: auto, tensorflow, jax"):
        make_config("iris_ann", {"backend": "torch"})


def test_even_batches_split_evenly_across_the_devices():
    dataset = load_dataset("iris")
    train_size = len(dataset.arrays("train")[1])
    batches = list(dataset.pipeline("train", 16, shuffle=True, replicas=2, even=True))
    assert [len(labels) for _, labels in batches] == [16] * (train_size // 16)
    test_size = len(dataset.arrays("test")[1])
    sizes = [len(labels) for _, labels in dataset.pipeline("test", 15, replicas=3, even=True)]
    assert sum(sizes) == test_size // 3 * 3
    assert all(size % 3 == 0 for size in sizes)
    # Without `even`, nothing is dropped.
    assert sum(len(labels) for _, labels in dataset.pipeline("train", 16, shuffle=True)) == train_size


def _train_on_jax(tmp_path, devices, *settings, preset="digits_cnn"):
    env = os.environ | {"XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}"}
    env.pop("KERASDL_VERBOSE", None)
    command = [sys.executable, "-m", "kerasdl", "train", preset, "backend=jax", "verbose=0", *settings]
    return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.full
def test_two_virtual_devices_train_as_well_as_one_and_export_like_tensorflow(tmp_path):
    # Same global batch (32) on one device and on two.
    two = _train_on_jax(tmp_path, 2, "batch_size=16", "run_dir=two", "epochs=15", "variants=float32,int8")
    assert two.returncode == 0, two.stderr
    one = _train_on_jax(tmp_path, 1, "batch_size=32", "run_dir=one", "epochs=15", "variants=float32")
    assert one.returncode == 0, one.stderr

    resolved = yaml.safe_load((tmp_path / "two" / "config.yaml").read_text())["resolved"]
    assert resolved["backend"] == "jax"
    assert resolved["strategy"] == "JAX DataParallel (keras.distribution), 2 replicas (cpu:0, cpu:1)"
    assert resolved["global_batch_size"] == 32
    assert "JAX, one device (cpu:0)" in one.stdout
    accuracy = {
        name: json.loads((tmp_path / name / "metrics.json").read_text())["test"]["accuracy"] for name in ("one", "two")
    }
    assert accuracy["two"] > 0.95
    # Two devices sum the gradients in another order, so the two runs part
    # ways like two seeds. On 360 test digits at ~98% one run's standard
    # error is sqrt(0.98 * 0.02 / 360) = 0.74 points, a difference of two
    # runs' 1.04; 3 of those allow 0.031 (seen: 1.67 points apart on a Xeon
    # with AMX, where the earlier bound of 0.01 failed).
    assert abs(accuracy["two"] - accuracy["one"]) <= 0.031, accuracy

    # TensorFlow rebuilt the JAX-trained model, agreed with it, and exported it.
    assert "TensorFlow's rebuild of the JAX-trained model: same class on 100.0%" in two.stdout
    card = json.loads((tmp_path / "two" / "model_card.json").read_text())
    assert card["variants"]["float32"]["parity"]["top1_agreement"] >= 0.99
    assert card["variants"]["int8"]["file"] == "model_int8.tflite"
    assert (tmp_path / "two" / "saved_model" / "saved_model.pb").exists()
    assert not list((tmp_path / "two").glob(".jax-handoff-*"))


def test_whole_batches_need_a_training_split_of_one_global_batch_and_a_validation_share_per_device():
    from kerasdl.training import _steps_per_epoch

    def splits(train, validation):
        sizes = {"train": train, "validation": validation}
        return SimpleNamespace(size=lambda split: sizes[split])

    devices = SimpleNamespace(even_batches=True, num_replicas_in_sync=2)
    assert _steps_per_epoch(splits(105, 15), 32, devices) == 3  # the partial fourth batch is dropped
    assert _steps_per_epoch(splits(105, 15), 32, SimpleNamespace()) == 4
    with pytest.raises(UserError, match="105 examples, fewer than one global batch of 128 .2 devices x batch_size."):
        _steps_per_epoch(splits(105, 15), 128, devices)
    with pytest.raises(UserError, match="validation split has 1 examples, fewer than the 2 devices"):
        _steps_per_epoch(splits(105, 1), 32, devices)


def test_in_a_jax_process_the_tpu_check_says_to_use_the_command(tmp_path):
    code = "import kerasdl; kerasdl.check_tpu_readiness('iris_ann')"
    env = os.environ | {"KERAS_BACKEND": "jax"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    assert "UserError: the TPU readiness check runs on Keras's TensorFlow backend" in done.stderr
    # The command runs it on TensorFlow whatever KERAS_BACKEND says.
    command = [sys.executable, "-m", "kerasdl", "doctor", "--preset", "iris_ann", "model.hidden_units=4"]
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "TPU readiness of iris_ann: ready" in done.stdout


@pytest.mark.slow
def test_ctrl_c_on_two_devices_resumes_and_a_bfloat16_text_model_serves_raw_text(tmp_path):
    """text_rnn in mixed_bfloat16 on two devices: Ctrl-C, the same command
    resumes, TensorFlow exports what JAX trained, and the SavedModel takes
    raw strings. One run for all of it: every JAX process here pays for
    JAX's and TensorFlow's start and for XLA's compiles."""
    from interrupt import interrupt_after, start_interruptible
    from sms_messages import messages

    data = tmp_path / "sms.tsv"
    data.write_text("".join(f"{label}\t{text}\n" for label, text in messages()))
    env = os.environ | {"XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    env.pop("KERASDL_VERBOSE", None)
    command = [sys.executable, "-m", "kerasdl", "train", "text_rnn", "backend=jax", f"data=text:{data}"]
    command += ["precision=mixed_bfloat16", "learning_rate=0.01", "sequence_length=8", "model.units=8"]
    command += ["model.embedding_dim=8", "epochs=100", "early_stopping=0", "verbose=0", "variants=float32"]
    run_dir = tmp_path / "saved_models" / "text_rnn"
    history = run_dir / "history.csv"
    process = start_interruptible(command, tmp_path, env)
    stderr = interrupt_after(process, history, 3)
    assert process.returncode == 130, stderr
    assert 3 <= len(read_history(history)["loss"]) < 100

    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "resuming the interrupted run in saved_models/text_rnn" in done.stdout
    assert "JAX DataParallel (keras.distribution), 2 replicas" in done.stdout
    assert "mixed_bfloat16 (set by precision=)" in done.stdout
    assert len(read_history(history)["loss"]) == 100
    assert json.loads((run_dir / "metrics.json").read_text())["test"]["accuracy"] >= 0.9
    # TensorFlow rebuilt the JAX-trained model (both backends' float32 copies agree) and exported it.
    assert "TensorFlow's rebuild of the JAX-trained model: same class on 100.0%" in done.stdout
    card = json.loads((run_dir / "model_card.json").read_text())
    assert card["variants"]["float32"]["parity"]["top1_agreement"] == 1.0
    assert not list(run_dir.glob(".jax-handoff-*"))

    import tensorflow as tf

    texts = ["WIN a FREE prize, call now!", "see you at lunch"]
    serve_raw = tf.saved_model.load(str(run_dir / "saved_model")).signatures["serve_raw"]
    served = serve_raw(texts=tf.constant(texts))
    assert served["probabilities"].numpy().argmax(axis=1).tolist() == [1, 0]  # labels sorted: ham, spam


@pytest.mark.full  # 40-80 s: make test-full (CI runs it too)
def test_the_l1_translation_baseline_trains_and_exports_on_jax(tmp_path):
    # Pix2Pix's two-optimizer step is TensorFlow's (refused on JAX: test_config.py); its baseline is a plain model.
    settings = ["model=l1_unet", "image_size=32", "model.filters=8", "epochs=1", "variants=float32", "run_dir=l1"]
    done = _train_on_jax(tmp_path, 1, *settings, preset="pix2pix_colorize")
    assert done.returncode == 0, done.stderr
    card = json.loads((tmp_path / "l1" / "model_card.json").read_text())
    assert card["task"] == "translate" and card["variants"]["float32"]["parity"]["psnr_db"] >= 50
