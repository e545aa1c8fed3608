"""`tfds:NAME[:CONFIG]`: image- and text-classification datasets from TFDS,
segmentation datasets (`oxford_iiit_pet`) and detection datasets (`voc`,
`coco/2017`).

The dataset's own test (and validation) splits are used where it has them;
otherwise its train split is divided into seeded, stratified splits. Images
are prepared with the same `prepare_images` as every other image path; texts
(`imdb_reviews`) become token ids exactly as `text:` data does.

A dataset with an image and an `Image` feature named `segmentation_mask` is
a segmentation set; `tfds_segmentation.py` streams it from its TFDS records
as `masks:DIR` streams files (`TfdsMaskDataset`). A dataset with an image
and an `objects` sequence of `bbox` and `label` is a detection set;
`tfds_detection.py` streams it as `boxes:DIR` streams files
(`TfdsBoxDataset`).

With no network, a dataset that has not been downloaded is a one-line error
that says how to fetch it into `TFDS_DATA_DIR` on a machine that has one
(`tfds_download.py`).
"""

import os

import numpy as np
from sklearn.model_selection import train_test_split

from kerasdl.data.dataset import DataInfo, Dataset, image_side, normalisation_stats, split_stratified
from kerasdl.data.text import vectorised_dataset
from kerasdl.data.tfds_detection import OBJECTS, detection_image_key, load_detection
from kerasdl.data.tfds_download import load_splits
from kerasdl.data.tfds_segmentation import MASK_FEATURE, load_segmentation, segmentation_image_key
from kerasdl.errors import UserError

# What each task reads from TFDS, for the lines that refuse a set: the
# kind of dataset, and what makes one.
SET_KINDS = {
    "classify": ("an image- or text-classification dataset", "one image or text feature and one class label"),
    "segment": ("a segmentation dataset", f"an image and an image feature {MASK_FEATURE!r}"),
    "detect": (
        "a detection dataset",
        f"an image and an {OBJECTS!r} sequence of bbox and label, as tfds:voc/2007 and tfds:coco/2017",
    ),
}


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
    task="",
):
    """Loads `tfds:NAME[:CONFIG]` as train/validation/test splits.

    A segmentation set (an image and a `segmentation_mask` image feature)
    keeps TFDS's test split as its test split and carves validation out of
    TFDS's train split: for `oxford_iiit_pet`, 3,669 test photos, and 10% of
    the 3,680 train photos (368) for validation at the default fraction.
    A detection set (an image and `objects` with `bbox` and `label`) keeps
    TFDS's splits (`tfds_detection`: VOC 2007's train, validation and
    test; COCO 2017's test has no labels, so its validation split is the
    test split and validation is carved from train).

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
            image size if fixed, else 128 (`PHOTO_SIDE`); for detection
            `boxes.detection_side` of the image size if fixed, else 320.
        vocabulary_size: most token ids, for a text dataset.
        sequence_length: token ids per text, for a text dataset.
        wordpiece: a keras-hub BERT preset to tokenise text with, if any.
        augment: segmentation sets: training batches get random flips,
            rotations and zooms, the same for an image and its mask;
            detection sets: `boxes:DIR`'s flips, moves, zooms and colours.
        task: the run's task, if known: a set whose labels are another
            task's is a `UserError` before anything is read.

    Returns:
        A `Dataset`; a `TfdsMaskDataset` for a segmentation set, a
        `TfdsBoxDataset` for a detection set.

    Example:
        >>> load_tfds("tfds:mnist", 42, 0.1, 0.2, image_size=28).info.input_shape
        (28, 28, 1)
        >>> load_tfds("tfds:oxford_iiit_pet", 42, 0.1, 0.2).info.class_names
        ['pet', 'background', 'border']
        >>> load_tfds("tfds:voc/2007", 42, 0.1, 0.2).info.input_shape
        (320, 320, 3)
    """
    import tensorflow_datasets as tfds

    name = spec[len("tfds:") :].replace(":", "/")
    data_dir = os.environ.get("TFDS_DATA_DIR") or None
    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError:
        raise UserError(f"Unknown TFDS dataset {name!r}; see https://www.tensorflow.org/datasets/catalog") from None
    features = builder.info.features
    split_options = (seed, validation_fraction, test_fraction, image_size, augment)
    image_key = segmentation_image_key(features, name)
    if image_key is not None:
        _check_task(name, "segment", task)
        return load_segmentation(spec, builder, name, data_dir, image_key, *split_options)
    image_key = detection_image_key(features, name)
    if image_key is not None:
        _check_task(name, "detect", task)
        return load_detection(spec, builder, name, data_dir, image_key, *split_options)
    input_key, label_key = _input_and_label_keys(features)
    if input_key is None:
        kinds = [f"{kind} ({what})" for kind, what in SET_KINDS.values()]
        raise UserError(f"tfds:{name} is not {', '.join(kinds[:-1])} or {kinds[-1]}; kerasdl reads those")
    _check_task(name, "classify", task)
    text = type(features[input_key]).__name__ == "Text"

    loaded, _ = load_splits(builder, name, data_dir)
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


def _check_task(name, kind, task):
    """A one-line `UserError` when the set `tfds:name` holds labels for
    the task `kind` and the run does `task` (empty: any)."""
    if task and task != kind:
        needed = "{} ({})".format(*SET_KINDS[task]) if task in SET_KINDS else "data that is not from TFDS"
        raise UserError(
            f"tfds:{name} is {SET_KINDS[kind][0]}, labels for task={kind}; this run's task={task} needs {needed}"
        )


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
