"""What a `masks:DIR` folder holds, found and checked before it loads.

Images and masks are paired by file stem; each image's shape is read from
its header (`image_headers`), and each mask's PIL mode, size and pixel
values are scanned. The values decide the classes (0/255 masks are
binary; otherwise 255 is `IGNORE_INDEX`) and are checked against
`classes.txt`. A problem is a one-line `UserError` naming the file; files
that cannot be read are returned by index, so that `masks.load_mask_folder`
skips each with its pair.
"""

import concurrent.futures
from pathlib import Path

import numpy as np

from kerasdl.data.dataset import usable_threads
from kerasdl.data.images import IMAGE_SUFFIXES
from kerasdl.errors import UserError

# Pascal VOC marks object borders and unlabelled pixels with 255; losses and
# metrics must leave those pixels out.
IGNORE_INDEX = 255
MASK_SUFFIXES = (".png", ".bmp", ".gif")
LOSSY_SUFFIXES = (".jpg", ".jpeg")
# Modes whose pixel values are the indices themselves ("1" is 0/1).
INDEX_MODES = ("L", "P", "1")


def relative(path, root):
    return str(Path(path).relative_to(root))


def _files(folder, suffixes):
    # Hidden files are left out: macOS writes `._0001.png` beside `0001.png`.
    return sorted(
        path for path in folder.iterdir() if path.suffix.lower() in suffixes and not path.name.startswith(".")
    )


def paired_files(root):
    """Image and mask paths in the same order, matched by file stem."""
    folders = {name: root / name for name in ("images", "masks")}
    for folder in folders.values():
        if not folder.is_dir():
            raise UserError(
                f"{str(folder)!r} does not exist; masks:DIR needs DIR/images and DIR/masks with one mask per image"
            )
    images = _files(folders["images"], IMAGE_SUFFIXES)
    if not images:
        raise UserError(f"No images in {str(folders['images'])!r} ({', '.join(IMAGE_SUFFIXES)})")
    lossy = _files(folders["masks"], LOSSY_SUFFIXES)
    if lossy:
        raise UserError(
            f"Mask {relative(lossy[0], root)} is a JPEG, whose compression changes class indices; save masks as PNG"
        )
    masks = _files(folders["masks"], MASK_SUFFIXES)
    if not masks:
        raise UserError(f"No masks in {str(folders['masks'])!r} ({', '.join(MASK_SUFFIXES)})")
    by_stem = {}
    for kind, paths in (("images", images), ("masks", masks)):
        stems = {}
        for path in paths:
            if path.stem in stems:
                raise UserError(
                    f"{relative(stems[path.stem], root)} and {relative(path, root)} share a name; "
                    f"every file in {kind}/ needs its own stem to match its pair"
                )
            stems[path.stem] = path
        by_stem[kind] = stems
    lonely_images = [path for stem, path in by_stem["images"].items() if stem not in by_stem["masks"]]
    if lonely_images:
        raise UserError(
            f"Image {relative(lonely_images[0], root)} has no mask masks/{lonely_images[0].stem}.png"
            + (f" ({len(lonely_images)} images have none)" if len(lonely_images) > 1 else "")
        )
    lonely_masks = [path for stem, path in by_stem["masks"].items() if stem not in by_stem["images"]]
    if lonely_masks:
        raise UserError(
            f"Mask {relative(lonely_masks[0], root)} has no image images/{lonely_masks[0].stem}.*"
            + (f" ({len(lonely_masks)} masks have none)" if len(lonely_masks) > 1 else "")
        )
    return images, [by_stem["masks"][path.stem] for path in images]


def read_class_names(path):
    if not path.is_file():
        return None
    names = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    if not 2 <= len(names) <= IGNORE_INDEX:
        raise UserError(f"{str(path)!r} names {len(names)} classes; name 2 to {IGNORE_INDEX}, one a line")
    return names


def scan_masks(paths):
    """`(mode, (width, height), values present)` of each mask, and the
    indices of those PIL cannot read."""
    from PIL import Image

    def scan(path):
        try:
            with Image.open(path) as mask:
                mode, size = mask.mode, mask.size
                if mode not in INDEX_MODES:
                    return mode, size, np.zeros(256, dtype=bool)
                counts = np.bincount(np.asarray(mask, dtype="uint8").ravel(), minlength=256)
                return mode, size, counts > 0
        except (OSError, SyntaxError, ValueError):
            return None

    with concurrent.futures.ThreadPoolExecutor(usable_threads()) as pool:
        scanned = list(pool.map(scan, paths))
    return scanned, [index for index, result in enumerate(scanned) if result is None]


def mask_mode_error(path, root, mode):
    if mode in ("RGB", "RGBA", "CMYK", "YCbCr", "HSV", "LAB"):
        return UserError(
            f"Mask {relative(path, root)} is a colour ({mode}) image; masks must be single-channel grey or palette "
            "PNGs whose pixel values are class indices (convert colour-coded masks to indices first)"
        )
    return UserError(
        f"Mask {relative(path, root)} has PIL mode {mode}; masks must be 8-bit single-channel grey or palette PNGs "
        "whose pixel values are class indices"
    )


def is_binary(present, class_names):
    """0/255 masks and no classes.txt naming other than two classes."""
    values = set(np.flatnonzero(present))
    return IGNORE_INDEX in values and values <= {0, IGNORE_INDEX} and (class_names is None or len(class_names) == 2)


def checked_class_names(present, binary, class_names, masks, root):
    """Class names, checking every index the masks hold against classes.txt."""
    if binary:
        return class_names or ["class_0", "class_1"]
    indices = [value for value in np.flatnonzero(present) if value != IGNORE_INDEX]
    if class_names is None:
        count = max(indices, default=0) + 1
        if count < 2:
            raise UserError(f"Every mask in {str(root / 'masks')!r} is class 0 alone; there is nothing to segment")
        return [f"class_{index}" for index in range(count)]
    for path, values in masks:
        beyond = [value for value in np.flatnonzero(values) if len(class_names) <= value != IGNORE_INDEX]
        if beyond:
            raise UserError(
                f"Mask {relative(path, root)} holds class index {beyond[0]}, but classes.txt names "
                f"{len(class_names)} classes (0-{len(class_names) - 1}; {IGNORE_INDEX} means ignore)"
            )
    return class_names
