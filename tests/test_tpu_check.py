"""TPU readiness: one XLA training step in mixed_bfloat16 on a static batch.

The bad models are built by hand, with raw TensorFlow ops where a real user's
layer would have them, to see that each kind of TPU failure is named.
"""

import re

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from detection_data import make_yolo_folder
from sms_messages import messages
from tiny_bert import save_tiny_bert_preset

import kerasdl
from kerasdl.cli import main
from kerasdl.config import make_config, preset_names
from kerasdl.tpu_check import check_model, check_tpu_readiness

LABELS = np.array([0, 1] * 4, dtype="int32")


def _compiled(inputs, outputs):
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", jit_compile=True)
    return model


def _head(x):
    return keras.layers.Dense(2, activation="softmax", name="predictions")(x)


def test_a_bundled_preset_is_ready():
    lines = []
    assert kerasdl.check_tpu_readiness("breast_cancer_ann", log=lines.append) == []  # the Python API
    assert len(lines) == 1
    assert re.fullmatch(
        r"TPU readiness of breast_cancer_ann: ready \(one XLA training step in mixed_bfloat16 with static shapes, "
        r"batch 32, compiled and ran in \d+\.\d s on (CPU|GPU)\)",
        lines[0],
    )


def test_doctor_with_a_preset_reports_and_exits_0(capsys):
    assert main(["doctor", "--preset", "digits_cnn", "model.filters=4", "model.dense_units=4"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("machine: ")  # the normal report first
    assert out[-1].startswith("TPU readiness of digits_cnn: ready (one XLA training step in mixed_bfloat16")
    assert "batch 32, compiled and ran in" in out[-1]


def test_doctor_without_a_preset_says_how_to_check_one(capsys):
    assert main(["doctor"]) == 0
    assert "`kerasdl doctor --preset NAME` checks a preset" in capsys.readouterr().out.splitlines()[-1]


def test_unknown_preset_or_settings_without_one_are_one_line_errors(capsys):
    assert main(["doctor", "--preset", "no_such_preset"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert captured.err.startswith("kerasdl: error: Unknown preset 'no_such_preset'")
    assert main(["doctor", "epochs=3"]) == 2
    assert "KEY=VALUE settings need --preset NAME" in capsys.readouterr().err


def test_a_split_smaller_than_one_batch_is_a_problem_and_exits_1(capsys):
    assert main(["doctor", "--preset", "iris_ann", "batch_size=512"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[-2].startswith("TPU problem: the train split has 105 examples, fewer than one batch of batch_size=512")
    assert out[-1] == "TPU readiness of iris_ann: not ready (1 problem)"


def test_a_dynamic_input_dimension_is_reported():
    inputs = keras.Input((None, 4), name="steps")
    model = _compiled(inputs, _head(keras.layers.GlobalAveragePooling1D()(inputs)))
    problems = check_model(model, np.ones((8, 5, 4), "float32"), LABELS)
    assert problems == [
        "input 'steps' has the dynamic shape (None, None, 4): a TPU compiles a program per shape (or fails); "
        "give every axis but the batch a fixed size, e.g. pad sequences to one length"
    ]


class _DoubledInPython(keras.layers.Layer):
    """Runs NumPy inside the model: an op (PyFunc) that XLA has no kernel for."""

    def call(self, x):
        doubled = tf.numpy_function(lambda array: array * 2, [x], tf.float32)
        doubled.set_shape(x.shape)
        return doubled


def test_an_op_xla_cannot_compile_is_named():
    inputs = keras.Input((4,))
    model = _compiled(inputs, _head(_DoubledInPython(name="doubled")(inputs)))
    problems = check_model(model, np.ones((8, 4), "float32"), LABELS)
    assert len(problems) == 1
    assert problems[0].startswith("XLA cannot compile op PyFunc (node ")
    assert "/doubled" in problems[0] and problems[0].endswith("it has no XLA kernel, so a TPU cannot run it")


def test_a_layer_that_makes_keras_turn_xla_off_is_named():
    inputs = keras.Input((8, 8, 1))
    zoomed = keras.layers.RandomZoom(0.1, name="zoom")(inputs)
    with pytest.warns(UserWarning, match="Proceeding with `jit_compile=False`"):  # Keras 3.15 decides in compile()
        model = _compiled(inputs, _head(keras.layers.Flatten()(zoomed)))
    problems = check_model(model, np.ones((8, 8, 8, 1), "float32"), LABELS)
    assert problems == [
        "Keras turned XLA off for this model, and a TPU runs XLA only; layers without XLA support "
        "(supports_jit=False): zoom (RandomZoom)"
    ]


class _Lengths(keras.layers.Layer):
    def call(self, texts):
        return tf.cast(tf.strings.length(texts), "float32")[:, None]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1)


def test_string_inputs_and_string_ops_are_reported():
    inputs = keras.Input((), dtype="string", name="texts")
    model = _compiled(inputs, _head(_Lengths(name="lengths")(inputs)))
    problems = check_model(model, np.array(["a", "bb", "ccc", "d", "ee", "f", "gg", "h"]), LABELS)
    assert problems[0].startswith("input 'texts' is a string tensor: TPUs run no string ops")
    assert problems[1].startswith("string ops inside the model, which a TPU cannot run: ")
    assert "/lengths" in problems[1] and problems[1].endswith("(StringLength)") and len(problems) == 2


def test_a_gpu_lstm_on_cudnn_is_checked_on_its_xla_path():
    """On a machine with a GPU, Keras marks a cuDNN-capable LSTM as not XLA-compatible; a TPU has no cuDNN."""
    from kerasdl.tpu_check import _without_cudnn

    inputs = keras.Input((3, 2))
    lstm = keras.layers.LSTM(2, name="lstm")
    model = keras.Model(inputs, _head(lstm(inputs)))
    lstm.supports_jit = False  # what LSTM.__init__ does where cuDNN is available
    _without_cudnn(model)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", jit_compile=True)
    assert model.jit_compile and lstm.use_cudnn is False
    assert check_model(model, np.ones((8, 3, 2), "float32"), LABELS) == []


# -- every shipped preset ---------------------------------------------------------------------------------------------

TINY = {
    "ann": {"model.hidden_units": "4"},
    "cnn": {
        "model.filters": "4",
        "model.dense_units": "4",
        "batch_size": "16",
    },  # the test folder has 33 training images
    "rnn": {"model.units": "4", "model.embedding_dim": "4", "sequence_length": "16", "vocabulary_size": "200"},
    "transfer": {"image_size": "16"},  # model.weights: a tiny saved backbone, see below
    "bert": {"sequence_length": "16"},
    "unet": {"model.filters": "4", "image_size": "32", "batch_size": "4"},
    "yolo": {"image_size": "64", "batch_size": "4"},
    "pix2pix": {"model.filters": "4", "model.discriminator_filters": "4", "image_size": "32", "batch_size": "4"},
    "audio_cnn": {"model.filters": "4", "model.mel_bins": "8", "model.dense_units": "0", "batch_size": "8"},
    "wavenet": {
        "model.residual_channels": "4",
        "model.dilation_channels": "4",
        "model.skip_channels": "8",
        "model.layers_per_stack": "3",
        "model.stacks": "1",
        "window": "256",
        "batch_size": "4",
    },
}
SMS = messages(150, ("", "please", "x"))


@pytest.fixture(scope="module")
def offline_data(tmp_path_factory):
    """`data=` for each preset that reads the user's own files, written here."""
    from sklearn.datasets import load_iris

    root = tmp_path_factory.mktemp("tpu_data")
    rng = np.random.default_rng(0)
    for kind in ("dark", "light"):
        (root / "images" / kind).mkdir(parents=True)
        for index in range(24):
            pixels = rng.integers(0, 100, (12, 12, 3)) + (120 if kind == "light" else 0)
            (root / "images" / kind / f"{index}.png").write_bytes(tf.io.encode_png(pixels.astype("uint8")).numpy())
    (root / "texts.tsv").write_text("".join(f"{label}\t{text}\n" for label, text in SMS))
    iris = load_iris()
    rows = [
        ",".join(f"{value:g}" for value in row) + f",{iris.target_names[t]}"
        for row, t in zip(iris.data, iris.target, strict=True)
    ]
    (root / "table.csv").write_text("a,b,c,d,species\n" + "\n".join(rows) + "\n")
    for folder in ("segmentation/images", "segmentation/masks"):
        (root / folder).mkdir(parents=True)
    for index in range(12):
        mask = (rng.random((32, 32, 1)) > 0.5).astype("uint8") * 255
        (root / "segmentation/masks" / f"{index}.png").write_bytes(tf.io.encode_png(mask).numpy())
        pixels = (mask // 2 + rng.integers(0, 100, mask.shape)).astype("uint8")
        (root / "segmentation/images" / f"{index}.png").write_bytes(tf.io.encode_png(pixels).numpy())
    make_yolo_folder(root / "detection", count=14, size=(64, 48))
    for side in ("A", "B"):  # image pairs: a grey input and its negative
        (root / "pairs" / side).mkdir(parents=True)
    for index in range(12):
        grey = rng.integers(0, 256, (32, 32, 1)).astype("uint8")
        (root / "pairs/A" / f"{index}.png").write_bytes(tf.io.encode_png(grey).numpy())
        (root / "pairs/B" / f"{index}.png").write_bytes(tf.io.encode_png(255 - grey).numpy())
    for label, frequency in (("hum", 200), ("whistle", 1500)):  # clips: two tones, 0.25 s at 8 kHz
        (root / "audio" / label).mkdir(parents=True)
        for index in range(12):
            tone = 0.3 * np.sin(2 * np.pi * frequency * np.arange(2000) / 8000) + rng.normal(0, 0.01, 2000)
            wav = tf.audio.encode_wav(tone.astype("float32")[:, np.newaxis], 8000)
            (root / "audio" / label / f"{index}.wav").write_bytes(wav.numpy())
    # MobileNetV3Small passes too, but its XLA step took 35 s to compile on 2 cores: any saved
    # Keras image model is a backbone (model.weights=FILE.keras), so a two-layer one stands in.
    inputs = keras.Input((16, 16, 3))
    features = keras.layers.Conv2D(4, 3, name="top")(inputs)
    keras.Model(inputs, keras.layers.BatchNormalization(name="top_bn")(features)).save(root / "backbone.keras")
    return {
        "backbone": str(root / "backbone.keras"),
        "images": f"images:{root / 'images'}",
        "text": f"text:{root / 'texts.tsv'}",
        "csv": f"csv:{root / 'table.csv'}",
        "masks": f"masks:{root / 'segmentation'}",
        "boxes": f"boxes:{root / 'detection'}",
        "pairs": f"pairs:{root / 'pairs'}",
        "audio": f"audio:{root / 'audio'}",
    }


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
    """A 1-layer BERT with a WordPiece vocabulary of the texts, saved as a keras-hub preset."""
    directory = tmp_path_factory.mktemp("tpu_presets") / "tiny_bert"
    return save_tiny_bert_preset(directory, [text for _, text in SMS], num_layers=1, hidden_dim=8, sequence_length=16)


# make test checks one preset per model family and kind of data; these repeat
# one of them (another bundled table; a TFDS image or text set, whose model is
# the one digits_cnn or text_rnn builds, and whose loading test_tfds.py covers;
# a TFDS detection set, whose model is yolo_detect's and whose loading
# test_tfds_detection.py covers) and run in make test-full, so every shipped
# preset is still checked.
# yolo_nuclei builds yolo_detect's model on bundled tiles (89 s of make
# test's 14 minutes, in test-full since the WaveNet's tests came); pix2pix_colorize
# pix2pix_pairs's on bundled photos.
# unet_transfer's and yolo_transfer's MobileNetV2 encoder takes long to
# compile for XLA on 2 cores, as MobileNetV3 does (above); unet_segment and
# yolo_detect check the U-Net and the detector. wavenet_asterisk builds
# wavenet_speech's model on other WAVs.
REPEATS = {
    "wine_ann",
    "iris_ann",
    "cnn_cifar10",
    "cnn_tf_flowers",
    "cnn_mnist",
    "rnn_imdb",
    "unet_transfer",
    "yolo_transfer",
    "yolo_voc",
    "yolo_coco",
    "yolo_nuclei",
    "pix2pix_colorize",
    "wavenet_asterisk",
}


@pytest.mark.slow
@pytest.mark.parametrize(
    "preset", [pytest.param(name, marks=pytest.mark.full) if name in REPEATS else name for name in preset_names()]
)
def test_every_shipped_preset_is_ready(preset, offline_data, request):
    config = make_config(preset)
    overrides = dict(TINY[config.model])
    source = config.data.split(":")[0]
    if source in offline_data:
        overrides["data"] = offline_data[source]
    if config.task == "detect" and source == "tfds":
        # mock_data's random objects are not whole objects (bbox and label
        # lists of different lengths): the detection folder stands in.
        overrides["data"] = offline_data["boxes"]
    if config.model == "transfer":
        overrides["model.weights"] = offline_data["backbone"]
    if config.model in ("unet", "yolo") and config.model_params.get("backbone", "none") != "none":
        overrides["model.weights"] = "none"  # no download here; the encoder's shape is what XLA compiles
    if config.model == "bert":
        overrides["model.preset"] = str(request.getfixturevalue("tiny_bert"))
    lines = []
    with tfds.testing.mock_data(num_examples=200):  # the tfds: presets, offline
        problems = check_tpu_readiness(make_config(preset, overrides), log=lines.append)
    assert problems == [], lines
    assert lines[-1].startswith(f"TPU readiness of {preset}: ready")
