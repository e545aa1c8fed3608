"""The bundled `nuclei` segmentation set (kerasdl/data/nuclei, from the 2018 Data Science Bowl)."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kerasdl.data import load_dataset
from kerasdl.errors import UserError

TILES = 64
SIDE = 64


@pytest.fixture(scope="module")
def nuclei():
    return load_dataset("nuclei")


def test_two_named_classes_in_64_grey_tiles(nuclei):
    assert nuclei.info.name == "nuclei"
    assert nuclei.info.class_names == ["background", "nucleus"]
    assert nuclei.info.input_shape == (SIDE, SIDE, 1)
    assert sum(nuclei.size(split) for split in ("train", "validation", "test")) == TILES
    images, masks = nuclei.arrays("train")
    assert images.shape == (nuclei.size("train"), SIDE, SIDE, 1)
    assert masks.shape == (nuclei.size("train"), SIDE, SIDE)


def test_train_split_holds_both_classes(nuclei):
    _, masks = nuclei.arrays("train")
    counts = np.bincount(masks.ravel(), minlength=2)
    assert len(counts) == 2  # only indices 0 and 1, no 255 "ignore"
    # About a fifth of the original image is nucleus.
    assert 0.1 < counts[1] / counts.sum() < 0.35


def test_masks_line_up_with_bright_nuclei(nuclei):
    # Fluorescence: nuclei glow on a dark background. A mask shifted off its
    # image, flipped or from another tile would bring the two means together.
    images = np.concatenate([nuclei.arrays(split)[0][..., 0] for split in ("train", "validation", "test")])
    masks = np.concatenate([nuclei.arrays(split)[1] for split in ("train", "validation", "test")])
    nucleus, background = images[masks == 1].mean(), images[masks == 0].mean()
    assert nucleus > 2.5 * background and nucleus - background > 40, (nucleus, background)
    shifted = np.roll(masks, SIDE // 4, axis=2)
    assert images[shifted == 1].mean() - images[shifted == 0].mean() < (nucleus - background) / 2


def test_unknown_spec_names_nuclei():
    with pytest.raises(UserError, match="nuclei"):
        load_dataset("nucleus")


def test_nuclei_boxes_frame_the_nuclei_of_the_masks():
    boxes = load_dataset("nuclei_boxes", augment=False)
    assert boxes.info.name == "nuclei_boxes" and boxes.info.class_names == ["nucleus"]
    assert boxes.info.input_shape == (64, 64, 3)  # auto: the tiles' side, a multiple of 32
    counts = {split: len(boxes.splits[split][0]) for split in ("train", "validation", "test")}
    assert sum(counts.values()) == 64 and counts["test"] == 13
    total = 0
    for split in counts:
        for path, rows in zip(*boxes.splits[split], strict=True):
            path = Path(str(path))
            with Image.open(path.parent.parent / "masks" / path.name) as mask:  # the same tile's mask
                nucleus = np.asarray(mask) == 1
            for _, x1, y1, x2, y2 in np.round(rows[rows[:, 0] >= 0]).astype(int):  # YOLO lines round-trip
                # A tight box around nucleus pixels: each of its rows and
                # columns crosses some.
                inside = nucleus[y1:y2, x1:x2]
                assert inside.any(axis=1).all() and inside.any(axis=0).all()
                total += 1
    assert total == 182  # every nucleus of kerasdl/data/nuclei/README.md
