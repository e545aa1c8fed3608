"""Pictures of detections: boxes and labels drawn on photos (Pillow), for
`kerasdl predict`, TensorBoard's samples and the test sheet in `plots/`."""

import numpy as np
from PIL import Image, ImageDraw

# One colour per class, cycled: distinct on photos and on each other.
PALETTE = (
    (230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180),
    (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212), (0, 128, 128),
)  # fmt: skip
# A picture whose longer side is under this is drawn enlarged (whole
# multiples, nearest neighbour): on a 64-pixel tile the labels' 11-pixel
# text would cover the objects it names.
MIN_DRAWN_SIDE = 256


def draw_boxes(image, boxes, classes, class_names, scores=None, width=2, dashed=False):
    """`image` (uint8 or 0-255 float `(H, W, C)`) with boxes drawn, as uint8 RGB.

    Args:
        boxes: `(k, 4)` x1 y1 x2 y2 in the image's pixels.
        classes: `(k,)` class indices.
        class_names: names of the indices, for the labels.
        scores: `(k,)`, shown after the name; None for true boxes (no label
            text: the picture shows truth as thin outlines).
        width: line width in pixels.

    Returns:
        uint8 RGB, `image`'s size times a whole factor: 1, or enough to
        bring its longer side to `MIN_DRAWN_SIDE`.
    """
    pixels = np.clip(np.asarray(image, dtype=np.float32), 0, 255).astype(np.uint8)
    if pixels.ndim == 2 or pixels.shape[-1] == 1:
        pixels = np.repeat(pixels.reshape(*pixels.shape[:2], 1), 3, axis=-1)
    factor = max(1, -(-MIN_DRAWN_SIDE // max(pixels.shape[:2])))
    pixels = pixels.repeat(factor, axis=0).repeat(factor, axis=1)
    boxes = np.asarray(boxes, dtype=float).reshape(-1, 4) * factor
    picture = Image.fromarray(pixels[..., :3])
    pen = ImageDraw.Draw(picture)
    for index, (box, kind) in enumerate(zip(boxes, classes, strict=True)):
        colour = PALETTE[int(kind) % len(PALETTE)]
        x1, y1, x2, y2 = box.tolist()
        pen.rectangle([x1, y1, max(x1, x2), max(y1, y2)], outline=colour, width=width)
        if scores is not None:
            text = f"{class_names[int(kind)]} {float(scores[index]):.2f}"
            left, top, right, bottom = pen.textbbox((x1, y1), text)
            height = bottom - top + 2
            # Above the box, or inside it where the box touches the picture's top.
            label_top = y1 - height if y1 >= height else y1
            pen.rectangle([x1, label_top, x1 + right - left + 4, label_top + height], fill=colour)
            pen.text((x1 + 2, label_top), text, fill=(255, 255, 255))
    return np.asarray(picture)


def truth_and_prediction(image, labels, detections, class_names, min_score):
    """Two panels side by side: the true boxes, and the detections scoring at least `min_score`."""
    real = labels[labels[:, 0] >= 0]
    shown = detections[detections[:, 4] >= min_score]
    truth = draw_boxes(image, real[:, 1:5], real[:, 0], class_names, width=1)
    found = draw_boxes(image, shown[:, :4], shown[:, 5], class_names, scores=shown[:, 4])
    gap = np.full((truth.shape[0], 4, 3), 255, np.uint8)
    return np.concatenate([truth, gap, found], axis=1)
