import keras
import numpy as np
import pytest

from kerasdl.data import load_dataset
from kerasdl.errors import UserError
from kerasdl.models import build_model, builders


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits").info


@pytest.fixture(scope="module")
def iris():
    return load_dataset("iris").info


def _check_classifier(model, info):
    """Softmax over the classes, from raw inputs, with every layer named."""
    batch = np.random.default_rng(0).uniform(*info.value_range, size=(2, *info.input_shape)).astype("float32")
    probabilities = np.asarray(model(batch, training=False))
    assert probabilities.shape == (2, info.num_classes)
    np.testing.assert_allclose(probabilities.sum(axis=-1), 1.0, rtol=1e-5)
    assert model.get_layer("normalize") and model.get_layer("predictions")
    assert model.get_layer("predictions").dtype_policy.compute_dtype == "float32"


def test_every_family_is_a_builder():
    families = {"ann", "audio_cnn", "bert", "cnn", "rnn", "transfer", "unet", "yolo", "pix2pix", "l1_unet", "wavenet"}
    assert set(builders()) == families


def test_ann_architecture(iris):
    model = build_model("ann", iris)
    _check_classifier(model, iris)
    assert [layer.name for layer in model.layers if isinstance(layer, keras.layers.Dense)] == [
        "dense1",
        "dense2",
        "predictions",
    ]
    # 4 features -> 64 -> 32 -> 3 classes; the normaliser's statistics are constants.
    assert model.count_params() == (4 * 64 + 64) + (64 * 32 + 32) + (32 * 3 + 3)


def test_cnn_architecture_on_8x8_grey(digits):
    model = build_model("cnn", digits)
    _check_classifier(model, digits)
    assert model.get_layer("block1_conv1").filters == 32 and model.get_layer("block2_conv2").filters == 64
    assert model.get_layer("block2_pool").output.shape[1:3] == (2, 2)
    assert model.count_params() == 99754


def test_cnn_shifts_images_only_while_training_and_sets_its_batch_norm_momentum(digits):
    model = build_model("cnn", digits, shift=0.25, bn_momentum=0.9)
    assert model.get_layer("block1_bn1").momentum == 0.9
    batch = np.tile(np.arange(64, dtype="float32").reshape(1, 8, 8, 1) % 16, (4, 1, 1, 1))
    shifted = model.get_layer("shift")(batch, training=True)
    assert not np.allclose(shifted, batch) and np.allclose(model.get_layer("shift")(batch, training=False), batch)
    np.testing.assert_array_equal(model(batch, training=False), model(batch, training=False))


def test_random_shift_moves_each_image_by_whole_pixels_and_repeats_the_edges():
    from kerasdl.models.layers import RandomShift

    images = np.arange(4 * 8 * 8 * 2, dtype="float32").reshape(4, 8, 8, 2)  # every value once
    shifted = np.asarray(RandomShift(0.25, seed=3)(images, training=True))
    index = np.arange(8)
    found = set()
    for image, out in zip(images, shifted, strict=True):
        offsets = [
            (dy, dx)
            for dy in range(-2, 3)
            for dx in range(-2, 3)  # reach: 0.25 x 8 = 2 pixels
            if np.array_equal(out, image[np.clip(index + dy, 0, 7)][:, np.clip(index + dx, 0, 7)])
        ]
        assert len(offsets) == 1
        found.add(offsets[0])
    assert len(found) > 1  # the images moved independently


def test_cnn_works_for_larger_colour_images(digits):
    from dataclasses import replace

    colour = replace(digits, input_shape=(64, 64, 3), mean=np.zeros(3), variance=np.ones(3), value_range=(0, 255))
    model = build_model("cnn", colour, filters=(8, 16, 32), pooling="avg", dense_units=0)
    _check_classifier(model, colour)
    assert model.get_layer("block3_pool").output.shape[1:3] == (8, 8)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [True, False])
