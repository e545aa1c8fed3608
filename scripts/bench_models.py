"""The three models of the training benchmark, their data, and their arithmetic.

Each model exists once here in Keras; `bench_torch.py` holds its PyTorch
twin, layer for layer. The data are random (throughput does not depend on
the values) but shaped like the real thing: 28x28 digits, 30 tabular
features, 100-token texts from a 10,000-word vocabulary.
"""

import math

import keras
import numpy as np

# name: (examples, batch size, epochs per measurement). Epochs are chosen so
# that one measurement takes a few seconds on a 2-core CPU: shorter ones are
# decided by scheduler hiccups.
SIZES = {"cnn": (12_800, 128, 2), "mlp": (25_600, 32, 4), "lstm": (3_200, 64, 2)}
VOCABULARY, TOKENS = 10_000, 100


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


def lstm_text(num_classes=2):
    return keras.Sequential(
        [
            keras.Input((TOKENS,), dtype="int32"),
            keras.layers.Embedding(VOCABULARY, 64),
            keras.layers.LSTM(64),
            keras.layers.Dense(num_classes, activation="softmax", dtype="float32"),
        ]
    )


BUILDERS = {"cnn": mnist_convnet, "mlp": mlp, "lstm": lstm_text}


def data(name, seed=0):
    """`(features, labels)` for `name`, seeded."""
    rng = np.random.default_rng(seed)
    examples = SIZES[name][0]
    if name == "cnn":
        return rng.uniform(0, 1, (examples, 28, 28, 1)).astype("float32"), rng.integers(0, 10, examples)
    if name == "mlp":
        return rng.normal(size=(examples, 30)).astype("float32"), rng.integers(0, 2, examples)
    return rng.integers(1, VOCABULARY, (examples, TOKENS)).astype("int32"), rng.integers(0, 2, examples)


def training_flops(model):
    """Floating-point operations to train on one example: 3x the forward
    pass's multiply-adds counted as 2 (the backward pass computes two
    products per forward one: gradients of inputs and of weights).

    Only the layers that do matrix arithmetic count (Dense, Conv2D, LSTM);
    activations, pooling and the optimizer are a few percent on top.
    """
    forward = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Dense):
            forward += 2 * layer.kernel.shape[0] * layer.units
        elif isinstance(layer, keras.layers.Conv2D):
            height, width = layer.output.shape[1:3]
            kernel = math.prod(layer.kernel.shape)
            forward += 2 * height * width * kernel
        elif isinstance(layer, keras.layers.LSTM):
            steps, features = layer.input.shape[1:]
            forward += 2 * steps * (features + layer.units) * 4 * layer.units
    return 3 * forward
