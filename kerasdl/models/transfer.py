"""Transfer learning: a pretrained `keras.applications` backbone and a new head.

The model takes the same raw pixels as every kerasdl image model and does
the rest inside, so the exported files need no extra preparation:

1. `to_rgb_255`: raw values onto 0-255 (the digits' 0-16 ink levels too) and
   grey repeated to three channels, because ImageNet backbones take RGB.
2. The backbone's own preprocessing: MobileNetV3's and EfficientNet's is
   built into the application (`include_preprocessing`); ResNet50's (RGB to
   BGR, minus the ImageNet channel means) is a fixed 1x1 convolution here,
   so the model keeps to built-in layers (JAX-ready, TFLite builtins).
3. The backbone, named `backbone`, called with `training=False`, so its
   BatchNorm statistics stay ImageNet's even while its top layers are
   fine-tuned (the Keras transfer-learning guide's advice). With
   `weights=none` it trains from scratch instead: whole, from the first
   epoch, BatchNorm included, and there is no second phase.
4. Global average pooling, dropout and a softmax head.

Training runs in two phases (see `kerasdl.finetune`): the head with the
backbone frozen, then the top `fine_tune_layers` layers unfrozen at a lower
learning rate.
"""

from pathlib import Path

import keras
import numpy as np

from kerasdl.errors import UserError
from kerasdl.models.layers import check_choice, check_fraction, classifier_head

# name -> (application, keyword arguments that put its preprocessing inside)
BACKBONES = {
    "mobilenet_v3_small": (keras.applications.MobileNetV3Small, {"include_preprocessing": True}),
    "mobilenet_v3_large": (keras.applications.MobileNetV3Large, {"include_preprocessing": True}),
    "efficientnet_b0": (keras.applications.EfficientNetB0, {}),
    "efficientnet_v2_b0": (keras.applications.EfficientNetV2B0, {"include_preprocessing": True}),
    "resnet50": (keras.applications.ResNet50, {}),
}
CAFFE_MEANS_BGR = (103.939, 116.779, 123.68)


def build_transfer(info, backbone="mobilenet_v3_small", weights="imagenet", dropout=0.2):
    """A pretrained image backbone under a new classifier head.

    Args:
        info: `DataInfo` of images.
        backbone: one of `BACKBONES`. Default "mobilenet_v3_small".
        weights: `imagenet` (downloaded once into ~/.keras/models), `none`
            (random: trains from scratch), a `.weights.h5` file of the same
            backbone without its top, a `.keras` file of any saved Keras
            image model, used whole as the backbone, or a keras-hub preset
            directory of an image backbone (its `ImageConverter`, if saved,
            becomes the preprocessing; `backbone` is then ignored).
        dropout: dropout rate before the classifier. Default 0.2.

    Returns:
        A `keras.Model` from raw pixels to class probabilities.

    Example:
        >>> model = build_transfer(info, backbone="efficientnet_b0", weights="none")
    """
    check_choice("backbone", backbone, tuple(BACKBONES))
    check_fraction("dropout", dropout)
    if info.kind != "image":
        raise UserError(f"model=transfer needs image data; {info.name!r} is {info.kind}")
    inputs = keras.Input(shape=info.input_shape, name=info.input_name)
    x = to_rgb_255(inputs, info)
    base, preprocess = load_backbone(backbone, weights, (*info.input_shape[:2], 3))
    x = preprocess(x)
    # A pretrained backbone keeps its BatchNorm statistics (training=False),
    # even while fine-tuned; one trained from scratch must learn them.
    if weights == "none":
        _settle_batchnorm_faster(base)
        x = base(x)
    else:
        x = base(x, training=False)
    if len(x.shape) == 4:  # a `.keras` backbone may end with its feature map
        x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name="head_dropout")(x)
    return keras.Model(inputs, classifier_head(x, info.num_classes), name=f"transfer_{backbone}")


def _settle_batchnorm_faster(base, momentum=0.9):
    """MobileNetV3 and EfficientNet ship BatchNorm momentum 0.999 (0.99 for
    the others): tuned for ImageNet's millions of steps. From scratch on a
    user's folder of hundreds of images, the moving statistics would still be
    near their initial values when the model is evaluated; measured here,
    MobileNetV3-Small from scratch on 480 digit images scored chance (10%)
    with 0.999."""
    for layer in base.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = momentum


def to_rgb_255(inputs, info):
    """Raw pixels in `info.value_range` -> RGB in 0-255, as ImageNet models expect."""
    low, high = info.value_range
    x = inputs
    if (low, high) != (0.0, 255.0):
        x = keras.layers.Rescaling(255.0 / (high - low), offset=-255.0 * low / (high - low), name="to_255")(x)
    if info.input_shape[-1] == 1:
        x = keras.layers.Concatenate(name="grey_to_rgb")([x, x, x])
    return x


