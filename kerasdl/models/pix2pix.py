"""Pix2Pix (Isola et al., 2017): a U-Net generator and a 70x70 PatchGAN discriminator.

The generator is the paper's "U-Net" encoder-decoder: `depth` 4x4
convolutions of stride 2 halve the image down to 1x1 (C64-C128-C256-C512-
C512-...), transposed convolutions double it back, and each decoder level
concatenates the encoder's features of its size. Its first three decoder
levels drop out half their units while training (the paper's noise). The
last layer is tanh, as in the paper, rescaled to [0, 1] so that the
exported model's output is an image a phone scales by 255.

Normalisation is instance normalisation by default (`GroupNormalization`
with one group per channel): the paper trains at batch 1 with batch
normalisation *in training mode at test time too*, which at batch 1 is
instance normalisation; a Keras model exported in inference mode would
instead use running averages the generator never trained with. Instance
normalisation is the same in training and inference, at any batch size.
The innermost (1x1) level has none: one pixel has no spread to normalise.

The discriminator sees the input and an image (the target or the
generator's output) side by side in channels and answers, for each 70x70
patch, real or fake (logits): C64-C128-C256, then C512 and a 1-channel
convolution at stride 1, as the paper's 70x70 PatchGAN and TensorFlow's
pix2pix tutorial.

`build_pix2pix` returns both inside a `Pix2Pix` model that trains them
against each other (`kerasdl.models.pix2pix_gan`); `build_l1_unet` returns
the same generator alone, trained with L1 only: the baseline.
"""

import math

import keras

from kerasdl.errors import UserError
from kerasdl.models.layers import check_at_least, check_choice, check_fraction, model_inputs

NORMS = ("instance", "batch", "none")
MAX_FILTER_MULTIPLE = 8  # the paper's widest levels: 8 x 64 = 512
DROPOUT_LEVELS = 3  # decoder levels with dropout, from the innermost


def _init():
    # The paper's initialisation: Gaussian, mean 0, standard deviation 0.02.
    return keras.initializers.RandomNormal(0.0, 0.02)


def _normalise(x, norm, name):
    if norm == "instance":
        return keras.layers.GroupNormalization(groups=-1, epsilon=1e-5, name=f"{name}_norm")(x)
    if norm == "batch":
        return keras.layers.BatchNormalization(name=f"{name}_norm")(x)
    return x


def build_generator(info, filters=64, depth="auto", norm="instance", dropout=0.5, name="generator"):
    """The U-Net generator: raw input pixels to an image in [0, 1].

    Args:
        info: `DataInfo` of image pairs (`input_shape` and `target_shape`).
        filters: filters of the outermost level; each level inward doubles
            them, up to 8x. Default 64 (the paper's).
        depth: how many times the encoder halves the image; "auto" (default)
            goes down to 1x1 (7 levels at 128, 8 at 256, the paper's).
        norm: "instance" (default), "batch" or "none".
        dropout: dropout rate of the three innermost decoder levels while
            training. Default 0.5.

    Returns:
        A functional `keras.Model` from raw pixels `(batch, S, S, Cin)` to
        `(batch, S, S, Cout)` float32 in [0, 1], its output layer named
        `image`.

    Example:
        >>> generator = build_generator(info, filters=16)
    """
    depth = _check(info, filters, depth, norm, dropout)
    inputs, x = model_inputs(info)
    skips = []
    for level in range(1, depth + 1):
        # No bias at the innermost level: with one, TensorFlow's graph
        # optimiser (grappler's remapper) gave up on the whole training step
        # and logged an error, and the step took 6% longer (256x256, bfloat16).
        x = keras.layers.Conv2D(
            _width(filters, level), 4, strides=2, padding="same", use_bias=norm != "batch" and level < depth,
            kernel_initializer=_init(), name=f"down{level}_conv",
        )(x)  # fmt: skip
        if 1 < level < depth:  # not the first (the paper's C64 has none) nor the 1x1 innermost
            x = _normalise(x, norm, f"down{level}")
        x = keras.layers.LeakyReLU(0.2, name=f"down{level}_relu")(x)
        skips.append(x)
    for level in range(depth - 1, 0, -1):
        x = keras.layers.Conv2DTranspose(
            _width(filters, level), 4, strides=2, padding="same", use_bias=norm != "batch",
            kernel_initializer=_init(), name=f"up{level}_conv",
        )(x)  # fmt: skip
        x = _normalise(x, norm, f"up{level}")
        if depth - level <= DROPOUT_LEVELS and dropout:
            x = keras.layers.Dropout(dropout, name=f"up{level}_dropout")(x)
        x = keras.layers.ReLU(name=f"up{level}_relu")(x)
        x = keras.layers.Concatenate(name=f"up{level}_concat")([x, skips[level - 1]])
    channels = info.target_shape[-1]
    x = keras.layers.Conv2DTranspose(
        channels, 4, strides=2, padding="same", kernel_initializer=_init(), name="out_conv"
    )(x)  # fmt: skip
    # float32: under mixed precision a bfloat16 tanh has 8 bits of mantissa, too few for 256 grey levels.
    x = keras.layers.Activation("tanh", dtype="float32", name="tanh")(x)
    outputs = keras.layers.Rescaling(0.5, offset=0.5, dtype="float32", name="image")(x)
    return keras.Model(inputs, outputs, name=name)


