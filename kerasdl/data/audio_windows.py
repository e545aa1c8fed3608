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


def real_lengths(clips):
    """int32 `(batch,)`: each clip's length without the zeros `kerasdl.wav.clip`
    padded it with: the position after its last nonzero sample. A clip's own
    digital silence at its end counts as padding too; it is silence either way."""
    import tensorflow as tf

    nonzero = tf.cast(tf.not_equal(clips, 0.0), tf.int32)
    from_end = tf.argmax(tf.reverse(nonzero, axis=[1]), axis=1, output_type=tf.int32)
    return tf.where(tf.reduce_any(nonzero > 0, axis=1), tf.shape(clips)[1] - from_end, 0)


def _example(clips, labels, starts, window, context=0):
    """Windows of `window + 1` samples from `starts`, in the clips preceded by
    `context` zeros (the silence before a recording): model inputs,
    next-sample targets, and their weights. A target weighs 1 if it is real
    audio (not the padding at either end) and its model output saw all the
    `context` samples before it that the clip has: those in the window, or
    the zeros before the clip."""
    import tensorflow as tf

    padded = tf.pad(clips, [[0, 0], [context, 0]])
    positions = starts[:, tf.newaxis] + tf.range(window + 1)[tf.newaxis, :]
    classes = mu_law_classes(tf.gather(padded, positions, batch_dims=1))
    targets = positions[:, 1:]
    real = (targets >= context) & (targets < (real_lengths(clips) + context)[:, tf.newaxis])
    seen = (tf.range(window)[tf.newaxis, :] >= context) | (starts[:, tf.newaxis] <= context)
    weights = tf.cast(real & seen, tf.float32)
    return {"samples": classes[:, :-1], "condition": tf.cast(labels, tf.int32)}, classes[:, 1:], weights


def teacher_forced_windows(window, seed, fixed=False, context=0):
    """A batch map `(clips, labels) -> ({"samples", "condition"}, targets, weights)`.

    Each window starts at a random offset from `context` samples before the
    clip (zeros: silence) to where it still ends in real audio; a clip
    shorter than that starts at the first of them. Targets weigh as
    `_example` says: a WaveNet learns only what it saw its receptive field of.

    Args:
        window: samples the model reads per example; the clips must hold
            at least `window + 1`.
        seed: seeds the offsets, drawn afresh for every batch (a stateless
            draw from the seed and a batch counter, so runs repeat).
        fixed: draw the same offsets for every batch of every epoch (each
            batch from `seed` alone): validation windows that stay put, so
            epochs compare.
        context: past samples each output depends on (a WaveNet's
            receptive field, less one).

    Example:
        >>> data = dataset.pipeline("train", 8, shuffle=True).map(teacher_forced_windows(4096, seed=42))
    """
    import tensorflow as tf

    counter = tf.Variable(0, dtype=tf.int64, trainable=False)

    def windows(clips, labels):
        length = tf.shape(clips)[1] + context
        tf.debugging.assert_greater(length, window, message=f"clips are shorter than window + 1 = {window + 1}")
        step = tf.constant(0, tf.int64) if fixed else counter.assign_add(1)
        draws = tf.random.stateless_uniform([tf.shape(clips)[0]], seed=tf.stack([tf.cast(seed, tf.int64), step]))
        room = tf.maximum(real_lengths(clips) + context - window, 1)  # offsets 0 .. room - 1
        starts = tf.minimum(tf.cast(draws * tf.cast(room, tf.float32), tf.int32), length - window - 1)
        return _example(clips, labels, starts, window, context)

    return windows


def whole_clips(clips, labels):
    """A batch map: each clip from its first sample to its last (the test
    split's scoring), weighed like `teacher_forced_windows`."""
    import tensorflow as tf

    return _example(clips, labels, tf.zeros([tf.shape(clips)[0]], tf.int32), clips.shape[1] - 1)
