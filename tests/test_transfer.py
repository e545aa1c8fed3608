"""image_transfer: a saved backbone loaded, frozen, then fine-tuned, offline.

ImageNet weights cannot be downloaded here, so the backbone comes from a
weights file that the session fixture saved, exactly as a user passes
`model.weights=PATH`.
"""

import json

import keras
import numpy as np
import pytest

from kerasdl.cli import main
from kerasdl.config import make_config
from kerasdl.data import load_dataset
from kerasdl.errors import UserError
from kerasdl.finetune import freeze_backbone, unfreeze_top, wants_fine_tuning
from kerasdl.history import read_history
from kerasdl.models import build_model
from kerasdl.models.transfer import BACKBONES

SIZE = 32


def _mobilenet():
    backbone = keras.applications.MobileNetV3Small(
        include_top=False, weights=None, input_shape=(SIZE, SIZE, 3), pooling="avg", include_preprocessing=True
    )
    for layer in backbone.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = 0.9  # MobileNetV3's 0.999 would leave the statistics unsettled after 100 steps
    return backbone


@pytest.fixture(scope="session")
def saved_backbone(tmp_path_factory):
    """A MobileNetV3Small backbone (no top) pretrained on digits 0-4, saved as a .weights.h5 file.

    Pretraining gives the backbone what ImageNet weights give a real one:
    useful features and BatchNorm statistics to keep frozen. The transfer
    test then learns all ten digits from it.
    """
    from sklearn.datasets import load_digits

    keras.utils.set_random_seed(1)
    raw = load_digits()
    source = raw.target < 5
    images = np.repeat(raw.images[source][..., np.newaxis] * 255 / 16, 3, axis=-1).astype("float32")
    images = np.asarray(keras.ops.image.resize(images, (SIZE, SIZE)))
    backbone = _mobilenet()
    classifier = keras.Sequential([backbone, keras.layers.Dense(5, activation="softmax")])
    classifier.compile(keras.optimizers.Adam(0.003), "sparse_categorical_crossentropy")
    classifier.fit(images, raw.target[source], epochs=4, batch_size=32, verbose=0)
    path = tmp_path_factory.mktemp("backbones") / "mobilenet_v3_small.weights.h5"
    backbone.save_weights(path)
    return path, backbone.get_weights()


@pytest.fixture
def untrained_backbone(tmp_path):
    """The same backbone's weights file, untrained: enough to test loading and freezing."""
    keras.utils.set_random_seed(2)
    backbone = _mobilenet()
    path = tmp_path / "mobilenet_v3_small.weights.h5"
    backbone.save_weights(path)
    return path, backbone.get_weights()


@pytest.fixture(scope="session")
def digit_folder(tmp_path_factory):
    """scikit-learn's digits as 8x8 grey PNGs, one folder per digit, 50 per class."""
    import tensorflow as tf
    from sklearn.datasets import load_digits

    raw = load_digits()
    root = tmp_path_factory.mktemp("digit_pngs")
    for digit in range(10):
        (root / str(digit)).mkdir()
        chosen = np.flatnonzero(raw.target == digit)[:50]
        for index in chosen:
            image = (raw.images[index] * 255 / 16).astype("uint8")[..., np.newaxis]
            tf.io.write_file(str(root / str(digit) / f"{index}.png"), tf.io.encode_png(image))
    return root


def test_every_backbone_builds_with_its_preprocessing_inside():
    info = load_dataset("digits").info  # 8x8 grey, values 0-16
    for name in BACKBONES:
        model = build_model("transfer", _resized(info), backbone=name, weights="none")
        assert model.input.shape[1:] == (SIZE, SIZE, 1) and model.output.shape[-1] == 10
        names = [layer.name for layer in model.layers]
        assert names[:4] == [
            "pixels",
            "to_255",
            "grey_to_rgb",
            "caffe_preprocess" if name == "resnet50" else "backbone",
        ]


