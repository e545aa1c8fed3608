"""Pretrained encoders as feature pyramids: a backbone's features by stride.

U-Net takes a backbone's features at strides 2, 4, 8 and 16 as its skips
and those at 32 as its bottleneck; YOLO's neck takes strides 8, 16 and 32.
Both get them here, from either source users bring:

- a `keras.applications` network (`BACKBONES`), its layers at each stride
  named below, with ImageNet weights, none, or a local weights file;
- a keras-hub image backbone saved with `save_to_preset` (ResNet, CSPNet,
  EfficientNet, MobileNet...), whose `pyramid_outputs` name its levels
  `P1` to `P5` (stride `2**k`), with its `ImageConverter` as the
  preprocessing when the preset holds one.

The encoder is one sub-model named `backbone`, so the two-phase
fine-tuning of `kerasdl.finetune` applies to it as to a transfer model.
"""

from pathlib import Path

import keras

from kerasdl.errors import UserError
from kerasdl.models.transfer import (
    _settle_batchnorm_faster,
    build_application,
    caffe_preprocessing,
    load_preset_backbone,
    to_rgb_255,
)

# name -> (application, its layers at strides 2, 4, 8, 16 and 32)
BACKBONES = {
    "mobilenet_v2": (
        keras.applications.MobileNetV2,
        (
            "block_1_expand_relu",
            "block_3_expand_relu",
            "block_6_expand_relu",
            "block_13_expand_relu",
            "block_16_project",
        ),
    ),
    "resnet50": (
        keras.applications.ResNet50,
        ("conv1_relu", "conv2_block3_out", "conv3_block4_out", "conv4_block6_out", "conv5_block3_out"),
    ),
    "efficientnet_b0": (
        keras.applications.EfficientNetB0,
        (
            "block2a_expand_activation",
            "block3a_expand_activation",
            "block4a_expand_activation",
            "block6a_expand_activation",
            "top_activation",
        ),
    ),
}
STRIDES = (2, 4, 8, 16, 32)  # every backbone above ends at stride 32


def is_preset(weights):
    """`model.weights` naming a keras-hub preset directory (then `backbone` is not used)."""
    return weights not in (None, "imagenet", "none") and Path(str(weights)).is_dir()


def backbone_inputs(info, backbone):
    """The model's input and its pixels as 0-255 RGB, which every pretrained
    encoder takes; grey is repeated to three channels.

    Returns:
        `(inputs, rgb_255)` symbolic tensors.
    """
    if info.input_shape[-1] not in (1, 3):
        raise UserError(
            f"model.backbone={backbone} takes grey or RGB images; {info.name!r} has {info.input_shape[-1]} "
            "channels (use backbone=none)"
        )
    inputs = keras.Input(shape=info.input_shape, name=info.input_name)
    return inputs, to_rgb_255(inputs, info)


def pyramid_features(rgb_255, name, weights, strides=STRIDES):
    """The backbone's features at `strides`, from 0-255 RGB symbolic tensors.

    Args:
        rgb_255: symbolic `(batch, height, width, 3)` RGB in 0-255.
        name: one of `BACKBONES`; ignored when `weights` is a preset directory.
        weights: "imagenet" (downloaded once into ~/.keras/models), "none"
            (random, trained from scratch), a `.weights.h5` file of the same
            application without its top, or a keras-hub preset directory.
        strides: which levels, each one of `STRIDES`.

    Returns:
        A list of symbolic feature maps, one per stride, from one sub-model
        named `backbone`; a pretrained one runs with `training=False` (its
        BatchNorm statistics stay those it learnt).

    Example:
        >>> p3, p4, p5 = pyramid_features(rgb, "mobilenet_v2", "none", strides=(8, 16, 32))
    """
    if is_preset(weights):
        encoder, x = _preset_encoder(rgb_255, weights, strides)
    else:
        encoder, x = _application_encoder(rgb_255, name, weights, strides)
    # As in build_transfer: pretrained BatchNorm statistics stay as learnt.
    if weights == "none":
        _settle_batchnorm_faster(encoder)
        return _as_list(encoder(x))
    return _as_list(encoder(x, training=False))


def _application_encoder(rgb_255, name, weights, strides):
    application, layer_names = BACKBONES[name]
    if weights != "none" and weights != "imagenet" and not Path(str(weights)).is_file():
        raise UserError(
            f"model.weights={weights!r} does not exist; use imagenet, none, a .weights.h5 file or a keras-hub "
            "preset directory"
        )
    base = build_application(application, name, weights, input_shape=rgb_255.shape[1:])
    layers = [base.get_layer(layer_names[STRIDES.index(stride)]).output for stride in strides]
    encoder = keras.Model(base.input, layers, name="backbone")
    if name == "resnet50":
        return encoder, caffe_preprocessing(rgb_255)
    if name == "mobilenet_v2":  # its preprocess_input: 0-255 -> [-1, 1]
        return encoder, keras.layers.Rescaling(1 / 127.5, offset=-1.0, name="mobilenet_preprocess")(rgb_255)
    return encoder, rgb_255  # EfficientNet scales and normalises inside


def _preset_encoder(rgb_255, directory, strides):
    """A keras-hub backbone's pyramid levels at `strides`, after its saved `ImageConverter` if any."""
    base, converter = load_preset_backbone(directory, tuple(rgb_255.shape[1:]))
    levels = getattr(base, "pyramid_outputs", None) or {}
    wanted = [f"P{stride.bit_length() - 1}" for stride in strides]
    missing = [level for level in wanted if level not in levels]
    if missing:
        raise UserError(
            f"The keras-hub backbone in {str(directory)!r} ({type(base).__name__}) has pyramid levels "
            f"{', '.join(sorted(levels)) or 'none'}; this model needs {', '.join(wanted)} (strides "
            f"{', '.join(map(str, strides))})"
        )
    encoder = keras.Model(base.input, [levels[level] for level in wanted], name="backbone")
    return encoder, rgb_255 if converter is None else converter(rgb_255)


def _as_list(outputs):
    return list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
