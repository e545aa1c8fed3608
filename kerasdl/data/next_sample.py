"""Audio clips as a next-sample model (WaveNet) reads them.

`NextSampleData` wraps an `AudioDataset`. Training batches are random
stretches of `window` samples (`teacher_forced_windows`), validation
batches one stretch per clip at offsets fixed by the seed (so epochs
compare), and test batches whole clips, every real sample scored. Each
example is `({"samples", "condition"}, next-sample targets, weights)`:
weight 0 on the zeros a clip was padded with, so padding is neither learnt
nor scored. The mu-law class histogram of the training split's audio is
the baseline a model that ignores the past would reach
(`DataInfo.sample_histogram`, `kerasdl.tasks.synthesize_metrics`). A
target also weighs 0 where its output did not see the `context` samples
before it (a stretch from the middle of a clip starts without them).
"""

import numpy as np

from kerasdl.data.audio_windows import (
    QUANTIZATION_CHANNELS,
    mu_law_classes,
    real_lengths,
    teacher_forced_windows,
    whole_clips,
)


class NextSampleData:
    """An `AudioDataset` (`clips`) as next-sample examples; everything the
    run asks of a dataset besides `pipeline` and `sample` is the clips'."""

    def __init__(self, clips, window, seed, context=0):
        length = clips.info.input_shape[0]
        self.clips, self.seed, self.context = clips, seed, context
        self.window = min(window, length - 1)
        self.notes = list(clips.notes)
        if window >= length:
            self.notes.append(
                f"note: window={window} is longer than the clips ({length} samples); training reads whole clips"
            )
        clips.info.sample_histogram = self._histogram()
        seconds = clips.info.sample_histogram.sum() / clips.info.sample_rate
        self.notes.append(
            f"training audio: {seconds:.0f} s without padding, {self.window} samples per example, each sample "
            f"learnt from the {context} before it"
        )

    def __getattr__(self, name):
        return getattr(self.clips, name)

    def pipeline(self, split, batch_size, shuffle=False, seed=0, replicas=1, even=False):
        """Batches of `({"samples", "condition"}, targets, weights)`, see the module."""
        data = self.clips.pipeline(split, batch_size, shuffle=shuffle, seed=seed, replicas=replicas, even=even)
        if split == "test":
            return data.map(whole_clips)
        stretches = teacher_forced_windows(self.window, seed if shuffle else self.seed, not shuffle, self.context)
        return data.map(stretches)

    def sample(self, split, count, seed=None):
        """`(inputs, targets)` of at most `count` whole clips of `split`, in NumPy."""
        import tensorflow as tf

        clips, labels = self.clips.sample(split, count, seed)
        inputs, targets, _ = whole_clips(tf.constant(clips), tf.constant(labels))
        return {key: value.numpy() for key, value in inputs.items()}, targets.numpy()

    def _histogram(self):
        """Counts of each mu-law class over the training split's real audio."""
        counts = np.zeros(QUANTIZATION_CHANNELS, dtype="int64")
        for clips, _ in self.clips.pipeline("train", 64):
            lengths = real_lengths(clips).numpy()
            classes = mu_law_classes(clips).numpy()
            for row, length in zip(classes, lengths, strict=True):
                counts += np.bincount(row[:length], minlength=QUANTIZATION_CHANNELS)
        return counts


def clip_classes(clip):
    """The mu-law classes of one clip's real audio (the padding cut off), int32."""
    import tensorflow as tf

    clips = tf.constant(np.asarray(clip, np.float32)[None])
    return mu_law_classes(clips)[0, : int(real_lengths(clips)[0])].numpy()
