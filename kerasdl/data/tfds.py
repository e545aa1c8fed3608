"""`tfds:NAME[:CONFIG]`: image- and text-classification datasets from TFDS,
and segmentation datasets (`oxford_iiit_pet`).

The dataset's own test (and validation) splits are used where it has them;
otherwise its train split is divided into seeded, stratified splits. Images
are prepared with the same `prepare_images` as every other image path; texts
(`imdb_reviews`) become token ids exactly as `text:` data does.

A dataset with an image and an `Image` feature named `segmentation_mask` is
a segmentation set, streamed from its TFDS records as `masks:DIR` streams
files (`TfdsMaskDataset`). Oxford-IIIT Pet's trimaps become the classes
pet, background and border; other sets' masks are class indices as stored.

With no network, a dataset that has not been downloaded is a one-line error
that says how to fetch it into `TFDS_DATA_DIR` on a machine that has one.
"""

import dataclasses
import os

import numpy as np
from sklearn.model_selection import train_test_split

from kerasdl.data.dataset import SPLITS, DataInfo, Dataset, image_side, normalisation_stats, split_stratified
from kerasdl.data.masks import (
    IGNORE_INDEX,
    STATS_SAMPLE,
    MaskDataset,
    _is_binary,
    mask_info,
    resize_pair,
    segmentation_side,
)
from kerasdl.data.text import vectorised_dataset
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

# Encoded examples a training split is shuffled in. TFDS records are read
# in order (files cannot be read at random), but TFDS shuffled the examples
# when it wrote them; the buffer reorders them every epoch. 512 Oxford-IIIT
# Pet examples are about 55 MB of JPEG and PNG bytes (774 MiB for 7,349).
SHUFFLE_BUFFER = 512


def load_tfds(
    spec,
    seed,
    validation_fraction,
    test_fraction,
    image_size="auto",
    vocabulary_size=20000,
    sequence_length=64,
    wordpiece="",
    augment=True,
):
    """Loads `tfds:NAME[:CONFIG]` as train/validation/test splits.

    A segmentation set (an image and a `segmentation_mask` image feature)
    keeps TFDS's test split as its test split and carves validation out of
    TFDS's train split: for `oxford_iiit_pet`, 3,669 test photos, and 10% of
    the 3,680 train photos (368) for validation at the default fraction.

    Args:
        spec: the data spec, e.g. `tfds:mnist` or `tfds:NAME:CONFIG`.
        seed: seeds any split TFDS does not provide.
        validation_fraction: share for validation when TFDS has no
            validation split (of the train split if TFDS has a test split,
            else of everything).
        test_fraction: share for the test split when TFDS has none.
        image_size: side of the square images are resized to, or "auto":
            for classification the data set's image size if fixed, at most
            32, else 32; for segmentation `masks.segmentation_side` of the
            image size if fixed, else 128 (`PHOTO_SIDE`).
        vocabulary_size: most token ids, for a text dataset.
        sequence_length: token ids per text, for a text dataset.
        wordpiece: a keras-hub BERT preset to tokenise text with, if any.
        augment: segmentation sets: training batches get random flips,
            rotations and zooms, the same for an image and its mask.

    Returns:
        A `Dataset`; a `TfdsMaskDataset` for a segmentation set.

    Example:
        >>> load_tfds("tfds:mnist", 42, 0.1, 0.2, image_size=28).info.input_shape
        (28, 28, 1)
        >>> load_tfds("tfds:oxford_iiit_pet", 42, 0.1, 0.2).info.class_names
        ['pet', 'background', 'border']
    """
    import tensorflow_datasets as tfds

    name = spec[len("tfds:") :].replace(":", "/")
    data_dir = os.environ.get("TFDS_DATA_DIR") or None
    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError:
        raise UserError(f"Unknown TFDS dataset {name!r}; see https://www.tensorflow.org/datasets/catalog") from None
    features = builder.info.features
    image_key = _segmentation_image_key(features, name)
    if image_key is not None:
        return _load_segmentation(
            spec, builder, name, data_dir, image_key, seed, validation_fraction, test_fraction, image_size, augment
        )
    input_key, label_key = _input_and_label_keys(features)
    if input_key is None:
        raise UserError(
            f"tfds:{name} is not an image- or text-classification dataset (one image or text feature and one "
            f"class label) or a segmentation dataset (an image and an image feature {MASK_FEATURE!r}); kerasdl "
            "reads those"
        )
    text = type(features[input_key]).__name__ == "Text"

    loaded, _ = _load_splits(builder, name, data_dir)
    class_names = list(features[label_key].names)
    loaded = {split: tfds.as_numpy(data) for split, data in loaded.items()}
    if text:
        arrays = {split: _texts(examples, input_key, label_key) for split, examples in loaded.items()}
        splits = _complete_splits(arrays, seed, validation_fraction, test_fraction)
        return vectorised_dataset(spec, splits, class_names, vocabulary_size, sequence_length, wordpiece=wordpiece)
    channels = 1 if features[input_key].shape[-1] == 1 else 3
    known_sides = [side for side in features[input_key].shape[:2] if side]
    side = image_side(image_size, max(known_sides) if len(known_sides) == 2 else None)
    shape = (side, side, channels)
    arrays = {split: _images(examples, input_key, label_key, shape) for split, examples in loaded.items()}
    splits = _complete_splits(arrays, seed, validation_fraction, test_fraction)
    mean, variance = normalisation_stats(splits["train"][0])
    info = DataInfo(
        name=spec,
        kind="image",
        input_shape=shape,
        class_names=class_names,
        value_range=(0.0, 255.0),
        mean=mean,
        variance=variance,
    )
    return Dataset(info=info, splits=splits)


