"""`boxes:DIR` data: letterboxing, splits, and augmentation that moves the boxes with the pixels."""

import numpy as np
import pytest
from detection_data import make_yolo_folder

from kerasdl.data import load_dataset
from kerasdl.data.boxes import box_augmenter, detection_side, load_box_folder
from kerasdl.errors import UserError
from kerasdl.photos import letterbox_geometry, letterbox_photo


def _bright_box(image, threshold):
    """x1 y1 x2 y2 of the pixels brighter than `threshold` in every channel."""
    rows, columns = np.nonzero((image > threshold).all(axis=-1))
    return np.array([columns.min(), rows.min(), columns.max() + 1, rows.max() + 1], "float32")


def test_detection_side_rounds_up_to_the_stride_and_refuses_other_sizes():
    assert detection_side("auto", 640) == 320 and detection_side("auto", 100) == 128
    with pytest.raises(UserError, match="multiple of 32"):
        detection_side("100", 640)


def test_letterbox_keeps_the_shape_and_moves_the_boxes(tmp_path):
    make_yolo_folder(tmp_path, count=10, size=(80, 40))
    dataset = load_box_folder(str(tmp_path), seed=1, validation_fraction=0.2, test_fraction=0.2, image_size="64")
    images, labels = dataset.arrays("test")
    scale, new_height, new_width, top, left = letterbox_geometry(40, 80, 64)
    assert (scale, new_height, new_width, top, left) == (0.8, 32, 64, 16, 0)
    assert images.shape[1:] == (64, 64, 3)
    np.testing.assert_allclose(images[:, : top - 1], 114.0)  # the grey margin above the photo
    for image, rows in zip(images, labels, strict=True):
        for row in rows[rows[:, 0] >= 0]:
            x1, y1, x2, y2 = np.round(row[1:]).astype(int)
            inside = image[y1 + 2 : y2 - 2, x1 + 2 : x2 - 2]
            assert inside.max(axis=(0, 1)).max() > 150  # the coloured rectangle is where its box says


def test_the_numpy_letterbox_matches_the_pipeline(tmp_path):
    import tensorflow as tf

    from kerasdl.preprocess import letterbox_image

    photo = np.random.default_rng(0).integers(0, 256, (45, 70, 3)).astype(np.uint8)
    ours = letterbox_photo(photo, (64, 64, 3))[0]
    theirs, *_ = letterbox_image(tf.constant(photo), 64, 3)
    assert np.abs(ours - theirs.numpy()).max() < 1.0  # Pillow's and TensorFlow's bilinear differ in rounding


def test_a_folder_that_names_train_and_val_is_scored_on_val(tmp_path):
    make_yolo_folder(tmp_path / "images_all", count=12)
    for split, stems in (("train", range(0, 9)), ("val", range(9, 12))):
        for folder in ("images", "labels"):
            (tmp_path / folder / split).mkdir(parents=True)
        for index in stems:
            stem = f"img{index:03d}"
            (tmp_path / "images_all/images" / f"{stem}.png").rename(tmp_path / "images" / split / f"{stem}.png")
            (tmp_path / "images_all/labels" / f"{stem}.txt").rename(tmp_path / "labels" / split / f"{stem}.txt")
    (tmp_path / "data.yaml").write_text("names: [red, green]\n")
    dataset = load_dataset(f"boxes:{tmp_path}", seed=3, validation_fraction=0.2, image_size="64")
    test_names = sorted(path.rsplit("/", 1)[-1] for path in dataset.splits["test"][0])
    assert test_names == ["img009.png", "img010.png", "img011.png"]
    assert dataset.size("train") + dataset.size("validation") == 9
    assert any("val split" in note for note in dataset.notes)


@pytest.mark.parametrize("policy", ["float32", "mixed_bfloat16"])
def test_augmented_boxes_still_frame_their_rectangles(policy):
    import keras
    import tensorflow as tf

    # One white rectangle on black, the same picture eight times: each copy
    # gets its own flip, move, zoom and colour change. Under a mixed policy
    # (a run on a bfloat16 CPU) the augmentation still works in float32.
    images = np.zeros((8, 64, 64, 3), "float32")
    images[:, 20:36, 8:40] = 255.0
    labels = np.tile(np.array([[[0, 8, 20, 40, 36], [-1, 0, 0, 0, 0]]], "float32"), (8, 1, 1))
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        moved_images, moved_labels = box_augmenter(seed=5)(tf.constant(images), tf.constant(labels))
    finally:
        keras.config.set_dtype_policy(previous)
    assert moved_images.dtype == moved_labels.dtype == tf.float32
    moved_images, moved_labels = moved_images.numpy(), moved_labels.numpy()
    checked = 0
    for image, rows in zip(moved_images, moved_labels, strict=True):
        assert rows[1, 0] == -1  # padding stays padding
        if rows[0, 0] < 0:
            continue  # moved out of the picture: dropped, as it should be
        # The rectangle is the brightest thing in the picture, whatever the colour change did.
        found = _bright_box(image, image.max() - 40)
        np.testing.assert_allclose(rows[0, 1:], found, atol=2.5)
        checked += 1
    assert checked >= 6
    assert len({tuple(np.round(rows[0, 1:])) for rows in moved_labels}) > 4  # the copies really moved
