"""What `kerasdl predict` writes and prints for a detector: the photo with
its boxes drawn, a JSON list of them, and a short table."""

import json
from pathlib import Path

import numpy as np

from kerasdl.photos import letterbox_geometry, read_photo


def photo_boxes(detections, photo_height, photo_width, side):
    """Detections `(rows, 6)` in input pixels -> boxes in the photo's pixels
    (the letterbox undone, clipped to the photo), rows with score 0 dropped."""
    scale, _, _, top, left = letterbox_geometry(photo_height, photo_width, side)
    found = detections[detections[:, 4] > 0].copy()
    found[:, :4] = (found[:, :4] - [left, top, left, top]) / scale
    found[:, [0, 2]] = found[:, [0, 2]].clip(0, photo_width)
    found[:, [1, 3]] = found[:, [1, 3]].clip(0, photo_height)
    return found


def box_iou(boxes, others):
    """Pairwise IoU `(len(boxes), len(others))` of x1 y1 x2 y2 rows (NumPy)."""
    top_left = np.maximum(boxes[:, None, :2], others[None, :, :2])
    bottom_right = np.minimum(boxes[:, None, 2:4], others[None, :, 2:4])
    overlap = np.prod(np.clip(bottom_right - top_left, 0, None), axis=-1)
    areas = [np.prod(rows[:, 2:4] - rows[:, :2], axis=-1) for rows in (boxes, others)]
    return overlap / np.maximum(areas[0][:, None] + areas[1][None, :] - overlap, 1e-9)


def suppressed(found, iou):
    """`found` `(rows, 6)`, best first, without the rows that overlap a
    better row of the same class by more than `iou` (greedy NMS)."""
    overlaps = box_iou(found, found)
    keep = []
    for index in range(len(found)):
        if not any(found[kept, 5] == found[index, 5] and overlaps[kept, index] > iou for kept in keep):
            keep.append(index)
    return found[keep]


def render_detections(outputs, card, sources, out_dir=None, min_score=None, nms_iou=None):
    """See `kerasdl.tasks.detect.render`."""
    from PIL import Image

    from kerasdl.errors import UserError
    from kerasdl.tasks.detect_images import draw_boxes
    from kerasdl.tasks.detect_nms import NMS_IOU, SHOW_SCORE

    min_score = SHOW_SCORE if min_score is None else min_score
    if not 0 <= min_score <= 1:
        raise UserError(f"--conf {min_score:g} is out of range; allowed: a score from 0 to 1")
    if nms_iou is not None and not 0 < nms_iou <= NMS_IOU:
        raise UserError(
            f"--iou {nms_iou:g} is out of range; allowed: above 0 and at most {NMS_IOU}, the IoU the model's "
            "own NMS used"
        )
    names = card["labels"]
    side = card["input"]["shape"][1]
    results = []
    for detections, source in zip(outputs, sources, strict=True):
        path = Path(source)
        folder = Path(out_dir) if out_dir else path.parent
        folder.mkdir(parents=True, exist_ok=True)
        photo = read_photo(path)
        found = photo_boxes(np.asarray(detections), photo.shape[0], photo.shape[1], side)
        found = found[found[:, 4] >= min_score]
        if nms_iou is not None:
            found = suppressed(found, nms_iou)
        listed = [
            {
                "class": names[int(row[5])],
                "score": round(float(row[4]), 4),
                "box": [round(float(v), 1) for v in row[:4]],
            }
            for row in found
        ]
        result = {
            "detections": listed,
            "picture": str(folder / f"{path.stem}.boxes.jpg"),
            "json": str(folder / f"{path.stem}.boxes.json"),
        }
        drawn = draw_boxes(photo, found[:, :4], found[:, 5], names, scores=found[:, 4])
        Image.fromarray(drawn).save(result["picture"], quality=92)
        Path(result["json"]).write_text(json.dumps(listed, indent=1) + "\n")
        results.append(result)
    return results


def format_detections(result, most=10):
    """`3 objects: RBC 0.91 at (12, 30, 80, 95), ... (wrote a.boxes.jpg, a.boxes.json)`."""
    found = result["detections"]
    lines = [f"{len(found)} object(s)" + (":" if found else "") + f" (wrote {result['picture']}, {result['json']})"]
    for item in found[:most]:
        x1, y1, x2, y2 = item["box"]
        lines.append(f"    {item['class']:<16} {item['score']:.2f}  ({x1:.0f}, {y1:.0f}, {x2:.0f}, {y2:.0f})")
    if len(found) > most:
        lines.append(f"    ... and {len(found) - most} more in the JSON")
    return "\n".join(lines)
