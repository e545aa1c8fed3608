"""COCO mAP of detections, computed by `pycocotools`, the reference
implementation the field reports (and Ultralytics checks itself against).

Boxes are in any one pixel frame (here the model's input pixels): AP is
the same in any frame the boxes share, except for COCO's small/medium/large
split, which is not reported.
"""

import contextlib
import io

import numpy as np


def _coco_truth(labels, class_count):
    from pycocotools.coco import COCO

    annotations = []
    for image_id, rows in enumerate(labels):
        for row in rows[rows[:, 0] >= 0]:
            x1, y1, x2, y2 = (float(value) for value in row[1:5])
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": int(row[0]),
                    "bbox": [x1, y1, x2 - x1, y2 - y1],
                    "area": (x2 - x1) * (y2 - y1),
                    "iscrowd": 0,
                }
            )
    truth = COCO()
    truth.dataset = {
        "images": [{"id": index} for index in range(len(labels))],
        "annotations": annotations,
        "categories": [{"id": index} for index in range(class_count)],
    }
    with contextlib.redirect_stdout(io.StringIO()):  # "creating index..."
        truth.createIndex()
    return truth


def mean_average_precision(detections, labels, class_names):
    """mAP@0.5, mAP@0.5:0.95 and per-class AP of `detections` against `labels`.

    Args:
        detections: `(images, rows, 6)` x1 y1 x2 y2 score class, rows with
            score 0 unused (`kerasdl.tasks.detect_nms.final_detections`).
        labels: `(images, rows, 5)` class x1 y1 x2 y2, class -1 unused.
        class_names: names of the class indices.

    Returns:
        `{"map50", "map50_95", "ap50": {class: AP or None}, "ap50_95": {...}}`;
        a class with no true box has AP None and counts in no mean.

    Example:
        >>> mean_average_precision(labels_as_detections, labels, ["cell"])["map50_95"]  # 1.0
    """
    from pycocotools.cocoeval import COCOeval

    truth = _coco_truth(labels, len(class_names))
    results = [
        {
            "image_id": image_id,
            "category_id": int(row[5]),
            "bbox": [float(row[0]), float(row[1]), float(row[2] - row[0]), float(row[3] - row[1])],
            "score": float(row[4]),
        }
        for image_id, rows in enumerate(detections)
        for row in rows[rows[:, 4] > 0]
    ]
    if not results or not truth.dataset["annotations"]:
        # Nothing found, or nothing to find: 0 for every class with true
        # boxes, None for the others, as pycocotools would say.
        present = {int(row[0]) for rows in labels for row in rows[rows[:, 0] >= 0]}
        ap = {name: (0.0 if index in present else None) for index, name in enumerate(class_names)}
        return {"map50": 0.0, "map50_95": 0.0, "ap50": ap, "ap50_95": dict(ap)}
    with contextlib.redirect_stdout(io.StringIO()):  # COCOeval prints as it goes
        evaluation = COCOeval(truth, truth.loadRes(results), "bbox")
        evaluation.evaluate()
        evaluation.accumulate()
    # precision[threshold, recall, class, area range, max detections]:
    # area "all" and 100 detections, as COCO's headline figures.
    precision = evaluation.eval["precision"][:, :, :, 0, -1]

    def per_class(thresholds):
        values = {}
        for index, name in enumerate(class_names):
            curve = precision[thresholds, :, index]
            values[name] = float(curve[curve > -1].mean()) if (curve > -1).any() else None
        return values

    ap50, ap50_95 = per_class(slice(0, 1)), per_class(slice(None))

    def mean(values):
        present = [value for value in values.values() if value is not None]
        return float(np.mean(present)) if present else 0.0

    return {"map50": mean(ap50), "map50_95": mean(ap50_95), "ap50": ap50, "ap50_95": ap50_95}
