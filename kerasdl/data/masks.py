"""`masks:DIR`: images and their segmentation masks, streamed from disk.

`DIR/images/` holds the images (JPEG, PNG, BMP or GIF, grey or colour, any
size) and `DIR/masks/` one mask per image with the same file stem
(`images/0001.jpg` and `masks/0001.png`). A mask is a single-channel PNG,
grey or palette, whose pixel values are class indices. Masks saved as 0/255
(no other value in any mask) are binary: classes 0 and 1. Otherwise 255
means "ignore this pixel" (the Pascal VOC convention) and stays 255 in the
labels; losses and metrics skip it (`IGNORE_INDEX`). `DIR/classes.txt`, one
name a line, names the classes; else they are `class_0`, `class_1`, ...

Every file is checked when the data loads (`mask_folder.py`: a missing
mask, a size that differs from its image, a colour mask or a class index
classes.txt does not name is a one-line `UserError`; an unreadable file is
skipped with its pair and reported in `notes`), then the splits stream
from disk through `tf.data`: a folder of thousands of photos trains in
little memory.
"""

import dataclasses
from pathlib import Path

import numpy as np

from kerasdl.data.dataset import DataInfo, first_few
from kerasdl.data.image_headers import image_headers
from kerasdl.data.mask_folder import (
    IGNORE_INDEX,
    INDEX_MODES,
    checked_class_names,
    is_binary,
    mask_mode_error,
    paired_files,
    read_class_names,
    relative,
    scan_masks,
)
from kerasdl.data.streaming import FileDataset
from kerasdl.errors import UserError

# Where `image_size=auto` stops following the images. Segmentation labels
# every pixel, and thin structures vanish when images shrink: on the ISBI
# 2012 EM membranes (512x512, membranes 1-3 pixels wide), unet_segment
# scored mean IoU 0.698 at 128, 0.729 at 256 and 0.770 at 512 (seed 42, AMD
# EPYC family 25). So auto keeps images up to 512 (photos larger than that
# shrink); a run that must be quicker sets image_size. Sides are multiples
# of 16 so that four 2x downsamplings and the matching upsamplings give back
# the same shapes for the skip connections.
AUTO_SIDE_MAX = 512
SIDE_MULTIPLE = 16

# Training images read for the normalisation's mean and variance. They only
# set the scale of the inputs: a few hundred images pin each channel's mean
# and variance well, while reading all of a large folder would decode every
# photo once more before training starts.
STATS_SAMPLE = 256

# Augmentation strengths, mild enough that objects stay recognisable.
ROTATION_FACTOR = 0.03  # of a full turn: up to about 11 degrees either way
ZOOM_FACTOR = 0.15  # zoom in (a crop) or out by up to 15%


