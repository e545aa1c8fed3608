"""`colorize`: grey photo to colour photo, from four photos inside scikit-image.

A demonstration, not a benchmark: a first look at image-to-image
translation (the `translate` task) that needs no download. Four real colour
photos ship inside the scikit-image wheel (`skimage/data/`); each is used
under the licence scikit-image's `skimage.data` docstrings state:

- `astronaut.png`: Eileen Collins, from NASA's Great Images database;
  public domain;
- `coffee.png`: a coffee cup by Rachel Michetti (Pikolo Espresso Bar); CC0;
- `chelsea.png`: Chelsea the cat by Stefan van der Walt; CC0;
- `rocket.jpg`: DSCOVR's launch on a Falcon 9, by SpaceX; public domain.

The examples are seeded random square crops of these four photos (about 80
of each), overlapping one another: the input is a crop's grey (luminance,
rounded to 8 bits as PIL's "L" conversion), the target the colour crop. A
model learns these four photos' colours, not colour in general. The test
crops come from each photo's bottom quarter, which no training or
validation crop touches, so the test score is on pixels the model never
saw; but they show the same cat, cup, astronaut and rocket, so it is no
measure of colourising other photos.
"""

import dataclasses
from importlib import resources

import numpy as np

from kerasdl.data.masks import STATS_SAMPLE
from kerasdl.data.pairs import PairDataset, jitter_side, pair_info, pair_side
from kerasdl.errors import UserError

# name -> (file in skimage/data/, author and licence, for the docstring's reader).
PHOTOS = {
    "astronaut": ("astronaut.png", "NASA, public domain"),
    "coffee": ("coffee.png", "Rachel Michetti, CC0"),
    "chelsea": ("chelsea.png", "Stefan van der Walt, CC0"),
    "rocket": ("rocket.jpg", "SpaceX, public domain"),
}
CROPS_PER_PHOTO = 80
# Each photo's bottom quarter holds the test crops alone.
HELD_OUT = 0.25
# The crops' side in the photo (at most; a held-out strip lower than this
# sets it) and `image_size=auto`: small, for a first run on a CPU.
CROP_SIDE = 128


def held_out_top(height):
    """The first row of a photo `height` rows high that only test crops use.

    Example:
        >>> held_out_top(300)
        225
    """
    return round(height * (1 - HELD_OUT))


def load_colorize(seed, validation_fraction, test_fraction, image_size="auto", augment=True):
    """Loads the `colorize` demonstration (module docstring) as splits.

    Args:
        seed: seeds where the crops are cut, and so the splits.
        validation_fraction: share of each photo's crops for validation.
        test_fraction: share of each photo's crops for the test split, cut
            from its bottom quarter.
        image_size: side of the square the crops are resized to, a number
            (or its text), or "auto" (128).
        augment: training batches get pix2pix's random jitter.

    Returns:
        A `ColorizeDataset`: grey inputs `(S, S, 1)`, colour targets
        `(S, S, 3)`.

    Example:
        >>> load_colorize(seed=42, validation_fraction=0.1, test_fraction=0.2).size("test")
        64
    """
    import tensorflow as tf
    from PIL import Image

    from kerasdl.preprocess import prepare_images

    side = pair_side(image_size, CROP_SIDE)
    counts = {
        "test": max(1, round(test_fraction * CROPS_PER_PHOTO)),
        "validation": max(1, round(validation_fraction * CROPS_PER_PHOTO)),
    }
    counts["train"] = CROPS_PER_PHOTO - counts["test"] - counts["validation"]
    if counts["train"] < 1:
        raise UserError(
            f"colorize cuts {CROPS_PER_PHOTO} crops of each photo; validation_fraction={validation_fraction:g} and "
            f"test_fraction={test_fraction:g} leave none for training"
        )
    rng = np.random.default_rng(seed)
    parts = {split: ([], [], []) for split in counts}  # greys, colours, crops
    for index, photo in enumerate(_photos()):
        height, width, _ = photo.shape
        top = held_out_top(height)
        crop = min(CROP_SIDE, height - top)
        for split, count in counts.items():
            rows = (top, height - crop) if split == "test" else (0, top - crop)
            boxes = np.stack(
                [
                    np.full(count, index),
                    rng.integers(rows[0], rows[1] + 1, count),
                    rng.integers(0, width - crop + 1, count),
                    np.full(count, crop),
                ],
                axis=-1,
            )
            cut = np.stack([photo[y : y + crop, x : x + crop] for _, y, x, _ in boxes])
            colour = np.round(prepare_images(tf.constant(cut), (side, side, 3), (0.0, 255.0)).numpy())
            colour = colour.astype("uint8")
            # PIL's own conversion, on the crops stacked as one tall image.
            grey = np.asarray(Image.fromarray(colour.reshape(-1, side, 3)).convert("L"))
            for part, value in zip(parts[split], (grey.reshape(-1, side, side, 1), colour, boxes), strict=True):
                part.append(value)
    splits = {split: (np.concatenate(greys), np.concatenate(colours)) for split, (greys, colours, _) in parts.items()}
    crops = {split: np.concatenate(boxes) for split, (_, _, boxes) in parts.items()}
    info = pair_info("colorize", side, 1, 3)
    dataset = ColorizeDataset(
        info=info,
        splits={split: splits[split] for split in ("train", "validation", "test")},
        augment=augment,
        crops=crops,
    )
    dataset.set_statistics(STATS_SAMPLE, seed)
    return dataset


