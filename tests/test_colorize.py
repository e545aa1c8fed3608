import numpy as np
import pytest
from PIL import Image

from kerasdl.data import COLORIZE, load_dataset
from kerasdl.data.colorize import CROPS_PER_PHOTO, PHOTOS, held_out_top, photo_path
from kerasdl.errors import UserError

SPLITS = ("train", "validation", "test")


@pytest.fixture(scope="module")
def colorize():
    return load_dataset(COLORIZE, seed=42, image_size=32)


def test_colorize_loads_offline_as_grey_inputs_and_colour_targets(colorize):
    info = colorize.info
    assert (info.name, info.kind, info.input_shape, info.target_shape) == (
        "colorize",
        "image",
        (32, 32, 1),
        (32, 32, 3),
    )
    assert info.class_names == ["red", "green", "blue"] and info.value_range == (0.0, 255.0)
    counts = [colorize.size(split) for split in SPLITS]
    assert counts == [len(PHOTOS) * count for count in (56, 8, 16)] and sum(counts) == len(PHOTOS) * CROPS_PER_PHOTO
    inputs, targets = colorize.arrays("test")
    assert inputs.dtype == np.float32 and inputs.shape == (64, 32, 32, 1) and targets.shape == (64, 32, 32, 3)
    assert 0 <= inputs.min() and inputs.max() <= 255 and 0 <= targets.min() and targets.max() <= 1
    # The input is the target's grey, as PIL converts it.
    colour = np.round(targets * 255).astype("uint8")
    grey = np.asarray(Image.fromarray(colour.reshape(-1, 32, 3)).convert("L")).reshape(-1, 32, 32)
    np.testing.assert_array_equal(inputs[..., 0], grey)
    np.testing.assert_allclose(colorize.info.mean, colorize.arrays("train")[0].mean(axis=(0, 1, 2)), rtol=1e-4)
    batch = next(colorize.pipeline("train", 8, shuffle=True, seed=1).as_numpy_iterator())
    assert batch[0].shape == (8, 32, 32, 1) and batch[1].shape == (8, 32, 32, 3)


def test_test_crops_come_from_the_bottom_quarter_that_no_other_crop_touches(colorize):
    heights = [Image.open(photo_path(name)).height for name in PHOTOS]
    for split in SPLITS:
        photos, tops, _, sides = colorize.crops[split].T
        assert len(photos) == colorize.size(split) and set(photos) == set(range(len(PHOTOS)))
        boundaries = np.asarray([held_out_top(heights[photo]) for photo in photos])
        if split == "test":
            assert (tops >= boundaries).all()
        else:
            assert (tops + sides <= boundaries).all()
    # The test crops are still the crops: up to 128 pixels in the photo, smaller where the quarter is lower.
    assert set(colorize.crops["test"][:, 3]) <= set(range(1, 129)) and 128 in colorize.crops["test"][:, 3]


def test_the_crops_follow_the_seed(colorize):
    again = load_dataset(COLORIZE, seed=42, image_size=32)
    other = load_dataset(COLORIZE, seed=7, image_size=32)
    np.testing.assert_array_equal(again.crops["train"], colorize.crops["train"])
    np.testing.assert_array_equal(again.splits["test"][1], colorize.splits["test"][1])
    assert not np.array_equal(other.crops["train"], colorize.crops["train"])


def test_auto_size_is_128_and_fractions_that_leave_no_training_crop_are_refused():
    from kerasdl.data.colorize import CROP_SIDE
    from kerasdl.data.pairs import pair_side

    assert pair_side("auto", CROP_SIDE) == 128
    with pytest.raises(UserError, match="colorize cuts 80 crops of each photo; validation_fraction=0.5 and"):
        load_dataset(COLORIZE, validation_fraction=0.5, test_fraction=0.5)
