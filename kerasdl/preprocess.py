"""Raw photos to model input, in TensorFlow: the definition shared by every consumer.

Training on an image folder and the SavedModel's `serve_raw` signature call
`prepare_images` (a model of the 8x8 digits: `prepare_digit_images`);
`kerasdl predict`, which runs without TensorFlow, computes the same with
NumPy and Pillow (`kerasdl.photos`), held to these by tests/test_photos.py.
So a phone app that follows the model card, a server that calls
`serve_raw`, and the command line see the same pixels.
"""

import tensorflow as tf

from kerasdl.photos import GREY_WEIGHTS, INK_THRESHOLD, LETTERBOX_FILL


def prepare_images(images, input_shape, value_range):
    """Turns a batch of 8-bit images of any size into the model's raw input.

    Args:
        images: `uint8` tensor `(batch, height, width, channels)`; 1 (grey),
            2 (grey + alpha), 3 (RGB) or 4 (RGBA) channels; 0-255 means what
            it means in any photo.
        input_shape: the model's `(height, width, channels)`.
        value_range: the model's raw input range; 0 maps to its low end and
            255 to its high end (0-16 for the bundled digits).

    Returns:
        A float32 tensor `(batch, *input_shape)`.
    """
    height, width, channels = input_shape
    images = tf.image.resize(with_channels(images, channels), (height, width), antialias=True)
    images = tf.ensure_shape(images, (None, height, width, channels))
    low, high = value_range
    return tf.clip_by_value(images, 0.0, 255.0) / 255.0 * (high - low) + low


def with_channels(images, channels):
    """float32 images with `channels` (1 or 3) from 1-4 channels: grey from
    the first channel or by luminance, colour by repeating grey."""
    images = tf.cast(images, tf.float32)
    count = tf.shape(images)[-1]
    grey = lambda: images[..., :1]  # noqa: E731 - tf.cond branches
    colour = lambda: images[..., :3]  # noqa: E731
    if channels == 1:
        return tf.cond(count < 3, grey, lambda: tf.image.rgb_to_grayscale(colour()))
    return tf.cond(count < 3, lambda: tf.image.grayscale_to_rgb(grey()), colour)


def letterbox_image(image, side, channels, fill=LETTERBOX_FILL):
    """One 8-bit image `(height, width, 1-4)` of any size as the detector's
    raw input: resized (antialiased bilinear) to fit a `side` square
    without changing its shape, centred, the margins `fill` grey.

    Returns:
        `(float32 (side, side, channels) of 0-255 values, scale, top, left)`:
        a box `x1, y1, x2, y2` in the photo's pixels is `x * scale + left`,
        `y * scale + top` in the square.
    """
    # As `kerasdl.photos.letterbox_geometry` computes it in Python.
    shape = tf.shape(image)
    scale = side / tf.cast(tf.maximum(shape[0], shape[1]), tf.float32)
    size = tf.maximum(1, tf.cast(tf.round(tf.cast(shape[:2], tf.float32) * scale), tf.int32))
    new_height, new_width = size[0], size[1]
    top, left = (side - new_height) // 2, (side - new_width) // 2
    resized = tf.image.resize(with_channels(image, channels), (new_height, new_width), antialias=True)
    square = tf.image.pad_to_bounding_box(tf.clip_by_value(resized, 0.0, 255.0) - fill, top, left, side, side) + fill
    return tf.ensure_shape(square, (side, side, channels)), scale, top, left


def prepare_digit_images(images, value_range):
    """`kerasdl.photos.prepare_digit_photo` in TensorFlow ops, over a batch of
    uint8 photos `(batch, height, width, channels)`, for `serve_raw`: float32
    `(batch, 8, 8, 1)`. 8x8 images are taken as already prepared."""
    low, high = value_range
    shape = tf.shape(images)

    def counted():
        colour = tf.cast(images, tf.float32)
        grey = tf.cond(
            shape[-1] < 3,
            lambda: colour[..., 0],
            lambda: tf.tensordot(colour[..., :3], tf.constant(GREY_WEIGHTS), axes=1),
        )
        counts = tf.map_fn(_digit_counts, grey, fn_output_signature=tf.TensorSpec((8, 8), tf.float32))
        return (counts / 16.0 * (high - low) + low)[..., tf.newaxis]

    eight = tf.logical_and(shape[1] == 8, shape[2] == 8)
    return tf.cond(eight, lambda: prepare_images(images, (8, 8, 1), value_range), counted)


def _digit_counts(grey):
    border = tf.concat([grey[0], grey[-1], grey[:, 0], grey[:, -1]], axis=0)
    invert = tf.reduce_mean(border) > tf.reduce_mean(grey)
    grey = tf.where(invert, 255.0 - grey, grey)
    border = tf.where(invert, 255.0 - border, border)
    ordered = tf.sort(border)
    size = tf.size(ordered)
    grey = grey - (ordered[(size - 1) // 2] + ordered[size // 2]) / 2  # the median, as NumPy's
    ink = grey > tf.maximum(tf.reduce_max(grey), 1e-6) * INK_THRESHOLD
    rows = tf.where(tf.reduce_any(ink, axis=1))[:, 0]
    columns = tf.where(tf.reduce_any(ink, axis=0))[:, 0]

    def counted():
        crop = tf.cast(ink[rows[0] : rows[-1] + 1, columns[0] : columns[-1] + 1], tf.float32) * 255.0
        height, width = tf.cast(tf.shape(crop)[0], tf.float32), tf.cast(tf.shape(crop)[1], tf.float32)
        scale = 32.0 / tf.maximum(height, width)
        new_height = tf.cast(tf.maximum(1.0, tf.round(height * scale)), tf.int32)
        new_width = tf.cast(tf.maximum(1.0, tf.round(width * scale)), tf.int32)
        scaled = tf.image.resize(crop[..., tf.newaxis], (new_height, new_width), antialias=True)[..., 0] >= 127.5
        top, left = (32 - new_height) // 2, (32 - new_width) // 2
        square = tf.pad(tf.cast(scaled, tf.float32), [[top, 32 - new_height - top], [left, 32 - new_width - left]])
        return tf.reduce_sum(tf.reshape(square, (8, 4, 8, 4)), axis=(1, 3))

    return tf.cond(tf.size(rows) > 0, counted, lambda: tf.zeros((8, 8), tf.float32))
