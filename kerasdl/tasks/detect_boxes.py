"""Box geometry of the detector, in `keras.ops` (any backend): decoding the
heads into boxes and scores, and the complete IoU the loss and the assigner
compare boxes by.

Boxes are `x1, y1, x2, y2` in the model's input pixels throughout.
"""

import keras
from keras import ops

from kerasdl.models.yolo import REG_MAX


def split_heads(heads):
    """`(box logits (batch, anchors, 4, REG_MAX), class logits (batch, anchors, classes))`."""
    box = ops.reshape(heads[..., : 4 * REG_MAX], (ops.shape(heads)[0], -1, 4, REG_MAX))
    return box, heads[..., 4 * REG_MAX :]


def expected_distances(box_logits):
    """Each side's distance in bins: the mean of its softmax distribution."""
    probabilities = ops.softmax(box_logits, axis=-1)
    return ops.sum(probabilities * ops.arange(REG_MAX, dtype=probabilities.dtype), axis=-1)


def distances_to_boxes(distances, centres, strides):
    """Left, top, right, bottom distances in bins -> `x1, y1, x2, y2` in pixels."""
    scale = strides[:, None]
    return ops.concatenate([centres - distances[..., :2] * scale, centres + distances[..., 2:] * scale], axis=-1)


def decode(heads, centres, strides):
    """The heads as boxes `(batch, anchors, 4)` in pixels and class
    probabilities `(batch, anchors, classes)` (sigmoids: independent per
    class, as the loss trained them)."""
    box_logits, class_logits = split_heads(heads)
    boxes = distances_to_boxes(expected_distances(box_logits), centres, strides)
    return boxes, ops.sigmoid(class_logits)


def complete_iou(boxes, others):
    """CIoU (Zheng et al., 2020) of boxes with others, broadcast
    elementwise: IoU less the squared centre distance over the enclosing
    box's squared diagonal and an aspect-ratio term; 1 for identical boxes,
    and still informative when boxes do not overlap (Keras's own)."""
    return keras.utils.bounding_boxes.compute_ciou(boxes, others, "xyxy")


def anchor_constants(image_side):
    """The anchor centres and strides as backend tensors (float32)."""
    from kerasdl.models.yolo import anchor_grid

    centres, strides = anchor_grid(image_side)
    return keras.ops.convert_to_tensor(centres), keras.ops.convert_to_tensor(strides)
