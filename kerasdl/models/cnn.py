"""CNN: convolution blocks, pooling, dropout and a dense head."""

import keras

from kerasdl.errors import UserError
from kerasdl.models.layers import (
    RandomShift,
    check_at_least,
    check_choice,
    check_fraction,
    classifier_head,
    model_inputs,
)


def apply_conv_block(x, filters, kernel_size, convs, batch_norm, name, bn_momentum=0.99):
    """`convs` x (Conv2D, BatchNorm, ReLU), then 2x2 max pooling if it fits."""
    for index in range(1, convs + 1):
        x = keras.layers.Conv2D(
            filters, kernel_size, padding="same", use_bias=not batch_norm, name=f"{name}_conv{index}"
        )(x)
        if batch_norm:
            x = keras.layers.BatchNormalization(momentum=bn_momentum, name=f"{name}_bn{index}")(x)
        x = keras.layers.Activation("relu", name=f"{name}_relu{index}")(x)
    if min(x.shape[1], x.shape[2]) >= 2:
        x = keras.layers.MaxPooling2D(2, name=f"{name}_pool")(x)
    return x


def dense_head(x, num_classes, dense_units, dropout):
    """Dropout, a ReLU dense layer of `dense_units` (none for 0) and dropout
    again, then the softmax over the classes."""
    if dropout:
        x = keras.layers.Dropout(dropout, name="head_dropout")(x)
    if dense_units:
        x = keras.layers.Dense(dense_units, activation="relu", name="head_dense")(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name="head_dense_dropout")(x)
    return classifier_head(x, num_classes)


def build_cnn(
    info,
    filters=(32, 64),
    kernel_size=3,
    convs_per_block=2,
    batch_norm=True,
    pooling="flatten",
    dense_units=128,
    dropout=0.3,
    shift=0.0,
    bn_momentum=0.99,
):
    """A convolutional classifier for images from 8x8 grey to large colour.

    Args:
        info: `DataInfo` of images (`input_shape == (height, width, channels)`).
        filters: filters of each conv block; each block halves the size.
            Default (32, 64).
        kernel_size: convolution kernel size. Default 3.
        convs_per_block: convolutions per block. Default 2.
        batch_norm: batch normalisation after each convolution. Default True.
        pooling: how the feature map becomes a vector: "flatten" (small
            images), "avg" or "max" (global pooling, large images).
        dense_units: width of the dense layer of the head; 0 for none.
        dropout: dropout rate before the dense layers. Default 0.3.
        shift: while training, each image moves by a random whole number
            of pixels, up to this fraction of its height and width (edges
            repeated, `RandomShift`); 0 (default) for none. The exported
            model does not shift.
        bn_momentum: how much of its running mean and variance batch
            normalisation keeps per step (Keras's default, 0.99, needs a few
            hundred steps to settle; 0.9 suits short runs). Default 0.99.

    Returns:
        A `keras.Model` from raw pixels to class probabilities.

    Example:
        >>> model = build_cnn(info, filters=(16, 32), dense_units=64)
    """
    if info.kind != "image":
        raise UserError(f"model=cnn needs image data; {info.name!r} is {info.kind}")
    check_choice("pooling", pooling, ("flatten", "avg", "max"))
    check_fraction("dropout", dropout)
    check_fraction("bn_momentum", bn_momentum)
    check_at_least("kernel_size", kernel_size, 1)
    check_at_least("convs_per_block", convs_per_block, 1)
    check_at_least("dense_units", dense_units, 0)
    if not 0 <= shift < 0.5:
        raise UserError(f"model.shift={shift!r} is out of range; allowed: a number in [0, 0.5)")
    inputs, x = model_inputs(info)
    if shift:
        x = RandomShift(shift, name="shift")(x)
    for index, block_filters in enumerate(filters, start=1):
        x = apply_conv_block(x, block_filters, kernel_size, convs_per_block, batch_norm, f"block{index}", bn_momentum)
    if pooling == "flatten":
        x = keras.layers.Flatten(name="flatten")(x)
    elif pooling == "avg":
        x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    else:
        x = keras.layers.GlobalMaxPooling2D(name="max_pool")(x)
    outputs = dense_head(x, info.num_classes, dense_units, dropout)
    return keras.Model(inputs, outputs, name="cnn")
