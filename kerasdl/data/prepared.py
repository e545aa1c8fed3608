"""`kerasdl prepare DATA OUT_DIR`: an image folder, decoded and split once, as sharded TFRecord files.

The format Model Garden and Cloud TPU users keep in buckets: each split's
examples, already decoded and resized, in files of about `SHARD_BYTES`
(`train-00000-of-00027.tfrecord`, ...), each record a `tf.train.Example`
with the image's raw bytes and its label, and `index.json` saying what the
records hold: the source, the split settings, the input shape and dtype,
the class names and the training split's normalisation statistics.

`data=tfrecord:OUT_DIR` trains from it (`kerasdl.data.tfrecords`). The
records are written in the order the folder's pipeline reads each split,
so a run from the prepared folder matches a run from the original folder
exactly, for the seed and fractions it was prepared with.
"""

import json
import os
import shutil
from pathlib import Path

import numpy as np

from kerasdl.errors import UserError

INDEX = "index.json"
FORMAT = "kerasdl-tfrecord/1"
SHARD_BYTES = 128 * 2**20
# The settings that decide what the records hold; `kerasdl prepare` takes these KEY=VALUE pairs.
PREPARE_KEYS = ("seed", "validation_fraction", "test_fraction", "image_size")


def prepare(spec, out_dir, seed=42, validation_fraction=0.1, test_fraction=0.2, image_size="auto", log=print):
    """Writes `spec`'s splits to `out_dir` as TFRecord files and `index.json`.

    Args:
        spec: an `images:DIR` data spec.
        out_dir: a folder that does not exist yet (or is empty).
        seed, validation_fraction, test_fraction, image_size: as for
            training (`kerasdl.config.Config`); they are fixed in the records.
        log: where progress lines go.

    Returns:
        The index, as written.

    Example:
        >>> prepare("images:photos", "photos-records", image_size="64")["splits"]["train"]["count"]
        7000
    """
    from kerasdl.data import load_dataset

    if not str(spec).startswith("images:"):
        raise UserError(f"kerasdl prepare reads image folders (data images:DIR), got {spec!r}")
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserError(f"{str(out)!r} exists and is not an empty folder; prepare writes into a new one")
    dataset = load_dataset(spec, seed, validation_fraction, test_fraction, image_size)
    for note in dataset.notes:
        log(note)
    # Integer pixels (images already at the input's shape) are stored as
    # uint8, a quarter of float32's bytes; resized ones as the float32 the
    # pipeline makes, so that training reads exactly the same values.
    dtype = "uint8" if dataset.uniform else "float32"
    dataset.cache = "none"  # each split read once, in order
    staging = out.with_name(f".{out.name}.partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        splits = {split: _write_split(dataset, split, staging, dtype, log) for split in ("train", "validation", "test")}
        failed = [path for split in splits for path in dataset.unreadable(split)]
        info = dataset.info
        index = {
            "format": FORMAT,
            "source": spec,
            "seed": seed,
            "validation_fraction": validation_fraction,
            "test_fraction": test_fraction,
            "image_size": str(image_size),
            "input_shape": list(info.input_shape),
            "dtype": dtype,
            "class_names": info.class_names,
            "value_range": list(info.value_range),
            "mean": info.mean.tolist(),
            "variance": info.variance.tolist(),
            "notes": dataset.notes,
            "failed_to_decode": failed,
            "splits": splits,
        }
        (staging / INDEX).write_text(json.dumps(index, indent=2) + "\n")
        if out.exists():
            out.rmdir()
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if failed:
        log(dataset.unreadable_note(("train", "validation", "test")) + "; another example of the split took each place")
    return index


def _write_split(dataset, split, folder, dtype, log):
    """One split's examples into `split-NNNNN-of-MMMMM.tfrecord` files; `{"count", "files"}`."""
    import tensorflow as tf

    count = dataset.size(split)
    per_shard = max(1, SHARD_BYTES // (int(np.prod(dataset.info.input_shape)) * np.dtype(dtype).itemsize))
    shards = max(1, -(-count // per_shard))
    names = [f"{split}-{shard:05d}-of-{shards:05d}.tfrecord" for shard in range(shards)]
    written, writer = 0, None
    for images, labels in dataset.pipeline(split, 256).as_numpy_iterator():
        for image, label in zip(images.astype(dtype), labels, strict=True):
            if written % per_shard == 0:
                if writer:
                    writer.close()
                writer = tf.io.TFRecordWriter(str(folder / names[written // per_shard]))
            writer.write(_example(image.tobytes(), int(label)))
            written += 1
    if writer:
        writer.close()
    log(f"prepared {split}: {written} examples in {shards} file(s)")
    return {"count": written, "files": names}


def _example(image_bytes, label):
    import tensorflow as tf

    feature = {
        "image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[image_bytes])),
        "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()
