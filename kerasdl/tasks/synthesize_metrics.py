"""Scores of a next-sample model: negative log-likelihood in bits per sample,
and the two baselines every figure is read against.

- A uniform 8-bit code spends `UNIFORM_BITS` (8.0) on every sample.
- A model that ignores the past can do no better than the entropy of the
  mu-law classes' histogram (`histogram_bits`, from the training split).

A WaveNet is worth its receptive field by how far it gets below the second.
"""

import functools
import math

import keras
import numpy as np

UNIFORM_BITS = 8.0  # log2(256): every mu-law class equally likely


@keras.saving.register_keras_serializable(package="kerasdl")
class BitsPerSample(keras.metrics.Mean):
    """The mean negative log-likelihood of the true next samples, in bits:
    sparse categorical cross-entropy over `(batch, time, 256)` probabilities
    divided by ln 2."""

    def __init__(self, name="bits_per_sample", **kwargs):
        super().__init__(name=name, **kwargs)

    def update_state(self, y_true, y_pred, sample_weight=None):
        nats = keras.losses.sparse_categorical_crossentropy(y_true, y_pred)
        return super().update_state(nats / math.log(2.0), sample_weight=sample_weight)


def histogram_bits(classes, channels=256):
    """Entropy in bits of the class histogram of `classes` (any shape):
    the cost per sample of a model that ignores the past.

    Example:
        >>> histogram_bits(np.array([0, 0, 1, 1]))
        1.0
    """
    counts = np.bincount(np.asarray(classes).ravel(), minlength=channels).astype("float64")
    shares = counts[counts > 0] / counts.sum()
    return float(-(shares * np.log2(shares)).sum())


def cross_bits(classes, reference, channels=256):
    """Bits per sample of coding `classes` with the histogram of `reference`
    (the training split's): the histogram baseline on test audio."""
    count = functools.partial(np.bincount, minlength=channels)
    return counts_cross_bits(count(np.asarray(classes).ravel()), count(np.asarray(reference).ravel()))


def counts_cross_bits(counts, reference_counts):
    """`cross_bits` from the two class histograms. A class the reference
    never saw costs what one count of it would."""
    shares = (np.asarray(reference_counts, "float64") + 1.0) / (np.sum(reference_counts) + len(reference_counts))
    counts = np.asarray(counts, "float64")
    return float(-(counts * np.log2(shares)).sum() / counts.sum())


# Probabilities are clipped here as Keras's cross-entropy clips them (its
# epsilon): a sure mistake costs 23.3 bits, in the test score as in training's
# `bits_per_sample`.
SMALLEST_PROBABILITY = 1e-7


def true_class_bits(probabilities, targets):
    """`-log2 p(true class)` per position: probabilities `(..., 256)`, int targets `(...)`."""
    chosen = np.take_along_axis(probabilities, np.asarray(targets)[..., None], axis=-1)[..., 0]
    return -np.log2(np.maximum(chosen.astype("float64"), SMALLEST_PROBABILITY))
