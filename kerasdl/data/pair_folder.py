"""What a `pairs:DIR` folder holds, found and checked before it loads.

Two layouts (`find_pairs`): `DIR/A/` and `DIR/B/` holding one image each per
file stem, or images whose two halves sit side by side, A left and B right
(the pix2pix data sets' layout), directly in `DIR` or in `DIR/train/`,
`DIR/val/` and `DIR/test/`. Every file is then decoded once, as the
pipeline will decode it (`scan_images`): the sizes are checked (a pair's two
images alike, a side-by-side image's width even) and whether each side is
grey is read from its pixels. A problem is a one-line `UserError` naming
the file.
"""

import dataclasses

import numpy as np

from kerasdl.data.dataset import first_few, untuned, usable_threads
from kerasdl.data.mask_folder import relative
from kerasdl.errors import UserError
from kerasdl.photos import IMAGE_SUFFIXES

SIDES = ("A", "B")
# Sub-folders that are splits, by the split they hold (pix2pix's names).
SPLIT_FOLDERS = {"train": "train", "validation": "val", "test": "test"}
LAYOUTS = (
    "pairs:DIR needs DIR/A and DIR/B with one image each per file name, or images with the two halves side by "
    "side, A left and B right (in DIR, or in DIR/train, DIR/val and DIR/test)"
)


def checked_pairs(root):
    """Finds and checks the pairs of the folder `root`.

    Args:
        root: a `Path`, the `pairs:DIR` folder.

    Returns:
        `(side_by_side, groups, channels)`: whether each file holds both
        images; `{name: (A paths, B paths)}`, NumPy arrays of strings, where
        `name` is `train`, `validation` or `test` for a split's sub-folder,
        else `all` (the same path twice for a side-by-side image); and
        `{"A": 1 or 3, "B": 1 or 3}`, the channels of each side: 1 if every
        image of that side is grey.

    Example:
        >>> checked_pairs(Path("facades"))[2]
        {'A': 3, 'B': 3}
    """
    side_by_side, groups = find_pairs(root)
    paths = sorted({path for pairs in groups.values() for pair in pairs for path in pair})
    scanned = scan_images(paths, root)
    grey = {side: True for side in SIDES}
    for pairs in groups.values():
        for a_path, b_path in pairs:
            a_scan, b_scan = scanned[a_path], scanned[b_path]
            if side_by_side:
                if a_scan.width % 2:
                    raise UserError(
                        f"{relative(a_path, root)} is {a_scan.width} pixels wide, an odd width that cannot be cut "
                        "into two equal halves (A left, B right); crop or pad it to an even width"
                    )
                grey["A"] &= a_scan.grey_left
                grey["B"] &= a_scan.grey_right
                continue
            if (a_scan.width, a_scan.height) != (b_scan.width, b_scan.height):
                raise UserError(
                    f"{relative(a_path, root)} is {a_scan.width}x{a_scan.height} but its partner "
                    f"{relative(b_path, root)} is {b_scan.width}x{b_scan.height}; the two images of a pair must "
                    "be the same size, aligned pixel for pixel"
                )
            grey["A"] &= a_scan.grey
            grey["B"] &= b_scan.grey
    channels = {side: 1 if grey[side] else 3 for side in SIDES}
    groups = {
        name: tuple(np.asarray([str(pair[index]) for pair in pairs]) for index in range(2))
        for name, pairs in groups.items()
    }
    return side_by_side, groups, channels


def find_pairs(root):
    """`(side_by_side, {name: [(A path, B path), ...]})` of the folder
    `root` (see `checked_pairs`), before any file is read."""
    if not any(not path.name.startswith(".") for path in root.iterdir()):
        raise UserError(f"Pair folder {str(root)!r} is empty; {LAYOUTS}")
    if any((root / side).is_dir() for side in SIDES):
        return False, {"all": _matched(root)}
    if (root / SPLIT_FOLDERS["train"]).is_dir():
        groups = {}
        for split, name in SPLIT_FOLDERS.items():
            if (root / name).is_dir():
                groups[split] = [(path, path) for path in _images(root / name)]
        return True, groups
    files = image_files(root)
    if not files:
        present = [name for name in ("val", "test") if (root / name).is_dir()]
        beside = f" ({' and '.join(f'{name}/' for name in present)} but no train/)" if present else ""
        raise UserError(f"No images and no A/ and B/ sub-folders in {str(root)!r}{beside}; {LAYOUTS}")
    return True, {"all": [(path, path) for path in files]}


