"""`tfrecord:DIR`: a folder `kerasdl prepare` wrote, streamed from its TFRecord files.

The splits are the prepared ones (`index.json` records the seed and
fractions they were made with): a run that asks for other fractions or
another image size is refused in one line, and a run with another seed is
told that the seed reshuffles and initialises but does not re-split. The
records are read in stored order through `TfdsRecords` (a split's examples,
or a worker's share of them, are picked by position), decoded and cached
as `FileDataset` decodes files, so with the prepared seed a run matches the
one from the original folder batch for batch.
"""

import dataclasses
import json
from pathlib import Path

import numpy as np

from kerasdl.data.dataset import DataInfo
from kerasdl.data.images import ImageFolderDataset
from kerasdl.data.prepared import FORMAT, INDEX
from kerasdl.data.tfds_records import TfdsRecords
from kerasdl.errors import UserError


def load_tfrecord_folder(directory, seed, validation_fraction, test_fraction, image_size="auto"):
    """Loads a prepared folder (`kerasdl.data.prepared`) as a `TfrecordDataset`.

    Args are `load_image_folder`'s; the fractions and image size must be
    the prepared ones (or `auto`).

    Example:
        >>> load_tfrecord_folder("photos-records", 42, 0.1, 0.2).size("train")
        7000
    """
    import tensorflow as tf

    root = Path(directory)
    try:
        index = json.loads((root / INDEX).read_text())
    except (OSError, ValueError) as error:
        raise UserError(
            f"{str(root)!r} holds no readable {INDEX} ({error.__class__.__name__}); "
            "data=tfrecord:DIR reads a folder written by `kerasdl prepare`"
        ) from None
    if index.get("format") != FORMAT:
        raise UserError(f"{root / INDEX} is not a {FORMAT} index (format {index.get('format')!r})")
    prepared = {key: index[key] for key in ("validation_fraction", "test_fraction")}
    asked = {"validation_fraction": validation_fraction, "test_fraction": test_fraction}
    if any(not np.isclose(asked[key], prepared[key]) for key in prepared):
        settings = ", ".join(f"{key}={value:g}" for key, value in prepared.items())
        raise UserError(f"{root} was split with {settings} when it was prepared; run with those, or prepare it again")
    shape = tuple(index["input_shape"])
    if str(image_size) not in ("auto", str(shape[0])):
        raise UserError(
            f"{root} holds {shape[0]}x{shape[0]} images; run with image_size=auto or {shape[0]}, or prepare it again"
        )
    missing = [name for part in index["splits"].values() for name in part["files"] if not (root / name).is_file()]
    if missing:
        raise UserError(f"{root} lacks {len(missing)} of the files its {INDEX} lists, e.g. {missing[0]}")
    info = DataInfo(
        name=f"tfrecord:{directory}",
        kind="image",
        input_shape=shape,
        class_names=index["class_names"],
        value_range=tuple(index["value_range"]),
        mean=np.asarray(index["mean"], dtype="float32"),
        variance=np.asarray(index["variance"], dtype="float32"),
    )
    records = {
        split: tf.data.TFRecordDataset([str(root / name) for name in part["files"]])
        for split, part in index["splits"].items()
    }
    splits = {
        split: (np.full(part["count"], split), np.arange(part["count"])) for split, part in index["splits"].items()
    }
    notes = []
    if seed != index["seed"]:
        notes.append(
            f"{root} was split with seed {index['seed']} when it was prepared; seed {seed} shuffles and "
            "initialises this run, the splits stay the prepared ones"
        )
    return TfrecordDataset(info=info, splits=splits, notes=notes, records=records, dtype=index["dtype"])


@dataclasses.dataclass
class TfrecordDataset(TfdsRecords, ImageFolderDataset):
    """Prepared classification splits: `splits[name]` is `(sources,
    positions)` into `records` (`kerasdl.data.tfds_records`); `pipeline()`
    yields float32 images `(batch, S, S, C)` of raw 0-255 values and int32
    labels, as `images:` does.

    Args:
        dtype: how the images are stored, `uint8` or `float32`.
    """

    dtype: str = "float32"

    def _reader(self, augmenting=False):
        """A serialized `tf.train.Example` -> `(image, label)`."""
        import tensorflow as tf

        shape, dtype = self.info.input_shape, tf.as_dtype(self.dtype)
        features = {
            "image": tf.io.FixedLenFeature([], tf.string),
            "label": tf.io.FixedLenFeature([], tf.int64),
        }

        def read(record):
            example = tf.io.parse_single_example(record, features)
            image = tf.reshape(tf.io.decode_raw(example["image"], dtype), shape)
            return tf.cast(image, tf.float32), tf.cast(example["label"], tf.int32)

        return read
