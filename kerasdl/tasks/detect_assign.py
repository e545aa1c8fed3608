"""Task-aligned assignment (TOOD, Feng et al. 2021, as YOLOv8 uses it):
which anchors learn which true box, and how confidently.

For every true box, the anchors whose centres lie inside it are candidates;
each is rated by how well the model already does there,
`score of the box's class ** alpha * CIoU(box, predicted box) ** beta`, and
the `top_k` best become positives. An anchor claimed by several boxes goes
to the box its prediction overlaps most among all whose inside holds its
centre (Ultralytics' `select_highest_overlaps`). A positive's class target is not 1
but its rating, rescaled so that each box's best anchor gets that anchor's
CIoU: the class score learns to predict box quality.

All in `keras.ops` on padded batches: `(batch, boxes)` rows with class -1
are padding. Nothing here is differentiated (the loss stops the gradients).
"""

from keras import ops

from kerasdl.tasks.detect_boxes import complete_iou

TOP_K = 10
ALPHA, BETA = 0.5, 6.0
EPSILON = 1e-9


def centres_inside(centres, boxes):
    """`(batch, boxes, anchors)`: the anchor's centre lies strictly inside the box."""
    x, y = centres[None, None, :, 0], centres[None, None, :, 1]
    margins = ops.stack([x - boxes[..., 0:1], y - boxes[..., 1:2], boxes[..., 2:3] - x, boxes[..., 3:4] - y], axis=-1)
    return ops.min(margins, axis=-1) > EPSILON


def assign(scores, predicted_boxes, centres, true_classes, true_boxes, top_k=TOP_K, alpha=ALPHA, beta=BETA):
    """The training targets of every anchor.

    Args:
        scores: `(batch, anchors, classes)` predicted class probabilities.
        predicted_boxes: `(batch, anchors, 4)` in pixels.
        centres: `(anchors, 2)` anchor centres in pixels.
        true_classes: `(batch, boxes)` int class indices, -1 for padding.
        true_boxes: `(batch, boxes, 4)` in pixels.
        top_k: positives per true box, at most.
        alpha, beta: the rating's exponents for the class score and the CIoU.

    Returns:
        `(target_boxes (batch, anchors, 4), target_scores (batch, anchors,
        classes), foreground (batch, anchors) bool)`.
    """
    scores, predicted_boxes = ops.stop_gradient(scores), ops.stop_gradient(predicted_boxes)
    classes = ops.shape(scores)[-1]
    valid = true_classes >= 0
    class_index = ops.where(valid, true_classes, 0)
    candidates = ops.logical_and(centres_inside(centres, true_boxes), valid[..., None])
    # score[b, m, a]: anchor a's probability of box m's class.
    box_scores = ops.einsum("bmc,bac->bma", ops.one_hot(class_index, classes, dtype=scores.dtype), scores)
    overlaps = ops.maximum(complete_iou(true_boxes[:, :, None, :], predicted_boxes[:, None, :, :]), 0.0)
    overlaps = ops.where(candidates, overlaps, 0.0)
    rating = ops.where(candidates, box_scores**alpha * overlaps**beta, 0.0)

    kth_best = ops.top_k(rating, top_k)[0][..., -1:]
    positive = ops.logical_and(candidates, ops.logical_and(rating >= kth_best, rating > 0))
    # An anchor claimed by several boxes goes to the candidate box it overlaps most.
    claims = ops.sum(ops.cast(positive, "int32"), axis=1)
    best_box = ops.argmax(overlaps, axis=1)
    is_best = ops.transpose(ops.one_hot(best_box, ops.shape(true_classes)[1], dtype="int32") > 0, (0, 2, 1))
    positive = ops.where((claims > 1)[:, None, :], ops.logical_and(is_best, candidates), positive)

    foreground = ops.any(positive, axis=1)
    matched = ops.argmax(ops.cast(positive, "int32"), axis=1)  # (batch, anchors)
    target_boxes = ops.take_along_axis(true_boxes, matched[..., None], axis=1)
    target_classes = ops.take_along_axis(class_index, matched, axis=1)

    rating = ops.where(positive, rating, 0.0)
    best_rating = ops.max(rating, axis=-1, keepdims=True)
    best_overlap = ops.max(ops.where(positive, overlaps, 0.0), axis=-1, keepdims=True)
    quality = ops.max(rating * best_overlap / (best_rating + EPSILON), axis=1)  # (batch, anchors)
    target_scores = (
        ops.one_hot(target_classes, classes, dtype=scores.dtype) * ops.where(foreground, quality, 0.0)[..., None]
    )
    return target_boxes, target_scores, foreground
