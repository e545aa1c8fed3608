"""What TensorBoard shows of a WaveNet while it trains: what it says.

Every `inspect_every` epochs (and the last), a short clip per condition is
generated with the step model of the weights as they are (seeded, so
epochs compare) and written to `logs/samples` as audio (TensorBoard's
Audio dashboard plays it) and as a spectrogram picture.

Imports Keras and TensorFlow: import this module only once the backend is
chosen (`synthesize.sample_callbacks` imports it inside the function).
"""

import os

import keras
import numpy as np
import tensorflow as tf

from kerasdl.inspection.spectrogram import SHOWN_DB, spectrogram_image
from kerasdl.inspection.summaries import inspection_interval
from kerasdl.tasks.segment_samples import SAMPLES_FOLDER

# Seconds per generated clip and conditions shown: each sample is one call
# of the Keras step model for all conditions at once, 8 ms for the default
# WaveNet and 10 conditions (AMD Zen 5, TensorFlow: the queues, 2.6 MB, go
# in and out as arrays), so 16 s per inspection.
SAMPLE_SECONDS = 0.25
MOST_CONDITIONS = 10


def spectrogram_picture(samples, sample_rate):
    """A clip's spectrogram as a uint8 picture `(1, frequencies, frames, 1)`, loud white."""
    decibels = spectrogram_image(samples, sample_rate)
    return np.round((decibels + SHOWN_DB) / SHOWN_DB * 255).astype(np.uint8)[np.newaxis]


class GeneratedSamples(keras.callbacks.Callback):
    """Writes `generated/<label>` audio and `generated_spectrogram/<label>` pictures.

    Args:
        log_dir: the run's TensorBoard folder; summaries go to `log_dir/samples`.
        info: the data's `DataInfo` (labels, sample rate).
        seed: seeds the draws, the same every time.
        inspect_every: the config's `inspect_every` (`auto`, or epochs; 0: none).
        epochs: the run's epochs (the last one always shows).
    """

    def __init__(self, log_dir, info, seed, inspect_every, epochs):
        super().__init__()
        self.log_dir = os.path.join(os.fspath(log_dir), SAMPLES_FOLDER)
        self.labels = list(info.class_names)[:MOST_CONDITIONS]
        self.rate, self.seed = info.sample_rate, seed
        self.interval, self.epochs = inspection_interval(inspect_every, epochs), epochs

    def on_epoch_end(self, epoch, logs=None):
        if not self.interval or ((epoch + 1) % self.interval and epoch + 1 != self.epochs):
            return
        clips = self.generate(round(SAMPLE_SECONDS * self.rate))
        writer = tf.summary.create_file_writer(self.log_dir)
        with writer.as_default(step=epoch):
            for label, clip in zip(self.labels, clips, strict=True):
                tf.summary.audio(f"generated/{label}", clip[np.newaxis, :, np.newaxis], self.rate, max_outputs=1)
                tf.summary.image(f"generated_spectrogram/{label}", spectrogram_picture(clip, self.rate))
        writer.close()

    def generate(self, steps):
        """Samples `(conditions, steps)` in [-1, 1] from the model as it is now."""
        from kerasdl.models.wavenet_step import step_model
        from kerasdl.tasks.synthesize_generate import KerasStep, decoded, generate

        step = KerasStep(step_model(self.model))
        return decoded(generate(step, np.arange(len(self.labels)), steps, seed=self.seed))
