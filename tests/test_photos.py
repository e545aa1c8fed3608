"""Photos for predict without TensorFlow (kerasdl/photos.py): the same pixels
as the TensorFlow preparation that training and serve_raw use, and digit
photos prepared the way scikit-learn's 8x8 digits were made."""

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from sklearn.datasets import load_digits

from kerasdl.errors import UserError
from kerasdl.photos import prepare_digit_photo, prepare_photo, read_photo
from kerasdl.preprocess import prepare_digit_images, prepare_images


@pytest.mark.parametrize(
    "size, input_shape",
    [
        ((37, 23, 3), (8, 8, 1)),  # shrink, colour to grey
        ((5, 7, 1), (16, 16, 3)),  # enlarge, grey to colour
        ((40, 40, 4), (32, 32, 3)),  # alpha dropped
        ((10, 10, 2), (10, 10, 1)),  # same size: no resampling
        ((300, 200, 3), (28, 28, 3)),  # a photo to a small model
    ],
)
def test_numpy_preparation_gives_the_pixels_tensorflow_gives(size, input_shape):
    pixels = np.random.default_rng(sum(size)).integers(0, 256, size, dtype=np.uint8)
    expected = prepare_images(tf.constant(pixels[np.newaxis]), input_shape, (0.0, 16.0)).numpy()
    actual = prepare_photo(pixels, input_shape, (0.0, 16.0))
    assert actual.shape == expected.shape == (1, *input_shape) and actual.dtype == np.float32
    # Within a hundredth of one 8-bit level (16/255 here): float rounding, not another filter.
    np.testing.assert_allclose(actual, expected, atol=16 / 255 / 100)


def test_image_files_decode_to_the_channels_tensorflow_gives(tmp_path):
    rng = np.random.default_rng(0)
    grey = rng.integers(0, 256, (6, 5), dtype=np.uint8)
    rgba = rng.integers(0, 256, (6, 5, 4), dtype=np.uint8)
    Image.fromarray(grey).save(tmp_path / "grey.png")
    Image.fromarray(rgba).save(tmp_path / "rgba.png")
    Image.fromarray(rgba[..., :3]).convert("P", palette=Image.ADAPTIVE).save(tmp_path / "palette.png")
    Image.fromarray(grey.astype(np.uint16) * 257).save(tmp_path / "deep.png")
    for name in ("grey", "rgba", "palette", "deep"):
        expected = tf.io.decode_image(tf.io.read_file(str(tmp_path / f"{name}.png")), expand_animations=False).numpy()
        np.testing.assert_array_equal(read_photo(tmp_path / f"{name}.png"), expected, err_msg=name)
    (tmp_path / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(UserError, match="Cannot decode image .*broken.png.*corrupt or not an image"):
        read_photo(tmp_path / "broken.png")


def _paper_photo(digit, margin=30, scale=6):
    """A sklearn digit as a photo: enlarged, dark ink on light paper, with margins."""
    ink = np.kron(digit / 16.0, np.ones((scale, scale)))
    paper = 230 - ink * 200  # paper at 230, full ink at 30
    return np.pad(paper, margin, constant_values=230).astype(np.uint8)[..., np.newaxis]


def test_a_digit_photo_comes_out_as_the_training_digits_look():
    from sklearn.linear_model import LogisticRegression

    digits = load_digits()
    features = digits.images.reshape(len(digits.images), -1)
    classifier = LogisticRegression(max_iter=2000).fit(features[:1000], digits.target[:1000])
    held_out, labels = digits.images[1000:], digits.target[1000:]
    prepared = np.concatenate([prepare_digit_photo(_paper_photo(image)) for image in held_out])
    assert prepared.shape == (len(held_out), 8, 8, 1) and 0 <= prepared.min() and prepared.max() <= 16
    resized = np.concatenate([prepare_photo(_paper_photo(image), (8, 8, 1), (0, 16)) for image in held_out])
    # A classifier of the 8x8 digits reads the prepared photos almost as well
    # as the digits themselves (measured: 0.93 on the digits, 0.84 prepared)
    # and the photos resized whole hardly at all (0.14). All deterministic;
    # the margins are several standard errors of 797 examples (about 0.013).
    assert classifier.score(prepared.reshape(len(held_out), -1), labels) > 0.75
    assert classifier.score(resized.reshape(len(held_out), -1), labels) < 0.3
    # Light ink on dark and dark ink on light, any margin: the same digit.
    photo = _paper_photo(digits.images[7])
    np.testing.assert_array_equal(prepare_digit_photo(255 - photo), prepare_digit_photo(photo))
    wider = _paper_photo(digits.images[7], margin=80)
    np.testing.assert_array_equal(prepare_digit_photo(wider), prepare_digit_photo(photo))


def test_a_blank_page_has_no_ink():
    assert not prepare_digit_photo(np.full((50, 40, 3), 200, np.uint8)).any()


def test_serve_raw_prepares_digit_photos_as_predict_does():
    """TensorFlow's twin (the SavedModel's serve_raw) against NumPy's (predict),
    on photos with soft, uneven strokes: enlarged digits, blurred, on a
    noisy page. Binarising resampled strokes at one threshold can flip a
    pixel where the two libraries round apart: measured here, 33 of these 40
    photos identical, the others at most 2 ink counts apart in at most 4 of
    the 64 blocks (282 of 300 real MNIST digits identical, the rest 1 count
    apart). The bounds leave room for another CPU's rounding."""
    from PIL import ImageFilter

    rng = np.random.default_rng(1)
    photos = []
    for image in load_digits().images[:40]:
        scale, margin = int(rng.integers(3, 9)), int(rng.integers(2, 40))
        page = Image.fromarray(_paper_photo(image, margin=margin, scale=scale)[..., 0]).filter(
            ImageFilter.GaussianBlur(1.5)
        )
        noisy = np.asarray(page, dtype=np.float32) + rng.normal(0, 6, page.size[::-1])
        photos.append(np.clip(noisy, 0, 255).astype(np.uint8)[..., np.newaxis])
    identical = 0
    for photo in photos:
        expected = prepare_digit_photo(photo)
        actual = prepare_digit_images(tf.constant(photo[np.newaxis]), (0.0, 16.0)).numpy()
        difference = np.abs(actual - expected)
        assert actual.shape == (1, 8, 8, 1) and difference.max() <= 3 and (difference > 0).sum() <= 8
        identical += np.array_equal(actual, expected)
    assert identical >= 25
    # An 8x8 image is taken as already prepared, as predict does.
    eight = rng.integers(0, 256, (1, 8, 8, 1), dtype=np.uint8)
    np.testing.assert_allclose(
        prepare_digit_images(tf.constant(eight), (0.0, 16.0)).numpy(), prepare_photo(eight[0], (8, 8, 1), (0.0, 16.0))
    )
