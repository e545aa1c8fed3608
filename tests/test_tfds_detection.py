"""TFDS detection sets, offline: tfds.testing.mock_data stands in for the download.

mock_data's own objects are not whole objects (a bbox list and a label list
of different lengths, ymin above ymax), so `_records` writes records as
TFDS stores them: every photo 80 wide and 40 high, photo `i` of grey level
`10 * i` (its labels then tell which photo they belong to) with `i % 4`
objects, each the same box (ymin 0.25, xmin 0.1, ymax 0.75, xmax 0.5) of
class `j` for object `j`; a COCO photo's first object is a crowd.
"""

import functools
import json

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from kerasdl.cli import main
from kerasdl.data import load_dataset
from kerasdl.data.boxes import letterboxed
from kerasdl.data.tfds_detection import TfdsBoxDataset, photo_boxes
from kerasdl.errors import UserError
from kerasdl.training import train

SPLIT_SIZES = {"train": 20, "validation": 6, "test": 8}
BOX = [0.25, 0.1, 0.75, 0.5]
# The box in an 80x40 photo letterboxed into 64: scale 0.8, 16 rows of grey above.
BOX_AT_64 = [6.4, 24.0, 32.0, 40.0]
VOC_CLASSES = "aeroplane bicycle bird boat bottle bus car cat chair cow diningtable dog horse motorbike person".split()


def _records(builder, split, decoders=None, unlabelled_test=False, **kwargs):
    """The records of `split` (see the module's docstring), with the features the loader asks for."""
    features, decoders = decoders.extract_features(builder.info.features), decoders.decoders
    crowds = "is_crowd" in features["objects"].feature

    def examples():
        for index in range(SPLIT_SIZES[split]):
            count = 0 if unlabelled_test and split == "test" else index % 4
            objects = {"bbox": np.array([BOX] * count, np.float32).reshape(-1, 4), "label": np.arange(count)}
            if crowds:
                objects["is_crowd"] = np.arange(count) == 0
            yield features.encode_example({"image": np.full((40, 80, 3), 10 * index, np.uint8), "objects": objects})

    specs = tf.nest.map_structure(lambda info: tf.TensorSpec(info.shape, info.dtype), features.get_serialized_info())
    data = tf.data.Dataset.from_generator(examples, output_signature=specs)
    return data.map(functools.partial(features.decode_example, decoders=decoders))


def _all_splits(builder, name, data_dir, **options):
    """`load_splits` as on a machine where the set is prepared: TFDS's train,
    validation and test (mock_data knows no splits)."""
    names = list(SPLIT_SIZES)
    loaded = tfds.load(name, split=names, download=False, data_dir=data_dir, **options)
    return dict(zip(names, loaded, strict=True)), builder


def _photo_index(images):
    """Which photo each letterboxed image is, from its grey level at the centre."""
    return (images[:, 32, 32, 0] / 10).round().astype(int)


def test_a_tfds_box_on_a_200x100_photo_lands_where_boxes_dir_puts_it():
    photo = np.zeros((100, 200, 3), np.uint8)  # 200 wide, 100 high: scale 0.32 into 64, 16 rows of grey above
    tfds_boxes = [[0.1, 0.25, 0.5, 0.75], [0.2, 0.2, 0.2, 0.9]]  # ymin xmin ymax xmax; the second has no height
    image, boxes, classes = photo_boxes(photo, tfds_boxes, [3, 5])
    assert boxes.numpy().tolist() == [[50.0, 10.0, 150.0, 50.0]] and classes.numpy().tolist() == [3]
    image, labels = letterboxed(image, boxes, classes, side=64, channels=3, rows=2)
    assert image.shape == (64, 64, 3)
    np.testing.assert_allclose(labels.numpy(), [[3, 16, 19.2, 48, 32], [-1, 0, 0, 0, 0]], rtol=1e-6)


def test_voc_loads_as_boxes_letterboxed_like_a_folder():
    with tfds.testing.mock_data(as_dataset_fn=_records):
        dataset = load_dataset("tfds:voc/2007", image_size="64", task="detect")
        info = dataset.info
        assert isinstance(dataset, TfdsBoxDataset) and len(info.class_names) == 20
        assert info.class_names[:15] == VOC_CLASSES and info.input_shape == (64, 64, 3)
        assert dataset.max_boxes == 3 and "at most 3 object(s) per photo" in dataset.notes[0]
        # No split is known under mock_data, so all three come from train: 20% test, 10% validation.
        assert [dataset.size(split) for split in ("train", "validation", "test")] == [14, 2, 4]
        seen = []
        for split in ("train", "validation", "test"):
            images, labels = dataset.arrays(split)
            assert images.dtype == np.float32 and labels.shape == (len(images), 3, 5)
            for photo, rows in zip(_photo_index(images), labels, strict=True):
                real = rows[rows[:, 0] >= 0]
                assert real[:, 0].tolist() == list(range(photo % 4))
                np.testing.assert_allclose(real[:, 1:], np.tile(BOX_AT_64, (len(real), 1)), rtol=1e-6)
                assert (rows[len(real) :] == [-1, 0, 0, 0, 0]).all()
            seen += _photo_index(images).tolist()
        assert sorted(seen) == list(range(SPLIT_SIZES["train"]))
        images, labels = next(iter(dataset.pipeline("train", 4, shuffle=True, seed=1)))  # augmented
        assert images.shape == (4, 64, 64, 3) and images.dtype == tf.float32
        assert labels.shape == (4, 3, 5) and labels.dtype == tf.float32
        assert [array.shape for array in dataset.sample("validation", 2, seed=2)] == [(2, 64, 64, 3), (2, 3, 5)]


