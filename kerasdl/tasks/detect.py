"""Object detection: a label is a list of boxes with classes; the model
outputs, per anchor, box distributions and class logits (YOLO), and the
exported models return final detections with NMS inside.

Answers the questions every task answers (see `kerasdl.tasks.classify`).
Labels are `(boxes, 5)` rows `class, x1, y1, x2, y2` in input pixels,
padded with class -1 (`kerasdl.data.boxes`). Scores are COCO's mAP@0.5 and
mAP@0.5:0.95 from `pycocotools`, on final detections made the same way for
the Keras model and every TFLite variant (`detect_nms`: best class per
anchor, NMS at IoU `NMS_IOU`, at most `MAX_DETECTIONS`, scores from
`SCORE_FLOOR`).
"""

import dataclasses

import numpy as np

from kerasdl.photos import LETTERBOX, LETTERBOX_FILL

MODEL_FAMILIES = ("yolo",)
OUTPUT = "detections"
TEST_METRIC = "map50_95"  # the test metric that sums a run up (`kerasdl runs`, HParams)
LOSSES = ("yolo",)
# The data specs whose labels are boxes (`kerasdl.data.boxes`; `nuclei_boxes`
# is the bundled tiles'), and those
# that hold boxes for some sets only: a `tfds:` set is a detection set when
# its features say so (`kerasdl.data.tfds_detection`), which shows only once
# it is opened, so `load_tfds` refuses one that is not.
DATA_SPECS = ("boxes:", "nuclei_boxes")
SHARED_DATA_SPECS = ("tfds:",)
# The served models take one photo at a time: each gets its own NMS, the
# rank-2 form that TFLite runs as a builtin (a batched NMS is a loop).
SERVING_BATCH = 1
# Training steps per call into the graph under steps_per_execution=auto. A
# detector's step (312 ms for 16 images at 128x128 on 2 cores) dwarfs the
# ~1 ms a call costs, while Keras's multi-step loop traces the step inside
# a while loop: under cProfile, the end-to-end test's training and
# validation traces took 59 s that way and 48 s at one step per call.
STEPS_PER_EXECUTION = 1
# How a photo becomes the input (model card, `kerasdl predict`, `serve_raw`).
PHOTO_PREPARATION = {
    "kind": LETTERBOX,
    "fill": LETTERBOX_FILL,
    "rule": (
        "scale the photo by side / max(height, width) (bilinear, antialiased), centre it in a side x side "
        f"square filled with grey {LETTERBOX_FILL} (offsets (side - new_height) // 2 and (side - new_width) // 2); "
        "map a box back to the photo as (x - left) / scale, (y - top) / scale"
    ),
}

# An int8 model quantizes the network up to this layer (the heads) and
# computes decoding and NMS in float32 (`kerasdl.export.selective`): fully
# quantized, BCCD's mAP@0.5:0.95 fell from 0.540 to 0.000; this way 0.536.
QUANTIZE_UNTIL = "heads"
INT8_IO_FLOAT = "its int8 model computes the post-processing in float32 and takes and returns float32"

# float32 only reorders arithmetic: its mAP@0.5:0.95 must be within 0.005
# of the Keras model's. A quantized variant ships when it loses at most 1.5
# points (the bar issue 18 sets against Ultralytics' collapsing int8 exports).
MAX_MAP_LOSS = {"float32": 0.005, "float16": 0.015, "dynamic": 0.015, "int8": 0.015}


def compile_arguments(config, model):
    """YOLOv8's loss (box CIoU, class BCE, DFL on task-aligned targets); no
    Keras metrics: mAP needs NMS over whole images (`DetectionScores`)."""
    from kerasdl.tasks.detect_loss import DetectionLoss

    return {"loss": DetectionLoss(int(model.input_shape[1])), "metrics": []}


def keras_objects():
    from kerasdl.tasks.detect_loss import DetectionLoss

    return {"kerasdl>DetectionLoss": DetectionLoss}


def detections_and_labels(model, batches, side):
    """The Keras model's final detections on every batch, and the labels."""
    from kerasdl.tasks.detect_nms import detections_from_heads

    found, truth = [], []
    for images, labels in batches:
        found.append(detections_from_heads(np.asarray(model.predict_on_batch(images), np.float32), side))
        truth.append(np.asarray(labels))
    return np.concatenate(found), np.concatenate(truth)