def segmentation_side(image_size, largest_side):
    """The side images and masks are resized to: `image_size` ("auto" or a
    number as text), where auto is the images' `largest_side` rounded down
    to a multiple of 16, between 16 and 512.

    Example:
        >>> segmentation_side("auto", 500), segmentation_side("auto", 40), segmentation_side("96", 500)
        (496, 32, 96)
    """
    if str(image_size) != "auto":
        return int(image_size)
    return max(SIDE_MULTIPLE, min(AUTO_SIDE_MAX, int(largest_side)) // SIDE_MULTIPLE * SIDE_MULTIPLE)


def mask_info(name, side, channels, class_names):
    """The `DataInfo` of segmentation images: raw 0-255 pixels, resized to
    `side`; mean and variance are set from the training split later."""
    return DataInfo(
        name=name,
        kind="image",
        input_shape=(side, side, channels),
        class_names=class_names,
        value_range=(0.0, 255.0),
        mean=np.zeros(channels, dtype="float32"),
        variance=np.ones(channels, dtype="float32"),
    )


def load_mask_folder(directory, seed, validation_fraction, test_fraction, image_size="auto", augment=True):
    """Loads `directory/images` and `directory/masks` as seeded random splits.

    Args:
        directory: the folder with `images/`, `masks/` and optionally
            `classes.txt`.
        seed: seeds the splits (random, not stratified: a mask holds many
            classes).
        validation_fraction: share of all pairs for validation.
        test_fraction: share of all pairs for the test split.
        image_size: side of the square images and masks are resized to, or
            "auto" (`segmentation_side`).
        augment: training batches get random flips, rotations and zooms,
            the same for an image and its mask.

    Returns:
        A `MaskDataset` whose `notes` list the skipped files, if any.

    Example:
        >>> load_mask_folder("streets", seed=42, validation_fraction=0.1, test_fraction=0.2).info.input_shape
        (128, 128, 3)
    """
    root = Path(directory)
    if not root.is_dir():
        raise UserError(
            f"Segmentation folder {str(root)!r} does not exist; pass data=masks:DIR with DIR/images and DIR/masks"
        )
    image_files, mask_files = paired_files(root)
    class_names = read_class_names(root / "classes.txt")
    shapes, unreadable_images = image_headers(image_files)
    masks, unreadable_masks = scan_masks(mask_files)
    unreadable = set(unreadable_images) | set(unreadable_masks)
    keep = [index for index in range(len(image_files)) if index not in unreadable]
    if not keep:
        raise UserError(f"No readable image and mask pair in {str(root)!r}")
    for index in keep:
        (height, width, _), (mode, size, _) = shapes[index], masks[index]
        if mode not in INDEX_MODES:
            raise mask_mode_error(mask_files[index], root, mode)
        if size != (width, height):
            raise UserError(
                f"Mask {relative(mask_files[index], root)} is {size[0]}x{size[1]} but its image "
                f"{relative(image_files[index], root)} is {width}x{height}; a mask must have its image's size"
            )
    present = np.any([masks[index][2] for index in keep], axis=0)
    binary = is_binary(present, class_names)
    scanned = [(mask_files[index], masks[index][2]) for index in keep]
    class_names = checked_class_names(present, binary, class_names, scanned, root)

    channels = 1 if all(shapes[index][2] <= 2 for index in keep) else 3
    side = segmentation_side(image_size, max(max(shapes[index][:2]) for index in keep))
    image_paths = np.asarray([str(image_files[index]) for index in keep])
    mask_paths = np.asarray([str(mask_files[index]) for index in keep])
    splits = _split(image_paths, mask_paths, seed, validation_fraction, test_fraction)
    info = mask_info(f"masks:{directory}", side, channels, class_names)
    notes = []
    if unreadable:
        files = [image_files[index] for index in unreadable_images] + [mask_files[index] for index in unreadable_masks]
        names = first_few([relative(path, root) for path in files])
        notes.append(f"skipped {len(files)} unreadable image or mask file(s), each with its pair: {names}")
    dataset = MaskDataset(info=info, splits=splits, notes=notes, augment=augment, binary=binary)
    dataset.set_statistics(STATS_SAMPLE, seed)
    return dataset


@dataclasses.dataclass
class MaskDataset(FileDataset):
    """Segmentation splits held as file paths and streamed through `tf.data`
    (`FileDataset`): `splits[name]` is `(image_paths, mask_paths)`;
    `pipeline()` yields float32 images `(batch, S, S, C)`, raw 0-255, and
    uint8 masks `(batch, S, S)` of class indices.

    Args:
        augment: training pipelines (`shuffle=True` on `train`) get random
            flips, rotations and zooms, one transform for image and mask.
        binary: the masks are 0/255, read as classes 0 and 1.
    """

    augment: bool = True
    binary: bool = False

    def decoded_bytes(self):
        """Bytes of one example as `pipeline` yields it: float32 image, uint8 mask."""
        height, width, channels = self.info.input_shape
        return height * width * (4 * channels + 1)

    def _augmenter(self, seed):
        """The batch map that augments training batches (`augmenter`)."""
        return augmenter(seed)

    def _reader(self, augmenting=False):
        """`(image path, mask path) -> (image, mask)`, resized to the input
        shape. `augmenting`: the examples go on to `_augmenter` (a dataset
        whose augmenter crops may read them larger; this one's does not)."""
        import tensorflow as tf

        shape = self.info.input_shape
        binary = self.binary

        def read(image_path, mask_path):
            image = tf.io.decode_image(tf.io.read_file(image_path), expand_animations=False)
            # PIL, because TensorFlow expands palette PNGs to their colours
            # and the class indices are lost.
            mask = tf.numpy_function(read_mask, [mask_path], tf.uint8, stateful=False)
            mask = tf.ensure_shape(mask, (None, None))
            if binary:
                mask = tf.where(mask == IGNORE_INDEX, tf.ones_like(mask), mask)
            return resize_pair(image, mask, shape)

        return read


def resize_pair(image, mask, shape):
    """An image and its mask `(height, width)` of class indices, any size,
    resized alike to `shape` `(side, side, channels)`: the image as the
    model's raw float32 input (`prepare_images`, bilinear), the mask with
    nearest-neighbour sampling so that no class index blends into another.
    """
    import tensorflow as tf

    from kerasdl.preprocess import prepare_images

    # The one definition of image preprocessing, as serve_raw uses it.
    image = prepare_images(image[tf.newaxis], shape, (0.0, 255.0))[0]
    mask = tf.image.resize(mask[..., tf.newaxis], shape[:2], method="nearest")
    return image, tf.ensure_shape(mask[..., 0], shape[:2])


def read_mask(path):
    """A mask file's class indices as a uint8 `(height, width)` array."""
    from PIL import Image

    with Image.open(path if isinstance(path, str) else path.decode()) as mask:
        return np.asarray(mask, dtype="uint8")


def augmenter(seed):
    """A batch map `(images, masks) -> (images, masks)` that flips, rotates
    and zooms each image and its mask alike.

    Keras's image layers move `segmentation_masks` with the image's
    transform; RandomRotation and RandomZoom resample masks with nearest
    interpolation, so no index is blended into another, and RandomFlip only
    reorders pixels. Regions a transform uncovers are filled by reflection
    in both, so they stay labelled alike. (RandomCrop is not used: it
    resizes masks bilinearly.)

    Example:
        >>> data = data.batch(8).map(augmenter(seed=42))
    """
    import keras
    import tensorflow as tf

    # float32 whatever the run's precision: input work on the CPU, not the
    # model's (under mixed_bfloat16 the resampled pixels would be bfloat16).
    layers = [
        # Left-right only: a scene upside down is rarely a scene.
        keras.layers.RandomFlip("horizontal", seed=seed, dtype="float32"),
        keras.layers.RandomRotation(ROTATION_FACTOR, fill_mode="reflect", seed=seed + 1, dtype="float32"),
        keras.layers.RandomZoom((-ZOOM_FACTOR, ZOOM_FACTOR), fill_mode="reflect", seed=seed + 2, dtype="float32"),
    ]

    def augment(images, masks):
        data = {"images": images, "segmentation_masks": masks[..., tf.newaxis]}
        for layer in layers:
            data = layer(data, training=True)
        masks = tf.cast(tf.round(data["segmentation_masks"][..., 0]), tf.uint8)
        return tf.cast(data["images"], tf.float32), masks

    return augment


def _split(image_paths, mask_paths, seed, validation_fraction, test_fraction):
    """Seeded random train/validation/test splits, at least one pair in each."""
    count = len(mask_paths)
    test = max(1, round(test_fraction * count))
    validation = max(1, round(validation_fraction * count))
    if count - test - validation < 1:
        raise UserError(
            f"{count} image and mask pair(s) cannot fill train, validation and test "
            f"(validation_fraction={validation_fraction:g}, test_fraction={test_fraction:g}); add images"
        )
    order = np.random.default_rng(seed).permutation(count)
    parts = {"train": order[test + validation :], "validation": order[test : test + validation], "test": order[:test]}
    return {name: (image_paths[np.sort(part)], mask_paths[np.sort(part)]) for name, part in parts.items()}
