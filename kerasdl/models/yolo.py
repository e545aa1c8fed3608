"""YOLO (YOLOv8-style, anchor-free): boxes and classes for object detection.

Read top to bottom, as Ultralytics' `yolov8.yaml` and keras-cv's
YOLOV8Detector describe it (references, not dependencies):

- a CSP backbone: stride-2 convolutions, each followed by a C2f block (a
  convolution whose output is split, one half passed through bottlenecks,
  every intermediate result concatenated), ending in SPPF (max pools of
  growing reach);
- a PAN neck: the stride-32 features go up to 16 and 8, each merged with
  the backbone's features of that size, then back down, so every level sees
  both fine and coarse features;
- a decoupled head per level (strides 8, 16 and 32): one branch regresses
  each side's distance from the cell centre as a distribution over
  `REG_MAX` bins (distribution focal loss), the other scores the classes.

Every cell of every level is an anchor point; the model returns, per
anchor, `4 * REG_MAX` box logits then one logit per class, in one tensor
`(batch, anchors, 4 * REG_MAX + classes)` named `heads`. Decoding and NMS
are `kerasdl.tasks.detect_boxes`'s (Keras side) and the export wrapper's.

With `backbone` (or a keras-hub preset directory as `weights`), a
pretrained encoder of `kerasdl.models.pyramid` replaces the CSP backbone and
its stride 8, 16 and 32 features feed the same SPPF, neck and heads; it is
named `backbone`, so `kerasdl.finetune` trains the rest over it frozen,
then unfreezes its top.
"""

import math

import keras

from kerasdl.errors import UserError
from kerasdl.models.layers import check_choice, model_inputs
from kerasdl.models.pyramid import BACKBONES, backbone_inputs, is_preset, pyramid_features

REG_MAX = 16  # bins of each side's distance distribution, in units of the level's stride
STRIDES = (8, 16, 32)
# size -> (width multiplier, depth multiplier, most channels), Ultralytics' n and s
SIZES = {"n": (0.25, 1 / 3, 1024), "s": (0.5, 1 / 3, 1024)}
# YOLOv8's channels and C2f repeats at width and depth 1.
BASE_CHANNELS = (64, 128, 256, 512, 1024)
BASE_REPEATS = (3, 6, 6, 3)
# Ultralytics' BatchNorm (PyTorch momentum 0.03 is Keras momentum 0.97).
BN_MOMENTUM, BN_EPSILON = 0.97, 1e-3


def apply_conv(x, filters, kernel, strides, name):
    """Convolution, batch norm and SiLU: YOLO's `Conv`."""
    x = keras.layers.Conv2D(filters, kernel, strides, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = keras.layers.BatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name=f"{name}_bn")(x)
    return keras.layers.Activation("silu", name=f"{name}_silu")(x)


def apply_c2f(x, filters, repeats, shortcut, name):
    """C2f: a 1x1 convolution split in two halves; `repeats` bottlenecks (two
    3x3 convolutions, residual when `shortcut`) on the second half, each
    output kept; all of it concatenated and mixed by a 1x1 convolution."""
    hidden = filters // 2
    x = apply_conv(x, 2 * hidden, 1, 1, f"{name}_in")
    parts = [x[..., :hidden], x[..., hidden:]]
    for index in range(repeats):
        y = apply_conv(parts[-1], hidden, 3, 1, f"{name}_b{index}_1")
        y = apply_conv(y, hidden, 3, 1, f"{name}_b{index}_2")
        parts.append(keras.layers.Add(name=f"{name}_b{index}_add")([parts[-1], y]) if shortcut else y)
    x = keras.layers.Concatenate(name=f"{name}_concat")(parts)
    return apply_conv(x, filters, 1, 1, f"{name}_out")


