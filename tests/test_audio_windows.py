"""WaveNet's data and scores: teacher-forced windows, mu-law in tf.data as in the model, bits per sample."""

import math

import numpy as np
import tensorflow as tf

from kerasdl.data.audio_windows import QUANTIZATION_CHANNELS, mu_law_classes, teacher_forced_windows
from kerasdl.models.wavenet import QUANTIZATION_CHANNELS as MODEL_CHANNELS
from kerasdl.models.wavenet import mu_law_encode
from kerasdl.tasks.synthesize_metrics import UNIFORM_BITS, BitsPerSample, cross_bits, histogram_bits


def test_the_pipeline_companding_is_the_models():
    samples = np.linspace(-1.2, 1.2, 5001, dtype="float32")
    assert QUANTIZATION_CHANNELS == MODEL_CHANNELS
    np.testing.assert_array_equal(mu_law_classes(tf.constant(samples)).numpy(), np.asarray(mu_law_encode(samples)))


def _windows(seed, batches=3):
    clips = np.stack([np.sin(np.arange(100) * 0.1 * (k + 1)) * 0.5 for k in range(4)]).astype("float32")
    data = tf.data.Dataset.from_tensors((clips, np.arange(4))).repeat(batches)
    return list(data.map(teacher_forced_windows(window=30, seed=seed)).as_numpy_iterator()), clips


def test_windows_are_consecutive_samples_shifted_by_one_with_their_condition():
    batches, clips = _windows(seed=3)
    offsets = set()
    for inputs, targets, weights in batches:
        assert weights.shape == (4, 30) and np.all(weights == 1)  # the sines have no padding
        assert inputs["samples"].shape == (4, 30) and targets.shape == (4, 30)
        np.testing.assert_array_equal(inputs["samples"][:, 1:], targets[:, :-1])  # the target is the next sample
        np.testing.assert_array_equal(inputs["condition"], np.arange(4))
        for row, clip in zip(inputs["samples"], clips, strict=True):
            classes = mu_law_classes(tf.constant(clip)).numpy()
            (starts,) = np.nonzero([np.array_equal(classes[s : s + 30], row) for s in range(70)])
            offsets.add(int(starts[0]))
    assert len(offsets) > 3  # offsets vary across clips and batches
    again, _ = _windows(seed=3)
    for (first, *_), (second, *_) in zip(batches, again, strict=True):
        np.testing.assert_array_equal(first["samples"], second["samples"])  # the seed repeats them


def test_bits_per_sample_and_the_baselines():
    uniform = np.full((2, 5, 256), 1 / 256, dtype="float32")
    metric = BitsPerSample()
    metric.update_state(np.zeros((2, 5), "int32"), uniform)
    assert math.isclose(float(metric.result()), UNIFORM_BITS, rel_tol=1e-5)
    assert histogram_bits(np.array([0, 0, 1, 1])) == 1.0 and histogram_bits(np.zeros(9, int)) == 0.0
    # Coding with a reference histogram: 2 equally common classes in 1,000 counts (+1 each for the unseen).
    reference = np.repeat([3, 7], 500)
    assert math.isclose(cross_bits(np.array([3, 7]), reference), -math.log2(501 / 1256), rel_tol=1e-9)
