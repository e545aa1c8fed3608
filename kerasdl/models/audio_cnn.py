"""Audio CNN: a log-mel spectrogram computed inside the model, then a small CNN.

The model takes raw samples (mono, the data's sample rate, [-1, 1]), so
the SavedModel, the TFLite files and `kerasdl predict` take a clip and
nothing else: the spectrogram is Keras's `MelSpectrogram` (an STFT: RFFT2D,
REAL and IMAG in TFLite, builtin ops), which converts and matches Keras to
1e-7 (probed). Its power goes to decibels relative to each clip's
loudest time-frequency bin (`RelativeDecibels`), not through the layer's
own `power_to_db`, whose floor (`top_db`) is below the maximum of the
whole batch: that would make a clip's prediction depend on the clips
beside it. The relative level also makes a quiet recording look like a
loud one (FSDD's speakers' median peaks range from 0.03 to 0.43).
"""

import keras

from kerasdl.errors import UserError
from kerasdl.models.cnn import apply_conv_block
from kerasdl.models.layers import check_at_least, check_fraction, classifier_head

# Power below this is silence (-100 dB): the log of a zero-padded frame stays finite.
MIN_POWER = 1e-10


@keras.saving.register_keras_serializable(package="kerasdl")
class RelativeDecibels(keras.layers.Layer):
    """Power `(batch, ...)` as decibels relative to each example's maximum,
    floored at `-top_db` and scaled to [-1, 0] by `top_db`."""

    def __init__(self, top_db=80.0, **kwargs):
        super().__init__(**kwargs)
        self.top_db = top_db

    def call(self, power):
        decibels = 10.0 * keras.ops.log10(keras.ops.maximum(power, MIN_POWER))
        axes = tuple(range(1, len(decibels.shape)))
        relative = decibels - keras.ops.max(decibels, axis=axes, keepdims=True)
        return keras.ops.maximum(relative, -self.top_db) / self.top_db

    def get_config(self):
        return super().get_config() | {"top_db": self.top_db}


def build_audio_cnn(
    info,
    filters=(32, 64, 128),
    mel_bins=40,
    frame_ms=32,
    hop_ms=10,
    top_db=80.0,
    dense_units=128,
    dropout=0.3,
    bn_momentum=0.9,
):
    """A classifier of clips: log-mel spectrogram, conv blocks, global pooling.

    Args:
        info: `DataInfo` of audio (`input_shape == (samples,)`, `sample_rate`).
        filters: filters of each conv block (two 3x3 convolutions with batch
            normalisation, then 2x2 max pooling). Default (32, 64, 128).
        mel_bins: mel bands of the spectrogram. Default 40.
        frame_ms: STFT window, milliseconds (the FFT is the next power of
            two of samples). Default 32 (256 samples at 8 kHz).
        hop_ms: milliseconds between frames. Default 10.
        top_db: the spectrogram's range below each clip's loudest bin, dB.
        dense_units: width of the dense layer of the head; 0 for none.
        dropout: dropout rate before the dense layers. Default 0.3.
        bn_momentum: batch normalisation's momentum. Default 0.9: the
            spectrogram's activations vary little, so the running variance
            starts (at 1) far above them, and at 0.99 the start still
            outweighed them after 450 steps (FSDD: validation accuracy 0.25
            in inference mode against 0.77 with batch statistics).

    Returns:
        A `keras.Model` from raw samples `(batch, samples)` to class probabilities.

    Example:
        >>> model = build_audio_cnn(load_dataset("audio:fsdd").info, filters=(16, 32))
    """
    if info.kind != "audio":
        raise UserError(f"model=audio_cnn needs audio data (data=audio:DIR); {info.name!r} is {info.kind}")
    check_fraction("dropout", dropout)
    check_fraction("bn_momentum", bn_momentum)
    for name, value in (("mel_bins", mel_bins), ("frame_ms", frame_ms), ("hop_ms", hop_ms), ("top_db", top_db)):
        check_at_least(name, value, 1)
    check_at_least("dense_units", dense_units, 0)
    rate, (samples,) = info.sample_rate, info.input_shape
    frame, hop = round(rate * frame_ms / 1000), max(1, round(rate * hop_ms / 1000))
    if frame > samples:
        raise UserError(f"model.frame_ms={frame_ms} is longer than the clips ({samples / rate * 1000:g} ms)")
    inputs = keras.Input(shape=info.input_shape, name=info.input_name)
    # float32 under any precision: an STFT in bfloat16 loses the quiet bands.
    x = keras.layers.MelSpectrogram(
        fft_length=1 << (frame - 1).bit_length(),
        sequence_stride=hop,
        sequence_length=frame,
        sampling_rate=rate,
        num_mel_bins=mel_bins,
        power_to_db=False,
        dtype="float32",
        name="mel_spectrogram",
    )(inputs)
    x = RelativeDecibels(top_db, dtype="float32", name="relative_db")(x)
    x = keras.layers.Permute((2, 1), name="time_first")(x)  # (batch, frames, mel bins): time down, pitch across
    x = keras.layers.Reshape((-1, mel_bins, 1), name="spectrogram")(x)
    for index, block_filters in enumerate(filters, start=1):
        x = apply_conv_block(x, block_filters, 3, 2, True, f"block{index}", bn_momentum)
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name="head_dropout")(x)
    if dense_units:
        x = keras.layers.Dense(dense_units, activation="relu", name="head_dense")(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name="head_dense_dropout")(x)
    outputs = classifier_head(x, info.num_classes)
    return keras.Model(inputs, outputs, name="audio_cnn")