def build_discriminator(info, filters=64, layers=3, norm="instance"):
    """The PatchGAN discriminator: real/fake logits per patch.

    Args:
        info: `DataInfo` of image pairs.
        filters: filters of the first layer, doubling per layer up to 8x.
        layers: stride-2 layers (3: the paper's 70x70 patches).
        norm: as the generator's.

    Returns:
        A functional `keras.Model` from `[input pixels (raw), image (0-1)]`
        to float32 logits `(batch, P, P, 1)`.
    """
    inputs, normalised = model_inputs(info)
    image = keras.Input(shape=info.target_shape, name="image")
    # To [-1, 1], the generator's tanh range, as the paper's discriminator sees images.
    scaled = keras.layers.Rescaling(2.0, offset=-1.0, name="image_scale")(image)
    x = keras.layers.Concatenate(name="pair")([normalised, scaled])
    for level in range(1, layers + 2):
        stride = 2 if level <= layers else 1
        if stride == 1:  # the tutorial's zero padding and valid convolution: the 70x70 receptive field
            x = keras.layers.ZeroPadding2D(1, name=f"d{level}_pad")(x)
        x = keras.layers.Conv2D(
            _width(filters, level), 4, strides=stride, padding="same" if stride == 2 else "valid",
            use_bias=norm != "batch", kernel_initializer=_init(), name=f"d{level}_conv",
        )(x)  # fmt: skip
        if level > 1:
            x = _normalise(x, norm, f"d{level}")
        x = keras.layers.LeakyReLU(0.2, name=f"d{level}_relu")(x)
    x = keras.layers.ZeroPadding2D(1, name="patch_pad")(x)
    logits = keras.layers.Conv2D(1, 4, kernel_initializer=_init(), dtype="float32", name="patch_logits")(x)
    return keras.Model([inputs, image], logits, name="discriminator")


def build_pix2pix(
    info, filters=64, depth="auto", norm="instance", dropout=0.5, discriminator_filters=64,
    discriminator_layers=3, l1_weight=100.0,
):  # fmt: skip
    """The generator and discriminator in one `Pix2Pix` model, trained
    with the conditional GAN loss plus `l1_weight` x L1 (the paper's
    lambda, 100, on images in [-1, 1]).

    Example:
        >>> model = build_pix2pix(info, filters=16, discriminator_filters=16)
    """
    from kerasdl.config_tasks import PIX2PIX_NOT_ON_JAX
    from kerasdl.models.pix2pix_gan import Pix2Pix

    if keras.backend.backend() != "tensorflow":
        raise UserError(PIX2PIX_NOT_ON_JAX)
    if isinstance(l1_weight, bool) or not isinstance(l1_weight, (int, float)) or not 0 <= l1_weight < math.inf:
        raise UserError(f"model.l1_weight={l1_weight!r} is not allowed; allowed: a number >= 0 (the paper's: 100)")
    if isinstance(discriminator_layers, bool) or not isinstance(discriminator_layers, int):
        raise UserError(f"model.discriminator_layers={discriminator_layers!r} is not allowed; allowed: 1 to 5")
    if not 1 <= discriminator_layers <= 5:
        raise UserError(f"model.discriminator_layers={discriminator_layers} is not allowed; allowed: 1 to 5")
    _check_integer("discriminator_filters", discriminator_filters)
    generator = build_generator(info, filters, depth, norm, dropout)
    discriminator = build_discriminator(info, discriminator_filters, discriminator_layers, norm)
    return Pix2Pix(generator, discriminator, l1_weight=float(l1_weight), name="pix2pix")


def build_l1_unet(info, filters=64, depth="auto", norm="instance", dropout=0.5):
    """The Pix2Pix generator alone, trained with L1 only: the baseline that
    shows what the adversarial loss adds (the paper's "L1" row).

    Example:
        >>> model = build_l1_unet(info, filters=16)
    """
    return build_generator(info, filters, depth, norm, dropout, name="l1_unet")


def _width(filters, level):
    return filters * min(2 ** (level - 1), MAX_FILTER_MULTIPLE)


def _check_integer(name, value):
    if isinstance(value, bool) or not isinstance(value, int):
        raise UserError(f"model.{name}={value!r} is not allowed; allowed: an integer >= 1")
    check_at_least(name, value, 1)


def _check(info, filters, depth, norm, dropout):
    """The generator's settings, checked; returns the depth ("auto" resolved)."""
    if info.kind != "image" or not info.target_shape:
        raise UserError(f"model=pix2pix and model=l1_unet need image pairs (data=pairs:DIR); {info.name!r} is not")
    _check_integer("filters", filters)
    check_choice("norm", norm, NORMS)
    check_fraction("dropout", dropout)
    height, width = info.input_shape[:2]
    deepest = int(math.log2(min(height, width)))
    # From a config, depth comes as text ("auto" is its default's type).
    number = int(depth) if isinstance(depth, str) and depth.isdigit() else depth
    if depth == "auto":
        number = deepest
    elif isinstance(number, bool) or not isinstance(number, int) or not 2 <= number <= deepest:
        raise UserError(
            f"model.depth={depth!r} is not allowed for {height}x{width} images; allowed: auto, 2 to {deepest}"
        )
    depth = number
    if height % 2**depth or width % 2**depth:
        raise UserError(
            f"image_size={height}x{width} does not fit model depth {depth}; "
            f"allowed: sides that are multiples of {2**depth} (for example image_size={2**deepest})"
        )
    return depth
