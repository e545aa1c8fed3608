"""COCO mAP through pycocotools on hand-made detections with known answers."""

import numpy as np
import pytest

from kerasdl.tasks.detect_score import mean_average_precision


def _labels(rows, count=3):
    labels = np.zeros((1, count, 5), "float32")
    labels[..., 0] = -1
    labels[0, : len(rows)] = rows
    return labels


def _detections(rows, count=4):
    found = np.zeros((1, count, 6), "float32")
    found[0, : len(rows)] = rows
    return found


def test_perfect_detections_score_one():
    labels = _labels([[0, 10, 10, 30, 30], [1, 40, 40, 60, 70]])
    found = _detections([[10, 10, 30, 30, 0.9, 0], [40, 40, 60, 70, 0.8, 1]])
    scores = mean_average_precision(found, labels, ["a", "b"])
    assert scores["map50"] == pytest.approx(1.0) and scores["map50_95"] == pytest.approx(1.0)
    assert scores["ap50_95"] == {"a": pytest.approx(1.0), "b": pytest.approx(1.0)}


def test_half_the_boxes_found_gives_coco_s_101_point_answer():
    # Two true boxes; the best detection finds one, a worse one misses. COCO
    # interpolates precision at 101 recall points: 1.0 up to recall 0.5
    # (51 points), nothing beyond: AP = 51 / 101.
    labels = _labels([[0, 10, 10, 30, 30], [0, 50, 50, 70, 70]])
    found = _detections([[10, 10, 30, 30, 0.9, 0], [80, 0, 95, 10, 0.8, 0]])
    scores = mean_average_precision(found, labels, ["a"])
    assert scores["map50"] == pytest.approx(51 / 101)
    assert scores["map50_95"] == pytest.approx(51 / 101)


def test_a_loose_box_counts_only_at_the_lower_iou_thresholds():
    # IoU of the detection with the truth: 20x16 / 20x20 = 0.8, a hit at
    # thresholds 0.50-0.80 (7 of 10), a miss at 0.85-0.95.
    labels = _labels([[0, 0, 0, 20, 20]])
    found = _detections([[0, 0, 20, 16, 0.9, 0]])
    scores = mean_average_precision(found, labels, ["a"])
    assert scores["map50"] == pytest.approx(1.0)
    assert scores["map50_95"] == pytest.approx(0.7)


def test_a_class_without_truth_counts_in_no_mean():
    labels = _labels([[0, 0, 0, 20, 20]])
    found = _detections([[0, 0, 20, 20, 0.9, 0]])
    scores = mean_average_precision(found, labels, ["a", "b"])
    assert scores["ap50"]["b"] is None and scores["map50"] == pytest.approx(1.0)


def test_no_detections_scores_zero():
    scores = mean_average_precision(np.zeros((1, 4, 6), "float32"), _labels([[0, 0, 0, 20, 20]]), ["a"])
    assert scores["map50"] == 0.0 and scores["map50_95"] == 0.0


def test_per_class_ap_is_zero_for_missed_classes_and_none_for_absent_ones():
    scores = mean_average_precision(np.zeros((1, 4, 6), "float32"), _labels([[0, 0, 0, 20, 20]]), ["a", "b"])
    assert scores["ap50"] == {"a": 0.0, "b": None} and scores["ap50_95"] == {"a": 0.0, "b": None}


def test_predict_s_stricter_nms_keeps_the_best_of_each_overlapping_class_pair():
    from kerasdl.tasks.detect import matched_share
    from kerasdl.tasks.detect_render import box_iou, suppressed

    found = np.array(
        [
            [0, 0, 10, 10, 0.9, 0],
            [0, 0, 10, 8, 0.8, 0],  # IoU 0.8 with the first, same class: suppressed at 0.5
            [0, 0, 10, 8, 0.7, 1],  # the same place, another class: kept
            [20, 20, 30, 30, 0.6, 0],  # elsewhere: kept
        ],
        "float32",
    )
    np.testing.assert_allclose(box_iou(found[:1, :4], found[:, :4])[0], [1.0, 0.8, 0.8, 0.0])
    np.testing.assert_array_equal(suppressed(found, 0.5)[:, 4], np.float32([0.9, 0.7, 0.6]))
    np.testing.assert_array_equal(suppressed(found, 0.85)[:, 4], found[:, 4])
    # All four score 0.25 or more (an app shows them); a copy without the second matches three of four.
    assert matched_share(found[None], found[None]) == 1.0
    assert matched_share(found[None], np.delete(found, 1, axis=0)[None]) == 0.75