def test_caffe_preprocessing_matches_keras_resnet50_preprocess_input():
    info = _resized(load_dataset("digits").info)
    model = build_model("transfer", info, backbone="resnet50", weights="none")
    pixels = np.random.default_rng(0).uniform(0, 16, size=(2, SIZE, SIZE, 1)).astype("float32")
    rgb = np.repeat(pixels * 255 / 16, 3, axis=-1)
    prepared = keras.Model(model.input, model.get_layer("caffe_preprocess").output)(pixels)
    expected = keras.applications.resnet50.preprocess_input(rgb.copy())
    np.testing.assert_allclose(np.asarray(prepared), expected, atol=1e-3)


def test_phases_freeze_then_unfreeze_the_top_without_batchnorm(untrained_backbone):
    path, saved = untrained_backbone
    model = build_model("transfer", _resized(load_dataset("digits").info), weights=str(path))
    backbone = model.get_layer("backbone")
    assert all(np.array_equal(a, b) for a, b in zip(backbone.get_weights(), saved, strict=True))
    freeze_backbone(model, make_config("image_transfer", {"model.weights": str(path)}))
    assert not backbone.trainable_weights and model.trainable_weights  # only the head trains
    unfrozen = unfreeze_top(model, 5)
    assert len(unfrozen) == 5
    trainable = [layer for layer in backbone.layers if layer.trainable and layer.weights]
    assert [layer.name for layer in trainable] == unfrozen
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in trainable)


@pytest.mark.parametrize(
    "weights, message",
    [
        ("missing.weights.h5", "model.weights='missing.weights.h5' does not exist; use imagenet, none"),
        ("missing.keras", "model.weights='missing.keras' does not exist"),
    ],
)
def test_bad_weights_are_one_line_errors(weights, message):
    with pytest.raises(UserError, match=message):
        build_model("transfer", _resized(load_dataset("digits").info), weights=weights)


def test_imagenet_offline_says_what_to_do(monkeypatch):
    def offline(*args, **kwargs):
        raise Exception("URL fetch failure on https://storage.googleapis.com/...: None -- [Errno -3]")

    monkeypatch.setattr("keras.src.utils.file_utils.get_file", offline)
    with pytest.raises(UserError, match="ImageNet weights of mobilenet_v3_small need a one-time download"):
        build_model("transfer", _resized(load_dataset("digits").info), weights="imagenet")


@pytest.mark.full
def test_transfer_fine_tuning_improves_on_the_frozen_phase_and_exports(saved_backbone, digit_folder, tmp_path, capsys):
    path, _ = saved_backbone
    run_dir = tmp_path / "run"
    settings = [
        f"data=images:{digit_folder}",
        f"image_size={SIZE}",
        f"model.weights={path}",
        "epochs=2",
        "fine_tune_epochs=3",
        "fine_tune_layers=40",
        "fine_tune_learning_rate=0.001",
        "variants=float32",
    ]
    assert main(["train", "image_transfer", *settings, f"run_dir={run_dir}", "verbose=0"]) == 0
    out = capsys.readouterr().out
    assert "fine-tuning the top 40 backbone layers (BatchNorm stays frozen)" in out
    history = read_history(run_dir / "history.csv")
    assert len(history["loss"]) == 5 and (run_dir / "checkpoints" / "fine_tune_from_epoch").read_text() == "2\n"
    frozen, tuned = max(history["val_accuracy"][:2]), max(history["val_accuracy"][2:])
    assert tuned > frozen, history["val_accuracy"]
    card = json.loads((run_dir / "model_card.json").read_text())
    assert card["variants"]["float32"]["builtins_only"] and card["variants"]["float32"]["parity"]["top1_agreement"] == 1


def test_a_backbone_from_scratch_trains_whole_in_one_phase():
    config = make_config("image_transfer", {"model.weights": "none"})
    model = build_model("transfer", _resized(load_dataset("digits").info), weights="none")
    freeze_backbone(model, config)
    assert model.get_layer("backbone").trainable and not wants_fine_tuning(model, config)
    norms = [
        layer for layer in model.get_layer("backbone").layers if isinstance(layer, keras.layers.BatchNormalization)
    ]
    assert norms and all(layer.momentum == 0.9 for layer in norms)  # settles within a small dataset's steps


