"""Shared test set-up: two logical CPU devices and a small finished run.

TensorFlow fixes its devices when its runtime starts, so the split of the
CPU into two logical devices (for real MirroredStrategy tests) happens here,
before any test touches TensorFlow.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["KERASDL_VERBOSE"] = "1"  # in-process commands must not redirect pytest's stderr
# precision=auto caches its bfloat16 probes there; tests must not read or write the user's.
os.environ["XDG_CACHE_HOME"] = __import__("tempfile").mkdtemp(prefix="kerasdl-test-cache-")
__import__("atexit").register(__import__("shutil").rmtree, os.environ["XDG_CACHE_HOME"], ignore_errors=True)

import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

_cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    _cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
)


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    """Runs the test with a fresh empty working directory."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="session")
def iris_run(tmp_path_factory):
    """A finished iris_ann run (3 epochs), shared by the read-only tests."""
    from kerasdl.training import train

    run_dir = tmp_path_factory.mktemp("runs") / "iris"
    result = train("iris_ann", {"epochs": 3, "run_dir": str(run_dir), "verbose": 0}, log=lambda line: None)
    return result


@pytest.fixture(autouse=True)
def _cpu_without_bf16_unless_probing(request, monkeypatch):
    """precision=auto probes each new model on a CPU with native bfloat16 (a
    few seconds per model). Tests about other things see a CPU without it, so
    they run float32 and do not pay for the probe; the probe's own tests and
    the end-to-end runs of the presets' defaults see the real CPU."""
    if request.module.__name__.split(".")[-1] not in ("test_precision_probe", "test_end_to_end", "test_quality"):
        monkeypatch.setattr("kerasdl.precision_probe.cpu_flags", lambda: set())
