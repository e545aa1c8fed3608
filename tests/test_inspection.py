"""What a run shows of its mistakes: the numbers, the pictures, TensorBoard's
summaries, plots/ and report.html (kerasdl/inspection/)."""

import io

import keras
import numpy as np
import pytest
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from kerasdl.config import make_config
from kerasdl.data.dataset import DataInfo
from kerasdl.export.report_html import html_report
from kerasdl.history import best_epoch
from kerasdl.inspection.classes import class_report, worst_mistakes
from kerasdl.inspection.pictures import confusion_picture, mistakes_picture
from kerasdl.inspection.plots import write_plots
from kerasdl.inspection.summaries import (
    ClassificationInspection,
    hyperparameters,
    inspection_interval,
    scalars,
    write_hyperparameters,
)
from kerasdl.inspection.views import detokenised, split_view

LABELS = np.array([0, 0, 1, 1, 2, 2])
PROBABILITIES = np.array(
    [
        [0.9, 0.05, 0.05],
        [0.2, 0.7, 0.1],  # a 0 called 1 at 0.7
        [0.1, 0.8, 0.1],
        [0.1, 0.85, 0.05],
        [0.05, 0.9, 0.05],  # a 2 called 1 at 0.9: the worst
        [0.1, 0.1, 0.8],
    ]
)


def _info(kind="image", **fields):
    shapes = {"image": (4, 4, 1), "tabular": (3,), "text": (5,)}
    return DataInfo(
        name="test",
        kind=kind,
        input_shape=shapes[kind],
        class_names=["cat", "dog", "bird"],
        value_range=(0.0, 1.0),
        mean=np.zeros(1),
        variance=np.ones(1),
        **fields,
    )


def test_the_report_counts_per_class():
    report = class_report(LABELS, PROBABILITIES, ["cat", "dog", "bird"])
    np.testing.assert_array_equal(report.matrix, [[1, 1, 0], [0, 2, 0], [0, 1, 1]])
    np.testing.assert_allclose(report.recall, [0.5, 1.0, 0.5])
    np.testing.assert_allclose(report.precision, [1.0, 0.5, 1.0])
    assert report.accuracy == pytest.approx(4 / 6)
    table = report.markdown()
    assert "| dog | 0.500 | 1.000 | 0.667 | 2 |" in table and "| **mean (by examples)** |" in table


def test_a_class_never_predicted_scores_zero_not_a_warning():
    report = class_report([0, 1], np.array([[0.9, 0.1], [0.8, 0.2]]), ["a", "b"])
    assert report.precision[1] == 0 and report.recall[1] == 0


def test_the_worst_mistakes_come_most_confident_first():
    mistakes = worst_mistakes(LABELS, PROBABILITIES, 5)
    assert [(m.index, m.true, m.predicted) for m in mistakes] == [(4, 2, 1), (1, 0, 1)]
    assert mistakes[0].confidence == pytest.approx(0.9)
    assert worst_mistakes(LABELS, PROBABILITIES, 1)[0].index == 4


def test_the_confusion_picture_shades_by_share_of_the_true_class():
    report = class_report(LABELS, PROBABILITIES, ["cat", "dog", "bird"])
    picture = confusion_picture(report)
    assert picture.dtype == np.uint8 and picture.ndim == 3 and picture.shape[2] == 3
    # The darkest pixels are the cell holding all of a class (dog -> dog); a
    # matrix of twice the classes is drawn no smaller.
    bigger = class_report(np.arange(6), np.eye(6), list("abcdef"))
    assert confusion_picture(bigger).shape[0] >= picture.shape[0]
    assert picture.min() < 40  # dark blue cells exist


def test_the_mistakes_grid_fits_any_image_size():
    small = mistakes_picture(np.zeros((3, 8, 8, 1)), [["a", "b"]] * 3, (0, 16))
    photos = mistakes_picture(np.ones((7, 300, 200, 3)), [["x"]] * 7, (0, 1), columns=4)
    assert small.shape[2] == photos.shape[2] == 3
    assert photos.shape[0] > small.shape[0]  # two rows of tiles, not one


def test_image_views_show_the_mistakes_as_pictures_and_text_views_as_a_table():
    images = np.random.default_rng(0).random((6, 4, 4, 1))
    view = split_view(_info(), images, LABELS, PROBABILITIES, "validation")
    assert set(view.pictures) == {"confusion_matrix", "worst_mistakes"} and set(view.texts) == {"per_class"}

    vocabulary = ["", "[UNK]", "free", "prize", "call", "now"]
    ids = np.array([[2, 3, 0, 0, 0]] * 4 + [[4, 5, 1, 0, 0]] * 2)
    view = split_view(_info("text", vocabulary=vocabulary), ids, LABELS, PROBABILITIES, "test")
    assert set(view.pictures) == {"confusion_matrix"}
    table = view.texts["worst_mistakes"]
    assert table.startswith("test split: the 2 most confident of 2 mistakes")
    assert "| bird | dog | 0.900 | call now [UNK] |" in table

    features = np.arange(18, dtype=float).reshape(6, 3)
    view = split_view(_info("tabular", feature_names=["a", "b", "c"]), features, LABELS, PROBABILITIES, "test")
    assert "| bird | dog | 0.900 | a=12, b=13, c=14 |" in view.texts["worst_mistakes"]


