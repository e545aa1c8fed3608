import os
import shutil
import subprocess
import sys

import pytest
import tensorflow as tf

from kerasdl.cli import main
from kerasdl.errors import RunFailed


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "nope"], "Unknown preset 'nope'; choose one of: audio_cnn, breast_cancer_ann, cnn_cifar10"),
        (["train", "digits_cnn", "data=mnist_offline"], "Unknown dataset 'mnist_offline'; choose one of: digits"),
        (
            ["train", "digits_cnn", "model=vit"],
            "Unknown model 'vit'; choose one of: ann, audio_cnn, bert, cnn, l1_unet, pix2pix, rnn, transfer, unet",
        ),
        (["train", "digits_cnn", "strategy=quantum"], "allowed: one of: auto, cpu, gpu, mirrored"),
        (["train", "digits_cnn", "epoch=3"], "Unknown config key 'epoch'"),
        (["train", "digits_cnn", "epochs=0"], "epochs=0 is out of range; allowed: an integer >= 1"),
        (["train", "digits_cnn", "batch_size=-1"], "batch_size=-1 is out of range"),
        (["train", "digits_cnn", "learning_rate=abc"], "learning_rate must be a number, got 'abc'"),
        (["train", "digits_cnn", "model.cell=gru"], "Unknown key 'model.cell' for model 'cnn'"),
        (["train", "digits_rnn", "model.cell=transformer"], "model.cell='transformer' is not allowed"),
        (["train", "digits_cnn", "epochs"], "Expected KEY=VALUE, got 'epochs'"),
        (["train", "digits_cnn", "run_dir=afile"], "run_dir 'afile' is a file, not a directory"),
        (["predict", "somewhere", "x.png"], "Run directory 'somewhere' does not exist"),
        (["evaluate", "somewhere"], "Run directory 'somewhere' does not exist"),
        (["export", "somewhere"], "Run directory 'somewhere' does not exist"),
        (["export", "somewhere", "--variants", "int3"], "Unknown TFLite variant 'int3'"),
        (["export", "somewhere", "--variants", ","], "variants names no TFLite variant"),
        (["export", "somewhere", "--int8-io", "int4"], "argument --int8-io: invalid choice: 'int4'"),
        (["train", "digits_cnn", "variants=float8"], "Unknown TFLite variant 'float8'"),
        (["train", "digits_cnn", "int8_io=int16"], "int8_io='int16' is out of range; allowed: one of: float, int8"),
        (["fly"], "invalid choice: 'fly'"),
        ([], "the following arguments are required: COMMAND"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(in_tmp, capsys, argv, message):
    (in_tmp / "afile").write_text("not a folder")
    status = main(argv)
    captured = capsys.readouterr()
    assert status == 2
    assert captured.err.startswith("kerasdl: error: ") and captured.err.count("\n") == 1
    assert message in captured.err
    assert sorted(path.name for path in in_tmp.iterdir()) == ["afile"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["no_such_photo.jpg"], "Input file 'no_such_photo.jpg' does not exist"),
        (["1,2,3,4", "--variant", "int4"], "This run has no 'int4' TFLite variant; exported: float32"),
        (["1,2,3", "--variant", "int8"], "has shape (1, 3); this model takes (4,) per example"),
    ],
)
def test_predict_bad_input(iris_run, capsys, args, message):
    assert main(["predict", str(iris_run.run_dir), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_a_failed_run_is_one_line_and_exit_1(in_tmp, capsys, monkeypatch):
    import kerasdl.training

    def diverge(config):
        raise RunFailed("Training diverged: the loss became NaN or infinite at epoch 3, batch 7")

    monkeypatch.setattr(kerasdl.training, "train", diverge)
    assert main(["train", "iris_ann"]) == 1
    assert (
        capsys.readouterr().err
        == "kerasdl: error: Training diverged: the loss became NaN or infinite at epoch 3, batch 7\n"
    )


@pytest.mark.skipif(bool(tf.config.list_physical_devices("GPU")), reason="checks the CPU-only messages")
def test_asking_for_a_missing_gpu_and_what_doctor_says(in_tmp, capsys):
    assert main(["train", "digits_cnn", "strategy=gpu"]) == 2
    assert "strategy=gpu but TensorFlow sees no GPU" in capsys.readouterr().err
    assert not list(in_tmp.iterdir())
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "strategy=auto -> default strategy, 1 replica" in out
    assert "precision=auto -> " in out and "jit_compile=auto -> false (CPU: XLA measured slower" in out


def test_presets_lists_one_line_each(capsys):
    assert main(["presets"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("digits_cnn") and "CNN" in line for line in lines)
    assert len(lines) >= 3


def test_doctor_reports_devices_choices_and_versions(capsys):
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "strategy=auto -> " in out and "precision=auto -> " in out
    assert "steps_per_execution=auto -> " in out
    assert "tensorflow 2.21" in out and "GPU:" in out and "TPU:" in out
    assert "JAX: 0." in out and "backend=jax would train on cpu, one device" in out
    assert "oneDNN kernels: " in out and "vector extensions: " in out and "seeded runs repeat on CPUs" in out


def test_evaluate_and_export_an_existing_run(iris_run, capsys, tmp_path):
    assert main(["evaluate", str(iris_run.run_dir)]) == 0
    out = capsys.readouterr().out
    assert "test accuracy" in out and "(recorded:" in out
    run_dir = tmp_path / "run"  # a copy: the shared run keeps all its variants
    shutil.copytree(iris_run.run_dir, run_dir)
    assert main(["export", str(run_dir), "--variants", "float32,int8"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[:2] == ["variant", "file"]
    assert any(line.split()[:2] == ["float32", "model.tflite"] and "100.00%" in line for line in out.splitlines())
    assert any(line.startswith("int8") for line in out.splitlines())
    assert not any(line.startswith("float16") for line in out.splitlines())


def _kerasdl(*args, cwd):
    env = {key: value for key, value in os.environ.items() if key != "KERASDL_VERBOSE"}
    return subprocess.run([sys.executable, "-m", "kerasdl", *args], cwd=cwd, env=env, capture_output=True, text=True)


def test_the_command_shows_kerasdl_output_not_tensorflow_noise(tmp_path):
    done = _kerasdl("train", "iris_ann", "epochs=2", "verbose=2", "variants=float32", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Test accuracy" in done.stdout and "saved_models/iris_ann" in done.stdout
    assert "tensorboard --logdir" in done.stdout and "builtin ops only" in done.stdout
    for noise in ("oneDNN", "cuInit", "absl::InitializeLog", "XNNPACK", "I0000", "W0000"):
        assert noise not in done.stderr + done.stdout
    bad = _kerasdl("train", "iris_ann", "epochs=zero", cwd=tmp_path)
    assert bad.returncode == 2
    assert bad.stderr == "kerasdl: error: epochs must be an integer, got 'zero'\n"
