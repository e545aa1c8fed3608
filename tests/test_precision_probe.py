"""precision=auto on a CPU: native bfloat16 flags, then a measured probe of the run's model, cached."""

import keras
import numpy as np
import pytest

from kerasdl import precision_probe
from kerasdl.cli import main
from kerasdl.config import make_config
from kerasdl.distribute import resolve_jit, resolve_precision, resolve_strategy
from kerasdl.errors import UserError
from kerasdl.precision_probe import bf16_decision, time_train_steps


def _never():
    raise AssertionError("the probe must not run")


def test_a_cpu_without_native_bfloat16_stays_float32_without_probing(monkeypatch, tmp_path):
    monkeypatch.setattr(precision_probe, "cpu_flags", lambda: {"avx2", "fma"})
    assert bf16_decision("m", _never, tmp_path) == (False, "CPU without native bfloat16 (no AVX512_BF16 or AMX)")


def test_bfloat16_is_chosen_only_when_measured_faster_and_the_result_is_cached(monkeypatch, tmp_path):
    monkeypatch.setattr(precision_probe, "cpu_flags", lambda: {"avx512f", "avx512_bf16"})
    use, reason = bf16_decision("fast model", lambda: (3.0, 2.0), tmp_path)
    assert use and "this model trained 1.50x faster in bfloat16" in reason
    assert bf16_decision("fast model", _never, tmp_path) == (use, reason)  # cached: no second probe
    use, reason = bf16_decision("small model", lambda: (1.0, 1.5), tmp_path)
    assert not use and "0.67x as fast in bfloat16" in reason
    assert not bf16_decision("close call", lambda: (1.1, 1.0), tmp_path)[0]  # 1.1x is within probe noise


def test_a_model_that_fails_in_bfloat16_trains_in_float32(monkeypatch, tmp_path):
    monkeypatch.setattr(precision_probe, "cpu_flags", lambda: {"avx512_bf16"})

    def failing():
        raise TypeError("Cannot cast bfloat16 in layer X")

    use, reason = bf16_decision("fragile", failing, tmp_path)
    assert not use and "the bfloat16 probe failed (Cannot cast bfloat16 in layer X)" in reason


def test_the_run_passes_its_own_model_to_the_probe(monkeypatch):
    monkeypatch.setattr(precision_probe, "cpu_flags", lambda: {"amx_bf16"})
    strategy = resolve_strategy("cpu")
    assert resolve_precision("auto", strategy, ("k1", lambda: (2.0, 1.0)))[0] == "mixed_bfloat16"
    assert resolve_precision("auto", strategy, ("k2", lambda: (1.0, 2.0)))[0] == "float32"
    assert resolve_precision("float32", strategy, ("k3", _never)) == ("float32", "set by precision=")


def test_time_train_steps_times_both_policies_and_restores_the_global_one():
    def build():
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax", dtype="float32")])
        model.compile("adam", "sparse_categorical_crossentropy")
        return model

    seconds = time_train_steps(build, np.ones((8, 4), "float32"), np.arange(8) % 3, steps=2, min_seconds=0.01)
    assert len(seconds) == 2 and min(seconds) > 0
    assert keras.config.dtype_policy().name == "float32"


def test_jit_compile_auto_is_off_on_a_cpu_and_explicit_values_win():
    strategy = resolve_strategy("cpu")
    assert resolve_jit("auto", strategy) == (False, "CPU: XLA measured slower for convolutions and MLPs")
    assert resolve_jit("true", strategy) == (True, "set by jit_compile=")
    assert make_config("digits_cnn", {"jit_compile": True}).jit_compile == "true"  # YAML booleans
    with pytest.raises(UserError, match="jit_compile='maybe' is out of range; allowed: one of: auto, true, false"):
        make_config("digits_cnn", {"jit_compile": "maybe"})


def test_an_xla_run_says_so(in_tmp, capsys, monkeypatch):
    monkeypatch.setattr(precision_probe, "cpu_flags", lambda: set())  # XLA is the point here, not the probe
    assert main(["train", "iris_ann", "epochs=1", "jit_compile=true", "variants=float32", "verbose=0"]) == 0
    assert "XLA on" in capsys.readouterr().out
