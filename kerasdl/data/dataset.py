"""`Dataset`: seeded splits as arrays, `tf.data` pipelines, and `DataInfo`."""

import dataclasses
import math
import os

import numpy as np
from sklearn.model_selection import train_test_split

from kerasdl.errors import UserError

SPLITS = ("train", "validation", "test")
PREFETCH_BATCHES = 2


@dataclasses.dataclass
class DataInfo:
    """What a model and an exporter need to know about the inputs.

    Args:
        name: the data spec, for example `digits`.
        kind: `image` (height, width, channels), `tabular` (features),
            `text` (token ids; the raw strings are tokenised before the model,
            see `kerasdl.tokenize`) or `audio` (mono samples in [-1, 1]).
        input_shape: shape of one raw example, without the batch axis.
        class_names: label of each output index.
        value_range: (low, high) of the raw input values, as a client sends
            them; the model normalises inside.
        mean: per-channel (image) or per-feature (tabular) mean of the
            training split, for the model's normalisation layer.
        variance: the matching variance.
        feature_names: names of tabular features, else None.
        vocabulary: words of text data, index = token id, else None.
        tokenizer: how text became ids, a `kerasdl.tokenize.TOKENISERS` name.
        categories: tabular data: `{feature index: [category, ...]}` for the
            categorical features, whose values are codes (category i is code
            i + 1; 0 is unknown); else None.
        target_shape: image-to-image data: the shape of one target image
            (side, side, channels), else None.
        sample_rate: audio data: samples per second, else None.
        sample_histogram: audio for a next-sample model: counts of each
            mu-law class in the training split (`kerasdl.data.next_sample`).
    """

    name: str
    kind: str
    input_shape: tuple
    class_names: list
    value_range: tuple
    mean: np.ndarray
    variance: np.ndarray
    feature_names: list = None
    vocabulary: list = None
    tokenizer: str = "words"
    categories: dict = None
    target_shape: tuple = None
    sample_rate: int = None
    sample_histogram: np.ndarray = None

    @property
    def num_classes(self):
        return len(self.class_names)

    @property
    def input_name(self):
        return {"image": "pixels", "tabular": "features", "text": "token_ids", "audio": "waveform"}[self.kind]

    @property
    def input_dtype(self):
        return "int32" if self.kind == "text" else "float32"


@dataclasses.dataclass
class Dataset:
    """Train, validation and test splits held as NumPy arrays.

    The splits are small enough to sit in memory; `pipeline()` turns one into
    the `tf.data` input that `fit()` and `evaluate()` read.
    """

    info: DataInfo
    splits: dict
    notes: list = dataclasses.field(default_factory=list)  # things the user should hear, e.g. skipped files

    def arrays(self, split):
        return self.splits[split]

    def size(self, split):
        """Examples in `split`."""
        return len(self.splits[split][1])

    def sample(self, split, count, seed=None):
        """At most `count` examples of `split` as arrays: the first ones, or
        a random choice seeded by `seed` (int8 calibration, the precision
        probe). A source that streams from disk reads only those."""
        features, labels = self.arrays(split)
        if seed is None:
            return features[:count], labels[:count]
        chosen = seeded_choice(len(labels), count, seed)
        return features[chosen], labels[chosen]

    def pipeline(self, split, batch_size, shuffle=False, seed=0, replicas=1, even=False):
        """A batched `tf.data.Dataset` of `(inputs, labels)` for `split`.

        Args:
            split: `train`, `validation` or `test`.
            batch_size: the global batch size (per replica x replicas).
            shuffle: reshuffle every epoch (for training).
            seed: seeds the shuffle so runs repeat.
            replicas: replicas the batches are split across.
            even: every batch must split evenly across the replicas (JAX's
                DataParallel): training batches are all whole (the last,
                partial one is dropped; the shuffle changes it every epoch)
                and other splits are trimmed to a multiple of `replicas`.
                Without it, a last batch smaller than `replicas` is dropped
                the same way (`batching`).

        Returns:
            A `tf.data.Dataset` of `(features, labels)` batches, cached and
            prefetched, with tf.data's autotuner off; the batch dimension is
            static when the split divides into whole batches.

        Example:
            >>> batches = load_dataset("iris").pipeline("train", 32, shuffle=True)
        """
        import tensorflow as tf

        features, labels = self.splits[split]
        keep, batch_size, drop_remainder = batching(len(labels), batch_size, replicas, shuffle, even)
        features, labels = features[:keep], labels[:keep]
        data = tf.data.Dataset.from_tensor_slices((features, labels)).cache()
        if shuffle:
            data = data.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True)
        data = data.batch(batch_size, drop_remainder=drop_remainder)
        return untuned(data.prefetch(PREFETCH_BATCHES))


