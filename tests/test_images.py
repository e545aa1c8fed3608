import json

import numpy as np
import pytest
import tensorflow as tf

from kerasdl.cli import main
from kerasdl.data import load_dataset
from kerasdl.errors import UserError


def _pattern(kind, size, rng):
    """Horizontal bars, vertical bars or a bright square, with noise."""
    image = rng.integers(0, 60, size=size).astype("float32")
    if kind == "bars":
        image[::4] = 230
    elif kind == "columns":
        image[:, ::4] = 230
    else:
        image[size[0] // 4 : 3 * size[0] // 4, size[1] // 4 : 3 * size[1] // 4] = 230
    return image.astype("uint8")


def _write(path, image):
    encode = tf.io.encode_png if path.suffix == ".png" else tf.io.encode_jpeg
    path.write_bytes(encode(image[..., np.newaxis] if image.ndim == 2 else image).numpy())


@pytest.fixture
def photos(tmp_path):
    """3 classes x 20 images: PNG and JPEG, several sizes, grey and colour."""
    rng = np.random.default_rng(0)
    root = tmp_path / "photos"
    for kind in ("bars", "columns", "square"):
        (root / kind).mkdir(parents=True)
        for index in range(20):
            size = (24, 24) if index % 2 else (40, 32)
            image = _pattern(kind, size, rng)
            if index % 3 == 0:
                image = np.stack([image] * 3, axis=-1)  # colour file, grey content
            _write(root / kind / f"{index}.{'png' if index % 2 else 'jpg'}", image)
    (root / "square" / "broken.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    (root / "notes.txt").write_text("not a class")
    return root


def test_an_image_folder_becomes_classes_and_splits(photos):
    dataset = load_dataset(f"images:{photos}", image_size=16)
    info = dataset.info
    assert info.class_names == ["bars", "columns", "square"]
    assert info.input_shape == (16, 16, 3) and info.value_range == (0.0, 255.0)  # some files are colour
    assert sum(len(dataset.arrays(split)[1]) for split in ("train", "validation", "test")) == 60
    assert dataset.notes == ["skipped 1 unreadable image file(s): square/broken.jpg"]
    assert 0 <= dataset.arrays("train")[0].min() and dataset.arrays("train")[0].max() <= 255


def test_a_grey_folder_stays_grey(tmp_path):
    rng = np.random.default_rng(1)
    for kind in ("bars", "columns"):
        (tmp_path / kind).mkdir()
        for index in range(10):
            _write(tmp_path / kind / f"{index}.png", _pattern(kind, (20, 20), rng))
    assert load_dataset(f"images:{tmp_path}", image_size=8).info.input_shape == (8, 8, 1)


@pytest.mark.parametrize(
    "layout, message",
    [
        ("missing", "does not exist; pass data=images:DIR with one sub-folder per class"),
        ("empty", "needs at least 2 sub-folders with images"),
        (
            "one_class",
            "needs at least 2 sub-folders with images (one per class, .png, .jpg, .jpeg, .bmp, .gif); found 1",
        ),
        ("too_few", "Every class needs at least 3 examples"),
    ],
)
def test_bad_folders_are_one_line_errors(tmp_path, layout, message):
    rng = np.random.default_rng(2)
    root = tmp_path / "data"
    if layout != "missing":
        root.mkdir()
    if layout in ("one_class", "too_few"):
        (root / "bars").mkdir()
        for index in range(5):
            _write(root / "bars" / f"{index}.png", _pattern("bars", (12, 12), rng))
    if layout == "too_few":
        (root / "square").mkdir()
        _write(root / "square" / "0.png", _pattern("square", (12, 12), rng))
    with pytest.raises(UserError) as error:
        load_dataset(f"images:{root}")
    assert message in str(error.value)


def test_image_cnn_trains_exports_and_predicts_on_a_folder(photos, tmp_path, capsys):
    run_dir = tmp_path / "run"
    argv = ["train", "image_cnn", f"data=images:{photos}", "image_size=16", "epochs=6", "variants=float32,int8"]
    # The preset's batch of 128 is sized for folders of thousands; this one trains on 42 images.
    assert main([*argv, f"run_dir={run_dir}", "verbose=0", "model.filters=8,16", "batch_size=8"]) == 0
    out = capsys.readouterr().out
    assert "skipped 1 unreadable image file(s): square/broken.jpg" in out
    assert "note: this run trains only 36 steps (6 per epoch: 42 training examples" in out
    assert (run_dir / "labels.txt").read_text().splitlines() == ["bars", "columns", "square"]
    # The three patterns are easy: the model must have learnt them.
    assert json.loads((run_dir / "metrics.json").read_text())["test"]["accuracy"] >= 0.8
    assert main(["predict", str(run_dir), str(photos / "columns" / "1.png"), "--variant", "int8"]) == 0
    assert capsys.readouterr().out.split(": ")[1].split(" (")[0] == "columns"


def test_the_image_preset_without_a_folder_says_what_to_do(in_tmp, capsys):
    assert main(["train", "image_cnn"]) == 2
    assert "Image folder 'data/images' does not exist; pass data=images:DIR" in capsys.readouterr().err
    assert not list(in_tmp.iterdir())