def test_voc_keeps_tfds_splits_and_photos_of_any_size_default_to_320(monkeypatch):
    monkeypatch.setattr("kerasdl.data.tfds_detection.load_splits", _all_splits)
    with tfds.testing.mock_data(as_dataset_fn=_records):
        dataset = load_dataset("tfds:voc/2007")
    assert dataset.info.input_shape == (320, 320, 3)
    assert {split: dataset.size(split) for split in SPLIT_SIZES} == SPLIT_SIZES
    assert set(dataset.splits["test"][0]) == {"test"}


def test_coco_leaves_crowds_out_and_scores_on_validation_when_test_has_no_labels(monkeypatch):
    monkeypatch.setattr("kerasdl.data.tfds_detection.load_splits", _all_splits)

    def unlabelled(builder, split, **kwargs):
        return _records(builder, split, unlabelled_test=True, **kwargs)

    with tfds.testing.mock_data(as_dataset_fn=unlabelled):
        dataset = load_dataset("tfds:coco/2017", image_size="64")
        labels = dataset.arrays("test")[1]
    assert len(dataset.info.class_names) == 80
    # TFDS's validation (6) is the test split; validation is 10% of train's 20, carved from it.
    assert [dataset.size(split) for split in ("train", "validation", "test")] == [18, 2, 6]
    assert set(dataset.splits["test"][0]) == {"test"} and set(dataset.splits["validation"][0]) == {"train"}
    # Object 0 of each photo is a crowd: photos with 1-3 objects keep 0-2, class 0 never.
    assert dataset.max_boxes == 2 and 0 not in labels[..., 0] and labels[..., 0].max() == 2
    notes = " | ".join(dataset.notes)
    assert "left out 19 crowd annotation(s) (is_crowd) of tfds:coco/2017" in notes  # train 15, validation 4
    assert "test split has no labels: scoring on its validation split (6 photos)" in notes


@pytest.mark.parametrize(
    "spec, task, message",
    [
        ("tfds:voc/2007", "classify", "tfds:voc/2007 is a detection dataset, labels for task=detect; this run's "),
        ("tfds:mnist", "detect", "this run's task=detect needs a detection dataset \\(an image and an 'objects'"),
    ],
)
def test_a_set_for_another_task_is_refused_before_it_is_read(spec, task, message):
    with tfds.testing.mock_data(as_dataset_fn=_records), pytest.raises(UserError, match=message):
        load_dataset(spec, task=task)


def test_the_detector_on_a_classification_set_is_one_line(in_tmp, capsys):
    with tfds.testing.mock_data(num_examples=20):
        assert main(["train", "yolo_detect", "data=tfds:mnist", "verbose=0"]) == 2
    err = capsys.readouterr().err
    assert "error: tfds:mnist is an image- or text-classification dataset, labels for task=classify" in err
    assert err.count("\n") == 1
    assert not (in_tmp / "saved_models").exists()


@pytest.mark.slow  # about 65 s on 2 cores: a third training, a third TFLite conversion with NMS
def test_yolo_voc_trains_exports_and_scores_on_mock_data(tmp_path):
    overrides = {
        "image_size": "64",
        "epochs": 1,
        "batch_size": 2,  # 14 training, 2 validation and 4 test photos: one batch shape, one trace
        "inspect_every": 0,  # no validation mAP and samples: 8 s less; `sample` is tested above
        "variants": "float32",
        "verbose": 0,
        "run_dir": str(tmp_path / "run"),
    }
    with tfds.testing.mock_data(as_dataset_fn=_records):
        result = train("yolo_voc", overrides, log=lambda line: None)
    test = json.loads((result.run_dir / "metrics.json").read_text())["test"]
    assert 0.0 <= test["map50_95"] <= test["map50"] <= 1.0
    assert (result.run_dir / "labels.txt").read_text().splitlines()[:15] == VOC_CLASSES
    card = json.loads((result.run_dir / "model_card.json").read_text())
    assert card["input"]["shape"] == [1, 64, 64, 3] and "file" in card["variants"]["float32"]
