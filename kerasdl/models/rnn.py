"""RNN: LSTM or GRU layers, optionally bidirectional, for texts and sequences."""

import keras

from kerasdl.errors import UserError
from kerasdl.models.layers import (
    check_at_least,
    check_choice,
    check_fraction,
    classifier_head,
    model_inputs,
    token_inputs,
)

CELLS = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}


def build_rnn(info, cell="lstm", units=64, layers=1, bidirectional=True, dropout=0.2, embedding_dim=64):
    """A recurrent classifier for texts and sequences of feature vectors.

    Texts arrive as token ids (see `kerasdl.tokenize`) and are embedded,
    padding masked.

    Images are read row by row: an (height, width, channels) image becomes
    `height` time steps of `width * channels` values, so the digits' LSTM
    reads 8 steps of 8 pixels.

    Args:
        info: `DataInfo` of images or of sequences (`(steps, features)`).
        cell: "lstm" or "gru". Default "lstm".
        units: units of each recurrent layer. Default 64.
        layers: number of stacked recurrent layers. Default 1.
        bidirectional: read each sequence both ways. Default True.
        dropout: dropout rate before the classifier. Default 0.2.
        embedding_dim: size of each word's vector, for text. Default 64.

    Returns:
        A `keras.Model` from raw inputs to class probabilities.

    Example:
        >>> model = build_rnn(info, cell="gru", units=32, bidirectional=False)
    """
    check_choice("cell", cell, tuple(CELLS))
    check_fraction("dropout", dropout)
    check_at_least("units", units, 1)
    check_at_least("layers", layers, 1)
    check_at_least("embedding_dim", embedding_dim, 1)
    if info.kind == "text":
        inputs, x = token_inputs(info, embedding_dim)
    else:
        inputs, x = model_inputs(info)
    if info.kind == "image":
        height, width, channels = info.input_shape
        x = keras.layers.Reshape((height, width * channels), name="rows_as_steps")(x)
    elif info.kind != "text" and len(info.input_shape) != 2:
        raise UserError(f"model=rnn needs sequences or images; {info.name!r} is {info.kind}")
    for index in range(1, layers + 1):
        layer = CELLS[cell](units, return_sequences=index < layers, name=f"{cell}{index}")
        if bidirectional:
            layer = keras.layers.Bidirectional(layer, name=f"bi_{cell}{index}")
        x = layer(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name="head_dropout")(x)
    outputs = classifier_head(x, info.num_classes)
    return keras.Model(inputs, outputs, name="rnn")