def test_wordpiece_ids_join_back_into_words():
    vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "un", "##like", "##ly", "win"]
    assert detokenised([2, 4, 5, 6, 7, 3, 0], vocabulary, "wordpiece") == "unlikely win"


def test_auto_inspects_about_eight_times_a_run():
    assert inspection_interval("auto", 40) == 5 and inspection_interval("auto", 3) == 1
    assert inspection_interval("0", 40) == 0 and inspection_interval("7", 40) == 7


def _events(folder):
    accumulator = EventAccumulator(str(folder), size_guidance={"images": 0, "tensors": 0, "scalars": 0})
    accumulator.Reload()
    return accumulator


def test_the_callback_inspects_every_n_epochs_and_the_last(tmp_path):
    rng = np.random.default_rng(0)
    features, labels = rng.random((40, 4, 4, 1)).astype("float32"), rng.integers(0, 3, 40)
    model = keras.Sequential(
        [keras.Input((4, 4, 1)), keras.layers.Flatten(), keras.layers.Dense(3, activation="softmax")]
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    inspect = ClassificationInspection(tmp_path, _info(), features, labels, every=2, batch_size=16)
    model.fit(features, labels, epochs=3, verbose=0, callbacks=[inspect])
    events = _events(tmp_path / "inspection")
    # Epoch 2 (step 1) was due; epoch 3 (step 2) is the last.
    assert [event.step for event in events.Tensors("validation/confusion_matrix")] == [1, 2]
    assert [event.step for event in events.Tensors("validation/worst_mistakes")] == [1, 2]
    # An image summary's tensor: width, height, then the PNG.
    png = events.Tensors("validation/confusion_matrix")[0].tensor_proto.string_val[2]
    picture = Image.open(io.BytesIO(png))
    assert picture.mode == "RGB" and min(picture.size) > 50
    table = events.Tensors("validation/per_class")[0].tensor_proto.string_val[0].decode()
    assert table.startswith("| class | precision | recall | F1 | examples |")


def test_every_run_is_an_hparams_session_with_plain_values(tmp_path):
    config = make_config("digits_cnn", {"epochs": "3"})
    values = hyperparameters(config)
    assert values["preset"] == "digits_cnn" and values["epochs"] == 3 and values["model.filters"] == "[32, 64]"
    assert "verbose" not in values and "run_dir" not in values
    assert all(isinstance(value, (bool, int, float, str)) for value in values.values())
    write_hyperparameters(tmp_path, config, trial_id="digits_cnn-2")
    assert "_hparams_/session_start_info" in _events(tmp_path).Tags()["tensors"]


def test_nested_test_metrics_become_scalars_by_path():
    assert scalars({"loss": 1, "iou": {"a": 0.5}, "name": "x", "ok": True}) == {"loss": 1.0, "iou/a": 0.5}


def test_plots_mark_the_best_epoch_and_the_report_page_inlines_them(tmp_path):
    history = {"epoch": [0, 1, 2, 3], "loss": [1.0, 0.5, 0.4, 0.3], "val_loss": [1.1, 0.6, 0.7, 0.65]}
    history |= {"accuracy": [0.5, 0.8, 0.85, 0.9], "val_accuracy": [0.4, 0.75, 0.7, 0.72]}
    assert best_epoch(history["val_loss"], "val_loss") == 2 and best_epoch(history["val_accuracy"], "val_accuracy") == 2
    assert best_epoch([float("nan")], "val_loss") is None and best_epoch([0.5, 0.5], "val_loss") == 1
    view = split_view(_info(), np.zeros((6, 4, 4, 1)), LABELS, PROBABILITIES, "test")
    written = write_plots(tmp_path / "plots", view, history, "val_loss", fine_tune_start=2)
    assert [name for _, name in written] == ["training_curves.png", "confusion_matrix.png", "worst_mistakes.png"]
    with Image.open(tmp_path / "plots" / "training_curves.png") as curves:
        assert curves.size[0] > curves.size[1] > 200  # two panels side by side
    page = html_report("# run\n\n![curves](plots/training_curves.png)\n\n| a | b |\n|---|---|\n| 1 | 2 |\n", tmp_path)
    assert 'src="data:image/png;base64,' in page and "<table>" in page and "plots/" not in page
