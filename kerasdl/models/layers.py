"""Blocks shared by the model families."""

import keras

from kerasdl.errors import UserError


def model_inputs(info):
    """The raw-input `keras.Input` and its normalisation, adapted on train.

    The statistics come from the training split (`DataInfo.mean` and
    `.variance`), so the exported model takes raw pixels or features.
    """
    inputs = keras.Input(shape=info.input_shape, name=info.input_name)
    normalized = keras.layers.Normalization(axis=-1, mean=info.mean, variance=info.variance, name="normalize")(inputs)
    return inputs, normalized


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