def score(model, batches, info):
    """The loss from Keras; COCO mAP@0.5, mAP@0.5:0.95 and per-class AP."""
    from kerasdl.tasks.detect_score import mean_average_precision

    loss = float(model.evaluate(batches, return_dict=True, verbose=0)["loss"])
    detections, labels = detections_and_labels(model, batches, info.input_shape[0])
    return {"loss": loss} | mean_average_precision(detections, labels, info.class_names)


@dataclasses.dataclass
class Parity:
    """How a TFLite model's detections compare with the Keras model's on the test split."""

    examples: int
    map50_95: float
    keras_map50_95: float
    map50: float
    keras_map50: float
    matched: float  # share of the Keras model's shown detections that the TFLite model also returns

    def as_dict(self):
        return dataclasses.asdict(self)


def parity(expected, actual, labels):
    """Compares TFLite detections `actual` `(N, MAX_DETECTIONS, 6)` with the
    Keras model's, made from its heads `expected` by the same decoding and NMS."""
    from kerasdl.tasks.detect_nms import detections_from_heads
    from kerasdl.tasks.detect_score import mean_average_precision

    keras_found = detections_from_heads(expected, _side_of(expected.shape[1]))
    classes = int(max(labels[..., 0].max(), keras_found[..., 5].max(), actual[..., 5].max())) + 1
    names = [str(index) for index in range(classes)]
    ours, theirs = mean_average_precision(actual, labels, names), mean_average_precision(keras_found, labels, names)
    return Parity(
        examples=len(expected),
        map50_95=ours["map50_95"],
        keras_map50_95=theirs["map50_95"],
        map50=ours["map50"],
        keras_map50=theirs["map50"],
        matched=matched_share(keras_found, actual),
    )


# A TFLite detection matches a Keras one when it has its class and this IoU.
MATCH_IOU = 0.9


def matched_share(expected, actual):
    """The share of `expected` detections scoring at least `SHOW_SCORE` (those
    an app shows) that `actual` also returns: same class, IoU >= `MATCH_IOU`,
    at any rank (near-equal scores may swap places). 1.0 when none is shown."""
    from kerasdl.tasks.detect_nms import SHOW_SCORE
    from kerasdl.tasks.detect_render import box_iou

    shown = found = 0
    for mine, theirs in zip(expected, actual, strict=True):
        mine, theirs = mine[mine[:, 4] >= SHOW_SCORE], theirs[theirs[:, 4] > 0]
        shown += len(mine)
        if not len(mine) or not len(theirs):
            continue
        iou = box_iou(mine, theirs)
        same = mine[:, None, 5] == theirs[None, :, 5]
        found += int(np.count_nonzero(((iou >= MATCH_IOU) & same).any(axis=1)))
    return found / shown if shown else 1.0


def _side_of(anchors):
    """The input side whose anchor grid has `anchors` anchors (strides 8, 16, 32)."""
    cells = anchors / (1 / 64 + 1 / 256 + 1 / 1024)
    return int(round(cells**0.5))


def parity_problem(variant, parity):
    """Why `parity` is not good enough for `variant`, or None if it is."""
    lost = parity.keras_map50_95 - parity.map50_95
    if lost > MAX_MAP_LOSS[variant]:
        return (
            f"its mAP@0.5:0.95 {parity.map50_95:.3f} is {lost * 100:.1f} points below the Keras model's "
            f"(allowed: {MAX_MAP_LOSS[variant] * 100:.1f})"
        )
    return None


PARITY_COLUMNS = ("test mAP50-95 (change)", "test mAP50 (change)", "shown detections matched")


def parity_cells(parity):
    change = (parity["map50_95"] - parity["keras_map50_95"]) * 100
    change50 = (parity["map50"] - parity["keras_map50"]) * 100
    return [
        f"{parity['map50_95']:.3f} ({change:+.2f} pt)",
        f"{parity['map50']:.3f} ({change50:+.2f} pt)",
        f"{parity['matched']:.1%}",
    ]


def agreement(parity):
    change = (parity["map50_95"] - parity["keras_map50_95"]) * 100
    return f"its test mAP@0.5:0.95 is {parity['map50_95']:.3f} ({change:+.2f} points against Keras)"


def headline(test):
    nan = float("nan")
    return (
        "mAP@0.5:0.95",
        f"{test.get('map50_95', nan):.3f} (mAP@0.5 {test.get('map50', nan):.3f}, loss {test.get('loss', nan):.4f})",
    )


def description(info):
    return "object detection"


