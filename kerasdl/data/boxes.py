"""`boxes:DIR`: photos and their object boxes, streamed from disk.

`DIR` holds YOLO txt labels, Pascal VOC XML or COCO JSON
(`kerasdl.data.box_files` finds out which and checks every file). Each
split streams through `tf.data`: a photo is decoded, letterboxed into the
`side` x `side` input (scaled to fit keeping its shape, centred, margins
grey) and its boxes moved with it. Labels are one float32 array per image
of `MAX_BOXES` rows `class, x1, y1, x2, y2` in the input's pixels, padded
with class -1: Keras then batches them as any tensor.

Splits: a folder that names train, validation and test uses them; one that
names train and val only (Pascal VOC's `ImageSets/Main`, BCCD) trains on
train, takes validation from it (`validation_fraction` of all images) and
scores on val, so the reported figures are those on the split its authors
held out; otherwise seeded random splits.
"""

import dataclasses
import math

import numpy as np

from kerasdl.data.box_files import read_box_folder
from kerasdl.data.dataset import DataInfo
from kerasdl.data.masks import STATS_SAMPLE, MaskDataset
from kerasdl.errors import UserError

# image_size=auto: the photos' longest side rounded up to a multiple of 32
# (the detector's coarsest stride), at most 320: on a CPU, 320 trains a
# detector in minutes; a GPU run sets image_size=640 as Ultralytics does.
AUTO_SIDE_MAX = 320
SIDE_MULTIPLE = 32
# A box that augmentation leaves narrower or lower than this many input
# pixels is dropped: there is nothing left of its object to learn from.
MIN_BOX_SIDE = 2.0
# Augmentation: how far a photo moves and how much it is scaled.
TRANSLATE_FACTOR = 0.1
ZOOM_FACTOR = 0.25


def detection_side(image_size, largest_side):
    """The input square's side: `image_size`, or for "auto" the photos'
    `largest_side` rounded up to a multiple of 32, at most 320.

    Example:
        >>> detection_side("auto", 640), detection_side("auto", 100), detection_side("256", 640)
        (320, 128, 256)
    """
    if str(image_size) != "auto":
        side = int(image_size)
        if side % SIDE_MULTIPLE or side < SIDE_MULTIPLE:
            raise UserError(
                f"image_size={image_size} does not fit a detector; allowed: a multiple of {SIDE_MULTIPLE} "
                f"(for example {max(SIDE_MULTIPLE, round(side / SIDE_MULTIPLE) * SIDE_MULTIPLE)})"
            )
        return side
    return min(AUTO_SIDE_MAX, math.ceil(largest_side / SIDE_MULTIPLE) * SIDE_MULTIPLE)


def padded_labels(boxes, classes, rows):
    """Per image `(rows, 5)` float32: `class, x1, y1, x2, y2`, then class -1 rows."""
    labels = np.zeros((len(boxes), rows, 5), dtype="float32")
    labels[..., 0] = -1
    for index, (image_boxes, image_classes) in enumerate(zip(boxes, classes, strict=True)):
        labels[index, : len(image_boxes), 0] = image_classes
        labels[index, : len(image_boxes), 1:] = image_boxes
    return labels


def box_info(name, side, class_names):
    """The `DataInfo` of detection photos: raw 0-255 RGB, letterboxed into
    `side`; mean and variance are set from the training split later."""
    return DataInfo(
        name=name,
        kind="image",
        input_shape=(side, side, 3),
        class_names=list(class_names),
        value_range=(0.0, 255.0),
        mean=np.zeros(3, dtype="float32"),
        variance=np.ones(3, dtype="float32"),
    )


