"""Spectrograms as pictures: how a clip is shown wherever an image would be
(worst mistakes, generated speech, README figures)."""

import numpy as np

# Decibels below a clip's loudest bin that still show; quieter is black.
SHOWN_DB = 80.0


def spectrogram_image(samples, sample_rate, frame_ms=32, hop_ms=5):
    """A clip's spectrogram `(frequencies, frames, 1)` in dB relative to its
    loudest bin, in [-SHOWN_DB, 0], low frequencies at the bottom: a picture
    of `samples` (mono, any range) at `sample_rate` Hz.

    Example:
        >>> spectrogram_image(np.sin(np.arange(8000) * 0.3), 8000).shape
        (129, 194, 1)
    """
    from scipy.signal import spectrogram

    frame = max(8, round(sample_rate * frame_ms / 1000))
    hop = max(1, round(sample_rate * hop_ms / 1000))
    samples = np.asarray(samples, dtype="float64")
    if len(samples) < frame:
        samples = np.pad(samples, (0, frame - len(samples)))
    _, _, power = spectrogram(samples, fs=sample_rate, nperseg=frame, noverlap=frame - hop, window="hann")
    decibels = 10 * np.log10(np.maximum(power, 1e-20))
    decibels = np.maximum(decibels - decibels.max(), -SHOWN_DB)
    return decibels[::-1, :, np.newaxis].astype("float32")
