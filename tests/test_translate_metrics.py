"""PSNR, SSIM and sharpness against TensorFlow's definitions and hand-computed values."""

import numpy as np
import pytest
import tensorflow as tf

from kerasdl.tasks.translate_metrics import PSNR, SSIM, Sharpness, gradient_magnitude, image_scores, l1, psnr, ssim


def _pairs(seed=0, shape=(3, 24, 24, 3)):
    rng = np.random.default_rng(seed)
    truth = rng.random(shape).astype("float32")
    noisy = np.clip(truth + rng.normal(0, 0.1, shape), 0, 1).astype("float32")
    return truth, noisy


def test_psnr_and_l1_by_hand():
    truth = np.zeros((2, 4, 4, 1), "float32")
    images = np.stack([np.full((4, 4, 1), 0.1), np.full((4, 4, 1), 0.5)]).astype("float32")
    # MSE 0.01 -> 20 dB; MSE 0.25 -> 10 log10(4) = 6.02 dB
    np.testing.assert_allclose(np.asarray(psnr(truth, images)), [20.0, 10 * np.log10(4)], rtol=1e-5)
    np.testing.assert_allclose(np.asarray(l1(truth, images)), [0.1, 0.5], rtol=1e-6)
    assert float(psnr(truth, truth)[0]) == pytest.approx(100.0)  # capped, not infinite


def test_psnr_and_ssim_match_tensorflow():
    truth, noisy = _pairs()
    np.testing.assert_allclose(np.asarray(psnr(truth, noisy)), tf.image.psnr(truth, noisy, 1.0).numpy(), rtol=1e-4)
    np.testing.assert_allclose(np.asarray(ssim(truth, noisy)), tf.image.ssim(truth, noisy, 1.0).numpy(), atol=1e-4)
    grey_truth, grey_noisy = _pairs(1, (2, 16, 16, 1))
    expected = tf.image.ssim(grey_truth, grey_noisy, 1.0).numpy()
    np.testing.assert_allclose(np.asarray(ssim(grey_truth, grey_noisy)), expected, atol=1e-4)
    assert np.asarray(ssim(truth, truth)) == pytest.approx(1.0, abs=1e-5)


def test_gradient_magnitude_by_hand():
    # A horizontal ramp rising 0.1 a column: every right difference 0.1, every down one 0.
    ramp = np.tile(np.arange(5, dtype="float32") * 0.1, (5, 1))[np.newaxis, ..., np.newaxis]
    assert float(gradient_magnitude(ramp)[0]) == pytest.approx(0.1, rel=1e-5)
    # A checkerboard of 0/1: both differences are 1 everywhere, magnitude sqrt(2).
    board = (np.indices((6, 6)).sum(0) % 2).astype("float32")[np.newaxis, ..., np.newaxis]
    assert float(gradient_magnitude(board)[0]) == pytest.approx(np.sqrt(2), rel=1e-5)


def test_blurred_outputs_have_a_sharpness_ratio_under_one():
    truth, _ = _pairs(2, (2, 32, 32, 1))
    blurred = tf.nn.avg_pool2d(truth, 3, 1, "SAME").numpy()
    scores = image_scores(truth, blurred)
    assert scores["sharpness"] < 0.6
    assert image_scores(truth, truth)["sharpness"] == pytest.approx(1.0)


def test_keras_metrics_accumulate_over_batches_like_image_scores():
    truth, noisy = _pairs(3, (5, 16, 16, 3))
    metrics = [PSNR(), SSIM(), Sharpness()]
    for start in (0, 2):  # uneven batches: 2 then 3 images
        stop = 2 if start == 0 else 5
        for metric in metrics:
            metric.update_state(truth[start:stop], noisy[start:stop])
    expected = image_scores(truth, noisy, chunk=2)
    for metric in metrics:
        assert float(metric.result()) == pytest.approx(expected[metric.name], rel=1e-4)