def test_rnn_reads_image_rows_as_steps(digits, cell, bidirectional):
    model = build_model("rnn", digits, cell=cell, units=8, bidirectional=bidirectional)
    _check_classifier(model, digits)
    assert model.get_layer("rows_as_steps").output.shape[1:] == (8, 8)
    recurrent = model.get_layer(f"bi_{cell}1" if bidirectional else f"{cell}1")
    assert recurrent.output.shape[-1] == (16 if bidirectional else 8)


def test_digits_rnn_architecture(digits):
    model = build_model("rnn", digits, units=128)
    # Each LSTM direction: 4 gates x (8 inputs + 128 recurrent + 1 bias) x 128 units; head 256 -> 10.
    assert model.count_params() == 2 * 4 * (8 + 128 + 1) * 128 + (256 * 10 + 10)


def test_stacked_rnn(digits):
    model = build_model("rnn", digits, layers=2, units=8)
    _check_classifier(model, digits)
    assert model.get_layer("bi_lstm1").output.shape[1:] == (8, 16)  # returns sequences


@pytest.mark.parametrize(
    "family, params, message",
    [
        ("rnn", {"cell": "transformer"}, "model.cell='transformer' is not allowed; choose one of: lstm, gru"),
        ("cnn", {"pooling": "sum"}, "choose one of: flatten, avg, max"),
        ("ann", {"dropout": 1.5}, "model.dropout=1.5 is out of range"),
        ("ann", {"activation": "bogus"}, "model.activation='bogus' is not a Keras activation"),
        ("cnn", {"kernel_size": 0}, "model.kernel_size=0 is out of range; allowed: an integer >= 1"),
        ("cnn", {"dense_units": -1}, "model.dense_units=-1 is out of range; allowed: an integer >= 0"),
        ("cnn", {"convs_per_block": 0}, "model.convs_per_block=0 is out of range"),
        ("cnn", {"shift": 0.5}, "model.shift=0.5 is out of range; allowed: a number in [0, 0.5)"),
        ("cnn", {"bn_momentum": 1.0}, "model.bn_momentum=1.0 is out of range"),
        ("rnn", {"units": 0}, "model.units=0 is out of range"),
    ],
)
def test_bad_hyperparameters_are_user_errors(digits, family, params, message):
    with pytest.raises(UserError) as error:
        build_model(family, digits, **params)
    assert message in str(error.value)


def test_cnn_refuses_tabular_data(iris):
    with pytest.raises(UserError, match="model=cnn needs image data; 'iris' is tabular"):
        build_model("cnn", iris)


def _detection_info(classes, side=64):
    from kerasdl.data.dataset import DataInfo

    names = [f"class_{index}" for index in range(classes)]
    zeros, ones = np.zeros(3, "float32"), np.ones(3, "float32")
    return DataInfo("boxes:x", "image", (side, side, 3), names, (0.0, 255.0), zeros, ones)


@pytest.mark.parametrize(("size", "ultralytics"), [("n", 3_157_200), ("s", 11_166_560)])
def test_yolo_has_ultralytics_yolov8_weights_to_the_parameter(size, ultralytics):
    # Ultralytics' model summary for yolov8{n,s}.yaml with 80 classes counts
    # 16 more: its DFL layer holds the bin indices 0-15 as a frozen 1x1
    # convolution, which here is a constant (`detect_boxes.expected_distances`).
    model = build_model("yolo", _detection_info(80), size=size)
    assert sum(int(np.prod(weight.shape)) for weight in model.trainable_weights) == ultralytics - 16
    anchors = 8 * 8 + 4 * 4 + 2 * 2
    assert model.output_shape == (None, anchors, 4 * 16 + 80)


def test_yolo_refuses_a_side_that_is_no_multiple_of_32():
    with pytest.raises(UserError, match="multiple of 32"):
        build_model("yolo", _detection_info(2, side=48))
