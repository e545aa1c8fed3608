"""Photos for `kerasdl predict`, with NumPy and Pillow only (no TensorFlow:
a prediction takes about a second, not the 10+ s of importing TensorFlow).

`prepare_photo` computes what `kerasdl.preprocess.prepare_images` (the
TensorFlow definition that training on image folders and the SavedModel's
`serve_raw` use) computes: the same grey/colour conversion, antialiased
bilinear resizing and value mapping; tests/test_photos.py holds the two
together.

`prepare_digit_photo` prepares a photo for a model trained on scikit-learn's
8x8 digits the way that data was made (its documentation: NIST's
preprocessing gives size-normalised 32x32 bitmaps, reduced by counting the
ink in each 4x4 block, 0-16): ink found against its background, cropped to
its bounding box, scaled to fit 32x32 and centred, thresholded, and the
4x4 blocks counted.
"""

import numpy as np
from PIL import Image, ImageOps

from kerasdl.errors import UserError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
# tf.image.rgb_to_grayscale's weights.
GREY_WEIGHTS = np.array([0.2989, 0.5870, 0.1140], dtype=np.float32)

# The model card's `input.photo_preparation.kind` for a model of scikit-learn's
# digits, and how `prepare_digit_photo` works (a phone app follows the rule).
DIGITS_8X8 = "digits_8x8"
# `input.photo_preparation.kind` of a detector: the photo fitted into the
# square input keeping its shape (`letterbox_geometry`).
LETTERBOX = "letterbox"
# The grey a letterboxed photo's margins are filled with (Ultralytics').
LETTERBOX_FILL = 114
# Pixels above this share of the darkest ink are ink: anti-aliased strokes
# keep their width. On 1,000 real MNIST digits given to digits_cnn, 0.2-0.5
# scored 70.6-74.3% (0.3: 73.4%) against 28.7% for the photo resized whole.
INK_THRESHOLD = 0.3
DIGIT_PREPARATION = (
    "grey; invert if the border is lighter than the middle (dark ink on light paper); subtract the border's "
    f"median; pixels above {INK_THRESHOLD} of the ink's maximum are ink; crop to the ink's bounding box; scale "
    "its longer side to 32 pixels keeping the aspect ratio and centre it in a 32x32 square; count the ink "
    "pixels in each 4x4 block (0-16, row by row). An 8x8 image is taken as already prepared"
)


def read_photo(path):
    """An image file as uint8 `(height, width, channels)`: 1 (grey), 2 (grey
    + alpha), 3 (RGB) or 4 (RGBA) channels, as TensorFlow's decoder gives them
    (16-bit images are scaled to 8 bits; the first frame of an animation)."""
    try:
        with Image.open(path) as image:
            image.load()
            image = ImageOps.exif_transpose(image) if image.format == "JPEG" else image
            if image.mode in ("I;16", "I;16B", "I;16L", "I"):
                return (np.asarray(image, dtype=np.float64) / 257.0).round().clip(0, 255).astype(np.uint8)[..., None]
            mode = {"1": "L", "L": "L", "LA": "LA", "RGB": "RGB", "RGBA": "RGBA"}.get(image.mode)
            if mode is None:  # palette, CMYK, ...: as the decoder, RGB(A)
                mode = "RGBA" if "transparency" in image.info or image.mode in ("PA", "RGBa") else "RGB"
            pixels = np.asarray(image.convert(mode))
    except (OSError, ValueError, Image.DecompressionBombError):
        raise UserError(f"Cannot decode image {str(path)!r}: the file is corrupt or not an image") from None
    return pixels[..., None] if pixels.ndim == 2 else pixels


def letterbox_geometry(height, width, side):
    """How a `height` x `width` photo fits a `side` square keeping its
    shape (a detector's input): `(scale, new_height, new_width, top,
    left)`, the photo scaled by `scale` to `new_height` x `new_width` and
    placed `top` rows and `left` columns in, centred. The rule
    `kerasdl.preprocess.letterbox_image` follows in TensorFlow.

    Example:
        >>> letterbox_geometry(480, 640, 320)
        (0.5, 240, 320, 40, 0)
    """
    scale = side / max(height, width)
    new_height, new_width = max(1, round(height * scale)), max(1, round(width * scale))
    return scale, new_height, new_width, (side - new_height) // 2, (side - new_width) // 2


