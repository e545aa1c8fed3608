"""How alike two images are: PSNR, SSIM and a sharpness ratio, in `keras.ops`.

Images are float in [0, 1], `(batch, height, width, channels)`. PSNR and
SSIM follow `tf.image.psnr` and `tf.image.ssim` (Wang et al. 2004: an 11x11
Gaussian window of sigma 1.5, K1 = 0.01, K2 = 0.03, valid positions only,
averaged over the window positions and channels), written in `keras.ops`
so that the same definitions run in a compiled training step on any
backend and in the NumPy scoring; tests compare them with TensorFlow's.

Sharpness is the mean gradient magnitude of the outputs over that of the
targets. A generator trained on L1 alone predicts the median of what a
target might be and blurs: its ratio falls well under 1; a good
conditional GAN keeps it near 1, and one that invents texture goes above.
"""

import keras
import numpy as np

SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1, SSIM_K2 = 0.01, 0.03
# An MSE below this is a perfect match: PSNR stops at 100 dB instead of infinity.
MIN_MSE = 1e-10


def psnr(truth, images):
    """Per-image peak signal-to-noise ratio in dB, for a peak of 1.

    Example:
        >>> float(psnr(np.zeros((1, 4, 4, 1)), np.full((1, 4, 4, 1), 0.1))[0])  # MSE 0.01
        20.0
    """
    truth, images = _float(truth), _float(images)
    mse = keras.ops.mean(keras.ops.square(truth - images), axis=(1, 2, 3))
    return 10.0 * keras.ops.log(1.0 / keras.ops.maximum(mse, MIN_MSE)) / np.log(10.0)


def _gaussian_window(channels):
    coordinates = np.arange(SSIM_WINDOW, dtype="float64") - (SSIM_WINDOW - 1) / 2
    line = np.exp(-(coordinates**2) / (2 * SSIM_SIGMA**2))
    window = np.outer(line, line) / np.outer(line, line).sum()
    # depthwise: (rows, columns, channels, 1), the same window for each channel
    return np.tile(window[:, :, np.newaxis, np.newaxis], (1, 1, channels, 1)).astype("float32")


def ssim(truth, images):
    """Per-image structural similarity (as `tf.image.ssim` with max_val 1).

    Images must be at least 11x11, the window's size.
    """
    truth, images = _float(truth), _float(images)
    window = _gaussian_window(truth.shape[-1])

    def blur(x):
        return keras.ops.depthwise_conv(x, window, strides=1, padding="valid")

    c1, c2 = SSIM_K1**2, SSIM_K2**2
    mean_truth, mean_images = blur(truth), blur(images)
    luminance = (2 * mean_truth * mean_images + c1) / (mean_truth**2 + mean_images**2 + c1)
    covariance = blur(truth * images) - mean_truth * mean_images
    variances = blur(truth**2) - mean_truth**2 + blur(images**2) - mean_images**2
    contrast_structure = (2 * covariance + c2) / (variances + c2)
    return keras.ops.mean(luminance * contrast_structure, axis=(1, 2, 3))


def gradient_magnitude(images):
    """Per-image mean gradient magnitude: sqrt(dx^2 + dy^2) of neighbouring pixels."""
    images = _float(images)
    down = images[:, 1:, :-1, :] - images[:, :-1, :-1, :]
    right = images[:, :-1, 1:, :] - images[:, :-1, :-1, :]
    return keras.ops.mean(keras.ops.sqrt(down**2 + right**2), axis=(1, 2, 3))


def l1(truth, images):
    """Per-image mean absolute difference."""
    return keras.ops.mean(keras.ops.abs(_float(truth) - _float(images)), axis=(1, 2, 3))


def _float(images):
    return keras.ops.cast(keras.ops.convert_to_tensor(images), "float32")


class _PerImageMean(keras.metrics.MeanMetricWrapper):
    """The mean over images of a per-image `measure` of the outputs against the targets."""

    measure = None  # a per-image function (truth, images), set by each subclass

    def __init__(self, name=None, dtype=None):
        super().__init__(type(self).measure, name=name or type(self).__name__.lower(), dtype=dtype)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


@keras.saving.register_keras_serializable(package="kerasdl")
class PSNR(_PerImageMean):
    """Mean per-image PSNR (dB) of a batch's outputs against the targets."""

    measure = staticmethod(psnr)


@keras.saving.register_keras_serializable(package="kerasdl")
class SSIM(_PerImageMean):
    """Mean per-image SSIM of a batch's outputs against the targets."""

    measure = staticmethod(ssim)


@keras.saving.register_keras_serializable(package="kerasdl")
class Sharpness(keras.metrics.Metric):
    """The outputs' mean gradient magnitude over the targets', over all images seen."""

    def __init__(self, name="sharpness", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.outputs_total = self.add_variable(shape=(), initializer="zeros", name="outputs_total")
        self.targets_total = self.add_variable(shape=(), initializer="zeros", name="targets_total")

    def update_state(self, y_true, y_pred, sample_weight=None):
        self.outputs_total.assign_add(keras.ops.sum(gradient_magnitude(y_pred)))
        self.targets_total.assign_add(keras.ops.sum(gradient_magnitude(y_true)))

    def result(self):
        return self.outputs_total / keras.ops.maximum(self.targets_total, 1e-12)

    def reset_state(self):
        self.outputs_total.assign(0.0)
        self.targets_total.assign(0.0)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


def image_metrics():
    """The metrics every translation model compiles with."""
    return [PSNR(), SSIM(), Sharpness()]


def image_scores(truth, outputs, chunk=16):
    """L1, PSNR and SSIM averaged over images, and the sharpness ratio, of
    NumPy arrays `(N, H, W, C)` in [0, 1], `chunk` images at a time."""
    sums = {"l1": 0.0, "psnr": 0.0, "ssim": 0.0}
    gradients = np.zeros(2)
    for start in range(0, len(truth), chunk):
        part_truth, part_outputs = truth[start : start + chunk], outputs[start : start + chunk]
        for name, measure in (("l1", l1), ("psnr", psnr), ("ssim", ssim)):
            sums[name] += float(np.sum(keras.ops.convert_to_numpy(measure(part_truth, part_outputs))))
        gradients += [
            float(np.sum(keras.ops.convert_to_numpy(gradient_magnitude(part_outputs)))),
            float(np.sum(keras.ops.convert_to_numpy(gradient_magnitude(part_truth)))),
        ]
    count = max(1, len(truth))
    return {name: total / count for name, total in sums.items()} | {
        "sharpness": float(gradients[0] / max(gradients[1], 1e-12))
    }
