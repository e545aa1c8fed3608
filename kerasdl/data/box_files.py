"""Object-detection folders in YOLO, Pascal VOC or COCO layout, read into one form.

The format is found from what the folder holds, in this order:

- YOLO (Ultralytics): `images/` and `labels/` (or a `data.yaml`), one
  `labels/<stem>.txt` per image with a `class cx cy w h` line per box, as
  fractions of the image's width and height. Flat (`images/*.jpg`) or split
  (`images/train/`, `images/val/`, `images/test/`, or data.yaml's `train:`,
  `val:`, `test:` folders). Class names from data.yaml's `names:` or
  `classes.txt`. An empty label file marks an image with no objects.
- Pascal VOC: `JPEGImages/` and one `Annotations/<stem>.xml` per image,
  boxes in 1-based pixels. Class names from `classes.txt`, else the sorted
  names found; `<difficult>1</difficult>` objects are kept. Splits from
  `ImageSets/Main/{train,val,test}.txt`.
- COCO: `annotations.json` (or `_annotations.coco.json`, or the one JSON
  file there) beside `images/` or the images themselves; boxes
  `[x, y, w, h]` in pixels; category ids in order become classes 0, 1, ...

Every box becomes x1, y1, x2, y2 in the image's pixels. Boxes with no area,
under a pixel or outside their image are skipped and boxes reaching past the
edges are clipped, each said in `notes`; so are images PIL cannot open.
Anything else wrong is a one-line `UserError` naming the file.
"""

import concurrent.futures
import dataclasses
from pathlib import Path

import numpy as np
from PIL import Image

from kerasdl.data.box_formats import coco_file, read_coco, read_voc, read_yolo, shown
from kerasdl.data.dataset import SPLITS, first_few, usable_threads
from kerasdl.errors import UserError
from kerasdl.photos import IMAGE_SUFFIXES

READERS = {"yolo": read_yolo, "voc": read_voc, "coco": read_coco}
# Skipped boxes are noted one a line up to this many, then counted.
NOTED_BOX_PROBLEMS = 20
# YOLO files round fractions to 6 digits, so a box drawn to the edge can end
# thousandths of a pixel past it; only more than this is noted as clipped.
CLIP_TOLERANCE = 0.01


@dataclasses.dataclass
class BoxRecords:
    """Every image of a detection folder and its boxes.

    Args:
        format: `yolo`, `voc` or `coco`.
        image_paths: the images kept, as str paths, sorted.
        sizes: int `(N, 2)`: width and height of each image as stored.
        boxes: per image a float32 `(k, 4)` array of x1, y1, x2, y2 in that
            image's pixels (0 to width, 0 to height), clipped to the image;
            k is 0 for an image with no objects.
        classes: per image an int32 `(k,)` array of indices into `class_names`.
        class_names: name of each class index.
        splits: `{"train": indices, "validation": ..., "test": ...}` into
            `image_paths`, for the splits the folder itself names (empty ones
            left out); `{}` if it names none.
        notes: lines the user should hear: skipped or clipped boxes,
            unreadable or unlisted images, sizes an annotation gets wrong.
    """

    format: str
    image_paths: list
    sizes: np.ndarray
    boxes: list
    classes: list
    class_names: list
    splits: dict
    notes: list