def batching(count, batch_size, replicas=1, shuffle=False, even=False):
    """How a split of `count` examples is cut into batches: `(keep,
    batch_size, drop_remainder)`, where the split uses its first `keep`
    examples (all of them, unless it is trimmed for the replicas).

    Args are those of `Dataset.pipeline`.

    Example:
        >>> batching(17, 8, replicas=2, shuffle=True)  # the odd example sits out, a new one each epoch
        (17, 8, True)
    """
    keep = count // replicas * replicas if even and not shuffle else count
    if replicas > 1 and keep < batch_size:
        # Under tf.distribute, Keras 3 builds the model from the first
        # batch by averaging the replicas' shards element-wise
        # (TensorFlowTrainer._maybe_symbolic_build), which fails when a
        # split smaller than one global batch shards unevenly. A first
        # batch that is a multiple of the replicas avoids it.
        batch_size = max(replicas, keep // replicas * replicas)
    remainder = keep % batch_size
    # A last batch smaller than the replicas leaves a replica with no
    # examples, and TensorFlow's CPU convolution passes an empty batch
    # through with its input's channels: the next layer fails ("Incompatible
    # shapes: [8] vs. [0,16,16,4]", a U-Net under MirroredStrategy whose 17
    # training images came in batches of 8). Training drops those examples
    # (the shuffle picks others every epoch); another split leaves them out
    # (fewer than the replicas), unless that would leave it empty.
    short = replicas > 1 and 0 < remainder < replicas and keep > remainder
    if short and not shuffle:
        keep, remainder = keep - remainder, 0
    # A split that divides into whole batches gets a static batch
    # dimension (dropping nothing): Keras then traces the training step
    # for that shape, and the bench's LSTM trained 10% faster than with
    # the batch dimension unknown (1.02x against 0.91x of batches held
    # in memory, 30 alternating epoch pairs).
    return keep, batch_size, remainder == 0 or short or (even and shuffle)


def filled_arrays(batches, count):
    """A batched `tf.data.Dataset` of `count` examples as one array per part,
    filled batch by batch (a list of batches joined at the end would hold
    the examples twice)."""
    parts = tuple(np.empty((count, *spec.shape[1:]), spec.dtype.as_numpy_dtype) for spec in batches.element_spec)
    start = 0
    for batch in batches.as_numpy_iterator():
        for part, values in zip(parts, batch, strict=True):
            part[start : start + len(values)] = values
        start += len(batch[0])
    return parts


def seeded_choice(size, count, seed):
    """`min(count, size)` distinct indices below `size`, seeded."""
    return np.random.default_rng(seed).choice(size, min(count, size), replace=False)


def untuned(data):
    """`data` with tf.data's autotuner off.

    Keras makes a new iterator every epoch, and deleting the last epoch's
    iterator waits for the autotuner's thread: on a 2-core CPU that held up
    the next epoch's first step (the keras.io convnet trained on batches in
    memory: 5 of 12 used iterators took 0.1-1.3 s to delete with the
    autotuner, none over 1 ms without).
    Nothing here needs tuning: the splits sit in memory and batching is one
    copy, so two batches of prefetch keep the model fed
    (scripts/bench_training.py compares it with batches held in memory).
    """
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = False
    return data.with_options(options)


def usable_threads():
    """CPU cores this process may run on (its affinity where the OS tells), at least 1: for parallel reads."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def split_stratified(features, labels, seed, validation_fraction, test_fraction):
    """Seeded train/validation/test splits with every class in every split."""
    counts = np.bincount(labels)
    smallest = int(counts[counts > 0].min())
    if smallest < 3:
        raise UserError(
            f"Every class needs at least 3 examples to appear in train, validation "
            f"and test; the smallest class has {smallest}"
        )
    classes = len(counts[counts > 0])
    for name, fraction in (("test_fraction", test_fraction), ("validation_fraction", validation_fraction)):
        if round(fraction * len(labels)) < classes:
            smallest = math.ceil(classes / len(labels) * 100) / 100
            raise UserError(
                f"{name}={fraction:g} leaves fewer than one example per class ({classes} classes, "
                f"{len(labels)} examples); use at least {smallest:g}"
            )
    rest_x, test_x, rest_y, test_y = train_test_split(
        features, labels, test_size=test_fraction, stratify=labels, random_state=seed
    )
    train_x, val_x, train_y, val_y = train_test_split(
        rest_x,
        rest_y,
        test_size=validation_fraction / (1 - test_fraction),
        stratify=rest_y,
        random_state=seed,
    )
    return {
        "train": (train_x, train_y),
        "validation": (val_x, val_y),
        "test": (test_x, test_y),
    }


def normalisation_stats(train_features):
    """Mean and variance over the training split, per channel or feature."""
    axes = tuple(range(train_features.ndim - 1))
    return (
        train_features.mean(axis=axes).astype("float32"),
        train_features.var(axis=axes).astype("float32"),
    )


def is_number(text):
    try:
        return bool(np.isfinite(float(text)))
    except ValueError:
        return False


def natural_order(label):
    """Sort key for class names: numbers in numeric order, then words alphabetically."""
    return (0, float(label), "") if is_number(label) else (1, 0.0, label)


def first_few(items, count=5):
    """`"3, 9, 12 and 4 more"`: enough of a list to find the problem, not all of it."""
    shown = ", ".join(str(item) for item in items[:count])
    return shown + (f" and {len(items) - count} more" if len(items) > count else "")


# Where `image_size=auto` stops following the images: small images keep their
# size, larger ones (photos) shrink to this, the cost the CNN presets are sized for.
AUTO_IMAGE_SIDE_MAX = 32


def image_side(image_size, largest_side):
    """The side images are resized to: `image_size` ("auto" or a number as
    text), where auto is the images' `largest_side` (None when unknown),
    at most `AUTO_IMAGE_SIDE_MAX` and at least 8.

    Example:
        >>> image_side("auto", 28), image_side("auto", 500), image_side("64", 28)
        (28, 32, 64)
    """
    if str(image_size) != "auto":
        return int(image_size)
    if largest_side is None:
        return AUTO_IMAGE_SIDE_MAX
    return max(8, min(AUTO_IMAGE_SIDE_MAX, int(largest_side)))
