"""`images:DIR`: a folder with one sub-folder of images per class.

Images may be JPEG, PNG, BMP or GIF (first frame), grey or colour, of any
size; each is converted and resized exactly as `serve_raw` and `kerasdl
predict` do (`kerasdl.preprocess.prepare_images`), so training sees what a
served model sees. Pixels stay 0-255; the model normalises inside.

Unreadable files are skipped and reported (count and first names) rather
than failing the run: one corrupt download in a folder of thousands should
not stop training, but the user must hear about it.
"""

from pathlib import Path

import numpy as np

from kerasdl.data.dataset import DataInfo, Dataset, image_side, normalisation_stats, split_stratified
from kerasdl.errors import UserError
from kerasdl.photos import IMAGE_SUFFIXES  # one list for training and predict
from kerasdl.stage_line import StageLine


def load_image_folder(directory, seed, validation_fraction, test_fraction, image_size="auto"):
    """Loads `directory/<class>/<image>` as seeded, stratified splits.

    Args:
        directory: the folder; each sub-folder holding images is a class,
            named after the sub-folder (sorted, so index order is stable).
        seed: seeds the splits.
        validation_fraction: share of all images for validation.
        test_fraction: share of all images for the test split.
        image_size: side of the square the images are resized to, or
            "auto": their largest side, at most 32 (`dataset.image_side`).

    Returns:
        A `Dataset` whose `notes` list the skipped files, if any.

    Example:
        >>> load_image_folder("photos", seed=42, validation_fraction=0.1, test_fraction=0.2).info.class_names
        ['cats', 'dogs']
    """
    import tensorflow as tf

    root = Path(directory)
    if not root.is_dir():
        raise UserError(
            f"Image folder {str(root)!r} does not exist; pass data=images:DIR with one sub-folder per class"
        )
    files = {
        folder.name: sorted(path for path in folder.iterdir() if path.suffix.lower() in IMAGE_SUFFIXES)
        for folder in sorted(root.iterdir())
        if folder.is_dir()
    }
    files = {name: paths for name, paths in files.items() if paths}
    if len(files) < 2:
        raise UserError(
            f"Image folder {str(root)!r} needs at least 2 sub-folders with images (one per class, "
            f"{', '.join(IMAGE_SUFFIXES)}); found {len(files)}"
        )
    decoded, labels, skipped = [], [], []
    total = sum(len(paths) for paths in files.values())
    line = StageLine(f"reading {directory}")
    for index, paths in enumerate(files.values()):
        for path in paths:
            line.count("images", len(decoded) + len(skipped) + 1, total)
            try:
                image = tf.io.decode_image(tf.io.read_file(str(path)), expand_animations=False)
            except tf.errors.OpError:
                skipped.append(path)
                continue
            decoded.append(image)
            labels.append(index)
    line.close()
    if not decoded:
        raise UserError(f"No readable image in {str(root)!r}")
    # Grey if every image is grey (with or without alpha), else colour.
    channels = 1 if all(image.shape[-1] <= 2 for image in decoded) else 3
    side = image_side(image_size, max(max(image.shape[:2]) for image in decoded))
    shape = (side, side, channels)
    features = _prepared(decoded, shape)
    labels = np.asarray(labels, dtype="int32")
    splits = split_stratified(features, labels, seed, validation_fraction, test_fraction)
    mean, variance = normalisation_stats(splits["train"][0])
    info = DataInfo(
        name=f"images:{directory}",
        kind="image",
        input_shape=shape,
        class_names=list(files),
        value_range=(0.0, 255.0),
        mean=mean,
        variance=variance,
    )
    notes = []
    if skipped:
        names = ", ".join(str(path.relative_to(root)) for path in skipped[:5])
        more = f" and {len(skipped) - 5} more" if len(skipped) > 5 else ""
        notes.append(f"skipped {len(skipped)} unreadable image file(s): {names}{more}")
    return Dataset(info=info, splits=splits, notes=notes)


# Values (height x width x channels) prepared in one call: 64 MB as float32,
# thousands of small images at once, one 12-megapixel photo at a time.
PREPARE_BUDGET = 2**24


def _prepared(decoded, shape):
    """Every decoded image through `prepare_images`, batched by decoded shape.

    One call per image cost 8 s for 8,000 28x28 PNGs here (eager ops one at a
    time), one call per chunk of same-sized images 0.5 s; chunks of at most
    `PREPARE_BUDGET` values bound the memory a folder of large photos takes.
    """
    import tensorflow as tf

    from kerasdl.preprocess import prepare_images

    features = np.empty((len(decoded), *shape), dtype="float32")
    by_shape = {}
    for index, image in enumerate(decoded):
        by_shape.setdefault(tuple(image.shape), []).append(index)
    for decoded_shape, indices in by_shape.items():
        chunk = max(1, PREPARE_BUDGET // int(np.prod(decoded_shape)))
        for start in range(0, len(indices), chunk):
            part = indices[start : start + chunk]
            batch = tf.stack([decoded[index] for index in part])
            features[part] = prepare_images(batch, shape, (0.0, 255.0)).numpy()
    return features
