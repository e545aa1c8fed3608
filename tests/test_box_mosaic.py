"""Mosaic augmentation: four letterboxed photos in one, boxes moved, cut and kept by Ultralytics' rule."""

import numpy as np
import pytest

SIDE, ROWS = 32, 3


def _batch():
    """Four photos, each one solid rectangle of its own grey level on black; class = photo index."""
    images = np.zeros((4, SIDE, SIDE, 3), "float32")
    labels = np.full((4, ROWS, 5), [-1, 0, 0, 0, 0], "float32")
    for index in range(4):
        x1, y1 = 4 + 3 * index, 6 + 2 * index
        x2, y2 = x1 + 14, y1 + 10
        images[index, y1:y2, x1:x2] = 50.0 * (index + 1)
        labels[index, 0] = [index, x1, y1, x2, y2]
    return images, labels


@pytest.mark.parametrize("seed", range(8))
def test_every_kept_box_frames_its_rectangle_and_every_visible_rectangle_keeps_a_box(seed):
    import tensorflow as tf

    from kerasdl.data.box_mosaic import mosaic_batch

    images, labels = _batch()
    mosaics, boxes = mosaic_batch(images, labels, tf.random.Generator.from_seed(seed), 1.0)
    mosaics, boxes = mosaics.numpy(), boxes.numpy()
    assert mosaics.shape == images.shape and boxes.shape == labels.shape
    for image, rows in zip(mosaics, boxes, strict=True):
        real = rows[rows[:, 0] >= 0]
        for kind, x1, y1, x2, y2 in real:
            # the box holds exactly its rectangle's pixels: all inside, none outside
            window = image[int(y1) : int(y2), int(x1) : int(x2), 0]
            assert (window == 50.0 * (kind + 1)).all()
            assert (image[..., 0] == 50.0 * (kind + 1)).sum() == window.size
        # Ultralytics' rule: a rectangle keeps its box when at least a tenth
        # of its 14x10 shows, 2 pixels or more each way; at most ROWS boxes,
        # the largest first.
        eligible = {}
        for kind in range(4):
            ys, xs = np.nonzero(image[..., 0] == 50.0 * (kind + 1))
            if len(ys) >= 0.1 * 140 and min(np.ptp(ys), np.ptp(xs)) + 1 >= 2:
                eligible[kind] = len(ys)
        largest = sorted(eligible, key=eligible.get, reverse=True)[:ROWS]
        assert sorted(real[:, 0].astype(int)) == sorted(largest)


def test_probability_zero_changes_nothing_and_runs_repeat():
    import tensorflow as tf

    from kerasdl.data.box_mosaic import mosaic_batch

    images, labels = _batch()
    same, same_labels = mosaic_batch(images, labels, tf.random.Generator.from_seed(0), 0.0)
    np.testing.assert_array_equal(same.numpy(), images)
    np.testing.assert_array_equal(same_labels.numpy(), labels)
    first = mosaic_batch(images, labels, tf.random.Generator.from_seed(5), 1.0)
    again = mosaic_batch(images, labels, tf.random.Generator.from_seed(5), 1.0)
    np.testing.assert_array_equal(first[0].numpy(), again[0].numpy())
    assert not np.array_equal(first[0].numpy(), images)  # whole pixels moved: a mosaic, not the photo


def test_mosaic_is_a_detection_setting():
    from kerasdl.config import make_config
    from kerasdl.errors import UserError

    assert make_config("yolo_nuclei", {"mosaic": "0.5"}).mosaic == 0.5
    with pytest.raises(UserError, match="mosaic applies to task=detect"):
        make_config("digits_cnn", {"mosaic": "0.5"})
    with pytest.raises(UserError, match=r"mosaic.*\[0, 1\]"):
        make_config("yolo_nuclei", {"mosaic": "2"})
