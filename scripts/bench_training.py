"""Training throughput, measured side by side in one process: precision and XLA.

For each model (the keras.io MNIST convnet on 28x28 digits, the
breast-cancer MLP, an Embedding(10k, 64) + LSTM(64) text model over 100
tokens) and each setting (float32 or mixed_bfloat16; jit_compile off or on),
trains for a fixed number of steps after one warm-up epoch, and reports
examples per second. Settings alternate round by round, so machine noise
hits all of them alike; the figure is the median over rounds.

Also measured: the keras.io recipe (`model.fit` on NumPy arrays, float32,
Keras's default jit_compile="auto") as the baseline that issue 5's ratios
are taken against. Its convnet figure is close to tf.data float32 without
XLA, not to the XLA one, so "auto" did not turn XLA on here.

Usage: python scripts/bench_training.py [--rounds 3] [--only cnn,mlp,lstm]
Writes bench/training.json and prints a Markdown table.
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def mnist_convnet(num_classes=10):
    """keras.io's "Simple MNIST convnet", layer for layer."""
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(32, 3, activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Conv2D(64, 3, activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dropout(0.5),
            keras.layers.Dense(num_classes, activation="softmax", dtype="float32"),
        ]
    )


def mlp(features=30, num_classes=2):
    return keras.Sequential(
        [
            keras.Input((features,)),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(num_classes, activation="softmax", dtype="float32"),
        ]
    )


def lstm_text(vocabulary=10_000, length=100, num_classes=2):
    return keras.Sequential(
        [
            keras.Input((length,), dtype="int32"),
            keras.layers.Embedding(vocabulary, 64),
            keras.layers.LSTM(64),
            keras.layers.Dense(num_classes, activation="softmax", dtype="float32"),
        ]
    )


def data(name, rng):
    if name == "cnn":
        return rng.uniform(0, 1, (12_800, 28, 28, 1)).astype("float32"), rng.integers(0, 10, 12_800), 128
    if name == "mlp":
        return rng.normal(size=(25_600, 30)).astype("float32"), rng.integers(0, 2, 25_600), 32
    return rng.integers(1, 10_000, (3_200, 100)).astype("int32"), rng.integers(0, 2, 3_200), 64


BUILDERS = {"cnn": mnist_convnet, "mlp": mlp, "lstm": lstm_text}


def throughput(name, precision, jit, pipeline, rounds_data):
    """Examples per second of one epoch of `fit`, after a warm-up epoch."""
    features, labels, batch = rounds_data
    keras.config.set_dtype_policy(precision)
    try:
        model = BUILDERS[name]()
        model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy", jit_compile=jit)
        if pipeline:
            dataset = tf.data.Dataset.from_tensor_slices((features, labels)).cache().batch(batch)
            dataset = dataset.prefetch(tf.data.AUTOTUNE)
            fit = lambda: model.fit(dataset, epochs=1, verbose=0)  # noqa: E731
        else:
            fit = lambda: model.fit(features, labels, batch_size=batch, epochs=1, verbose=0)  # noqa: E731
        fit()  # traces and compiles
        start = time.perf_counter()
        fit()
        return len(labels) / (time.perf_counter() - start)
    finally:
        keras.config.set_dtype_policy("float32")


SETTINGS = {
    "keras.io recipe (numpy, float32, jit auto)": ("float32", "auto", False),
    "tf.data float32": ("float32", False, True),
    "tf.data float32 + XLA": ("float32", True, True),
    "tf.data mixed_bfloat16": ("mixed_bfloat16", False, True),
    "tf.data mixed_bfloat16 + XLA": ("mixed_bfloat16", True, True),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", default="cnn,mlp,lstm")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    results = {}
    for name in args.only.split(","):
        arrays = data(name, rng)
        samples = {setting: [] for setting in SETTINGS}
        for round_ in range(args.rounds):
            for setting, (precision, jit, pipeline) in SETTINGS.items():
                samples[setting].append(throughput(name, precision, jit, pipeline, arrays))
                print(f"{name} round {round_ + 1} {setting}: {samples[setting][-1]:,.0f} ex/s", file=sys.stderr)
        baseline = statistics.median(samples[next(iter(SETTINGS))])
        results[name] = {
            setting: {"examples_per_s": statistics.median(values), "vs_keras_io": statistics.median(values) / baseline}
            for setting, values in samples.items()
        }
    out = ROOT / "bench"
    out.mkdir(exist_ok=True)
    (out / "training.json").write_text(json.dumps(results, indent=2) + "\n")
    print("| model | setting | examples/s (median) | vs keras.io recipe |\n|---|---|---|---|")
    for name, rows in results.items():
        for setting, row in rows.items():
            print(f"| {name} | {setting} | {row['examples_per_s']:,.0f} | {row['vs_keras_io']:.2f}x |")


if __name__ == "__main__":
    main()
