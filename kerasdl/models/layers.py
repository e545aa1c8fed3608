"""Blocks shared by the model families."""

import keras

from kerasdl.errors import UserError


def model_inputs(info):
    """The raw-input `keras.Input` and its normalisation, adapted on train.

    The statistics come from the training split (`DataInfo.mean` and
    `.variance`), so the exported model takes raw pixels or features.
    """
    if info.kind == "text":
        raise UserError(f"{info.name!r} is text; text data trains with model=rnn")
    inputs = keras.Input(shape=info.input_shape, name=info.input_name)
    normalized = keras.layers.Normalization(axis=-1, mean=info.mean, variance=info.variance, name="normalize")(inputs)
    if info.categories:
        return inputs, one_hot_categories(normalized, info.categories)
    return inputs, normalized


def one_hot_categories(features, categories):
    """Numeric features as they are, each categorical code (0 unknown, 1..K) one-hot.

    Codes are rounded before use: an int8 model hands them over dequantized,
    as 2.98 rather than 3.
    """
    numeric = [index for index in range(features.shape[-1]) if index not in categories]
    parts = [keras.ops.take(features, numeric, axis=1)] if numeric else []
    for index, names in sorted(categories.items()):
        code = keras.ops.cast(keras.ops.round(features[:, index]), "int32")
        parts.append(keras.ops.one_hot(code, len(names) + 1))
    return keras.layers.Concatenate(name="encoded_features")(parts) if len(parts) > 1 else parts[0]


def token_inputs(info, embedding_dim):
    """The token-id `keras.Input` and its embedding, padding (id 0) masked.

    The mask lets recurrent layers skip the padding after a short text
    instead of reading it as words.
    """
    inputs = keras.Input(shape=info.input_shape, dtype="int32", name=info.input_name)
    embedded = keras.layers.Embedding(len(info.vocabulary), embedding_dim, mask_zero=True, name="embedding")(inputs)
    return inputs, embedded


@keras.saving.register_keras_serializable(package="kerasdl")
class RandomShift(keras.layers.Layer):
    """Moves each training image by a random whole number of pixels, up to
    `round(factor * side)` (at least 1) along its height and width, repeating
    the edge pixels; at inference it passes images through, so the exported
    model does not shift.

    Keras's RandomTranslation does this with an op XLA cannot compile
    (ImageProjectiveTransform): Keras then turns XLA off, and a TPU cannot
    run the model (the TPU readiness check said so). Here a shift is two
    one-hot matrix products, which every backend and XLA compile. They cost
    height x width x (height + width) multiply-adds per channel and image:
    nothing beside a convolution at the sizes the CNN presets train (28-64),
    but a large share at 512 and more.
    """

    def __init__(self, factor, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=False):
        if not training:
            return inputs
        batch = keras.ops.shape(inputs)[0]
        rows = self._pickers(batch, inputs.shape[1])  # rows[b, i, j] = 1: output row i is input row j
        columns = self._pickers(batch, inputs.shape[2])
        shifted = keras.ops.einsum("bij,bjwc->biwc", rows, inputs)
        return keras.ops.einsum("bkw,biwc->bikc", columns, shifted)

    def _pickers(self, batch, size):
        reach = max(1, round(self.factor * size))
        offset = keras.random.randint((batch, 1), -reach, reach + 1, seed=self.seed_generator)
        source = keras.ops.clip(keras.ops.arange(size)[None, :] + offset, 0, size - 1)
        return keras.ops.one_hot(source, size, dtype=self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "factor": self.factor, "seed": self.seed}


def classifier_head(x, num_classes):
    """Softmax over the classes, kept in float32 under mixed precision."""
    return keras.layers.Dense(num_classes, activation="softmax", dtype="float32", name="predictions")(x)


def check_choice(name, value, allowed):
    if value not in allowed:
        raise UserError(f"model.{name}={value!r} is not allowed; choose one of: {', '.join(allowed)}")


def check_fraction(name, value):
    if not 0 <= value < 1:
        raise UserError(f"model.{name}={value!r} is out of range; allowed: a number in [0, 1)")


def check_at_least(name, value, smallest):
    if value < smallest:
        raise UserError(f"model.{name}={value!r} is out of range; allowed: an integer >= {smallest}")


def check_activation(value):
    try:
        keras.activations.get(value)
    except ValueError:
        raise UserError(
            f"model.activation={value!r} is not a Keras activation; for example: relu, gelu, tanh, swish"
        ) from None
