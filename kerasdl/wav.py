"""Reading WAV files as mono float32 samples at one sample rate.

scipy reads every WAV encoding users have (8-bit unsigned, 16/24/32-bit
PCM, 32/64-bit float); `tf.audio.decode_wav` reads 16-bit PCM only. The
same `clip` prepares training clips, `kerasdl predict`'s and the card's
recipe, so a served model hears what the trained one heard.
"""

import math
import struct
import warnings

import numpy as np

from kerasdl.config import SAMPLE_RATES  # one range for the config and the reader
from kerasdl.errors import UserError

WAV_SUFFIXES = (".wav", ".wave")


def read_wav(path):
    """`(samples, rate)`: the file's audio as float32 in [-1, 1], stereo
    mixed down to mono (the mean of the channels).

    Raises:
        ValueError: the file is not a WAV scipy can read, or holds no samples.
    """
    from scipy.io import wavfile

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # WavFileWarning: chunks scipy skips (LIST, cue) are harmless
        try:
            rate, data = wavfile.read(str(path))
        except (ValueError, EOFError, IndexError, TypeError, struct.error) as error:  # what a broken header raises
            raise ValueError(f"not a readable WAV: {error}") from None
    samples = as_float(data)
    if samples.ndim == 2:
        samples = samples.mean(axis=1)
    if samples.size == 0:
        raise ValueError("no samples")
    return samples.astype("float32"), int(rate)


def as_float(data):
    """WAV samples of any encoding as floats in [-1, 1]."""
    if data.dtype == np.uint8:  # 8-bit WAV is unsigned, silence at 128
        return (data.astype("float32") - 128.0) / 128.0
    if np.issubdtype(data.dtype, np.integer):
        return data.astype("float32") / float(2 ** (8 * data.dtype.itemsize - 1))
    return np.clip(data.astype("float32"), -1.0, 1.0)


def resampled(samples, rate, sample_rate):
    """`samples` at `rate` Hz as `sample_rate` Hz: polyphase filtering
    (scipy's `resample_poly`, a Kaiser-windowed low-pass) by the reduced
    ratio of the two rates.

    Example:
        >>> resampled(np.zeros(16000, "float32"), 16000, 8000).shape
        (8000,)
    """
    if rate == sample_rate:
        return samples
    from scipy.signal import resample_poly

    common = math.gcd(rate, sample_rate)
    return resample_poly(samples, sample_rate // common, rate // common).astype("float32")


def fitted(samples, length):
    """`samples` cut to `length`, or padded with silence at the end to it."""
    if len(samples) >= length:
        return samples[:length]
    return np.pad(samples, (0, length - len(samples)))


def clip(path, sample_rate, length):
    """The WAV at `path` as the model's input: mono, `sample_rate` Hz,
    float32 in [-1, 1], cut or padded at the end to `length` samples."""
    samples, rate = read_wav(path)
    return fitted(resampled(samples, rate, sample_rate), length)


def checked_sample_rate(sample_rate):
    """`sample_rate` as an int, or a one-line error naming the range."""
    low, high = SAMPLE_RATES
    try:
        rate = int(sample_rate)
    except (TypeError, ValueError):
        rate = None
    if rate is None or not low <= rate <= high:
        raise UserError(f"sample_rate={sample_rate} is out of range; use {low} to {high} Hz (8000 for speech)")
    return rate


def write_wav(path, samples, sample_rate):
    """Writes float samples in [-1, 1] as a 16-bit PCM mono WAV, whole or
    not at all (a temporary file beside it, then renamed)."""
    from pathlib import Path

    from scipy.io import wavfile

    path = Path(path)
    pcm = np.round(np.clip(np.asarray(samples, dtype=np.float64), -1.0, 1.0) * 32767).astype(np.int16)
    partial = path.with_name(f".{path.name}.partial")
    try:
        wavfile.write(partial, int(sample_rate), pcm)
        partial.replace(path)
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise UserError(f"Cannot write {str(path)!r}: {error.strerror or error}") from None