def card_output(info):
    from kerasdl.tasks.detect_nms import MAX_DETECTIONS, NMS_IOU, SCORE_FLOOR, SHOW_SCORE

    return {
        "name": OUTPUT,
        "shape": [1, MAX_DETECTIONS, 6],
        "dtype": "float32",
        "layout": "batch, detections best first, x1 y1 x2 y2 score class",
        "meaning": (
            f"final detections after per-class NMS (IoU {NMS_IOU}) inside the model: boxes in input pixels "
            f"(x1 y1 x2 y2; map them to the photo with input.photo_preparation's rule), score, and the class "
            f"index (line i of labels.txt). Rows from `count` on are zeros; scores go down to {SCORE_FLOOR} "
            f"so that mAP sees every detection: show those above about {SHOW_SCORE}"
        ),
        "separate_outputs": {
            "boxes": [1, MAX_DETECTIONS, 4],
            "scores": [1, MAX_DETECTIONS],
            "classes": [1, MAX_DETECTIONS],
            "count": [1],
        },
    }


def serving_outputs(heads):
    """What `serving_default` and the TFLite models return (`detect_nms.final_detections`)."""
    from kerasdl.tasks.detect_nms import final_detections

    return final_detections(heads, _side_of(heads.shape[1]))


def serve_raw(model, images, info):
    """`serve_raw` of the SavedModel: one uint8 photo `(1, height, width,
    channels)` of any size in, its detections in the photo's own pixels out."""
    import tensorflow as tf

    from kerasdl.preprocess import letterbox_image

    side, _, channels = info.input_shape
    pixels, scale, top, left = letterbox_image(images[0], side, channels)
    found = serving_outputs(model(pixels[tf.newaxis], training=False))
    offset = tf.cast(tf.stack([left, top, left, top]), tf.float32)
    size = tf.cast(tf.shape(images)[1:3], tf.float32)
    limit = tf.stack([size[1], size[0], size[1], size[0]])
    valid = found["scores"][..., None] > 0
    boxes = tf.where(valid, tf.clip_by_value((found["boxes"] - offset) / scale, 0.0, limit), 0.0)
    detections = tf.concat([boxes, found["detections"][..., 4:]], axis=-1)
    return found | {"boxes": boxes, "detections": detections}


# Validation images shown in TensorBoard during training and in the test sheet.
SAMPLE_IMAGES = 4


def sample_callbacks(log_dir, dataset, config):
    """Every few epochs, validation mAP scalars and a few validation images
    with true and predicted boxes (`detect_samples.DetectionSamples`)."""
    from kerasdl.inspection.summaries import inspection_interval
    from kerasdl.tasks.detect_samples import DetectionSamples

    every = inspection_interval(config.inspect_every, config.epochs + config.fine_tune_epochs)
    return [DetectionSamples(log_dir, dataset, every, config.batch_size)] if every else []


def test_view(info, features, labels, outputs):
    """The first few test images: true boxes | detections above `SHOW_SCORE`."""
    from kerasdl.inspection.views import Inspection
    from kerasdl.tasks.detect_images import truth_and_prediction
    from kerasdl.tasks.detect_nms import SHOW_SCORE, detections_from_heads

    rows = []
    shown = min(SAMPLE_IMAGES, len(features))
    for index, found in enumerate(detections_from_heads(outputs[:shown], info.input_shape[0])):
        rows += [truth_and_prediction(features[index], labels[index], found, info.class_names, SHOW_SCORE)]
        rows += [np.full((4, rows[-1].shape[1], 3), 255, np.uint8)]
    return Inspection("test", {"samples": np.concatenate(rows[:-1])}, {}) if rows else None


# `kerasdl predict --conf/--iou` apply: the thresholds `render` takes.
SHOW_THRESHOLDS = ("min_score", "nms_iou")


def render(outputs, card, top=3, sources=(), out_dir=None, min_score=None, nms_iou=None):
    """Per input, writes `NAME.boxes.jpg` (the photo with its detections
    drawn) and `NAME.boxes.json` (a list of `{class, score, box}`, the box
    x1 y1 x2 y2 in the photo's pixels) into `out_dir` (default: beside the
    photo); returns `{"detections", "picture", "json"}` each. `min_score`
    and `nms_iou` are `kerasdl predict`'s `--conf` and `--iou`; `top` is a
    classifier's and unused."""
    from kerasdl.tasks.detect_render import render_detections

    return render_detections(outputs, card, sources, out_dir, min_score, nms_iou)


def format_prediction(result):
    from kerasdl.tasks.detect_render import format_detections

    return format_detections(result)
