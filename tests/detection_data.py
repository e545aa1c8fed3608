"""A small synthetic detection folder in the Ultralytics YOLO layout, for tests.

Each image holds one to three filled rectangles on a noisy dark ground; the
rectangle's colour is its class (red, green), so a tiny detector can learn
it in a few steps.
"""

import numpy as np
from PIL import Image

COLOURS = ((230, 40, 40), (40, 220, 60))
NAMES = ("red", "green")


def make_yolo_folder(root, count=24, size=(80, 64), seed=0):
    """Writes `root/images/*.png`, `root/labels/*.txt` and `root/data.yaml`;
    returns `{stem: [(class, x1, y1, x2, y2), ...]}` in pixels."""
    rng = np.random.default_rng(seed)
    width, height = size
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "labels").mkdir(parents=True, exist_ok=True)
    truth = {}
    for index in range(count):
        pixels = rng.integers(0, 40, (height, width, 3)).astype(np.uint8)
        boxes, lines = [], []
        for _ in range(rng.integers(1, 4)):
            kind = int(rng.integers(0, len(COLOURS)))
            box_width, box_height = rng.integers(12, 30, 2)
            x1, y1 = int(rng.integers(0, width - box_width)), int(rng.integers(0, height - box_height))
            x2, y2 = x1 + int(box_width), y1 + int(box_height)
            pixels[y1:y2, x1:x2] = COLOURS[kind]
            boxes.append((kind, x1, y1, x2, y2))
            centre_x, centre_y = (x1 + x2) / 2 / width, (y1 + y2) / 2 / height
            lines.append(f"{kind} {centre_x:.6f} {centre_y:.6f} {(x2 - x1) / width:.6f} {(y2 - y1) / height:.6f}")
        stem = f"img{index:03d}"
        Image.fromarray(pixels).save(root / "images" / f"{stem}.png")
        (root / "labels" / f"{stem}.txt").write_text("\n".join(lines) + "\n")
        truth[stem] = boxes
    (root / "data.yaml").write_text("names:\n" + "".join(f"  {i}: {name}\n" for i, name in enumerate(NAMES)))
    return truth
