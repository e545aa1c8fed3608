"""TFDS segmentation sets (`tfds:oxford_iiit_pet`), streamed from their records.

A dataset with an image and an `Image` feature named `segmentation_mask` is
a segmentation set, streamed from its TFDS records as `masks:DIR` streams
files (`TfdsMaskDataset`). Oxford-IIIT Pet's trimaps become the classes
pet, background and border; other sets' masks are class indices as stored.
"""

import dataclasses

import numpy as np

from kerasdl.data.mask_folder import IGNORE_INDEX, is_binary
from kerasdl.data.masks import STATS_SAMPLE, MaskDataset, mask_info, resize_pair, segmentation_side
from kerasdl.data.tfds_download import load_splits
from kerasdl.data.tfds_records import TfdsRecords, record_count, tfds_splits
from kerasdl.errors import UserError

# The feature that makes a TFDS dataset a segmentation set: an `Image` of
# one channel whose pixel values label the image's pixels.
MASK_FEATURE = "segmentation_mask"

# Oxford-IIIT Pet stores each pixel's trimap value: 1 pet, 2 background, 3
# the border between them (tensorflow/datasets, oxford_iiit_pet).
TRIMAP_CLASSES = ["pet", "background", "border"]

# `image_size=auto` for a segmentation set whose image size TFDS leaves open
# (photos of any size): 128, the side TensorFlow's segmentation tutorial
# gives Oxford-IIIT Pet. Finding the largest side would decode every photo
# before training starts.
PHOTO_SIDE = 128


def load_segmentation(
    spec, builder, name, data_dir, image_key, seed, validation_fraction, test_fraction, image_size, augment
):
    """A TFDS segmentation set as a `TfdsMaskDataset` (see `load_tfds`)."""
    import tensorflow_datasets as tfds

    # Image and mask alone, as encoded bytes until a split's examples are
    # chosen: validation reads the train split's records and decodes only
    # its own.
    encoded = tfds.decode.PartialDecoding(
        {image_key: True, MASK_FEATURE: True},
        decoders={image_key: tfds.decode.SkipDecoding(), MASK_FEATURE: tfds.decode.SkipDecoding()},
    )
    loaded, builder = load_splits(builder, name, data_dir, decoders=encoded, shuffle_files=False)
    features = builder.info.features
    records = {
        split: data.map(lambda example: (example[image_key], example[MASK_FEATURE])) for split, data in loaded.items()
    }
    if builder.name == "oxford_iiit_pet":
        class_names, to_classes, binary = TRIMAP_CLASSES, trimap_classes, False
    else:
        class_names, binary = _stored_classes(records, features[MASK_FEATURE], spec)
        to_classes = _binary_classes if binary else _stored_indices
    image_feature, mask_feature = features[image_key], features[MASK_FEATURE]

    def decode(image, mask):
        return image_feature.decode_example(image), to_classes(mask_feature.decode_example(mask)[..., 0])

    channels = 1 if image_feature.shape[-1] == 1 else 3
    fixed_sides = [side for side in image_feature.shape[:2] if side]
    side = segmentation_side(image_size, max(fixed_sides) if len(fixed_sides) == 2 else PHOTO_SIDE)
    info = mask_info(spec, side, channels, class_names)
    counts = {split: record_count(data) for split, data in records.items()}
    splits = tfds_splits(counts, seed, validation_fraction, test_fraction)
    dataset = TfdsMaskDataset(info=info, splits=splits, augment=augment, binary=binary, records=records, decode=decode)
    dataset.set_statistics(STATS_SAMPLE, seed)
    return dataset


@dataclasses.dataclass
class TfdsMaskDataset(TfdsRecords, MaskDataset):
    """A TFDS segmentation set, streamed from its records as `MaskDataset`
    streams files; `size`, `sample`, `arrays` and `pipeline` are
    `MaskDataset`'s, training augmentation included.

    `splits[name]` is `(sources, positions)`: for each example, the TFDS
    split it is read from and its position in that split's stored order
    (`kerasdl.data.tfds_records`).

    Args:
        records: `{TFDS split: tf.data.Dataset}` of `(image, mask)` encoded
            bytes, in stored order.
        decode: `(image bytes, mask bytes) -> (image, mask)`: a uint8 image
            `(height, width, channels)` and uint8 class indices `(height,
            width)`.
    """

    def _reader(self, augmenting=False):
        """`(image bytes, mask bytes) -> (image, mask)`, resized to the input
        shape, augmenting or not."""
        shape, decode = self.info.input_shape, self.decode

        def read(image, mask):
            return resize_pair(*decode(image, mask), shape)

        return read


def trimap_classes(trimap):
    """Oxford-IIIT Pet trimap values (1 pet, 2 background, 3 border) as the
    class indices 0, 1 and 2 (`TRIMAP_CLASSES`), uint8; any other value
    becomes `IGNORE_INDEX`, counted in no loss or metric.

    Example:
        >>> trimap_classes(np.array([[1, 2], [3, 0]], dtype="uint8")).numpy()
        array([[  0,   1],
               [  2, 255]], dtype=uint8)
    """
    import tensorflow as tf

    classes = tf.cast(trimap, tf.int32) - 1
    known = (classes >= 0) & (classes < len(TRIMAP_CLASSES))
    return tf.cast(tf.where(known, classes, IGNORE_INDEX), tf.uint8)


def _stored_indices(mask):
    return mask


def _binary_classes(mask):
    """0/255 masks as classes 0 and 1, as `masks:DIR` reads them."""
    import tensorflow as tf

    return tf.where(mask == IGNORE_INDEX, tf.ones_like(mask), mask)


def segmentation_image_key(features, name):
    """The image feature of a segmentation set (one with an `Image` feature
    `segmentation_mask`), or None for any other set."""
    features = dict(features.items())
    mask = features.get(MASK_FEATURE)
    if type(mask).__name__ != "Image":
        return None
    if mask.shape[-1] != 1 or mask.np_dtype != np.uint8:
        raise UserError(
            f"tfds:{name}'s {MASK_FEATURE} is {mask.np_dtype.name} {mask.shape}; kerasdl reads masks of one "
            "uint8 channel of class indices"
        )
    images = [key for key, feature in features.items() if type(feature).__name__ == "Image" and key != MASK_FEATURE]
    if len(images) != 1:
        raise UserError(
            f"tfds:{name} has {MASK_FEATURE} and {len(images)} other image features ({', '.join(images)}); "
            "kerasdl reads segmentation sets with one image per mask"
        )
    return images[0]


def _stored_classes(records, mask_feature, spec):
    """`(class names, binary)` of masks whose values are class indices: the
    values of every mask of every split, read as `masks:DIR` reads a folder
    (0/255 masks are classes 0 and 1; else 255 means ignore)."""
    import tensorflow as tf

    def values(image, mask):
        pixels = tf.cast(tf.reshape(mask_feature.decode_example(mask), [-1]), tf.int32)
        return tf.math.bincount(pixels, minlength=256, maxlength=256) > 0

    present = np.zeros(256, dtype=bool)
    for data in records.values():
        data = data.map(values, num_parallel_calls=tf.data.AUTOTUNE)
        present |= data.reduce(tf.zeros(256, tf.bool), tf.math.logical_or).numpy()
    if is_binary(present, None):
        return ["class_0", "class_1"], True
    count = max((value for value in np.flatnonzero(present) if value != IGNORE_INDEX), default=0) + 1
    if count < 2:
        raise UserError(f"Every {MASK_FEATURE} of {spec} is class 0 alone; there is nothing to segment")
    return [f"class_{index}" for index in range(count)], False
