"""Semantic segmentation: a label is a mask of class indices; the model
outputs per-pixel class probabilities (U-Net).

Answers the questions every task answers (see `kerasdl.tasks.classify`).
Pixels marked 255 in a mask ("ignore", Pascal VOC's convention) count in no
loss, metric or parity figure. Scores are computed from the confusion matrix
of the whole test split, as the field's reference tools do (Pascal VOC, the
Cityscapes scripts): IoU of a class is TP / (TP + FP + FN) over all its
pixels, mean IoU the mean over the classes that occur in the truth or the
prediction.
"""

import dataclasses

import numpy as np

MODEL_FAMILIES = ("unet",)
OUTPUT = "probabilities"
TEST_METRIC = "mean_iou"  # the test metric that sums a run up (`kerasdl runs`, HParams)
LOSSES = ("ce", "dice", "ce+dice")
IGNORE_INDEX = 255

# float32 only reorders arithmetic, so its masks must agree almost
# everywhere: pixels whose two best classes are tied to the last bits may
# flip. A quantized variant ships when its masks agree on 98% of pixels and
# its mean IoU is at most 1 point below the Keras model's.
MIN_PIXEL_AGREEMENT = {"float32": 0.999, "float16": 0.98, "dynamic": 0.98, "int8": 0.98}
MAX_MEAN_IOU_LOSS = 0.01


def compile_arguments(config, model):
    """`config.loss` (cross-entropy by default) over the counted pixels,
    weighted by `config.class_weights`; mean IoU and pixel accuracy, both
    ignoring 255."""
    import keras

    from kerasdl.config_values import parse_class_weights
    from kerasdl.errors import UserError
    from kerasdl.tasks.segment_losses import PixelAccuracy, SegmentationLoss

    classes = model.output_shape[-1]
    weights = parse_class_weights(config.class_weights)
    if weights and len(weights) != classes:
        raise UserError(
            f"class_weights={config.class_weights!r} gives {len(weights)} weights; the data has {classes} classes"
        )
    return {
        "loss": SegmentationLoss(classes, config.loss or "ce", class_weights=weights or None),
        "metrics": [
            keras.metrics.MeanIoU(classes, name="mean_iou", sparse_y_pred=False, ignore_class=IGNORE_INDEX),
            PixelAccuracy(),
        ],
    }


def keras_objects():
    """The loss and metric a saved segmentation model's compile config names."""
    from kerasdl.tasks.segment_losses import PixelAccuracy, SegmentationLoss

    return {"kerasdl>SegmentationLoss": SegmentationLoss, "kerasdl>PixelAccuracy": PixelAccuracy}


def confusion(truth, predicted, classes):
    """`classes x classes` pixel counts, rows true, columns predicted; 255 left out."""
    truth, predicted = np.asarray(truth).ravel(), np.asarray(predicted).ravel()
    counted = truth != IGNORE_INDEX
    pairs = truth[counted].astype(np.int64) * classes + predicted[counted]
    return np.bincount(pairs, minlength=classes * classes).reshape(classes, classes)


def scores(matrix, class_names):
    """Mean IoU, per-class IoU and Dice, and pixel accuracy of a confusion matrix.

    Example:
        >>> scores(np.array([[3, 1], [0, 4]]), ["sky", "road"])["iou"]
        {'sky': 0.75, 'road': 0.8}
    """
    true_positives = np.diag(matrix).astype(float)
    false_positives = matrix.sum(axis=0) - true_positives
    false_negatives = matrix.sum(axis=1) - true_positives
    union = true_positives + false_positives + false_negatives
    occurs = union > 0
    iou = np.where(occurs, true_positives / np.maximum(union, 1), np.nan)
    dice = np.where(occurs, 2 * true_positives / np.maximum(union + true_positives, 1), np.nan)

    def by_class(values):
        pairs = zip(class_names, values, strict=True)
        return {name: (None if np.isnan(value) else float(value)) for name, value in pairs}

    return {
        "mean_iou": float(iou[occurs].mean()) if occurs.any() else 0.0,
        "pixel_accuracy": float(true_positives.sum() / max(matrix.sum(), 1)),
        "iou": by_class(iou),
        "dice": by_class(dice),
    }


