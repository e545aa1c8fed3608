"""Whether mixed bfloat16 training pays on this CPU, for this model: flags, then a measurement.

A CPU flag (AVX512_BF16, AMX) says bfloat16 arithmetic is native, not that
training gets faster: the casts around every layer cost time too, and small
models are dominated by them. Measured on this project's 2-core AMD EPYC
with AVX512_BF16: the keras.io MNIST convnet (28x28, batch 128) trained
1.3-1.9x faster in mixed_bfloat16 in two `scripts/bench_training.py` runs and
slower in a third, while `digits_cnn` (8x8 images, batch 32) took 23.8 s in
mixed_bfloat16 against 20.5 s in float32, at the same accuracy. So
`precision=auto` on a CPU with the flag times a few training steps of the
run's own model on a batch of its own data in both precisions and picks
bfloat16 only if it is clearly faster. The result is cached per CPU model,
TensorFlow version, model and batch (~/.cache/kerasdl), so the probe costs a
few seconds once, not every run.
"""

import json
import os
import time
from pathlib import Path

from kerasdl.cpu import cpu_flags, cpu_model  # here too: the tests patch precision_probe.cpu_flags

BF16_FLAGS = ("avx512_bf16", "amx_bf16")
SPEEDUP_NEEDED = 1.2  # below this the noise of a short probe could decide


def bf16_decision(key="convnet", measure=None, cache_dir=None):
    """`(use_bf16, reason)` for this CPU and the model `key` names.

    Args:
        key: names what `measure` times (model family, hyperparameters,
            input shape, batch), for the cache.
        measure: `() -> (float32_seconds, bf16_seconds)`; by default a small
            28x28 convnet (`time_train_steps`).
        cache_dir: where results are kept (default `$XDG_CACHE_HOME/kerasdl`
            or `~/.cache/kerasdl`).
    """
    native = sorted(set(BF16_FLAGS) & cpu_flags())
    if not native:
        return False, "CPU without native bfloat16 (no AVX512_BF16 or AMX)"
    import tensorflow as tf

    key = f"{cpu_model()} | TF {tf.__version__} | {key}"
    default = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kerasdl"
    path = Path(cache_dir or default) / "bf16_probe.json"
    saved = _read(path)
    if key not in saved:
        try:
            float32_seconds, bf16_seconds = (measure or _default_probe)()
        except Exception as error:  # a model that cannot build or train in bfloat16
            detail = (str(error).strip().splitlines() or [type(error).__name__])[0][:120]
            return False, f"CPU with native bfloat16, but the bfloat16 probe failed ({detail})"
        saved[key] = {"float32_s": float32_seconds, "bfloat16_s": bf16_seconds}
        _write(path, saved)
    speedup = saved[key]["float32_s"] / saved[key]["bfloat16_s"]
    flags = "/".join(flag.upper() for flag in native)
    subject = "this model" if measure else "a small 28x28 convnet (each run probes its own model)"
    if speedup >= SPEEDUP_NEEDED:
        return True, f"CPU with {flags}: {subject} trained {speedup:.2f}x faster in bfloat16 in a probe"
    return False, f"CPU with {flags}, but {subject} trained {speedup:.2f}x as fast in bfloat16 in a probe"


def time_train_steps(build, features, labels, steps=5, min_seconds=0.3, max_rounds=8):
    """Seconds per `steps` training steps of `build()`'s model: `(float32, mixed_bfloat16)`.

    Both models are built and traced first; then rounds alternate between
    them, so machine noise hits both alike, until each has run `min_seconds`
    (a tiny model's 5 steps take milliseconds, which a scheduler hiccup would
    decide) or `max_rounds`. Each figure is the fastest round.

    Args:
        build: `() -> compiled keras.Model`, called under each dtype policy.
        features: one batch of inputs.
        labels: its labels.
    """
    import keras

    from kerasdl.stage_line import StageLine

    with StageLine("precision=auto") as line:
        line.say("timing a few training steps in bfloat16 against float32 on this CPU")
        return _alternate_rounds(keras, build, features, labels, steps, min_seconds, max_rounds)


def _alternate_rounds(keras, build, features, labels, steps, min_seconds, max_rounds):
    models = []
    for policy in ("float32", "mixed_bfloat16"):
        previous = keras.config.dtype_policy()
        keras.config.set_dtype_policy(policy)
        try:
            models.append(build())
        finally:
            keras.config.set_dtype_policy(previous)
        models[-1].train_on_batch(features, labels)  # traces
    rounds = [[], []]
    while min(sum(times) for times in rounds) < min_seconds and len(rounds[0]) < max_rounds:
        for model, times in zip(models, rounds, strict=True):
            start = time.perf_counter()
            for _ in range(steps):
                model.train_on_batch(features, labels)
            times.append(time.perf_counter() - start)
    return min(rounds[0]), min(rounds[1])


def _default_probe():
    import keras
    import numpy as np

    def build():
        model = keras.Sequential(
            [
                keras.Input((28, 28, 1)),
                keras.layers.Conv2D(32, 3, activation="relu"),
                keras.layers.MaxPooling2D(2),
                keras.layers.Conv2D(64, 3, activation="relu"),
                keras.layers.Flatten(),
                keras.layers.Dense(10, activation="softmax", dtype="float32"),
            ]
        )
        model.compile("adam", "sparse_categorical_crossentropy", jit_compile=False)
        return model

    images = np.random.default_rng(0).uniform(size=(128, 28, 28, 1)).astype("float32")
    return time_train_steps(build, images, np.arange(128) % 10)


def _read(path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _write(path, saved):
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(saved, indent=2) + "\n")
    except OSError:
        pass  # an unwritable home only costs a probe per run
