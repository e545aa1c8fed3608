"""What TensorBoard shows of a translation run each epoch, and the collapse guard.

A few fixed validation pairs as input | target | output, and two signs
that a GAN has collapsed, each a scalar under `collapse/` and, when it
appears, one warning line and a TensorBoard text:

- the discriminator's training loss near 0: it tells every generated image
  from a real one, and the generator's adversarial gradient vanishes;
- the generator's outputs barely vary between different inputs (mode
  collapse): their spread across the sample pairs, per pixel, is a small
  share of the targets' spread.

Imports Keras and TensorFlow: import this module only once the backend is
chosen (`translate.sample_callbacks` imports it inside the function).
"""

import os

import keras
import numpy as np
import tensorflow as tf

from kerasdl.tasks.segment_samples import SAMPLES_FOLDER
from kerasdl.tasks.translate_images import triple

# The discriminator's loss is (BCE(real) + BCE(fake)) / 2: 0.693 when it
# cannot tell, 0.35 or so in a healthy pix2pix run. Under 0.02 it is right
# about every patch with near certainty.
DISCRIMINATOR_COLLAPSE = 0.02
# Outputs whose spread across different inputs is under 5% of the targets'
# are nearly one image, whatever the input.
SPREAD_COLLAPSE = 0.05


def output_spread(outputs, targets):
    """The outputs' mean per-pixel standard deviation across examples, over the targets'."""
    spread = float(np.mean(np.std(np.asarray(outputs, np.float64), axis=0)))
    return spread / max(float(np.mean(np.std(np.asarray(targets, np.float64), axis=0))), 1e-12)


def collapse_signs(discriminator_loss, spread):
    """The collapse warnings that apply, `{"discriminator" or "spread": line}`; empty if none."""
    signs = {}
    if discriminator_loss is not None and discriminator_loss < DISCRIMINATOR_COLLAPSE:
        signs["discriminator"] = (
            f"the discriminator's loss is {discriminator_loss:.4f} (near 0: it wins, and the generator learns "
            "nothing from it); lower learning_rate or raise model.l1_weight"
        )
    if spread < SPREAD_COLLAPSE:
        signs["spread"] = (
            f"the generator's outputs barely differ between inputs (spread {spread:.1%} of the targets'): mode "
            "collapse; resume from an earlier checkpoint or lower learning_rate"
        )
    return signs


class TranslationSamples(keras.callbacks.Callback):
    """Writes `samples/<i>` triples and the collapse scalars each epoch; warns once per sign.

    Args:
        log_dir: the run's TensorBoard folder; summaries go to `log_dir/samples`.
        inputs: float32 `(N, H, W, C)` raw pixels, as the model takes them.
        targets: float32 `(N, H, W, C)` in [0, 1].
        log: where a warning line goes (`print` by default).
    """

    def __init__(self, log_dir, inputs, targets, log=print):
        super().__init__()
        self.log_dir = os.path.join(os.fspath(log_dir), SAMPLES_FOLDER)
        self.inputs = np.asarray(inputs, dtype=np.float32)
        self.targets = np.asarray(targets, dtype=np.float32)
        self.log = log
        self.warned = set()
        self._writer = None

    def on_train_begin(self, logs=None):
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(self.log_dir)

    def on_epoch_end(self, epoch, logs=None):
        from kerasdl.inspection.summaries import model_outputs

        if self._writer is None:
            self.on_train_begin()
        outputs = model_outputs(self.model, self.inputs, len(self.inputs))
        spread = output_spread(outputs, self.targets) if len(outputs) > 1 else 1.0
        discriminator = (logs or {}).get("discriminator")
        signs = collapse_signs(None if discriminator is None else float(discriminator), spread)
        with self._writer.as_default(step=epoch):
            for index, (inputs, target, output) in enumerate(zip(self.inputs, self.targets, outputs, strict=True)):
                tf.summary.image(f"samples/{index}", triple(inputs, target, output)[np.newaxis], max_outputs=1)
            tf.summary.scalar("collapse/output_spread", spread)
            for sign in signs.values():
                tf.summary.text("collapse/warning", sign)
        self._writer.flush()
        for kind in signs.keys() - self.warned:  # one line per kind of sign, the first time it shows
            self.warned.add(kind)
            self.log(f"warning: at epoch {epoch + 1}, {signs[kind]}")

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None