def caffe_preprocessing(x):
    """ResNet50's `preprocess_input`: RGB -> BGR minus the ImageNet means, as a frozen 1x1 conv."""
    layer = keras.layers.Conv2D(3, 1, name="caffe_preprocess", trainable=False)
    y = layer(x)
    swap = np.zeros((1, 1, 3, 3), dtype="float32")
    for source, target in ((0, 2), (1, 1), (2, 0)):
        swap[0, 0, source, target] = 1.0
    layer.set_weights([swap, -np.asarray(CAFFE_MEANS_BGR, dtype="float32")])
    return y


def load_backbone(name, weights, input_shape):
    """The backbone, named `backbone`, and the preprocessing its inputs need.

    Returns:
        `(backbone, preprocess)`: `preprocess` maps 0-255 RGB symbolic
        tensors to what the backbone takes.
    """
    if str(weights).endswith(".keras"):
        return _saved_backbone(weights, input_shape), _unchanged
    if weights not in ("imagenet", "none") and Path(weights).is_dir():
        return _preset_backbone(weights, input_shape)
    base = _application_backbone(name, weights, input_shape)
    return base, caffe_preprocessing if name == "resnet50" else _unchanged


def _unchanged(x):
    return x


def _application_backbone(name, weights, input_shape):
    application, options = BACKBONES[name]
    source = None if weights == "none" else weights
    if source not in (None, "imagenet") and not Path(source).is_file():
        raise UserError(
            f"model.weights={weights!r} does not exist; use imagenet, none, a .weights.h5 file, a .keras model "
            "or a keras-hub preset directory"
        )
    base = build_application(application, name, weights, input_shape=input_shape, pooling="avg", **options)
    base.name = "backbone"
    return base


def build_application(application, name, weights, **options):
    """A `keras.applications` model without its top, with `weights`
    (`imagenet`, `none` or a local weights file); a failure is one line.

    Example:
        >>> base = build_application(keras.applications.MobileNetV2, "mobilenet_v2", "none", input_shape=(96, 96, 3))
    """
    source = None if weights == "none" else weights
    try:
        return application(include_top=False, weights=source, **options)
    except ValueError as error:
        raise UserError(f"Cannot build {name} with model.weights={weights}: {_first_line(error)}") from None
    except Exception as error:  # a failed download surfaces as several kinds
        if source == "imagenet":
            raise UserError(
                f"The ImageNet weights of {name} need a one-time download, which failed ({_first_line(error)}); "
                "pass model.weights=PATH to a local weights file, or model.weights=none"
            ) from None
        raise UserError(f"Cannot load {weights!r} into {name}: {_first_line(error)}") from None


def load_preset_backbone(directory, input_shape):
    """A keras-hub image backbone saved with `save_to_preset`, named
    `backbone`, and its `ImageConverter` (named `image_converter`) if saved
    too, else None; a preset that fails to load or takes other inputs is
    one line. `kerasdl.models.pyramid` reads its pyramid levels."""
    import keras_hub

    try:
        base = keras_hub.models.Backbone.from_preset(str(directory))
        converter = None
        if (Path(directory) / "image_converter.json").exists():
            converter = keras_hub.layers.ImageConverter.from_preset(str(directory))
    except Exception as error:  # foreign or partial presets raise many kinds
        raise UserError(f"Cannot load a keras-hub backbone from {str(directory)!r}: {_first_line(error)}") from None
    _check_input_shape(base, directory, input_shape)
    base.name = "backbone"
    if converter is not None:
        converter.name = "image_converter"
    return base, converter


def _preset_backbone(directory, input_shape):
    base, converter = load_preset_backbone(directory, input_shape)
    return base, _unchanged if converter is None else converter


def _saved_backbone(path, input_shape):
    if not Path(path).is_file():
        raise UserError(f"model.weights={path!r} does not exist")
    try:
        base = keras.saving.load_model(path, compile=False)
    except Exception as error:  # corrupt or foreign files raise many kinds
        raise UserError(f"Cannot load the backbone {path!r}: {_first_line(error)}") from None
    _check_input_shape(base, path, input_shape)
    base.name = "backbone"
    return base


def _check_input_shape(base, path, input_shape):
    takes = tuple(base.input_shape[1:]) if isinstance(base.input_shape, tuple) else None
    if (
        takes is None
        or len(takes) != len(input_shape)
        or any(want not in (None, have) for want, have in zip(takes, input_shape, strict=True))
    ):
        raise UserError(
            f"The backbone {path!r} takes inputs of shape {takes}; the data gives {input_shape} "
            "(set image_size to match)"
        )


def _first_line(error):
    text = str(error).strip()
    return (text.splitlines()[0] if text else type(error).__name__)[:200]
