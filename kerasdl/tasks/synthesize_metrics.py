"""Scores of a next-sample model: negative log-likelihood in bits per sample,
and the two baselines every figure is read against.

- A uniform 8-bit code spends `UNIFORM_BITS` (8.0) on every sample.
- A model that ignores the past can do no better than the entropy of the
  mu-law classes' histogram (`histogram_bits`, from the training split).

A WaveNet is worth its receptive field by how far it gets below the second.
"""

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
    (the training split's): the histogram baseline on test audio. A class
    the reference never saw costs what one count of it would."""
    counts = np.bincount(np.asarray(reference).ravel(), minlength=channels).astype("float64") + 1.0
    shares = counts / counts.sum()
    return float(-np.log2(shares[np.asarray(classes).ravel()]).mean())