def image_files(folder):
    # Hidden files are left out: macOS writes `._0001.png` beside `0001.png`.
    return sorted(
        path
        for path in folder.iterdir()
        if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")
    )


def _images(folder):
    files = image_files(folder)
    if not files:
        raise UserError(f"No images in {str(folder)!r} ({', '.join(IMAGE_SUFFIXES)}); {LAYOUTS}")
    return files


def _matched(root):
    """`(A path, B path)` pairs of `root/A` and `root/B`, matched by file stem."""
    stems = {}
    for side in SIDES:
        folder = root / side
        if not folder.is_dir():
            raise UserError(f"{str(folder)!r} does not exist; {LAYOUTS}")
        stems[side] = {}
        for path in _images(folder):
            if path.stem in stems[side]:
                raise UserError(
                    f"{relative(stems[side][path.stem], root)} and {relative(path, root)} share a name; every "
                    f"file in {side}/ needs its own stem to match its partner"
                )
            stems[side][path.stem] = path
    for side, other in (SIDES, SIDES[::-1]):
        lonely = [path for stem, path in stems[side].items() if stem not in stems[other]]
        if lonely:
            raise UserError(
                f"{relative(lonely[0], root)} has no partner {other}/{lonely[0].stem}.*"
                + (f" ({len(lonely)} files in {side}/ have none)" if len(lonely) > 1 else "")
                + f"; every image in {side}/ needs one in {other}/ with the same name"
            )
    return [(path, stems["B"][stem]) for stem, path in stems["A"].items()]


@dataclasses.dataclass
class Scan:
    """One decoded image's size and whether it, its left half and its right half are grey."""

    height: int
    width: int
    grey: bool
    grey_left: bool
    grey_right: bool


def scan_images(paths, root):
    """`{path: Scan}` of every image in `paths`, decoded by TensorFlow as the
    pipeline will. An image is grey when it has one channel (with or without
    alpha) or three equal ones: a grey photo saved as RGB, or the grey half
    of a side-by-side image whose other half is colour.

    Raises:
        UserError: naming the first file that cannot be decoded.
    """
    import tensorflow as tf

    from kerasdl.preprocess import with_channels

    def scan(index, path):
        image = with_channels(tf.io.decode_image(tf.io.read_file(path), expand_animations=False), 3)
        shape = tf.shape(image)
        # Per column: are red, green and blue equal all the way down?
        equal = tf.reduce_all((image[..., 0] == image[..., 1]) & (image[..., 1] == image[..., 2]), axis=0)
        half = shape[1] // 2
        return index, shape[0], shape[1], tf.reduce_all(equal), tf.reduce_all(equal[:half]), tf.reduce_all(equal[half:])

    data = tf.data.Dataset.from_tensor_slices((np.arange(len(paths)), [str(path) for path in paths]))
    data = untuned(data.map(scan, num_parallel_calls=usable_threads()).ignore_errors())
    scanned = {
        paths[int(index)]: Scan(int(height), int(width), *(bool(flag) for flag in flags))
        for index, height, width, *flags in data.as_numpy_iterator()
    }
    unreadable = [relative(path, root) for path in paths if path not in scanned]
    if unreadable:
        more = f" ({len(unreadable)} files cannot be read: {first_few(unreadable)})" if len(unreadable) > 1 else ""
        raise UserError(
            f"Cannot read {unreadable[0]} as an image ({', '.join(IMAGE_SUFFIXES)}); it may be corrupt{more}"
        )
    return scanned
