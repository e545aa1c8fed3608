"""ANN: a multilayer perceptron for tabular features."""

import keras

from kerasdl.errors import UserError
from kerasdl.models.layers import check_activation, check_fraction, classifier_head, model_inputs


def build_ann(info, hidden_units=(64, 32), dropout=0.2, activation="relu", l2=0.0):
    """A fully connected network on normalised tabular features.

    Args:
        info: `DataInfo` of tabular data (`input_shape == (features,)`).
        hidden_units: width of each hidden layer, in order. Default (64, 32).
        dropout: dropout rate after each hidden layer. Default 0.2.
        activation: activation of the hidden layers. Default "relu".
        l2: L2 weight penalty of the hidden layers; 0 for none. Small
            tabular datasets overfit without it.

    Returns:
        A `keras.Model` from raw features to class probabilities.

    Example:
        >>> model = build_ann(info, hidden_units=(16,))
    """
    check_fraction("dropout", dropout)
    check_activation(activation)
    if l2 < 0:
        raise UserError(f"model.l2={l2!r} is out of range; allowed: a number >= 0")
    regularizer = keras.regularizers.L2(l2) if l2 else None
    inputs, x = model_inputs(info)
    if len(info.input_shape) > 1:
        x = keras.layers.Flatten(name="flatten")(x)
    for index, units in enumerate(hidden_units, start=1):
        x = keras.layers.Dense(units, activation=activation, kernel_regularizer=regularizer, name=f"dense{index}")(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name=f"dropout{index}")(x)
    outputs = classifier_head(x, info.num_classes)
    return keras.Model(inputs, outputs, name="ann")
