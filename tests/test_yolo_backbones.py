"""YOLO over a pretrained encoder: keras.applications networks and keras-hub
preset directories feeding the neck at strides 8, 16 and 32 (offline: random
weights, and a tiny keras-hub backbone saved here)."""

import keras
import numpy as np
import pytest

from kerasdl.config import make_config
from kerasdl.data.dataset import DataInfo
from kerasdl.errors import UserError
from kerasdl.finetune import freeze_backbone, pretrained, unfreeze_top
from kerasdl.models import build_model

SIDE = 64
ANCHORS = 8 * 8 + 4 * 4 + 2 * 2


def _info(channels=3):
    zeros, ones = np.zeros(channels, "float32"), np.ones(channels, "float32")
    return DataInfo("boxes:x", "image", (SIDE, SIDE, channels), ["cell", "dot"], (0.0, 255.0), zeros, ones)


def _save_tiny_resnet(directory, stages=4):
    """A ResNet keras-hub backbone (levels P2 to P{stages + 1}) and its image
    converter, as save_to_preset writes them."""
    import keras_hub

    backbone = keras_hub.models.ResNetBackbone(
        input_conv_filters=[64],
        input_conv_kernel_sizes=[3],
        stackwise_num_filters=[64] + [16] * (stages - 1),
        stackwise_num_blocks=[1] * stages,
        stackwise_num_strides=[1] + [2] * (stages - 1),
        block_type="basic_block",
        image_shape=(SIDE, SIDE, 3),
    )
    backbone.save_to_preset(str(directory))
    keras_hub.layers.ResNetImageConverter(image_size=(SIDE, SIDE), scale=1 / 255.0).save_to_preset(str(directory))
    return str(directory)


def test_a_keras_applications_backbone_feeds_the_neck_at_strides_8_16_32():
    model = build_model("yolo", _info(channels=1), backbone="mobilenet_v2", weights=None)  # grey, repeated to RGB
    assert model.name == "yolo_n_mobilenet_v2"
    backbone = model.get_layer("backbone")  # what kerasdl.finetune freezes and unfreezes
    assert [tuple(output.shape[1:]) for output in backbone.outputs] == [(8, 8, 192), (4, 4, 576), (2, 2, 320)]
    # SPPF pools at most half the neck's widest channels, not half of the backbone's
    assert model.get_layer("sppf_in_conv").output.shape[-1] == 128
    assert model.output_shape == (None, ANCHORS, 4 * 16 + 2)
    assert "stem_conv" not in {layer.name for layer in model.layers}  # the CSP backbone is replaced


def test_a_keras_hub_preset_directory_is_the_encoder_with_its_converter(tmp_path):
    preset = _save_tiny_resnet(tmp_path / "tiny_resnet")
    model = build_model("yolo", _info(), weights=preset)
    assert model.name == "yolo_n_hub"
    names = [layer.name for layer in model.layers]
    assert names.index("image_converter") < names.index("backbone")
    assert [tuple(output.shape[1:3]) for output in model.get_layer("backbone").outputs] == [(8, 8), (4, 4), (2, 2)]
    pixels = np.random.default_rng(0).uniform(0, 255, size=(2, SIDE, SIDE, 3)).astype("float32")
    model.save(tmp_path / "yolo.keras")
    reloaded = keras.saving.load_model(tmp_path / "yolo.keras", compile=False)
    np.testing.assert_allclose(np.asarray(reloaded(pixels)), np.asarray(model(pixels)), atol=1e-5)


def test_a_preset_without_the_levels_the_neck_needs_is_one_line(tmp_path):
    preset = _save_tiny_resnet(tmp_path / "shallow", stages=2)  # P2 and P3 only
    with pytest.raises(UserError) as error:
        build_model("yolo", _info(), weights=preset)
    message = str(error.value)
    assert "pyramid levels P2, P3" in message and "needs P3, P4, P5" in message and "\n" not in message


def test_bad_backbone_settings_are_one_line():
    with pytest.raises(UserError, match="backbone"):
        build_model("yolo", _info(), backbone="vgg16")
    with pytest.raises(UserError, match="does not exist"):
        build_model("yolo", _info(), backbone="mobilenet_v2", weights="/no/such/file.weights.h5")
    with pytest.raises(UserError, match="grey or RGB"):
        build_model("yolo", _info(channels=4), backbone="mobilenet_v2", weights=None)


def test_phase_one_trains_neck_and_heads_over_the_frozen_preset_then_unfreezes_its_top(tmp_path):
    preset = _save_tiny_resnet(tmp_path / "tiny_resnet")
    model = build_model("yolo", _info(), weights=preset)
    config = make_config("yolo_transfer", {"model.weights": preset})
    assert pretrained(config)
    whole = len(model.trainable_weights)
    freeze_backbone(model, config)
    assert 0 < len(model.trainable_weights) < whole
    assert not model.get_layer("backbone").trainable_weights
    unfrozen = unfreeze_top(model, 2)
    # two convolutions, kernels only: ResNet convolutions have no bias before their BatchNorm
    assert len(unfrozen) == 2 and len(model.get_layer("backbone").trainable_weights) == 2


def test_a_run_that_names_a_backbone_and_no_weights_freezes_it_as_imagenet():
    # config.yaml records every build argument, defaults included, so
    # build_yolo's weights=imagenet makes the backbone count as pretrained.
    assert pretrained(make_config("yolo_detect", {"model.backbone": "mobilenet_v2"}))
    assert not pretrained(make_config("yolo_transfer", {"model.weights": "none"}))