def letterbox_photo(pixels, input_shape, fill=LETTERBOX_FILL):
    """One uint8 photo as a detector's float32 input `(1, side, side,
    channels)` of 0-255 values: the NumPy twin of
    `kerasdl.preprocess.letterbox_image` (`letterbox_geometry`'s rule)."""
    side, _, channels = input_shape
    scale, new_height, new_width, top, left = letterbox_geometry(pixels.shape[0], pixels.shape[1], side)
    resized = prepare_photo(pixels, (new_height, new_width, channels), (0.0, 255.0))[0]
    square = np.full((1, side, side, channels), float(fill), dtype=np.float32)
    square[0, top : top + new_height, left : left + new_width] = resized
    return square


def prepare_photo(pixels, input_shape, value_range):
    """One uint8 photo `(H, W, C)` as the model's float32 raw input `(1, *input_shape)`.

    The NumPy twin of `kerasdl.preprocess.prepare_images`: grey from the
    first channel (1-2 channels) or by luminance (3-4), colour by repeating
    grey; resized with an antialiased bilinear (triangle) filter; 0-255
    mapped linearly onto `value_range`.
    """
    height, width, channels = input_shape
    pixels = np.asarray(pixels, dtype=np.float32)
    count = pixels.shape[-1]
    if channels == 1:
        grey = pixels[..., :1] if count < 3 else (pixels[..., :3] @ GREY_WEIGHTS)[..., None]
        planes = grey
    else:
        planes = np.repeat(pixels[..., :1], 3, axis=-1) if count < 3 else pixels[..., :3]
    resized = np.stack([_resized(planes[..., c], height, width) for c in range(planes.shape[-1])], axis=-1)
    low, high = value_range
    return (np.clip(resized, 0.0, 255.0) / 255.0 * (high - low) + low)[np.newaxis].astype(np.float32)


def _resized(plane, height, width):
    """One float32 plane resized like tf.image.resize(bilinear, antialias=True).

    Pillow's BILINEAR is a triangle filter widened by the scale when
    shrinking (antialiased) and half-pixel centred, as TensorFlow's."""
    if plane.shape == (height, width):
        return plane
    return np.asarray(Image.fromarray(plane, mode="F").resize((width, height), Image.BILINEAR), dtype=np.float32)


def prepare_digit_photo(pixels, value_range=(0.0, 16.0)):
    """A photo of one handwritten digit as scikit-learn's digits are: a float32
    `(1, 8, 8, 1)` of ink counts 0-16 (mapped onto `value_range`).

    See `DIGIT_PREPARATION`. A photo with no ink (a blank page) gives zeros.
    """
    pixels = np.asarray(pixels, dtype=np.float32)
    grey = pixels[..., 0] if pixels.shape[-1] < 3 else pixels[..., :3] @ GREY_WEIGHTS
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    if border.mean() > grey.mean():  # a light background: dark ink on paper
        grey, border = 255.0 - grey, 255.0 - border
    grey = grey - np.median(border)  # the paper's own shade is not ink
    ink = grey > max(grey.max(), 1e-6) * INK_THRESHOLD
    square = np.zeros((32, 32), dtype=bool)
    if ink.any():
        rows, columns = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
        crop = ink[rows[0] : rows[-1] + 1, columns[0] : columns[-1] + 1].astype(np.float32) * 255
        scale = 32 / max(crop.shape)
        size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
        scaled = np.asarray(Image.fromarray(crop, mode="F").resize(size, Image.BILINEAR)) >= 127.5
        top, left = (32 - size[1]) // 2, (32 - size[0]) // 2
        square[top : top + size[1], left : left + size[0]] = scaled
    counts = square.reshape(8, 4, 8, 4).sum(axis=(1, 3)).astype(np.float32)
    low, high = value_range
    return (counts / 16.0 * (high - low) + low)[np.newaxis, :, :, np.newaxis]


def photo_preparation(data_name, input_shape):
    """The model card's `input.photo_preparation` for a model of `data_name`, or None.

    Example:
        >>> photo_preparation("digits", (8, 8, 1))["kind"]
        'digits_8x8'
    """
    if data_name == "digits" and tuple(input_shape) == (8, 8, 1):
        return {"kind": DIGITS_8X8, "rule": DIGIT_PREPARATION}
    return None