def load_box_folder(directory, seed, validation_fraction, test_fraction, image_size="auto", augment=True):
    """Loads a detection folder as train/validation/test splits streamed from disk.

    Args:
        directory: a YOLO, Pascal VOC or COCO folder (`kerasdl.data.box_files`).
        seed: seeds the splits the folder does not name.
        validation_fraction, test_fraction: shares of all images for the
            splits the folder does not name.
        image_size: the input square's side, or "auto" (`detection_side`).
        augment: training batches get flips, moves, zooms and colour
            changes, the boxes moved with the pixels.

    Returns:
        A `BoxDataset` whose `notes` carry the readers' findings.

    Example:
        >>> load_box_folder("bccd", seed=42, validation_fraction=0.1, test_fraction=0.2).info.input_shape
        (320, 320, 3)
    """
    records = read_box_folder(directory)
    rows = max(1, max(len(boxes) for boxes in records.boxes))
    labels = padded_labels(records.boxes, records.classes, rows)
    paths = np.asarray(records.image_paths)
    order = _split_indices(len(paths), records.splits, seed, validation_fraction, test_fraction)
    splits = {name: (paths[indices], labels[indices]) for name, indices in order.items()}
    side = detection_side(image_size, int(records.sizes.max()))
    info = box_info(f"boxes:{directory}", side, records.class_names)
    notes = list(records.notes)
    if "test" not in records.splits and "validation" in records.splits:
        notes.append(f"scoring on the folder's val split ({len(order['test'])} images); validation is drawn from train")
    dataset = BoxDataset(info=info, splits=splits, notes=notes, augment=augment, max_boxes=rows)
    dataset.set_statistics(STATS_SAMPLE, seed)
    return dataset


def _split_indices(count, named, seed, validation_fraction, test_fraction):
    """Each split's image indices: the folder's own, completed from train."""
    rng = np.random.default_rng(seed)
    if {"train", "validation", "test"} <= set(named):
        return {name: np.sort(named[name]) for name in ("train", "validation", "test")}
    if {"train", "validation"} <= set(named):
        train, test = np.asarray(named["train"]), np.asarray(named["validation"])
        validation_count = max(1, round(validation_fraction * count))
        if len(train) - validation_count < 1:
            raise UserError(f"The folder's train split ({len(train)} images) is too small to give a validation split")
        shuffled = rng.permutation(train)
        return {
            "train": np.sort(shuffled[validation_count:]),
            "validation": np.sort(shuffled[:validation_count]),
            "test": np.sort(test),
        }
    test_count, validation_count = max(1, round(test_fraction * count)), max(1, round(validation_fraction * count))
    if count - test_count - validation_count < 1:
        raise UserError(
            f"{count} image(s) cannot fill train, validation and test (validation_fraction={validation_fraction:g}, "
            f"test_fraction={test_fraction:g}); add images"
        )
    order = rng.permutation(count)
    return {
        "train": np.sort(order[test_count + validation_count :]),
        "validation": np.sort(order[test_count : test_count + validation_count]),
        "test": np.sort(order[:test_count]),
    }


@dataclasses.dataclass
class BoxDataset(MaskDataset):
    """Detection splits: `splits[name]` is `(image paths, labels (N, MAX_BOXES, 5))`
    with boxes in each photo's own pixels; `pipeline()` and `arrays()` give
    letterboxed float32 images `(batch, side, side, 3)` of 0-255 values and
    labels in the input's pixels (`letterboxed`).

    Args:
        max_boxes: MAX_BOXES, the rows of each image's labels: the most
            boxes any image has (at least 1).
        mosaic: the share of augmented training images replaced by a
            mosaic of four (`kerasdl.data.box_mosaic`); 0 for none.
    """

    max_boxes: int = 1
    mosaic: float = 0.0

    def decoded_bytes(self):
        """Bytes of one example as `pipeline` yields it: float32 image and labels."""
        height, width, channels = self.info.input_shape
        return 4 * (height * width * channels + self.max_boxes * 5)

    def _reader(self, augmenting=False):
        """`(image path, labels) -> (image, labels)`, letterboxed."""
        import tensorflow as tf

        side, _, channels = self.info.input_shape
        rows = self.max_boxes

        def read(image_path, labels):
            image = tf.io.decode_image(tf.io.read_file(image_path), expand_animations=False)
            return letterboxed(image, labels[:, 1:], labels[:, 0], side, channels, rows)

        return read

    def _augmenter(self, seed):
        return box_augmenter(seed, self.mosaic)


