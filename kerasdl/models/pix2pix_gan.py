"""The Pix2Pix model: a generator and a discriminator trained against each other under `fit()`.

`Pix2Pix` is a `keras.Model` whose call is the generator's, so `predict`,
the samples and the scores see an image-to-image model; `train_step`
trains both networks on each batch, each with its own optimizer (the
compiled one for the generator, `discriminator_optimizer` for the
discriminator), with the paper's losses:

- discriminator: (BCE(real pairs, 1) + BCE(generated pairs, 0)) / 2, the
  paper's halved objective, which slows D relative to G;
- generator: BCE(generated pairs, 1) (the non-saturating form) plus
  `l1_weight` x the mean absolute difference on images in [-1, 1].

Because it runs inside `fit()`, callbacks, checkpoints and resume,
TensorBoard, strategies and the NaN guard work as for any model. The
discriminator's optimizer is an attribute of the model, so Keras's weight
files (the best checkpoint, the backup a resume reads) hold its state
beside the generator's optimizer's.

The step uses `tf.GradientTape`: TensorFlow only. Keras's JAX trainer
threads one optimizer's state through its stateless step, so a second
optimizer would need a trainer of its own; the config refuses
`model=pix2pix` with `backend=jax` (`model=l1_unet` runs on both).
"""

import keras

# Logged per epoch (train and `val_`): the generator's whole loss is Keras's `loss`.
LOSS_NAMES = ("l1", "gan", "discriminator")


@keras.saving.register_keras_serializable(package="kerasdl")
class Pix2Pix(keras.Model):
    """A conditional GAN of `generator` (pixels -> image) and `discriminator`
    (`[pixels, image]` -> patch logits).

    Args:
        generator: a functional model, raw pixels to an image in [0, 1].
        discriminator: a functional model, `[pixels, image]` to logits.
        l1_weight: the weight of L1 in the generator's loss (the paper's
            lambda: 100, for images in [-1, 1]).

    Example:
        >>> model = Pix2Pix(build_generator(info), build_discriminator(info))
        >>> model.compile(optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5), metrics=[PSNR()])
        >>> model.fit(pairs, epochs=100)
    """

    def __init__(self, generator, discriminator, l1_weight=100.0, **kwargs):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.l1_weight = float(l1_weight)
        self.trackers = {name: keras.metrics.Mean(name=name) for name in LOSS_NAMES}
        self.discriminator_optimizer = None
        self.built = True  # both networks are functional and built

    def call(self, inputs, training=False):
        return self.generator(inputs, training=training)

    @property
    def inputs(self):
        """The generator's: what the model takes (the TPU check reads them)."""
        return self.generator.inputs

    @property
    def optimizers(self):
        """Both optimizers, for whatever saves or restores training state."""
        return [optimizer for optimizer in (self.optimizer, self.discriminator_optimizer) if optimizer is not None]

    def compile(self, optimizer="adam", discriminator_optimizer=None, **kwargs):
        """As `keras.Model.compile`; `discriminator_optimizer` defaults to a
        copy of `optimizer` (same class, rate and schedule). Both are built
        here, each for its own network's variables, so that a resume can
        restore their state before the first step."""
        super().compile(optimizer=optimizer, **kwargs)
        if discriminator_optimizer is None:
            inner = getattr(self.optimizer, "inner_optimizer", self.optimizer)
            discriminator_optimizer = inner.__class__.from_config(inner.get_config())
        if self.dtype_policy.name == "mixed_float16":  # as Keras's compile does for the first
            discriminator_optimizer = keras.optimizers.LossScaleOptimizer(discriminator_optimizer)
        self.discriminator_optimizer = discriminator_optimizer
        self.optimizer.build(self.generator.trainable_variables)
        self.discriminator_optimizer.build(self.discriminator.trainable_variables)

    def losses_of(self, inputs, targets, outputs, training):
        """The generator's and discriminator's losses on one batch, as a dict."""
        real = self.discriminator([inputs, targets], training=training)
        fake = self.discriminator([inputs, outputs], training=training)
        gan = _bce(keras.ops.ones_like(fake), fake)
        discriminator = 0.5 * (_bce(keras.ops.ones_like(real), real) + _bce(keras.ops.zeros_like(fake), fake))
        l1 = keras.ops.mean(keras.ops.abs(keras.ops.cast(targets, "float32") - outputs))
        # x2: the paper's L1 is on images in [-1, 1]; these are in [0, 1].
        return {"loss": gan + self.l1_weight * 2.0 * l1, "l1": l1, "gan": gan, "discriminator": discriminator}

    def train_step(self, data):
        import tensorflow as tf

        inputs, targets = data[:2]
        # Keras's optimizers sum the replicas' gradients: each replica's loss is its share.
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        generator, discriminator = self.generator, self.discriminator
        with tf.GradientTape() as generator_tape, tf.GradientTape() as discriminator_tape:
            outputs = generator(inputs, training=True)
            losses = self.losses_of(inputs, targets, outputs, training=True)
            generator_loss = self.optimizer.scale_loss(losses["loss"] / replicas)
            discriminator_loss = self.discriminator_optimizer.scale_loss(losses["discriminator"] / replicas)
        gradients = generator_tape.gradient(generator_loss, generator.trainable_variables)
        self.optimizer.apply_gradients(zip(gradients, generator.trainable_variables, strict=True))
        gradients = discriminator_tape.gradient(discriminator_loss, discriminator.trainable_variables)
        self.discriminator_optimizer.apply_gradients(zip(gradients, discriminator.trainable_variables, strict=True))
        return self._track(losses, inputs, targets, outputs)

    def test_step(self, data):
        inputs, targets = data[:2]
        outputs = self.generator(inputs, training=False)
        return self._track(self.losses_of(inputs, targets, outputs, training=False), inputs, targets, outputs)

    def _track(self, losses, inputs, targets, outputs):
        count = keras.ops.shape(inputs)[0]
        # Keras's own "loss" tracker, which its compiled loss would update:
        # the generator's loss takes that place in the logs.
        self._loss_tracker.update_state(losses["loss"], sample_weight=count)
        for name, tracker in self.trackers.items():
            tracker.update_state(losses[name], sample_weight=count)
        return self.compute_metrics(inputs, targets, outputs)

    def get_config(self):
        return {
            "name": self.name,
            "generator": keras.saving.serialize_keras_object(self.generator),
            "discriminator": keras.saving.serialize_keras_object(self.discriminator),
            "l1_weight": self.l1_weight,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("generator", "discriminator"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)


def _bce(labels, logits):
    """Mean binary cross-entropy of patch logits (float32 whatever the policy)."""
    logits = keras.ops.cast(logits, "float32")
    return keras.ops.mean(keras.ops.binary_crossentropy(labels, logits, from_logits=True))
