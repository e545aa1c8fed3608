"""The detector's box geometry, assigner and loss on hand-computed cases."""

import math

import numpy as np
import pytest
from keras import ops

from kerasdl.models.yolo import REG_MAX, anchor_grid
from kerasdl.tasks.detect_assign import assign, centres_inside
from kerasdl.tasks.detect_boxes import complete_iou, decode, distances_to_boxes
from kerasdl.tasks.detect_loss import DetectionLoss, distribution_focal_loss


def _numpy(tensor):
    return np.asarray(ops.convert_to_numpy(tensor))


def test_anchor_grid_orders_levels_and_rows():
    centres, strides = anchor_grid(64)
    assert len(centres) == 8 * 8 + 4 * 4 + 2 * 2
    np.testing.assert_allclose(centres[:2], [[4, 4], [12, 4]])  # stride 8, row-major
    np.testing.assert_allclose(centres[64], [8, 8])  # the first stride-16 cell
    np.testing.assert_allclose(centres[-1], [48, 48])
    assert strides[0] == 8 and strides[64] == 16 and strides[-1] == 32


def test_complete_iou_of_identical_boxes_is_one_and_falls_with_distance():
    box = np.array([10.0, 10, 30, 20], "float32")
    assert _numpy(complete_iou(box, box)) == pytest.approx(1.0, abs=1e-5)
    # Same size, no overlap, centres 40 apart, enclosing box 60 x 10:
    # CIoU = 0 - 40**2 / (60**2 + 10**2), no aspect-ratio term.
    far = np.array([50.0, 10, 70, 20], "float32")
    assert _numpy(complete_iou(box, far)) == pytest.approx(-1600 / 3700, abs=1e-4)


def test_distances_become_boxes_around_the_anchor():
    centres, strides = np.array([[20.0, 12]], "float32"), np.array([8.0], "float32")
    boxes = distances_to_boxes(np.array([[[1.0, 0.5, 2.0, 1.5]]], "float32"), centres, strides)
    np.testing.assert_allclose(_numpy(boxes), [[[12, 8, 36, 24]]])


def test_decode_reads_the_mean_of_each_distribution():
    centres, strides = anchor_grid(32)
    heads = np.full((1, len(centres), 4 * REG_MAX + 1), -30.0, "float32")
    heads[0, 0, [3, REG_MAX + 1, 2 * REG_MAX + 2, 3 * REG_MAX + 0]] = 30.0  # distances 3, 1, 2, 0 bins
    heads[0, 0, -1] = 0.0  # class logit 0: probability 0.5
    boxes, scores = decode(heads, centres, strides)
    np.testing.assert_allclose(_numpy(boxes)[0, 0], [4 - 24, 4 - 8, 4 + 16, 4 + 0], atol=1e-3)
    assert _numpy(scores)[0, 0, 0] == pytest.approx(0.5)


def test_distribution_focal_loss_splits_between_the_two_nearest_bins():
    logits = np.log(np.array([0.1, 0.2, 0.3, 0.4], "float32"))[None, :].repeat(4, 0)
    # 2.25 bins: 75% on bin 2, 25% on bin 3.
    expected = -(0.75 * math.log(0.3) + 0.25 * math.log(0.4))
    loss = distribution_focal_loss(logits[None], np.full((1, 4), 2.25, "float32"))
    assert _numpy(loss)[0] == pytest.approx(expected, rel=1e-5)


def test_centres_inside_needs_the_centre_strictly_inside():
    centres = np.array([[5.0, 5], [10, 10], [15, 5]], "float32")
    inside = _numpy(centres_inside(centres, np.array([[[0.0, 0, 10, 10]]], "float32")))
    assert inside.tolist() == [[[True, False, False]]]


def test_assign_picks_the_best_anchors_of_each_box_and_ignores_padding():
    centres = np.array([[4.0, 4], [12, 4], [20, 4], [28, 4]], "float32")
    true_boxes = np.array([[[0.0, 0, 16, 8], [0, 0, 0, 0]]], "float32")
    true_classes = np.array([[1, -1]], "int32")
    # Anchor 0 predicts the box exactly; anchor 1 half of it; 2 and 3 lie outside.
    predicted = np.array([[[0.0, 0, 16, 8], [8, 0, 16, 8], [16, 0, 24, 8], [24, 0, 32, 8]]], "float32")
    scores = np.full((1, 4, 2), 0.5, "float32")
    target_boxes, target_scores, foreground = (
        _numpy(part) for part in assign(scores, predicted, centres, true_classes, true_boxes, top_k=1)
    )
    assert foreground.tolist() == [[True, False, False, False]]
    np.testing.assert_allclose(target_boxes[0, 0], [0, 0, 16, 8])
    # The best anchor's class target is its CIoU with the box (1 here); background anchors get 0.
    np.testing.assert_allclose(target_scores[0], [[0, 1], [0, 0], [0, 0], [0, 0]], atol=1e-4)


