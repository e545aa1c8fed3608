"""Audio CNN: a log-mel spectrogram computed inside the model, then a small CNN.

The model takes raw samples (mono, the data's sample rate, [-1, 1]), so
the SavedModel, the TFLite files and `kerasdl predict` take a clip and
nothing else. The spectrogram (`LogMelSpectrogram`) is `keras.ops.stft`,
which TFLite runs as RFFT2D, REAL and IMAG (builtin ops; a probe of Keras's
`MelSpectrogram` matched Keras to 1e-7), and stays float32 in the int8
model (`FRONT_END`). Its decibels are relative to each clip's loudest
band and frame, not to the batch's as `MelSpectrogram`'s `top_db` floor
is (a clip's prediction would depend on the clips beside it); that also
makes a quiet recording look like a loud one (FSDD's speakers' median
peaks range from 0.03 to 0.43 of full scale).
"""

import keras
import numpy as np

from kerasdl.errors import UserError
from kerasdl.models import FLOAT_FRONT_ENDS
from kerasdl.models.cnn import apply_conv_block, dense_head
from kerasdl.models.layers import check_at_least, check_fraction

# Power below this is silence (-70 dB, about 16-bit audio's noise floor): the
# log of a zero-padded frame stays finite. Not smaller: the float16 model
# stores it as a half float, whose smallest is 6e-8 (1e-10 became 0, the log
# -inf and the float16 model's outputs NaN).
MIN_POWER = 1e-7
# The layer whose output ends the float32 front end of the exported int8 model.
FRONT_END = FLOAT_FRONT_ENDS["audio_cnn"]


@keras.saving.register_keras_serializable(package="kerasdl")
class LogMelSpectrogram(keras.layers.Layer):
    """Clips `(batch, samples)` to log-mel spectrograms `(batch, frames, mel_bins)`
    in [-1, 0]: the STFT's power in decibels, averaged over each mel band's
    triangle, relative to the clip's loudest band and frame, floored at
    `-top_db` and divided by it.

    The mel bands average decibels rather than sum power, so that the one
    matrix product of the front end (a TFLite FULLY_CONNECTED, whose input a
    dynamic-range model quantizes to 8 bits on the fly) sees values within
    about 140 dB instead of power across ten orders of magnitude, where 8
    bits keep only the loudest bins. The triangles are Keras's
    (`MelSpectrogram.linear_to_mel_weight_matrix`, HTK's mel scale).
    """

    def __init__(self, sample_rate, frame, hop, mel_bins=40, top_db=80.0, min_hz=20.0, **kwargs):
        super().__init__(**kwargs)
        self.sample_rate, self.frame, self.hop, self.mel_bins = sample_rate, frame, hop, mel_bins
        self.top_db, self.min_hz = top_db, min_hz
        self.fft = 1 << (frame - 1).bit_length()

    def build(self, input_shape):
        triangles = keras.layers.MelSpectrogram(sampling_rate=self.sample_rate).linear_to_mel_weight_matrix(
            self.mel_bins, self.fft // 2 + 1, self.sample_rate, self.min_hz, self.sample_rate / 2
        )
        triangles = np.asarray(triangles, dtype="float32")
        averages = triangles / np.maximum(triangles.sum(axis=0, keepdims=True), 1e-12)
        self.mel_average = self.add_weight(
            shape=averages.shape, initializer=keras.initializers.Constant(averages), trainable=False, name="mel_average"
        )

    def call(self, samples):
        real, imag = keras.ops.stft(samples, self.frame, self.hop, self.fft, window="hann", center=True)
        decibels = 10.0 * keras.ops.log10(keras.ops.maximum(real * real + imag * imag, MIN_POWER))
        bands = keras.ops.matmul(decibels, keras.ops.cast(self.mel_average, decibels.dtype))
        relative = bands - keras.ops.max(bands, axis=(1, 2), keepdims=True)
        return keras.ops.maximum(relative, -self.top_db) / self.top_db

    def compute_output_shape(self, input_shape):
        frames = None if input_shape[1] is None else 1 + input_shape[1] // self.hop
        return (input_shape[0], frames, self.mel_bins)

    def get_config(self):
        return super().get_config() | {
            "sample_rate": self.sample_rate, "frame": self.frame, "hop": self.hop, "mel_bins": self.mel_bins,
            "top_db": self.top_db, "min_hz": self.min_hz,
        }  # fmt: skip


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
    x = LogMelSpectrogram(rate, frame, hop, mel_bins, top_db, dtype="float32", name=FRONT_END)(inputs)
    x = keras.layers.Reshape((-1, mel_bins, 1), name="spectrogram")(x)  # time down, pitch across
    for index, block_filters in enumerate(filters, start=1):
        x = apply_conv_block(x, block_filters, 3, 2, True, f"block{index}", bn_momentum)
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    outputs = dense_head(x, info.num_classes, dense_units, dropout)
    return keras.Model(inputs, outputs, name="audio_cnn")