def _load_splits(builder, name, data_dir, **options):
    """`({split: tf.data.Dataset}, builder)`: the TFDS splits kerasdl uses
    (train, and validation and test where the set has them), read with
    `tfds.load(**options)`; a set not yet on disk is downloaded once where
    the network allows, and its builder read again for the splits it has."""
    import tensorflow_datasets as tfds

    def wanted():
        known = set(builder.info.splits)  # empty until the data is prepared
        return [split for split in SPLITS if split in known] or ["train"]

    try:
        splits = wanted()
        loaded = tfds.load(name, split=splits, download=False, data_dir=data_dir, **options)
    except AssertionError:
        if not _download_reachable():
            where = data_dir or "~/tensorflow_datasets"
            raise UserError(
                f"tfds:{name} needs a download, there is no network here, and it is not in {where}; on a "
                f"machine with network run `python -m tensorflow_datasets.scripts.download_and_prepare "
                f"--datasets={name}` and copy the folder into TFDS_DATA_DIR"
            ) from None
        builder.download_and_prepare()
        # The first run then splits the data as every later one will.
        builder = tfds.builder(name, data_dir=data_dir)
        splits = wanted()
        loaded = tfds.load(name, split=splits, download=False, data_dir=data_dir, **options)
    return dict(zip(splits, loaded, strict=True)), builder


