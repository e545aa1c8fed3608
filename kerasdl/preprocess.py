"""Raw photos to model input: the one definition shared by every consumer.

The SavedModel's `serve_raw` signature and `kerasdl predict` both call
`prepare_images`, so a phone app that follows the model card, a server that
calls `serve_raw`, and the command line all see the same pixels.
"""

import tensorflow as tf


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
    images = tf.cast(images, tf.float32)
    count = tf.shape(images)[-1]
    grey = lambda: images[..., :1]  # noqa: E731 - tf.cond branches
    colour = lambda: images[..., :3]  # noqa: E731
    if channels == 1:
        images = tf.cond(count < 3, grey, lambda: tf.image.rgb_to_grayscale(colour()))
    else:
        images = tf.cond(count < 3, lambda: tf.image.grayscale_to_rgb(grey()), colour)
    images = tf.image.resize(images, (height, width), antialias=True)
    images = tf.ensure_shape(images, (None, height, width, channels))
    low, high = value_range
    return tf.clip_by_value(images, 0.0, 255.0) / 255.0 * (high - low) + low
