"""U-Net: per-pixel probabilities, its checks, a mobilenet_v2 backbone, and TFLite builtins."""

import re

import keras
import numpy as np
import pytest

from kerasdl.data.dataset import DataInfo
from kerasdl.errors import UserError
from kerasdl.models import build_model


def _info(shape=(32, 32, 1), classes=("a", "b")):
    channels = shape[-1]
    return DataInfo(
        name="t",
        kind="image",
        input_shape=shape,
        class_names=list(classes),
        value_range=(0, 255),
        mean=np.zeros(channels, "float32"),
        variance=np.ones(channels, "float32"),
    )


def _pixels(info, batch=2):
    return np.random.default_rng(0).uniform(0, 255, size=(batch, *info.input_shape)).astype("float32")


def _check_segmenter(model, info):
    """A softmax over the classes at every pixel, in float32, with every layer named."""
    probabilities = np.asarray(model(_pixels(info), training=False))
    assert probabilities.shape == (2, *info.input_shape[:2], info.num_classes)
    np.testing.assert_allclose(probabilities.sum(axis=-1), 1.0, rtol=1e-5)
    assert model.get_layer("probabilities").dtype_policy.compute_dtype == "float32"
    named = re.compile(
        r"(pixels|normalize|grey_to_rgb|mobilenet_preprocess|backbone|probabilities|(down\d|bottleneck|up\d)_\w+)"
    )
    assert [layer.name for layer in model.layers if not named.fullmatch(layer.name)] == []


def test_unet_architecture():
    info = _info(classes=("background", "cell", "border"))
    model = build_model("unet", info, filters=4, depth=2)
    _check_segmenter(model, info)
    assert model.get_layer("normalize") and model.get_layer("bottleneck_conv2").filters == 16
    assert model.get_layer("down2_pool").output.shape[1:] == (8, 8, 8)
    assert isinstance(model.get_layer("up1_upsample"), keras.layers.Conv2DTranspose)
    assert model.get_layer("up1_concat").output.shape[1:] == (32, 32, 8)  # 4 up-sampled + 4 from down1
    assert model.count_params() == 7_647


def test_batch_norm_and_dropout_change_the_layers():
    info = _info()
    plain = build_model("unet", info, filters=4, depth=2, batch_norm=False, dropout=0.0)
    names = {layer.name for layer in plain.layers}
    assert not any("_bn" in name for name in names) and "bottleneck_dropout" not in names
    assert plain.get_layer("down1_conv1").use_bias
    dropped = build_model("unet", info, filters=4, depth=2, batch_norm=True, dropout=0.5)
    extra = {layer.name for layer in dropped.layers} - names
    assert extra == {"bottleneck_dropout"} | {
        f"{block}_bn{i}" for block in ("down1", "down2", "bottleneck", "up2", "up1") for i in (1, 2)
    }
    _check_segmenter(dropped, info)


@pytest.mark.parametrize(
    "shape, params, message",
    [
        (
            (36, 36, 1),
            {"depth": 3},
            "image_size=36x36 does not fit model=unet with depth=3; "
            "allowed: height and width multiples of 8 (for example image_size=40)",
        ),
        (
            (48, 48, 1),
            {"backbone": "mobilenet_v2", "weights": None},
            "image_size=48x48 does not fit model=unet with backbone=mobilenet_v2; "
            "allowed: height and width multiples of 32 (for example image_size=64)",
        ),
        (
            (32, 32, 1),
            {"backbone": "vgg16"},
            "model.backbone='vgg16' is not allowed; choose one of: none, mobilenet_v2, resnet50, efficientnet_b0",
        ),
        ((32, 32, 1), {"filters": 0}, "model.filters=0 is out of range; allowed: an integer >= 1"),
        ((32, 32, 1), {"filters": (16, 32)}, "model.filters=(16, 32) is not allowed; allowed: an integer >= 1"),
        ((32, 32, 1), {"depth": 0}, "model.depth=0 is out of range; allowed: an integer >= 1"),
        ((32, 32, 1), {"dropout": 1.0}, "model.dropout=1.0 is out of range; allowed: a number in [0, 1)"),
        ((32, 32, 1), {"batch_norm": "yes"}, "model.batch_norm='yes' is not allowed; choose one of: true, false"),
        ((32, 32, 4), {"backbone": "resnet50", "weights": None}, "takes grey or RGB images; 't' has 4 channels"),
        (
            (32, 32, 1),
            {"backbone": "resnet50", "weights": "missing.weights.h5"},
            "model.weights='missing.weights.h5' does not exist",
        ),
    ],
)
def test_bad_settings_are_one_line_user_errors(shape, params, message):
    with pytest.raises(UserError) as error:
        build_model("unet", _info(shape), **params)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_mobilenet_v2_backbone_gives_full_size_masks():
    info = _info((32, 32, 1))  # the smallest MobileNetV2 takes; grey, repeated to RGB inside
    model = build_model("unet", info, filters=4, backbone="mobilenet_v2", weights=None)
    _check_segmenter(model, info)
    backbone = model.get_layer("backbone")  # what kerasdl.finetune freezes and unfreezes
    assert [tuple(output.shape[1:3]) for output in backbone.outputs] == [(16, 16), (8, 8), (4, 4), (2, 2), (1, 1)]
    assert model.get_layer("up5_concat").output.shape[1:] == (2, 2, 64 + 576)  # block_13_expand_relu
    assert "up1_concat" not in {layer.name for layer in model.layers}  # nothing at full size to skip from


def test_tflite_keeps_builtin_transpose_conv_and_matches_keras(tmp_path):
    from ai_edge_litert.interpreter import Interpreter

    from kerasdl.export.savedmodel import write_saved_model
    from kerasdl.export.tflite import convert_variant

    info = _info()
    model = build_model("unet", info, filters=4, depth=2)
    write_saved_model(model, info, tmp_path / "saved_model", raw_signature=False)
    flatbuffer, ops = convert_variant(tmp_path / "saved_model", "float32")  # builtins only, or RunFailed
    # Up-sampling is TRANSPOSE_CONV, not TILE/RESHAPE/RESIZE_NEAREST_NEIGHBOR; SHAPE, STRIDED_SLICE
    # and PACK compute its output shape from the batch size, which the signature leaves open.
    assert ops == [
        "CONCATENATION",
        "CONV_2D",
        "MAX_POOL_2D",
        "PACK",
        "SHAPE",
        "SOFTMAX",
        "STRIDED_SLICE",
        "TRANSPOSE_CONV",
    ]
    runner = Interpreter(model_content=flatbuffer).get_signature_runner("serving_default")
    pixels = _pixels(info)
    lite = runner(pixels=pixels)["probabilities"]
    np.testing.assert_allclose(lite, model.predict(pixels, verbose=0), atol=1e-4)
