"""The detector's loss: YOLOv8's three terms on task-aligned targets.

- class: binary cross-entropy of every anchor's class logits against the
  assigner's quality targets (0 for background anchors);
- box: 1 - CIoU of each positive's predicted box with its true box;
- DFL (distribution focal loss, Li et al. 2020): each side's distance
  distribution should put its mass on the two bins around the true
  distance, in proportion to how near each is.

Box and DFL terms are weighted by each positive's target score, and all
three are divided by the batch's sum of target scores, as Ultralytics does
(but at least by the batch's image count, see `terms`), so a batch of many
small objects weighs like one of a few large ones. The gains are
Ultralytics' defaults.
"""

import keras
from keras import ops

from kerasdl.models.yolo import REG_MAX
from kerasdl.tasks.detect_assign import assign
from kerasdl.tasks.detect_boxes import (
    anchor_constants,
    complete_iou,
    distances_to_boxes,
    expected_distances,
    split_heads,
)

BOX_GAIN, CLASS_GAIN, DFL_GAIN = 7.5, 0.5, 1.5


def split_labels(labels):
    """Padded labels `(batch, boxes, 5)` rows `class, x1, y1, x2, y2` ->
    `(classes (batch, boxes) int32, -1 for padding; boxes (batch, boxes, 4))`."""
    return ops.cast(ops.round(labels[..., 0]), "int32"), labels[..., 1:5]


def distribution_focal_loss(box_logits, target_distances):
    """Cross-entropy of each side's distribution with the two bins around
    the target distance, weighted by nearness; mean over the four sides.

    Args:
        box_logits: `(..., 4, REG_MAX)`.
        target_distances: `(..., 4)` in bins, within [0, REG_MAX - 1).
    """
    left = ops.floor(target_distances)
    right_weight = target_distances - left
    log_probabilities = ops.log_softmax(box_logits, axis=-1)
    left_index = ops.cast(left, "int32")
    at_left = ops.take_along_axis(log_probabilities, left_index[..., None], axis=-1)[..., 0]
    at_right = ops.take_along_axis(log_probabilities, left_index[..., None] + 1, axis=-1)[..., 0]
    return ops.mean(-(at_left * (1 - right_weight) + at_right * right_weight), axis=-1)


@keras.saving.register_keras_serializable(package="kerasdl")
class DetectionLoss(keras.losses.Loss):
    """YOLOv8's detection loss for `kerasdl.models.yolo` heads.

    Args:
        image_side: the square input's side in pixels (fixes the anchors).
        box_gain, class_gain, dfl_gain: the three terms' weights.
        top_k: the assigner's positives per true box.

    Example:
        >>> model.compile(optimizer="adam", loss=DetectionLoss(320))
    """

    def __init__(
        self,
        image_side,
        box_gain=BOX_GAIN,
        class_gain=CLASS_GAIN,
        dfl_gain=DFL_GAIN,
        top_k=10,
        name="detection_loss",
        **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        self.image_side, self.top_k = image_side, top_k
        self.box_gain, self.class_gain, self.dfl_gain = box_gain, class_gain, dfl_gain

    def call(self, y_true, y_pred):
        return ops.sum(self.terms(y_true, y_pred))

    def terms(self, y_true, y_pred):
        """The weighted box, class and DFL terms, `(3,)`."""
        centres, strides = anchor_constants(self.image_side)
        y_pred = ops.cast(y_pred, "float32")
        true_classes, true_boxes = split_labels(ops.cast(y_true, "float32"))
        box_logits, class_logits = split_heads(y_pred)
        distances = expected_distances(box_logits)
        predicted_boxes = distances_to_boxes(distances, centres, strides)
        target_boxes, target_scores, foreground = assign(
            ops.sigmoid(class_logits), predicted_boxes, centres, true_classes, true_boxes, top_k=self.top_k
        )
        # At least one per image: while the targets are weak (early on, or a
        # batch of few objects) Ultralytics' floor of 1 makes the loss grow
        # with the batch (a test split scored 3.35 in batches of 4 and 6.04
        # in one of 6); one per image keeps the loss a mean over images there.
        images = ops.cast(ops.shape(y_pred)[0], "float32")
        total = ops.maximum(ops.sum(target_scores), images)
        class_term = ops.sum(ops.binary_crossentropy(target_scores, class_logits, from_logits=True)) / total

        weight = ops.where(foreground, ops.sum(target_scores, axis=-1), 0.0)
        box_term = ops.sum((1.0 - complete_iou(predicted_boxes, target_boxes)) * weight) / total
        scale = strides[:, None]
        target_distances = ops.concatenate(
            [(centres - target_boxes[..., :2]) / scale, (target_boxes[..., 2:] - centres) / scale], axis=-1
        )
        target_distances = ops.clip(target_distances, 0.0, REG_MAX - 1 - 0.01)
        dfl_term = ops.sum(distribution_focal_loss(box_logits, target_distances) * weight) / total
        return ops.stack([self.box_gain * box_term, self.class_gain * class_term, self.dfl_gain * dfl_term])

    def get_config(self):
        return {
            **super().get_config(),
            "image_side": self.image_side,
            "box_gain": self.box_gain,
            "class_gain": self.class_gain,
            "dfl_gain": self.dfl_gain,
            "top_k": self.top_k,
        }