def apply_sppf(x, filters, name):
    """SPPF: three 5x5 max pools in a row (reach 5, 9, 13), concatenated.

    Pooled at half the input's channels (Ultralytics'), at most half of
    `filters`: a pretrained backbone's 1,280 or 2,048 would quadruple the
    neck's cost for nothing the 1x1 convolution after it keeps.
    """
    x = apply_conv(x, min(x.shape[-1], filters) // 2, 1, 1, f"{name}_in")
    pooled = [x]
    for index in range(3):
        pooled.append(keras.layers.MaxPooling2D(5, strides=1, padding="same", name=f"{name}_pool{index}")(pooled[-1]))
    x = keras.layers.Concatenate(name=f"{name}_concat")(pooled)
    return apply_conv(x, filters, 1, 1, f"{name}_out")


def apply_head(x, classes, box_filters, class_filters, stride, image_side, name):
    """One level's decoupled head: `(batch, cells, 4 * REG_MAX + classes)`.

    The biases start where Ultralytics starts them: box logits at 1 (flat
    distributions), class logits at the log-odds of about 5 objects per
    image in a level's cells, so the first steps do not drown in false
    positives.
    """
    box = apply_conv(x, box_filters, 3, 1, f"{name}_box1")
    box = apply_conv(box, box_filters, 3, 1, f"{name}_box2")
    box = keras.layers.Conv2D(4 * REG_MAX, 1, bias_initializer=keras.initializers.Constant(1.0), name=f"{name}_box")(
        box
    )
    prior = math.log(5 / classes / (image_side / stride) ** 2)
    score = apply_conv(x, class_filters, 3, 1, f"{name}_cls1")
    score = apply_conv(score, class_filters, 3, 1, f"{name}_cls2")
    score = keras.layers.Conv2D(classes, 1, bias_initializer=keras.initializers.Constant(prior), name=f"{name}_cls")(
        score
    )
    x = keras.layers.Concatenate(name=f"{name}_out")([box, score])
    return keras.layers.Reshape((-1, 4 * REG_MAX + classes), name=f"{name}_flat")(x)


def build_yolo(info, size="n", backbone="none", weights="imagenet"):
    """An anchor-free YOLO detector from raw pixels to per-anchor box and class logits.

    Args:
        info: `DataInfo` of images whose side is a multiple of 32 (the
            coarsest level's stride); its classes are what is detected.
        size: "n" (default, YOLOv8n's widths: 16 to 256 channels) or "s"
            (twice as wide, about 3.5x the computation). With a backbone it
            sets the neck's and heads' widths.
        backbone: "none" (default, or None) for the CSP backbone built here,
            or a pretrained encoder from `kerasdl.models.pyramid.BACKBONES`
            (mobilenet_v2, resnet50, efficientnet_b0) whose stride 8, 16
            and 32 features feed the neck.
        weights: with a backbone: "imagenet" (default, downloaded once),
            "none", a `.weights.h5` file of that backbone without its top,
            or a keras-hub preset directory of an image backbone with
            pyramid levels P3 to P5 (then `backbone` is not used).

    Returns:
        A `keras.Model` from raw pixels `(batch, side, side, channels)` to
        `heads` `(batch, anchors, 4 * REG_MAX + classes)` float32, anchors
        ordered level by level (stride 8, 16, 32), row-major within a level.

    Example:
        >>> model = build_yolo(info, size="n")
        >>> model = build_yolo(info, backbone="mobilenet_v2", weights="imagenet")
    """
    if info.kind != "image" or len(info.input_shape) != 3:
        raise UserError(f"model=yolo needs image data; {info.name!r} is {info.kind}")
    check_choice("size", size, tuple(SIZES))
    height, width = info.input_shape[:2]
    if height != width or height % STRIDES[-1]:
        raise UserError(
            f"image_size={height}x{width} does not fit model=yolo; allowed: a square whose side is a multiple "
            f"of {STRIDES[-1]} (for example image_size={-(-max(height, width) // 32) * 32})"
        )
    width_multiple, depth_multiple, most = SIZES[size]
    channels = [_scaled(base, width_multiple, most) for base in BASE_CHANNELS]
    repeats = [max(1, round(base * depth_multiple)) for base in BASE_REPEATS]

    backbone = "none" if backbone is None else backbone
    weights = "none" if weights is None else weights
    check_choice("backbone", backbone, ("none", *BACKBONES))
    encoder = "hub" if is_preset(weights) else backbone
    if encoder == "none":
        inputs, x = model_inputs(info)
        x = apply_conv(x, channels[0], 3, 2, "stem")
        features = []
        for stage in range(4):
            x = apply_conv(x, channels[stage + 1], 3, 2, f"down{stage + 1}")
            x = apply_c2f(x, channels[stage + 1], repeats[stage], True, f"stage{stage + 1}")
            features.append(x)
        p3, p4, top = features[1:]
    else:
        inputs, rgb_255 = backbone_inputs(info, encoder)
        p3, p4, top = pyramid_features(rgb_255, backbone, weights, strides=STRIDES)
    p5 = apply_sppf(top, channels[4], "sppf")

    # PAN neck: up to stride 8, then back down.
    up = keras.layers.UpSampling2D(2, name="neck_up1")(p5)
    n4 = apply_c2f(keras.layers.Concatenate(name="neck_cat1")([up, p4]), channels[3], repeats[0], False, "neck_c1")
    up = keras.layers.UpSampling2D(2, name="neck_up2")(n4)
    out3 = apply_c2f(keras.layers.Concatenate(name="neck_cat2")([up, p3]), channels[2], repeats[0], False, "neck_c2")
    down = apply_conv(out3, channels[2], 3, 2, "neck_down1")
    out4 = apply_c2f(keras.layers.Concatenate(name="neck_cat3")([down, n4]), channels[3], repeats[0], False, "neck_c3")
    down = apply_conv(out4, channels[3], 3, 2, "neck_down2")
    out5 = apply_c2f(keras.layers.Concatenate(name="neck_cat4")([down, p5]), channels[4], repeats[0], False, "neck_c4")

    classes = info.num_classes
    box_filters = max(16, channels[2] // 4, 4 * REG_MAX)
    class_filters = max(channels[2], min(classes, 100))
    levels = [
        apply_head(level, classes, box_filters, class_filters, stride, height, f"head_p{index + 3}")
        for index, (level, stride) in enumerate(zip((out3, out4, out5), STRIDES, strict=True))
    ]
    # float32: under mixed precision the box distribution's softmax and the
    # class sigmoids need the range.
    outputs = keras.layers.Concatenate(axis=1, dtype="float32", name="heads")(levels)
    name = f"yolo_{size}" if encoder == "none" else f"yolo_{size}_{encoder}"
    return keras.Model(inputs, outputs, name=name)


def _scaled(channels, width_multiple, most):
    """Ultralytics' width rule: scaled, capped, rounded up to a multiple of 8."""
    return int(math.ceil(min(channels, most) * width_multiple / 8) * 8)


def anchor_grid(image_side):
    """Each anchor's centre and stride, in the model's output order.

    Returns:
        NumPy `(centres (anchors, 2) as x, y in input pixels, strides (anchors,))`.

    Example:
        >>> centres, strides = anchor_grid(64)  # 8x8 + 4x4 + 2x2 = 84 anchors
    """
    import numpy as np

    centres, strides = [], []
    for stride in STRIDES:
        cells = image_side // stride
        ys, xs = np.meshgrid(np.arange(cells), np.arange(cells), indexing="ij")
        centres.append((np.stack([xs.ravel(), ys.ravel()], -1) + 0.5) * stride)
        strides.append(np.full(cells * cells, stride))
    return np.concatenate(centres).astype("float32"), np.concatenate(strides).astype("float32")