def test_the_transfer_preset_resolves_a_two_phase_schedule():
    config = make_config("image_transfer")
    assert config.model == "transfer" and config.fine_tune_epochs > 0 and config.model_params["weights"] == "imagenet"


def _resized(info):
    """The digits' info as if the images had been resized to SIZE x SIZE."""
    from dataclasses import replace

    return replace(info, input_shape=(SIZE, SIZE, 1))


def test_a_keras_backbone_file_and_an_interrupted_fine_tuning_phase_resumes_in_phase_two(tmp_path, monkeypatch, capsys):
    """Any saved Keras image model can be the backbone; Ctrl-C at the start of
    phase 2 resumes in phase 2, with its trainable layers, not in phase 1."""
    keras.utils.set_random_seed(2)
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="low")(inputs)
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="top")(x)
    x = keras.layers.BatchNormalization(name="top_bn")(x)
    tiny = keras.Model(inputs, x, name="tiny")
    tiny.save(tmp_path / "tiny.keras")
    run_dir = tmp_path / "run"
    argv = ["train", "image_transfer", "data=digits", f"model.weights={tmp_path / 'tiny.keras'}", "epochs=2"]
    argv += ["fine_tune_epochs=2", "fine_tune_layers=1", "variants=float32", f"run_dir={run_dir}", "verbose=0"]

    import kerasdl.training

    real_unfreeze = kerasdl.training.unfreeze_top

    def interrupted(model, count):
        raise KeyboardInterrupt

    monkeypatch.setattr(kerasdl.training, "unfreeze_top", interrupted)
    assert main(argv) == 130
    assert (run_dir / "checkpoints" / "fine_tune_from_epoch").read_text() == "2\n"
    assert len(read_history(run_dir / "history.csv")["loss"]) == 2

    unfrozen = []

    def recorded(model, count):
        unfrozen.extend(real_unfreeze(model, count))
        return unfrozen

    monkeypatch.setattr(kerasdl.training, "unfreeze_top", recorded)
    capsys.readouterr()
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "resuming the interrupted run" in out and "fine-tuning the top 1 backbone layers" in out
    assert unfrozen == ["top"]  # the top layer with weights that is not BatchNorm
    assert len(read_history(run_dir / "history.csv")["loss"]) == 4
    assert json.loads((run_dir / "model_card.json").read_text())["model"]["family"] == "transfer"


def test_a_keras_hub_preset_directory_is_a_backbone_with_its_image_converter(tmp_path):
    import keras_hub

    from kerasdl.export.tflite import convert_to_tflite
    from kerasdl.litert_runner import tflite_predict

    backbone = keras_hub.models.ResNetBackbone(
        input_conv_filters=[64],
        input_conv_kernel_sizes=[3],
        stackwise_num_filters=[64, 16],
        stackwise_num_blocks=[1, 1],
        stackwise_num_strides=[1, 2],
        block_type="basic_block",
        image_shape=(SIZE, SIZE, 3),
    )
    preset = tmp_path / "tiny_resnet"
    backbone.save_to_preset(str(preset))
    keras_hub.layers.ResNetImageConverter(image_size=(SIZE, SIZE), scale=1 / 255.0).save_to_preset(str(preset))
    info = _resized(load_dataset("digits").info)
    model = build_model("transfer", info, weights=str(preset))
    names = [layer.name for layer in model.layers]
    assert names[3:5] == ["image_converter", "backbone"] and "pool" in names  # the feature map is pooled
    pixels = np.random.default_rng(0).uniform(0, 16, size=(4, SIZE, SIZE, 1)).astype("float32")
    flatbuffer, _ = convert_to_tflite(model, info, pixels)  # builtins only, or it raises
    np.testing.assert_allclose(tflite_predict(flatbuffer, pixels), np.asarray(model(pixels)), atol=1e-5)
