"""ANN: a multilayer perceptron for tabular features."""

import keras

from kerasdl.models.layers import check_fraction, classifier_head, model_inputs


def build_ann(info, hidden_units=(64, 32), dropout=0.2, activation="relu"):
    """A fully connected network on normalised tabular features.

    Args:
        info: `DataInfo` of tabular data (`input_shape == (features,)`).
        hidden_units: width of each hidden layer, in order. Default (64, 32).
        dropout: dropout rate after each hidden layer. Default 0.2.
        activation: activation of the hidden layers. Default "relu".

    Returns:
        A `keras.Model` from raw features to class probabilities.

    Example:
        >>> model = build_ann(info, hidden_units=(16,))
    """
    check_fraction("dropout", dropout)
    inputs, x = model_inputs(info)
    if len(info.input_shape) > 1:
        x = keras.layers.Flatten(name="flatten")(x)
    for index, units in enumerate(hidden_units, start=1):
        x = keras.layers.Dense(units, activation=activation, name=f"dense{index}")(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name=f"dropout{index}")(x)
    outputs = classifier_head(x, info.num_classes)
    return keras.Model(inputs, outputs, name="ann")