def test_an_anchor_claimed_by_two_boxes_keeps_the_one_it_overlaps_most():
    centres = np.array([[8.0, 8]], "float32")
    true_boxes = np.array([[[0.0, 0, 16, 16], [4, 4, 12, 12]]], "float32")
    predicted = np.array([[[4.0, 4, 12, 12]]], "float32")
    target_boxes, _, foreground = (
        _numpy(part)
        for part in assign(np.ones((1, 1, 1), "float32"), predicted, centres, np.array([[0, 0]]), true_boxes, top_k=1)
    )
    assert foreground.tolist() == [[True]]
    np.testing.assert_allclose(target_boxes[0, 0], [4, 4, 12, 12])


def _heads_for_box(centres, box, score_logit, sharpness=30.0):
    """Heads whose stride-8 anchors inside `box` predict `box` itself: each
    side's distance split between its two nearest bins; other anchors score
    `-5` (background)."""
    heads = np.full((1, len(centres), 4 * REG_MAX + 1), -sharpness, "float32")
    heads[..., -1] = -5.0
    x1, y1, x2, y2 = box
    for anchor, (x, y) in enumerate(centres[:16]):
        if x1 < x < x2 and y1 < y < y2:
            for side_index, distance in enumerate([(x - x1) / 8, (y - y1) / 8, (x2 - x) / 8, (y2 - y) / 8]):
                low = int(distance)
                weights = np.array([1 - (distance - low), distance - low]) + 1e-9
                heads[0, anchor, side_index * REG_MAX + low : side_index * REG_MAX + low + 2] = np.log(weights)
            heads[0, anchor, -1] = score_logit
    return heads


def test_loss_prefers_heads_that_predict_the_true_box():
    centres, _ = anchor_grid(32)
    labels = np.array([[[0, 0.0, 0, 16, 16], [-1, 0, 0, 0, 0]]], "float32")
    loss = DetectionLoss(32)
    right = _heads_for_box(centres, (0, 0, 16, 16), score_logit=4.0)
    shifted = _heads_for_box(centres, (0, 0, 16, 16), score_logit=4.0)
    shifted[0, :, :REG_MAX] = np.roll(shifted[0, :, :REG_MAX], 1, axis=-1)  # every left side one bin (8 px) too far
    box_right, _, dfl_right = _numpy(loss.terms(labels, right))
    box_shifted, _, dfl_shifted = _numpy(loss.terms(labels, shifted))
    assert box_right < 0.01  # the exact box: CIoU 1
    # DFL's floor is the entropy of each side's split: every distance here is
    # half-way between two bins (anchors at 4 and 12 px, stride 8), ln 2, times the gain.
    assert dfl_right == pytest.approx(1.5 * math.log(2), abs=1e-3)
    assert box_shifted > box_right + 0.1 and dfl_shifted > dfl_right + 0.5
    assert float(_numpy(loss(labels, right))) < float(_numpy(loss(labels, shifted)))


def test_an_anchor_two_boxes_claim_goes_to_the_candidate_it_overlaps_most():
    # Boxes 0 and 1 both pick the one anchor (top_k=1); box 2 also holds its
    # centre and overlaps its prediction most: Ultralytics gives it box 2.
    centres = np.array([[8.0, 8]], "float32")
    true_boxes = np.array([[[0.0, 0, 16, 16], [2, 2, 14, 14], [5, 5, 11, 11]]], "float32")
    predicted = np.array([[[5.0, 5, 11, 11]]], "float32")
    classes = np.array([[0, 0, 0]])
    target_boxes, _, foreground = (
        _numpy(part) for part in assign(np.ones((1, 1, 1), "float32"), predicted, centres, classes, true_boxes, 1)
    )
    assert foreground.tolist() == [[True]]
    np.testing.assert_allclose(target_boxes[0, 0], [5, 5, 11, 11])


def test_a_small_picture_is_drawn_enlarged_with_its_boxes_on_the_same_pixels():
    from kerasdl.tasks.detect_images import PALETTE, draw_boxes

    image = np.zeros((64, 48, 3), np.uint8)
    image[10:20, 5:25] = 200  # the object: x 5 to 25, y 10 to 20
    drawn = draw_boxes(image, [[5, 10, 25, 20]], [0], ["cell"], width=1)
    assert drawn.shape == (256, 192, 3)  # 4x: the longer side reaches 256
    # The box's outline, 4x, on the enlarged object's edge; the object
    # inside and the ground outside as they were.
    assert tuple(drawn[40, 60]) == tuple(drawn[60, 20]) == PALETTE[0]
    assert (drawn[42:78, 22:98] == 200).all() and (drawn[:38] == 0).all()
    large = draw_boxes(np.zeros((300, 400, 3), np.uint8), [[5, 10, 25, 20]], [0], ["cell"])
    assert large.shape == (300, 400, 3)  # large enough already: drawn as it is
