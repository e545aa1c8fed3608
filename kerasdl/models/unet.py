"""U-Net (Ronneberger et al., 2015): per-pixel class probabilities for segmentation.

An encoder of conv blocks halves the image `depth` times, a decoder doubles
it back, and each decoder level concatenates the encoder's features of the
same size (the skips) before its own conv block. Two differences from the
paper, both usual today: "same" padding, so the mask is as large as the
image and no cropping is needed, and optional batch normalisation.

The decoder up-samples with `Conv2DTranspose` (2x2, stride 2, the paper's
"up-convolution"), which TFLite runs as one builtin TRANSPOSE_CONV;
`UpSampling2D` would convert to tile and reshape ops that many delegates
reject.

With `backbone` (or a keras-hub preset directory as `weights`), a
pretrained network from `kerasdl.models.pyramid` replaces the encoder: its
features at strides 2, 4, 8 and 16 are the skips and its stride-32 features
the bottleneck, so the image side must be a multiple of 32. It takes the
same raw pixels, prepared inside the model, and is named `backbone`, so
the two-phase fine-tuning of `kerasdl.finetune` applies to it as to a
transfer model.
"""

import keras

from kerasdl.errors import UserError
from kerasdl.models.layers import check_at_least, check_choice, check_fraction, model_inputs
from kerasdl.models.pyramid import BACKBONES, backbone_inputs, is_preset, pyramid_features

BACKBONE_DEPTH = 5  # every pyramid backbone ends at stride 2**5 = 32


def apply_double_conv(x, filters, batch_norm, name):
    """Two 3x3 convolutions, each followed by batch norm (optional) and ReLU."""
    for index in (1, 2):
        x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=not batch_norm, name=f"{name}_conv{index}")(x)
        if batch_norm:
            x = keras.layers.BatchNormalization(name=f"{name}_bn{index}")(x)
        x = keras.layers.Activation("relu", name=f"{name}_relu{index}")(x)
    return x


def apply_up_block(x, skip, filters, batch_norm, name):
    """Doubles the size with a 2x2 transposed convolution, adds the skip's channels, then two convolutions."""
    x = keras.layers.Conv2DTranspose(filters, 2, strides=2, padding="same", name=f"{name}_upsample")(x)
    if skip is not None:
        x = keras.layers.Concatenate(name=f"{name}_concat")([x, skip])
    return apply_double_conv(x, filters, batch_norm, name)


def build_unet(info, filters=16, depth=3, batch_norm=True, dropout=0.0, backbone="none", weights="imagenet"):
    """A U-Net that maps raw pixels to per-pixel class probabilities.

    Level `i` (1 = full size) has `filters * 2**(i - 1)` filters, in the
    encoder block `down{i}` and the decoder block `up{i}`; the bottleneck
    below the last level has `filters * 2**depth`.

    Args:
        info: `DataInfo` of images (`input_shape == (height, width, channels)`).
        filters: filters of the full-size level; each level down doubles
            them. Default 16.
        depth: how many times the encoder halves the image; height and width
            must be multiples of `2**depth`. Ignored with a backbone (always
            5: strides 2 to 32). Default 3.
        batch_norm: batch normalisation after each convolution. Default True.
        dropout: dropout rate on the bottleneck (the paper's "end of the
            contracting path"); 0 (default) for none.
        backbone: "none" (default, or None) for the encoder built here, or a
            pretrained encoder: one of `BACKBONES` (mobilenet_v2, resnet50,
            efficientnet_b0).
        weights: with a backbone: "imagenet" (default, downloaded once into
            ~/.keras/models), "none" (or None: random, trained from scratch),
            a `.weights.h5` file of the same backbone without its top, or a
            keras-hub preset directory of an image backbone with pyramid
            levels P1 to P5 (then `backbone` is not used).

    Returns:
        A `keras.Model` from raw pixels (batch, height, width, channels) to
        probabilities (batch, height, width, classes), its output layer
        named `probabilities`.

    Example:
        >>> model = build_unet(info, filters=8, depth=2)
        >>> model = build_unet(info, backbone="mobilenet_v2", weights=None)
    """
    if info.kind != "image":
        raise UserError(f"model=unet needs image data; {info.name!r} is {info.kind}")
    backbone = "none" if backbone is None else backbone
    weights = "none" if weights is None else weights
    check_choice("backbone", backbone, ("none", *BACKBONES))
    _check_integer("filters", filters, 1)
    _check_integer("depth", depth, 1)
    if not isinstance(batch_norm, bool):
        raise UserError(f"model.batch_norm={batch_norm!r} is not allowed; choose one of: true, false")
    check_fraction("dropout", dropout)
    encoder = "hub" if is_preset(weights) else backbone
    if encoder == "none":
        _check_image_size(info, 2**depth, f"depth={depth}")
        inputs, x = model_inputs(info)
        skips = []
        for level in range(1, depth + 1):
            x = apply_double_conv(x, filters * 2 ** (level - 1), batch_norm, f"down{level}")
            skips.append(x)
            x = keras.layers.MaxPooling2D(2, name=f"down{level}_pool")(x)
        x = apply_double_conv(x, filters * 2**depth, batch_norm, "bottleneck")
        levels = depth
    else:
        _check_image_size(info, 2**BACKBONE_DEPTH, f"backbone={encoder}")
        inputs, rgb_255 = backbone_inputs(info, encoder)
        *skips, x = pyramid_features(rgb_255, backbone, weights)
        skips = [None, *skips]  # the full-size level has no backbone features
        levels = BACKBONE_DEPTH
    if dropout:
        x = keras.layers.Dropout(dropout, name="bottleneck_dropout")(x)
    for level in range(levels, 0, -1):
        x = apply_up_block(x, skips[level - 1], filters * 2 ** (level - 1), batch_norm, f"up{level}")
    # float32 softmax: under mixed precision a float16 one saturates.
    outputs = keras.layers.Conv2D(info.num_classes, 1, activation="softmax", dtype="float32", name="probabilities")(x)
    name = "unet" if encoder == "none" else f"unet_{encoder}"
    return keras.Model(inputs, outputs, name=name)


def _check_integer(name, value, smallest):
    if isinstance(value, bool) or not isinstance(value, int):
        raise UserError(f"model.{name}={value!r} is not allowed; allowed: an integer >= {smallest}")
    check_at_least(name, value, smallest)


def _check_image_size(info, step, reason):
    if len(info.input_shape) != 3:
        raise UserError(f"model=unet needs images of shape (height, width, channels); got {info.input_shape}")
    height, width = info.input_shape[:2]
    if height % step or width % step:
        fits = -(-max(height, width) // step) * step  # the next multiple up
        raise UserError(
            f"image_size={height}x{width} does not fit model=unet with {reason}; "
            f"allowed: height and width multiples of {step} (for example image_size={fits})"
        )