def _load_segmentation(
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
    loaded, builder = _load_splits(builder, name, data_dir, decoders=encoded, shuffle_files=False)
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
    counts = {split: _count(data) for split, data in records.items()}
    splits = _segmentation_splits(counts, seed, validation_fraction, test_fraction)
    dataset = TfdsMaskDataset(info=info, splits=splits, augment=augment, binary=binary, records=records, decode=decode)
    info.mean, info.variance = dataset.statistics("train", STATS_SAMPLE, seed)
    return dataset


@dataclasses.dataclass
class TfdsMaskDataset(MaskDataset):
    """A TFDS segmentation set, streamed from its records as `MaskDataset`
    streams files; `size`, `sample`, `arrays` and `pipeline` are
    `MaskDataset`'s, training augmentation included.

    `splits[name]` is `(sources, positions)`: for each example, the TFDS
    split it is read from and its position in that split's stored order.

    Args:
        records: `{TFDS split: tf.data.Dataset}` of `(image, mask)` encoded
            bytes, in stored order.
        decode: `(image bytes, mask bytes) -> (image, mask)`: a uint8 image
            `(height, width, channels)` and uint8 class indices `(height,
            width)`.
    """

    records: dict = dataclasses.field(default_factory=dict, repr=False, compare=False)
    decode: object = dataclasses.field(default=None, repr=False, compare=False)

    def _records(self, parts, shuffle=False, seed=0):
        """The encoded examples of `parts`, each TFDS split's in stored order,
        then reshuffled every epoch in a buffer of `SHUFFLE_BUFFER` if
        `shuffle`."""
        import tensorflow as tf

        sources, positions = parts
        data = next(iter(self.records.values())).take(0)
        for source in dict.fromkeys(sources):
            data = data.concatenate(_at_positions(self.records[source], positions[sources == source]))
        # Known, as a folder's is: Keras then stops each epoch at its last
        # batch instead of running out of data mid-execution.
        data = data.apply(tf.data.experimental.assert_cardinality(len(positions)))
        if shuffle:
            data = data.shuffle(min(len(positions), SHUFFLE_BUFFER), seed=seed, reshuffle_each_iteration=True)
        return data

    def _reader(self):
        """`(image bytes, mask bytes) -> (image, mask)`, resized to the input shape."""
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


def _segmentation_image_key(features, name):
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
    if _is_binary(present, None):
        return ["class_0", "class_1"], True
    count = max((value for value in np.flatnonzero(present) if value != IGNORE_INDEX), default=0) + 1
    if count < 2:
        raise UserError(f"Every {MASK_FEATURE} of {spec} is class 0 alone; there is nothing to segment")
    return [f"class_{index}" for index in range(count)], False


def _count(data):
    """Examples in a TFDS split, from its metadata where TFDS knows it."""
    count = int(data.cardinality())
    return count if count >= 0 else int(data.reduce(0, lambda count, _: count + 1))


def _segmentation_splits(counts, seed, validation_fraction, test_fraction):
    """`{split: (sources, positions)}` from `counts`, the examples in each
    TFDS split: TFDS's own test (and validation) split where it has one,
    validation then `validation_fraction` of its train split; with no test
    split, seeded random shares of the train split, as `masks:DIR` splits a
    folder. Positions are sorted: the records are read in stored order."""
    own = {split: (np.full(count, split), np.arange(count)) for split, count in counts.items()}
    if "test" in own and "validation" in own:
        return own
    count = counts["train"]
    test = 0 if "test" in own else max(1, round(test_fraction * count))
    validation = max(1, round(validation_fraction * count))
    if count - test - validation < 1:
        raise UserError(
            f"The train split's {count} example(s) cannot fill train and validation"
            + ("" if "test" in own else " and test")
            + f" (validation_fraction={validation_fraction:g}, test_fraction={test_fraction:g})"
        )
    order = np.random.default_rng(seed).permutation(count)
    carved = {"train": order[test + validation :], "validation": order[test : test + validation]}
    if "test" not in own:
        carved["test"] = order[:test]
    return own | {split: (np.full(len(part), "train"), np.sort(part)) for split, part in carved.items()}


def _at_positions(records, positions):
    """The records at `positions` of one TFDS split, in stored order; reading
    stops after the last of them."""
    import tensorflow as tf

    wanted = np.zeros(int(positions.max()) + 1 if len(positions) else 0, dtype=bool)
    wanted[positions] = True
    wanted = tf.constant(wanted)
    data = records.take(len(wanted)).enumerate().filter(lambda position, _: wanted[position])
    return data.map(lambda _, record: record)


def _complete_splits(arrays, seed, validation_fraction, test_fraction):
    """The dataset's own splits, with the missing ones carved out, stratified."""
    if "test" not in arrays:
        return split_stratified(*arrays["train"], seed, validation_fraction, test_fraction)
    splits = {"test": arrays["test"]}
    if "validation" in arrays:
        splits["train"], splits["validation"] = arrays["train"], arrays["validation"]
        return splits
    features, labels = arrays["train"]
    try:
        train_x, val_x, train_y, val_y = train_test_split(
            features, labels, test_size=validation_fraction, stratify=labels, random_state=seed
        )
    except ValueError as error:  # too few examples of a class for a stratified split
        raise UserError(f"Cannot carve a validation split from the train split: {error}") from None
    splits["train"], splits["validation"] = (train_x, train_y), (val_x, val_y)
    return splits


def _input_and_label_keys(features):
    """The feature names of the image (or text) and its class label, or (None, None)."""
    labels = [key for key, feature in features.items() if type(feature).__name__ == "ClassLabel"]
    for kind in ("Image", "Text"):
        inputs = [key for key, feature in features.items() if type(feature).__name__ == kind]
        if len(inputs) == 1 and len(labels) == 1:
            return inputs[0], labels[0]
    return None, None


def _images(examples, image_key, label_key, shape):
    """`(pixels, labels)` of one split, each image prepared as `serve_raw` does."""
    from kerasdl.preprocess import prepare_images

    images, labels = [], []
    for example in examples:
        images.append(prepare_images(example[image_key][np.newaxis], shape, (0.0, 255.0))[0].numpy())
        labels.append(example[label_key])
    return np.stack(images).astype("float32"), np.asarray(labels, dtype="int32")


def _texts(examples, text_key, label_key):
    """`(texts, labels)` of one split, texts decoded from UTF-8 bytes."""
    texts, labels = [], []
    for example in examples:
        texts.append(example[text_key].decode("utf-8", errors="replace"))
        labels.append(example[label_key])
    return np.asarray(texts, dtype=object), np.asarray(labels, dtype="int32")


def _download_reachable(host="storage.googleapis.com", timeout=3.0):
    """Whether TFDS's download host answers; offline, fail fast instead of retrying for minutes."""
    import socket

    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False
