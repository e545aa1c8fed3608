"""`images:DIR`: a folder with one sub-folder of images per class, streamed.

Images may be JPEG, PNG, BMP or GIF (first frame), grey or colour, of any
size; each is converted and resized exactly as `serve_raw` and `kerasdl
predict` do (`kerasdl.preprocess.prepare_images`), so training sees what a
served model sees. Pixels stay 0-255; the model normalises inside.

Only the file list and the headers are read when the data loads (labels
are the sub-folders; `image_headers` gives sizes and channels); the pixels
are decoded by the input pipeline (`kerasdl.data.streaming`), so a folder
larger than memory trains. The normalisation's mean and variance come from
a seeded sample of at most `STATS_BYTES` of decoded training images.

Files that are not images are skipped when the folder loads, and files that
fail to decode (a truncated download) when the pipeline reads them; both
are reported (count and first names) rather than failing the run: one
corrupt download in a folder of thousands should not stop training, but the
user must hear about it.
"""

import dataclasses
from pathlib import Path

import numpy as np

from kerasdl.data.dataset import DataInfo, first_few, image_side, normalisation_stats, split_stratified
from kerasdl.data.image_headers import image_headers
from kerasdl.data.streaming import FileDataset
from kerasdl.errors import UserError
from kerasdl.photos import IMAGE_SUFFIXES  # one list for training and predict

# Decoded training images the normalisation statistics are computed from,
# as float32 bytes: all of a folder of up to 1,365 64x64 colour images (the
# same mean and variance as the whole split), a seeded sample of a larger
# one. The statistics only set the inputs' scale; a thousand images pin each
# channel's mean and variance well.
STATS_BYTES = 64 * 2**20


def load_image_folder(directory, seed, validation_fraction, test_fraction, image_size="auto"):
    """Loads `directory/<class>/<image>` as seeded, stratified splits of file paths.

    Args:
        directory: the folder; each sub-folder holding images is a class,
            named after the sub-folder (sorted, so index order is stable).
        seed: seeds the splits.
        validation_fraction: share of all images for validation.
        test_fraction: share of all images for the test split.
        image_size: side of the square the images are resized to, or
            "auto": their largest side, at most 32 (`dataset.image_side`).

    Returns:
        An `ImageFolderDataset` whose `notes` list the skipped files, if any.

    Example:
        >>> load_image_folder("photos", seed=42, validation_fraction=0.1, test_fraction=0.2).info.class_names
        ['cats', 'dogs']
    """
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
    paths = [path for folder in files.values() for path in folder]
    labels = np.concatenate([np.full(len(folder), index, dtype="int32") for index, folder in enumerate(files.values())])
    shapes, skipped = image_headers(paths)
    if not shapes:
        raise UserError(f"No readable image in {str(root)!r}")
    readable = sorted(shapes)
    # Grey if every image is grey (with or without alpha), else colour.
    channels = 1 if all(shapes[index][2] <= 2 for index in readable) else 3
    side = image_side(image_size, max(max(shapes[index][:2]) for index in readable))
    kept = np.asarray([str(path) for path in paths])[readable]
    splits = split_stratified(kept, labels[readable], seed, validation_fraction, test_fraction)
    info = DataInfo(
        name=f"images:{directory}",
        kind="image",
        input_shape=(side, side, channels),
        class_names=list(files),
        value_range=(0.0, 255.0),
        mean=np.zeros(channels, dtype="float32"),
        variance=np.ones(channels, dtype="float32"),
    )
    notes = []
    if skipped:
        names = first_few([str(paths[index].relative_to(root)) for index in skipped])
        notes.append(f"skipped {len(skipped)} unreadable image file(s): {names}")
    uniform = all(shapes[index] == info.input_shape for index in readable)
    dataset = ImageFolderDataset(info=info, splits=splits, notes=notes, uniform=uniform)
    dataset.set_statistics(max(1, STATS_BYTES // dataset.decoded_bytes()), seed)
    return dataset


@dataclasses.dataclass
class ImageFolderDataset(FileDataset):
    """Classification splits of an image folder (`FileDataset`):
    `splits[name]` is `(image paths, label indices)`; `pipeline()` yields
    float32 images `(batch, S, S, C)` of raw 0-255 values and int32 labels.

    Args:
        uniform: every image's header says it has the input's shape
            `(S, S, C)`: the pipeline casts instead of resizing.
    """

    uniform: bool = False

    def decoded_bytes(self):
        """Bytes of one example as `pipeline` yields it: a float32 image, an int32 label."""
        height, width, channels = self.info.input_shape
        return 4 * height * width * channels + 4

    def statistics(self, split, sample, seed):
        """`FileDataset.statistics`, computed as on arrays in memory
        (`normalisation_stats`): a folder whose split is all in the sample
        gets the mean and variance it got when folders were read whole."""
        return normalisation_stats(self.sample(split, sample, seed)[0])

    def _reader(self, augmenting=False):
        """`(image path, label) -> (image, label)`, prepared as `serve_raw` prepares images."""
        import tensorflow as tf

        from kerasdl.preprocess import prepare_images

        shape = self.info.input_shape

        def read(path, label):
            image = tf.io.decode_image(tf.io.read_file(path), expand_animations=False)
            return prepare_images(image[tf.newaxis], shape, (0.0, 255.0))[0], label

        def cast(path, label):
            # Resizing an image to its own size gives back the same values:
            # when the headers say every image has the input's shape, a cast
            # is all (2.5x the 64x64 PNGs a second, `bench_data.py`; a
            # `tf.cond` choosing per image cost a third of that).
            image = tf.io.decode_image(tf.io.read_file(path), channels=shape[-1], expand_animations=False)
            return tf.cast(tf.ensure_shape(image, shape), tf.float32), label

        return cast if self.uniform else read
