"""Final detections from the heads: decode, keep each anchor's best class,
non-maximum suppression. TensorFlow ops, written once and used everywhere:
inside the exported SavedModel and TFLite graphs (where
`tf.image.non_max_suppression_padded` becomes TFLite's builtin
NON_MAX_SUPPRESSION_V4), and on the Keras side for validation and test
scores, so the Keras model and the phone model are scored alike.

NMS is per class with one call: each box, clipped to the image, is shifted
by its class index times twice the image side, so boxes of different
classes never overlap. Each anchor proposes its best class only (Ultralytics' default for
prediction; its validation also lets an anchor propose a second class).
"""

import tensorflow as tf

from kerasdl.tasks.detect_boxes import anchor_constants, decode

# Detections kept per image: COCO's AP counts at most 100.
MAX_DETECTIONS = 100
# Boxes overlapping a better one of the same class by more than this IoU are
# suppressed (Ultralytics' default for validation and prediction).
NMS_IOU = 0.7
# The lowest score a detection may have to be returned: low, so that mAP
# sees the whole precision-recall curve; an app shows those above
# `SHOW_SCORE` (the scores come sorted, best first).
SCORE_FLOOR = 0.001
SHOW_SCORE = 0.25
COLUMNS = ("x1", "y1", "x2", "y2", "score", "class")


def final_detections(heads, image_side):
    """Per image, the `MAX_DETECTIONS` best boxes after NMS.

    Args:
        heads: `(batch, anchors, 4 * REG_MAX + classes)` float32.
        image_side: the input square's side.

    Returns:
        A dict of `boxes` `(batch, MAX_DETECTIONS, 4)` x1 y1 x2 y2 in input
        pixels, `scores` `(batch, MAX_DETECTIONS)` best first, `classes`
        (float32 class indices), `count` `(batch,)` int32 (rows past it are
        zeros), and `detections` `(batch, MAX_DETECTIONS, 6)`, the same as
        one tensor (`COLUMNS`).

    The batch must be static (an exported model's is 1): each image gets
    its own rank-2 NMS, the form TFLite's builtin runs.
    """
    centres, strides = anchor_constants(image_side)
    boxes, probabilities = decode(tf.convert_to_tensor(heads, tf.float32), centres, strides)
    pairs = zip(tf.unstack(boxes), tf.unstack(probabilities), strict=True)
    per_image = [_one_image(image_boxes, image_probabilities, image_side) for image_boxes, image_probabilities in pairs]
    return {name: tf.stack([found[name] for found in per_image]) for name in per_image[0]}


def _one_image(boxes, probabilities, image_side):
    # Clipped to the image: a box's sides reach up to 15 bins of its stride
    # (480 pixels at 32) outside, which could carry it past the next
    # class's offset below, and an app wants boxes inside the picture.
    boxes = tf.clip_by_value(boxes, 0.0, float(image_side))
    scores = tf.reduce_max(probabilities, axis=-1)
    classes = tf.cast(tf.argmax(probabilities, axis=-1), tf.float32)
    shifted = boxes + classes[:, None] * (2.0 * image_side)  # boxes of different classes never overlap
    chosen, count = tf.image.non_max_suppression_padded(
        shifted, scores, MAX_DETECTIONS, iou_threshold=NMS_IOU, score_threshold=SCORE_FLOOR, pad_to_max_output_size=True
    )
    valid = tf.sequence_mask(count, MAX_DETECTIONS, dtype=tf.float32)
    boxes = tf.gather(boxes, chosen) * valid[:, None]
    scores = tf.gather(scores, chosen) * valid
    classes = tf.gather(classes, chosen) * valid
    detections = tf.concat([boxes, scores[:, None], classes[:, None]], axis=-1)
    return {"boxes": boxes, "scores": scores, "classes": classes, "count": count, "detections": detections}


def detections_from_heads(heads, image_side):
    """`final_detections`' `detections` as NumPy `(N, MAX_DETECTIONS, 6)`,
    one image at a time (any N, without tracing a graph per batch size)."""
    import numpy as np

    found = [
        final_detections(heads[index : index + 1], image_side)["detections"].numpy() for index in range(len(heads))
    ]
    return np.concatenate(found) if found else np.zeros((0, MAX_DETECTIONS, len(COLUMNS)), "float32")


def keras_detections(model, images, batch_size):
    """The Keras model's final detections on `images`, `(N, MAX_DETECTIONS, 6)`."""
    from kerasdl.export.verify import keras_outputs

    return detections_from_heads(keras_outputs(model, images, batch_size), images.shape[1])