def letterboxed(image, boxes, classes, side, channels, rows):
    """A photo and its boxes as the detector's input and labels: the photo
    letterboxed into the `side` square (`kerasdl.preprocess.letterbox_image`),
    the boxes moved with it, padded to `rows` label rows. The one path from a
    photo's own boxes to labels, for `boxes:DIR` and TFDS detection sets.

    Args:
        image: uint8 `(height, width, channels)`, any size.
        boxes: `(k, 4)` x1, y1, x2, y2 in the photo's pixels, k <= `rows`.
        classes: `(k,)` class indices; -1 marks a padding row.
        side, channels: the input square's side and channels.
        rows: label rows per image (MAX_BOXES).

    Returns:
        float32 `(side, side, channels)` of 0-255 values, and float32 labels
        `(rows, 5)`: class, x1, y1, x2, y2 in the input's pixels, then rows
        of class -1 and zeros.
    """
    import tensorflow as tf

    from kerasdl.preprocess import letterbox_image

    image, scale, top, left = letterbox_image(image, side, channels)
    offset = tf.cast(tf.stack([left, top, left, top]), tf.float32)
    classes = tf.cast(classes, tf.float32)[:, tf.newaxis]
    boxes = tf.where(classes >= 0, tf.cast(boxes, tf.float32) * scale + offset, 0.0)
    padding = tf.tile(tf.constant([[-1.0, 0.0, 0.0, 0.0, 0.0]]), [rows - tf.shape(classes)[0], 1])
    labels = tf.concat([tf.concat([classes, boxes], axis=-1), padding], axis=0)
    return image, tf.ensure_shape(labels, (rows, 5))


def box_augmenter(seed, mosaic=0.0):
    """A batch map `(images, labels) -> (images, labels)` that flips, moves,
    zooms and recolours each photo, moving its boxes with the pixels; first,
    with `mosaic` > 0, that share of the photos becomes mosaics of four.

    Keras's image layers transform `bounding_boxes` with the images; a box
    pushed out of the picture comes back with label -1, and one left
    thinner than `MIN_BOX_SIDE` pixels is dropped here. Uncovered regions
    are filled with the letterbox grey.
    """
    import keras
    import tensorflow as tf

    from kerasdl.photos import LETTERBOX_FILL

    # float32 whatever the run's precision: augmentation is input work on
    # the CPU, and under mixed_bfloat16 the layers would move boxes in
    # bfloat16 (steps of 2 pixels beyond 256) and return bfloat16.
    common = {"bounding_box_format": "xyxy", "dtype": "float32"}
    filled = {"fill_mode": "constant", "fill_value": float(LETTERBOX_FILL), **common}
    layers = [
        keras.layers.RandomFlip("horizontal", seed=seed, **common),
        keras.layers.RandomTranslation(TRANSLATE_FACTOR, TRANSLATE_FACTOR, seed=seed + 1, **filled),
        keras.layers.RandomZoom((-ZOOM_FACTOR, ZOOM_FACTOR), seed=seed + 2, **filled),
        keras.layers.RandomColorJitter(
            value_range=(0, 255),
            brightness_factor=0.2,
            contrast_factor=0.2,
            saturation_factor=(0.3, 0.7),
            hue_factor=0.03,  # RandomHue shifts by half the factor: +-0.015 of the circle, Ultralytics hsv_h
            seed=seed + 3,
            **common,
        ),
    ]

    generator = tf.random.Generator.from_seed(seed + len(layers)) if mosaic else None

    def augment(images, labels):
        if mosaic:
            from kerasdl.data.box_mosaic import mosaic_batch

            images, labels = mosaic_batch(images, labels, generator, mosaic)
        data = {"images": images, "bounding_boxes": {"boxes": labels[..., 1:], "labels": labels[..., 0]}}
        for layer in layers:
            data = layer(data, training=True)
        boxes, classes = data["bounding_boxes"]["boxes"], data["bounding_boxes"]["labels"]
        sides = boxes[..., 2:] - boxes[..., :2]
        kept = tf.logical_and(classes >= 0, tf.reduce_all(sides >= MIN_BOX_SIDE, axis=-1))
        classes = tf.where(kept, classes, -1.0)
        boxes = tf.where(kept[..., None], boxes, 0.0)
        return tf.cast(data["images"], tf.float32), tf.concat([classes[..., None], boxes], axis=-1)

    return augment
