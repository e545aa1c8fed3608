import numpy as np
import pytest
from PIL import Image

from kerasdl.tasks.mask_images import (
    PALETTE,
    SEPARATOR_WIDTH,
    class_shares,
    colorize,
    resize_mask,
    side_by_side,
    write_mask_png,
    write_overlay,
)


def _mask(height=6, width=8, values=(0, 1, 2, 3, 255), seed=0):
    return np.random.default_rng(seed).choice(np.array(values, np.uint8), (height, width))


def test_palette_is_black_then_distinct_colours_then_white_for_ignore():
    assert PALETTE.shape == (256, 3) and PALETTE.dtype == np.uint8
    assert PALETTE[0].tolist() == [0, 0, 0]
    assert PALETTE[255].tolist() == [255, 255, 255]
    assert len({tuple(colour) for colour in PALETTE}) == 256


def test_mask_png_reads_back_as_the_class_indices(tmp_path):
    mask = _mask(values=tuple(range(40)) + (254, 255))
    write_mask_png(mask, tmp_path / "mask.png")
    with Image.open(tmp_path / "mask.png") as image:
        assert image.mode == "P"
        np.testing.assert_array_equal(np.asarray(image), mask)
        # The palette is what makes it viewable: index i shows as PALETTE[i].
        np.testing.assert_array_equal(np.asarray(image.convert("RGB")), PALETTE[mask])


def test_resize_mask_matches_the_photo_and_invents_no_class():
    mask = _mask(values=(0, 3, 7, 255))
    resized = resize_mask(mask, (21, 13))  # (width, height), as PIL's Image.size
    assert resized.shape == (13, 21) and resized.dtype == np.uint8
    assert set(np.unique(resized)) <= set(np.unique(mask))
    np.testing.assert_array_equal(resize_mask(np.array([[0, 1]], np.uint8), (4, 2)), [[0, 0, 1, 1], [0, 0, 1, 1]])


def test_resize_mask_rejects_a_bad_size():
    with pytest.raises(ValueError, match=r"\(width, height\).*\(0, 4\)"):
        resize_mask(_mask(), (0, 4))


@pytest.mark.parametrize("channels", [3, 1])
def test_overlay_tints_objects_and_leaves_the_background(tmp_path, channels):
    photo = np.random.default_rng(1).integers(0, 256, (6, 8, channels), dtype=np.uint8)
    mask = _mask(values=(0, 1, 2))
    write_overlay(photo, mask, tmp_path / "overlay.png", alpha=0.5)
    with Image.open(tmp_path / "overlay.png") as image:
        assert image.mode == "RGB"
        written = np.asarray(image).astype(int)
    rgb = np.repeat(photo, 3, axis=-1) if channels == 1 else photo
    background = mask == 0
    np.testing.assert_array_equal(written[background], rgb[background])
    expected = (rgb[~background].astype(float) + PALETTE[mask[~background]]) / 2
    assert np.abs(written[~background] - expected).max() <= 1


def test_overlay_rejects_a_mask_of_another_size(tmp_path):
    with pytest.raises(ValueError, match="photo is 8x6 but the mask is 4x3"):
        write_overlay(np.zeros((6, 8, 3), np.uint8), np.zeros((3, 4), np.uint8), tmp_path / "overlay.png")


def test_class_shares_sum_to_one_without_ignored_pixels():
    mask = np.array([[0, 0, 1, 255], [2, 2, 2, 255]], np.uint8)
    shares = class_shares(mask, ["background", "cat", "dog", "bird"])
    assert list(shares) == ["background", "cat", "dog", "bird"]
    assert shares == pytest.approx({"background": 2 / 6, "cat": 1 / 6, "dog": 3 / 6, "bird": 0.0})
    assert sum(shares.values()) == pytest.approx(1.0)


def test_class_shares_names_a_class_without_a_name():
    with pytest.raises(ValueError, match="mask has class 5 but only 2 class names"):
        class_shares(np.array([[0, 5]], np.uint8), ["background", "cat"])


def test_side_by_side_shows_image_truth_and_prediction():
    height, width = 6, 8
    image = np.linspace(-1.0, 3.0, height * width, dtype=np.float32).reshape(height, width, 1)
    truth, prediction = _mask(seed=1), _mask(seed=2)
    picture = side_by_side(image, truth, prediction)
    assert picture.shape == (height, 3 * width + 2 * SEPARATOR_WIDTH, 3) and picture.dtype == np.uint8
    shown = picture[:, :width]
    assert shown.min() == 0 and shown.max() == 255  # stretched from its own range
    np.testing.assert_array_equal(shown[..., 0], shown[..., 2])  # grey made RGB
    step = width + SEPARATOR_WIDTH
    np.testing.assert_array_equal(picture[:, step : step + width], PALETTE[truth])
    np.testing.assert_array_equal(picture[:, 2 * step :], PALETTE[prediction])
    np.testing.assert_array_equal(colorize(truth), PALETTE[truth])


def test_side_by_side_shows_uint8_images_as_they_are():
    image = np.full((4, 4, 3), 77, np.uint8)
    masks = np.zeros((4, 4), np.uint8)
    np.testing.assert_array_equal(side_by_side(image, masks, masks)[:, :4], image)