def score(model, batches, info):
    """The loss from Keras; mean IoU, IoU and Dice per class and pixel
    accuracy from the test split's confusion matrix."""
    loss = float(model.evaluate(batches, return_dict=True, verbose=0)["loss"])
    matrix = np.zeros((info.num_classes, info.num_classes), dtype=np.int64)
    for images, masks in batches:
        predicted = np.asarray(model.predict_on_batch(images)).argmax(-1)
        matrix += confusion(np.asarray(masks), predicted, info.num_classes)
    return {"loss": loss} | scores(matrix, info.class_names)


@dataclasses.dataclass
class Parity:
    """How closely a TFLite model's masks match the Keras model's on the test split."""

    examples: int
    pixel_agreement: float
    max_abs_diff: float
    mean_iou: float
    keras_mean_iou: float

    def as_dict(self):
        return dataclasses.asdict(self)


def parity(expected, actual, labels, chunk=32):
    """Compares TFLite probabilities `actual` with the Keras ones `expected`
    (`(examples, height, width, classes)`), and both masks with the truth.

    `chunk` examples at a time: the masks, differences and pairs of a whole
    test split would take several times the probabilities' memory (400
    images of 128x128 in two classes: about 250 MB at once).
    """
    classes = expected.shape[-1]
    agreeing, largest = 0, 0.0
    tflite_counts = keras_counts = np.zeros((classes, classes), dtype=np.int64)
    for start in range(0, len(expected), chunk):
        keras_part, tflite_part = expected[start : start + chunk], actual[start : start + chunk]
        keras_masks, tflite_masks = keras_part.argmax(-1), tflite_part.argmax(-1)
        agreeing += int(np.count_nonzero(keras_masks == tflite_masks))
        largest = max(largest, float(np.max(np.abs(keras_part - tflite_part))))
        truth = labels[start : start + chunk]
        tflite_counts = tflite_counts + confusion(truth, tflite_masks, classes)
        keras_counts = keras_counts + confusion(truth, keras_masks, classes)
    names = [str(index) for index in range(classes)]
    return Parity(
        examples=len(expected),
        pixel_agreement=agreeing / max(1, int(np.prod(expected.shape[:-1]))),
        max_abs_diff=largest,
        mean_iou=scores(tflite_counts, names)["mean_iou"],
        keras_mean_iou=scores(keras_counts, names)["mean_iou"],
    )


def parity_problem(variant, parity):
    """Why `parity` is not good enough for `variant`, or None if it is."""
    needed = MIN_PIXEL_AGREEMENT[variant]
    if parity.pixel_agreement < needed:
        return f"its masks agree with the Keras model's on {parity.pixel_agreement:.2%} of pixels, below {needed:.1%}"
    lost = parity.keras_mean_iou - parity.mean_iou
    if variant != "float32" and lost > MAX_MEAN_IOU_LOSS:
        return f"mean IoU {parity.mean_iou:.3f} is {lost * 100:.1f} points below the Keras model's"
    return None


PARITY_COLUMNS = ("pixel agreement", "max abs diff", "test mean IoU (change)")


def parity_cells(parity):
    """A variant's parity (a card's dict) as the report's cells, in `PARITY_COLUMNS` order."""
    change = (parity["mean_iou"] - parity["keras_mean_iou"]) * 100
    return [
        f"{parity['pixel_agreement']:.2%}",
        f"{parity['max_abs_diff']:.2g}",
        f"{parity['mean_iou']:.3f} ({change:+.2f} pt)",
    ]


def agreement(parity):
    return f"its masks agree with Keras on {parity['pixel_agreement']:.2%} of the test pixels"


def headline(test):
    nan = float("nan")
    return "mean IoU", (
        f"{test.get('mean_iou', nan):.3f} (pixel accuracy {test.get('pixel_accuracy', nan):.2%}, "
        f"loss {test.get('loss', nan):.4f})"
    )


def description(info):
    return "semantic segmentation"


def card_output(info):
    height, width = info.input_shape[:2]
    return {
        "name": OUTPUT,
        "shape": [1, height, width, info.num_classes],
        "dtype": "float32",
        "layout": f"batch, {height} rows, {width} columns, {info.num_classes} class probabilities",
        "meaning": (
            "per-pixel softmax probabilities; channel i is line i of labels.txt. The class mask is the "
            "argmax over the last axis; resize it to the photo with nearest-neighbour sampling"
        ),
        "mask": {
            "name": "mask",
            "shape": [1, height, width],
            "dtype": "uint8",
            "meaning": "the class index of each pixel (the argmax of probabilities), a second output of every model",
        },
    }