@dataclasses.dataclass
class ColorizeDataset(PairDataset):
    """The `colorize` crops, held in memory: `splits[name]` is `(grey uint8
    (N, S, S, 1), colour uint8 (N, S, S, 3))`, already at the run's side;
    `pipeline()` yields what `PairDataset`'s does (the base `_records`
    slices these arrays as it would slice file paths).

    Args:
        crops: `{split: (N, 4) int array}`, where each crop was cut: the
            photo's index in `PHOTOS`, its top row, its left column and its
            side, in the photo's pixels.
    """

    crops: dict = dataclasses.field(default_factory=dict, repr=False, compare=False)
    tallies = False  # arrays in memory: nothing can fail to decode

    def _reader(self, augmenting=False):
        """`(grey, colour) -> (input, target)`: the crops were resized
        through `prepare_images` when they were cut; here they are only
        scaled, the input to raw float32 0-255, the target to [0, 1], and
        `augmenting`, enlarged (bilinear) to `jitter_side` as the paper
        does, for `jitter` to crop."""
        import tensorflow as tf

        larger = jitter_side(self.info.input_shape[0])

        def read(grey, colour):
            grey, colour = tf.cast(grey, tf.float32), tf.cast(colour, tf.float32) / 255.0
            if augmenting:
                grey, colour = (tf.image.resize(image, (larger, larger)) for image in (grey, colour))
            return grey, colour

        return read


def photo_path(name):
    """Where scikit-image's wheel installed the photo `name` (a `PHOTOS` key)."""
    try:
        folder = resources.files("skimage") / "data"
    except ModuleNotFoundError:
        raise UserError(
            "data=colorize needs scikit-image, whose wheel holds its photos: pip install 'scikit-image>=0.22,<1'"
        ) from None
    path = folder / PHOTOS[name][0]
    if not path.is_file():
        raise UserError(
            f"scikit-image has no {PHOTOS[name][0]} in {folder} (an install without its sample photos); "
            "reinstall it from PyPI: pip install --force-reinstall 'scikit-image>=0.22,<1'"
        )
    return path


def _photos():
    """The `PHOTOS` as uint8 RGB arrays `(height, width, 3)`, in their order."""
    from PIL import Image

    photos = []
    for name in PHOTOS:
        with Image.open(photo_path(name)) as photo:
            photos.append(np.asarray(photo.convert("RGB")))
    return photos
