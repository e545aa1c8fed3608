"""Teacher-forced windows of audio clips, for a next-sample model (WaveNet).

A batch of clips `(batch, samples)` in [-1, 1] with their labels becomes,
for each clip, one window of `window + 1` consecutive samples at a random
offset, mu-law companded to 256 classes: the model reads the first
`window` classes and learns the last `window` (each one sample later), and
reads the label as its condition. The companding is TensorFlow's here
(`tf.data` runs TensorFlow whatever the Keras backend) and
`kerasdl.models.wavenet.mu_law_encode`'s in the model; a test keeps the two
equal.
"""

import math

QUANTIZATION_CHANNELS = 256  # 8-bit mu-law, as the model's


def mu_law_classes(samples, channels=QUANTIZATION_CHANNELS):
    """float samples in [-1, 1] -> int32 classes 0..channels-1 (TensorFlow ops)."""
    import tensorflow as tf

    mu = float(channels - 1)
    samples = tf.clip_by_value(samples, -1.0, 1.0)
    companded = tf.sign(samples) * tf.math.log1p(mu * tf.abs(samples)) / math.log1p(mu)
    return tf.cast(tf.floor((companded + 1.0) / 2.0 * mu + 0.5), tf.int32)


def teacher_forced_windows(window, seed):
    """A batch map `(clips, labels) -> ({"samples", "condition"}, targets)`.

    Args:
        window: samples the model reads per example; the clips must hold
            at least `window + 1`.
        seed: seeds the offsets, drawn afresh for every batch (a stateless
            draw from the seed and a batch counter, so runs repeat).

    Example:
        >>> data = dataset.pipeline("train", 8, shuffle=True).map(teacher_forced_windows(4096, seed=42))
    """
    import tensorflow as tf

    counter = tf.Variable(0, dtype=tf.int64, trainable=False)

    def windows(clips, labels):
        length = tf.shape(clips)[1]
        tf.debugging.assert_greater(length, window, message=f"clips are shorter than window + 1 = {window + 1}")
        step = counter.assign_add(1)
        starts = tf.random.stateless_uniform(
            [tf.shape(clips)[0]], seed=tf.stack([tf.cast(seed, tf.int64), step]), maxval=length - window,
            dtype=tf.int32,
        )  # fmt: skip
        positions = starts[:, tf.newaxis] + tf.range(window + 1)[tf.newaxis, :]
        classes = mu_law_classes(tf.gather(clips, positions, batch_dims=1))
        return {"samples": classes[:, :-1], "condition": tf.cast(labels, tf.int32)}, classes[:, 1:]

    return windows
