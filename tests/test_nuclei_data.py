"""The bundled `nuclei` segmentation set (kerasdl/data/nuclei, from the 2018 Data Science Bowl)."""

import numpy as np
import pytest

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