def serving_outputs(probabilities):
    """What `serving_default` and the TFLite models return: the probabilities
    and `mask`, their argmax as uint8 class indices (TFLite's ARG_MAX and
    CAST), the output a phone app usually wants: a quarter of the bytes of
    one class's probabilities, and no argmax loop to write."""
    import tensorflow as tf

    return {OUTPUT: probabilities, "mask": tf.cast(tf.argmax(probabilities, axis=-1), tf.uint8)}


def serve_raw_outputs(probabilities, images):
    """The SavedModel's `serve_raw` outputs: the probabilities at the model's
    size, and `mask`, the uint8 class mask at the photo's own size (the
    argmax, resized with nearest-neighbour sampling). TensorFlow ops: this
    wrapper exists only in the exported graph."""
    import tensorflow as tf

    mask = tf.argmax(probabilities, axis=-1, output_type=tf.int32)[..., tf.newaxis]
    mask = tf.image.resize(mask, tf.shape(images)[1:3], method="nearest")[..., 0]
    return {OUTPUT: probabilities, "mask": tf.cast(mask, tf.uint8)}


# Validation images shown in TensorBoard each epoch: enough to see what the
# model gets wrong, few enough that the image summaries stay small.
SAMPLE_IMAGES = 4


def sample_callbacks(log_dir, dataset, config):
    """Each epoch, a few fixed validation images as input | truth | prediction."""
    from kerasdl.tasks.segment_samples import SegmentationSamples

    images, masks = dataset.sample("validation", SAMPLE_IMAGES)
    return [SegmentationSamples(log_dir, images, masks)]


def test_view(info, features, labels, outputs):
    """The sample sheet: the first few test images as input | truth | prediction, one under another."""
    from kerasdl.inspection.views import Inspection
    from kerasdl.tasks.mask_images import side_by_side

    rows = []
    for image, truth, output in list(zip(features, labels, outputs, strict=True))[:SAMPLE_IMAGES]:
        rows += [side_by_side(image, truth, np.asarray(output).argmax(-1).astype(np.uint8))]
        rows += [np.full((4, rows[-1].shape[1], 3), 255, np.uint8)]  # a white gap between examples
    return Inspection("test", {"samples": np.concatenate(rows[:-1])}, {}) if rows else None


def render(outputs, card, top=3, sources=(), out_dir=None):
    """Per input, writes `NAME.mask.png` (class indices, a palette PNG, at the
    photo's own size) and, for an image file, `NAME.overlay.png` (the photo
    tinted by class) into `out_dir` (default: beside the photo; the current
    folder for other inputs); returns `{"mask", "overlay", "shares"}` each.
    `top` is a classifier's and unused."""
    from pathlib import Path

    from PIL import Image

    from kerasdl.tasks.mask_images import class_shares, resize_mask, write_mask_png, write_overlay

    results = []
    for output, source in zip(outputs, sources, strict=True):
        mask = np.asarray(output).argmax(-1).astype(np.uint8)
        path = Path(source)
        folder = Path(out_dir) if out_dir else (path.parent if path.is_file() else Path("."))
        folder.mkdir(parents=True, exist_ok=True)
        stem = path.stem if path.is_file() else "".join(c if c.isalnum() else "_" for c in str(source))
        result = {"mask": str(folder / f"{stem}.mask.png"), "overlay": None}
        if path.is_file():
            with Image.open(path) as photo:
                photo = np.asarray(photo.convert("RGB"))
            mask = resize_mask(mask, (photo.shape[1], photo.shape[0]))
            result["overlay"] = str(folder / f"{stem}.overlay.png")
            write_overlay(photo, mask, result["overlay"])
        write_mask_png(mask, result["mask"])
        result["shares"] = class_shares(mask, card["labels"])
        results.append(result)
    return results


def format_prediction(result):
    shares = ", ".join(f"{name} {share:.1%}" for name, share in result["shares"].items())
    files = result["mask"] + (f", {result['overlay']}" if result["overlay"] else "")
    return f"{shares} (wrote {files})"
