"""The segmentation task: its scores, loss, metrics, parity and config rules."""

import numpy as np
import pytest

from kerasdl.config import make_config
from kerasdl.errors import UserError
from kerasdl.tasks import segment

# A 2x4 truth with one ignored pixel, and a prediction with two mistakes.
TRUTH = np.array([[0, 0, 1, 1], [0, 255, 1, 1]], dtype=np.uint8)
PREDICTED = np.array([[0, 1, 1, 1], [0, 0, 0, 1]], dtype=np.int64)


def test_scores_from_the_confusion_matrix_match_a_hand_count():
    matrix = segment.confusion(TRUTH, PREDICTED, 2)
    # Counted pixels (the 255 left out): class 0 -> 0 twice, 0 -> 1 once; class 1 -> 1 three times, 1 -> 0 once.
    np.testing.assert_array_equal(matrix, [[2, 1], [1, 3]])
    result = segment.scores(matrix, ["sky", "road"])
    assert result["iou"] == pytest.approx({"sky": 2 / 4, "road": 3 / 5})
    assert result["dice"] == pytest.approx({"sky": 4 / 6, "road": 6 / 8})
    assert result["mean_iou"] == pytest.approx((2 / 4 + 3 / 5) / 2)
    assert result["pixel_accuracy"] == pytest.approx(5 / 7)


def test_a_class_absent_from_truth_and_prediction_is_left_out_of_the_mean():
    result = segment.scores(segment.confusion(TRUTH, PREDICTED, 3), ["sky", "road", "car"])
    assert result["iou"]["car"] is None
    assert result["mean_iou"] == pytest.approx((2 / 4 + 3 / 5) / 2)


def _probabilities(predicted, classes=2, confidence=0.9):
    one_hot = np.eye(classes, dtype=np.float32)[predicted]
    return one_hot * confidence + (1 - one_hot) * (1 - confidence) / (classes - 1)


def test_keras_metrics_ignore_255_and_agree_with_the_confusion_matrix():
    import keras

    from kerasdl.tasks.segment_losses import PixelAccuracy

    truth, predicted = TRUTH[np.newaxis], _probabilities(PREDICTED)[np.newaxis]
    mean_iou = keras.metrics.MeanIoU(2, sparse_y_pred=False, ignore_class=255)
    mean_iou.update_state(truth, predicted)
    accuracy = PixelAccuracy()
    accuracy.update_state(truth, predicted)
    expected = segment.scores(segment.confusion(TRUTH, PREDICTED, 2), ["a", "b"])
    assert float(mean_iou.result()) == pytest.approx(expected["mean_iou"], abs=1e-6)
    assert float(accuracy.result()) == pytest.approx(expected["pixel_accuracy"], abs=1e-6)


@pytest.mark.parametrize("kind", ["ce", "dice", "ce+dice"])
def test_the_loss_ignores_255_pixels(kind):
    from kerasdl.tasks.segment_losses import SegmentationLoss

    loss = SegmentationLoss(2, kind)
    predicted = _probabilities(PREDICTED)[np.newaxis]
    changed = predicted.copy()
    changed[0, 1, 1] = [0.01, 0.99]  # the ignored pixel, predicted otherwise
    assert float(loss(TRUTH[np.newaxis], predicted)) == pytest.approx(float(loss(TRUTH[np.newaxis], changed)))


def test_cross_entropy_is_the_mean_over_counted_pixels_and_dice_is_zero_when_perfect():
    from kerasdl.tasks.segment_losses import SegmentationLoss

    predicted = _probabilities(PREDICTED)[np.newaxis]
    # 5 counted pixels right at 0.9, 2 wrong at 0.1.
    expected = -(5 * np.log(0.9) + 2 * np.log(0.1)) / 7
    assert float(SegmentationLoss(2, "ce")(TRUTH[np.newaxis], predicted)) == pytest.approx(expected, rel=1e-5)
    perfect = np.eye(2, dtype=np.float32)[np.where(TRUTH == 255, 0, TRUTH)][np.newaxis]
    assert float(SegmentationLoss(2, "dice")(TRUTH[np.newaxis], perfect)) == pytest.approx(0.0, abs=1e-6)


def test_parity_compares_masks_and_mean_iou_with_their_bars():
    labels = np.stack([TRUTH, TRUTH])
    expected = _probabilities(np.stack([PREDICTED, PREDICTED]))
    same = segment.parity(expected, expected.copy(), labels)
    assert same.pixel_agreement == 1.0 and same.mean_iou == same.keras_mean_iou
    assert segment.parity_problem("float32", same) is None
    flipped = expected.copy()
    flipped[0, 0, 0] = flipped[0, 0, 0][::-1]  # one of 16 pixels disagrees, and it was right
    worse = segment.parity(expected, flipped, labels)
    assert worse.pixel_agreement == pytest.approx(15 / 16)
    assert "below 99.9%" in segment.parity_problem("float32", worse)
    assert "below 98.0%" in segment.parity_problem("int8", worse)
    cells = segment.parity_cells(worse.as_dict())
    assert cells[0] == "93.75%" and cells[2].endswith("pt)")
    # Measured an example at a time, the figures are those of the whole split.
    assert segment.parity(expected, flipped, labels, chunk=1) == worse


def test_unet_runs_segment_and_other_pairings_are_refused():
    assert make_config("unet_segment").task == "segment"
    assert make_config("unet_segment", {"loss": "ce+dice"}).loss == "ce+dice"
    with pytest.raises(UserError, match=r"task=segment cannot use model=cnn; its models: unet"):
        make_config("image_cnn", {"task": "segment"})
    with pytest.raises(UserError, match=r"task=classify cannot use model=unet"):
        make_config("unet_segment", {"task": "classify"})
    with pytest.raises(UserError, match=r"loss='dice' is not a loss of task=classify; allowed: ce"):
        make_config("iris_ann", {"loss": "dice"})


def test_class_weights_count_a_rare_class_more_and_are_checked():
    from kerasdl.tasks.segment_losses import SegmentationLoss

    predicted = _probabilities(PREDICTED)[np.newaxis]
    truth = TRUTH[np.newaxis]
    # Class 0's pixels: 2 right (0.9), 1 wrong (0.1); class 1's: 3 right, 1 wrong. Weights 1 and 3.
    right, wrong = -np.log(0.9), -np.log(0.1)
    expected = (2 * right + wrong + 3 * (3 * right + wrong)) / (3 + 3 * 4)
    weighted = SegmentationLoss(2, "ce", class_weights=(1.0, 3.0))
    assert float(weighted(truth, predicted)) == pytest.approx(expected, rel=1e-5)
    assert make_config("unet_segment", {"class_weights": "1,3"}).class_weights == "1,3"
    with pytest.raises(UserError, match=r"class_weights='1,x' must be comma-separated numbers > 0"):
        make_config("unet_segment", {"class_weights": "1,x"})
    with pytest.raises(UserError, match=r"class_weights applies to task=segment"):
        make_config("iris_ann", {"class_weights": "1,2,3"})