def read_box_folder(directory):
    """Reads a detection folder in YOLO, Pascal VOC or COCO layout.

    Args:
        directory: the folder (str or path); its layout decides the format
            (see the module's docstring).

    Returns:
        A `BoxRecords` with every readable image, its boxes in pixels and
        their class indices.

    Example:
        >>> records = read_box_folder("pets")  # pets/images/*.jpg, pets/labels/*.txt, pets/data.yaml
        >>> records.format, records.class_names, records.boxes[0]
        ('yolo', ['cat', 'dog'], array([[10. ,  7.5, 30. , 22.5]], dtype=float32))
    """
    root = Path(directory)
    if not root.is_dir():
        raise UserError(f"Detection folder {str(root)!r} does not exist; pass a folder in YOLO, VOC or COCO layout")
    box_format = detect_format(root)
    images, class_names, notes = READERS[box_format](root)
    images = sorted(images, key=lambda image: str(image.path))
    if not images:
        raise UserError(f"No images in {str(root)!r} ({', '.join(IMAGE_SUFFIXES)})")
    sizes = image_sizes([image.path for image in images])
    unreadable = [shown(image.path, root) for image, size in zip(images, sizes, strict=True) if size is None]
    kept = [(image, size) for image, size in zip(images, sizes, strict=True) if size is not None]
    if not kept:
        raise UserError(f"PIL cannot open any image in {str(root)!r}: {first_few(unreadable)}")
    if unreadable:
        notes.insert(0, f"skipped {len(unreadable)} image(s) PIL cannot open: {first_few(unreadable)}")

    all_boxes, all_classes, problems, clipped, misstated = [], [], [], [], []
    for image, (width, height) in kept:
        if image.stated_size and tuple(image.stated_size) != (width, height):
            stated = "x".join(str(side) for side in image.stated_size)
            misstated.append(f"{image.annotation} says {stated} but {shown(image.path, root)} is {width}x{height}")
        # YOLO's corners are fractions of the image's sides, the others' pixels.
        scale = np.array([width, height, width, height] if box_format == "yolo" else [1, 1, 1, 1], dtype="float64")
        kept_boxes, kept_classes = [], []
        for corners, index, where, written in image.boxes:
            corners = np.asarray(corners, dtype="float64") * scale
            problem = box_problem(corners, width, height)
            if problem:
                problems.append(f"{where}: box {written} {problem}; skipped")
                continue
            inside = np.clip(corners, 0, [width, height, width, height])
            if np.abs(inside - corners).max() > CLIP_TOLERANCE:
                clipped.append(where)
            kept_boxes.append(inside)
            kept_classes.append(index)
        all_boxes.append(np.asarray(kept_boxes, dtype="float32").reshape(-1, 4))
        all_classes.append(np.asarray(kept_classes, dtype="int32"))

    if misstated:
        notes.append(
            f"{len(misstated)} annotation(s) give another size than the image's, which is used: {first_few(misstated)}"
        )
    notes.extend(problems[:NOTED_BOX_PROBLEMS])
    if len(problems) > NOTED_BOX_PROBLEMS:
        notes.append(f"and {len(problems) - NOTED_BOX_PROBLEMS} more box problems")
    if clipped:
        notes.append(f"clipped {len(clipped)} box(es) that reach past their image's edges: {first_few(clipped)}")
    shared = [shown(image.path, root) for image, _ in kept if len(set(image.splits)) > 1]
    if shared:
        notes.append(
            f"{len(shared)} image(s) are in more than one split, so scores on those splits will flatter the model: "
            f"{first_few(shared)}"
        )
    splits = {
        split: np.asarray([position for position, (image, _) in enumerate(kept) if split in image.splits], dtype=int)
        for split in SPLITS
    }
    return BoxRecords(
        format=box_format,
        image_paths=[str(image.path) for image, _ in kept],
        sizes=np.asarray([size for _, size in kept], dtype=int).reshape(-1, 2),
        boxes=all_boxes,
        classes=all_classes,
        class_names=class_names,
        splits={split: indices for split, indices in splits.items() if len(indices)},
        notes=notes,
    )


def detect_format(root):
    """`yolo`, `voc` or `coco`: what the folder `root` holds decides."""
    if ((root / "images").is_dir() and (root / "labels").is_dir()) or (root / "data.yaml").is_file():
        return "yolo"
    if (root / "JPEGImages").is_dir() and (root / "Annotations").is_dir():
        return "voc"
    if coco_file(root):
        return "coco"
    raise UserError(
        f"{str(root)!r} is not a detection folder: YOLO needs images/ and labels/ (one .txt per image), "
        "Pascal VOC needs JPEGImages/ and Annotations/ (one .xml per image), COCO needs annotations.json "
        "beside images/ or the images"
    )


def image_sizes(paths):
    """`(width, height)` of each image from its header (None where PIL cannot open it)."""

    def size(path):
        try:
            with Image.open(path) as image:
                return image.size
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
            return None

    # Threads: opening files is mostly waiting on the disk, and folders can be on network drives.
    with concurrent.futures.ThreadPoolExecutor(usable_threads()) as pool:
        return list(pool.map(size, paths))


def box_problem(corners, width, height):
    """Why a box (x1, y1, x2, y2 in pixels) cannot be kept in a `width` x
    `height` image, or None if it can (maybe clipped).

    Example:
        >>> box_problem([5, 5, 5, 9], 40, 30), box_problem([-9, 0, -1, 9], 40, 30)
        ('has zero width', 'lies outside the 40x30 image')
    """
    x1, y1, x2, y2 = corners
    for side, low, high in (("width", x1, x2), ("height", y1, y2)):
        if high <= low:
            return f"has {'zero' if high == low else 'negative'} {side}"
    if x2 <= 0 or y2 <= 0 or x1 >= width or y1 >= height:
        return f"lies outside the {width}x{height} image"
    for side, low, high, limit in (("wide", x1, x2, width), ("high", y1, y2, height)):
        if min(high, limit) - max(low, 0) < 1:
            return f"is under 1 pixel {side}" + (" inside the image" if low < 0 or high > limit else "")
    return None
