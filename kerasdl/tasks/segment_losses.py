"""Segmentation's loss and pixel accuracy, in `keras.ops` (any backend).

Pixels whose true class is `IGNORE_INDEX` (255, Pascal VOC's "void") count in
neither. Keras brings mean IoU (`keras.metrics.MeanIoU`, which takes
`ignore_class`); the loss is written here because the cross-entropy should
be a mean over the pixels that count, with Dice optionally added, and Keras
has no pixel accuracy that ignores a class.
"""

import keras
from keras import ops

IGNORE_INDEX = 255  # the value kerasdl.data.masks keeps for "ignore"


def _valid_and_targets(y_true):
    """`(valid, targets)`: float 1/0 per pixel, and class indices with ignored pixels as 0."""
    y_true = ops.cast(y_true, "int32")
    valid = ops.not_equal(y_true, IGNORE_INDEX)
    return ops.cast(valid, "float32"), ops.where(valid, y_true, ops.zeros_like(y_true))


@keras.saving.register_keras_serializable(package="kerasdl")
class SegmentationLoss(keras.losses.Loss):
    """Per image: cross-entropy averaged over its counted pixels, plus or
    instead soft Dice (1 - mean over classes of 2|P∩T| / (|P| + |T|)).

    Args:
        num_classes: channels of the model's output.
        kind: `ce`, `dice` or `ce+dice`.
        class_weights: a weight per class multiplying each pixel's
            cross-entropy by its true class's (rare classes count more);
            the mean is then over the weights, as Keras's `class_weight`
            averages. None weighs all alike.
    """

    def __init__(self, num_classes, kind="ce", class_weights=None, name="segmentation_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.num_classes = num_classes
        self.kind = kind
        self.class_weights = list(class_weights) if class_weights else None

    def call(self, y_true, y_pred):
        y_pred = ops.cast(y_pred, "float32")
        valid, targets = _valid_and_targets(y_true)
        loss = 0.0
        if "ce" in self.kind.split("+"):
            pixels = ops.sparse_categorical_crossentropy(targets, y_pred)
            weights = valid
            if self.class_weights:
                weights = valid * ops.take(ops.convert_to_tensor(self.class_weights, "float32"), targets)
            loss = loss + ops.sum(pixels * weights, axis=(1, 2)) / ops.maximum(ops.sum(weights, axis=(1, 2)), 1e-7)
        if "dice" in self.kind.split("+"):
            truth = ops.one_hot(targets, self.num_classes) * valid[..., None]
            predicted = y_pred * valid[..., None]
            overlap = ops.sum(truth * predicted, axis=(1, 2))
            sizes = ops.sum(truth, axis=(1, 2)) + ops.sum(predicted, axis=(1, 2))
            # +1 on both sides: a class absent from an image and predicted
            # absent scores 1, not 0/0.
            loss = loss + 1.0 - ops.mean((2.0 * overlap + 1.0) / (sizes + 1.0), axis=-1)
        return loss

    def get_config(self):
        return super().get_config() | {
            "num_classes": self.num_classes,
            "kind": self.kind,
            "class_weights": self.class_weights,
        }


@keras.saving.register_keras_serializable(package="kerasdl")
class PixelAccuracy(keras.metrics.Metric):
    """Share of counted pixels whose most probable class is the true one."""

    def __init__(self, name="pixel_accuracy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.correct = self.add_variable(shape=(), initializer="zeros", name="correct")
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")

    def update_state(self, y_true, y_pred, sample_weight=None):
        valid, targets = _valid_and_targets(y_true)
        predicted = ops.cast(ops.argmax(y_pred, axis=-1), "int32")
        self.correct.assign_add(ops.sum(ops.cast(ops.equal(predicted, targets), "float32") * valid))
        self.total.assign_add(ops.sum(valid))

    def result(self):
        return self.correct / ops.maximum(self.total, 1.0)

    def reset_state(self):
        self.correct.assign(0.0)
        self.total.assign(0.0)
