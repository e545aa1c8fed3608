"""`pairs:DIR`: paired images for image-to-image translation (Pix2Pix), streamed from disk.

Each example is an input image and the target image it should become: a
label photo and its facade, an edge map and its shoe, a grey photo and its
colours. The folder holds them in one of two layouts (`pair_folder.py`):

- `DIR/A/` and `DIR/B/`, one image each per file stem (`A/0001.png` and
  `B/0001.jpg`), the two of a pair the same size;
- images with the two halves side by side, A left and B right, as the
  pix2pix data sets ship (facades, maps, edges2shoes): directly in `DIR`,
  or in `DIR/train/`, `DIR/val/` and `DIR/test/`, which are then the splits.

`direction` AtoB makes A the input and B the target; BtoA the other way.
Either side may be grey or colour, whatever the other is; images of any
size are resized to a square (`image_size`, auto: 256, the paper's) through
`kerasdl.preprocess.prepare_images`, the definition `serve_raw` uses too.
Inputs stay raw 0-255 (the model normalises inside); targets are 0-1, the
generator's output range. Training batches get the paper's random jitter
(`jitter`), the same for an input and its target, cut from pairs read a
little larger (`jitter_side`) straight from their files.
"""

import dataclasses
from pathlib import Path

import numpy as np

from kerasdl.data.dataset import DataInfo
from kerasdl.data.masks import STATS_SAMPLE, MaskDataset
from kerasdl.data.pair_folder import checked_pairs
from kerasdl.errors import UserError

# Isola et al. (2017) train at 256x256.
PAIR_SIDE = 256
# The paper's random jitter: resize 256 to 286, crop back to 256.
JITTER_SCALE = 286 / 256


def jitter_side(side):
    """The side training pairs are read at for `jitter` to cut `side` from.

    Example:
        >>> jitter_side(256), jitter_side(128)
        (286, 143)
    """
    return round(side * JITTER_SCALE)


DIRECTIONS = ("AtoB", "BtoA")
# A target's channels are what the model outputs; labels.txt names them.
CHANNEL_NAMES = {1: ["grey"], 3: ["red", "green", "blue"]}


def pair_side(image_size, auto=PAIR_SIDE):
    """The side inputs and targets are resized to: `image_size`, a number
    (or its text), or "auto", which is `auto`.

    Example:
        >>> pair_side("auto"), pair_side("128"), pair_side(64)
        (256, 128, 64)
    """
    return auto if str(image_size) == "auto" else int(image_size)


def pair_info(name, side, input_channels, target_channels):
    """The `DataInfo` of image pairs: raw 0-255 inputs, resized to `side`;
    mean and variance are set from the training inputs later."""
    return DataInfo(
        name=name,
        kind="image",
        input_shape=(side, side, input_channels),
        class_names=list(CHANNEL_NAMES[target_channels]),
        value_range=(0.0, 255.0),
        mean=np.zeros(input_channels, dtype="float32"),
        variance=np.ones(input_channels, dtype="float32"),
        target_shape=(side, side, target_channels),
    )


def load_pair_folder(
    directory, seed, validation_fraction, test_fraction, image_size="auto", augment=True, direction="AtoB"
):
    """Loads a folder of image pairs as train, validation and test splits.

    Args:
        directory: the folder, in either layout (module docstring).
        seed: seeds the splits carved at random and the statistics' sample.
        validation_fraction: share of the pairs for validation, where
            `DIR/val/` does not hold them (of `DIR/train/`'s pairs if it
            exists, else of all).
        test_fraction: share for the test split, where `DIR/test/` does not
            hold them.
        image_size: side of the square inputs and targets are resized to,
            a number (or its text), or "auto" (256).
        augment: training batches get the paper's random jitter (`jitter`).
        direction: "AtoB" (default: A, the left half, is the input) or
            "BtoA".

    Returns:
        A `PairDataset`.

    Example:
        >>> dataset = load_pair_folder("facades", seed=42, validation_fraction=0.1, test_fraction=0.2)
        >>> dataset.info.input_shape, dataset.info.target_shape
        ((256, 256, 3), (256, 256, 3))
    """
    if direction not in DIRECTIONS:
        raise UserError(f"Unknown direction {direction!r}; choose one of: {', '.join(DIRECTIONS)}")
    root = Path(directory)
    if not root.is_dir():
        raise UserError(
            f"Pair folder {str(root)!r} does not exist; pass data=pairs:DIR with DIR/A and DIR/B, or images "
            "with input and target side by side"
        )
    side_by_side, groups, channels = checked_pairs(root)
    splits = split_pairs(groups, seed, validation_fraction, test_fraction, str(root))
    input_side, target_side = ("A", "B") if direction == "AtoB" else ("B", "A")
    if direction == "BtoA" and not side_by_side:
        splits = {name: (targets, inputs) for name, (inputs, targets) in splits.items()}
    info = pair_info(f"pairs:{directory}", pair_side(image_size), channels[input_side], channels[target_side])
    dataset = PairDataset(info=info, splits=splits, augment=augment, halves=direction if side_by_side else "")
    dataset.set_statistics(STATS_SAMPLE, seed)
    return dataset


def split_pairs(groups, seed, validation_fraction, test_fraction, source):
    """Train, validation and test splits of `groups` (`checked_pairs`): the
    sub-folders' own splits, and seeded random shares of the training pairs
    (of all pairs without sub-folders) for those that have none.

    Returns:
        `{split: (A paths, B paths)}`, each split in file order.
    """
    base = groups["train"] if "train" in groups else groups["all"]
    count = len(base[0])
    wanted = {"test": test_fraction, "validation": validation_fraction}
    carved = {split: max(1, round(fraction * count)) for split, fraction in wanted.items() if split not in groups}
    if count - sum(carved.values()) < 1:
        names = ["train", *(split for split in ("validation", "test") if split in carved)]
        raise UserError(
            f"{count} pair(s) in {source!r} cannot fill {', '.join(names[:-1])} and {names[-1]} "
            f"(validation_fraction={validation_fraction:g}, test_fraction={test_fraction:g}); add pairs"
        )
    order = np.random.default_rng(seed).permutation(count)
    parts, start = {}, 0
    for split, size in carved.items():
        parts[split], start = order[start : start + size], start + size
    parts["train"] = order[start:]
    splits = {split: (groups[split][0], groups[split][1]) for split in ("validation", "test") if split in groups}
    splits |= {split: tuple(paths[np.sort(part)] for paths in base) for split, part in parts.items()}
    return {split: splits[split] for split in ("train", "validation", "test")}


@dataclasses.dataclass
class PairDataset(MaskDataset):
    """Image-to-image splits streamed through `tf.data`: `splits[name]` is
    `(input paths, target paths)`, the same path twice where one file holds
    both images side by side.

    Reading, the in-memory cache of small splits, `sample()` and
    `statistics()` (of the inputs) are `MaskDataset`'s; `pipeline()` yields
    float32 inputs `(batch, S, S, Cin)` of raw 0-255 values and float32
    targets `(batch, S, S, Cout)` in [0, 1], the training batches jittered
    (`jitter`) if the dataset augments.

    Args:
        halves: "" when input and target are separate files; else each file
            holds both, A left and B right, and "AtoB" or "BtoA" says which
            half is the input.
    """

    halves: str = ""

    def decoded_bytes(self):
        """Bytes of one example as `pipeline` yields it: float32 input and target."""
        height, width, channels = self.info.input_shape
        return 4 * height * width * (channels + self.info.target_shape[-1])

    def _reader(self, augmenting=False):
        """`(input path, target path) -> (input, target)`, resized and scaled
        (`prepared_pair`); where one file holds both, cut into its halves.

        `augmenting`: at `jitter_side`, for `jitter` to crop. Resized from
        the file once: the paper's resize to 256 and then to 286 costs a
        512 px ISBI EM image a quarter of its mean gradient (measured), so
        the discriminator would learn that real targets are that blurred
        and the generator would follow (sharpness 0.64 of the test
        targets' before this).
        """
        import tensorflow as tf

        input_shape, target_shape, halves = self.info.input_shape, self.info.target_shape, self.halves
        if augmenting:
            input_shape, target_shape = (enlarged(shape) for shape in (input_shape, target_shape))

        def read(input_path, target_path):
            inputs = tf.io.decode_image(tf.io.read_file(input_path), expand_animations=False)
            if halves:
                middle = tf.shape(inputs)[1] // 2
                left, right = inputs[:, :middle], inputs[:, middle:]
                inputs, targets = (left, right) if halves == "AtoB" else (right, left)
            else:
                targets = tf.io.decode_image(tf.io.read_file(target_path), expand_animations=False)
            return prepared_pair(inputs, targets, input_shape, target_shape)

        return read

    def _augmenter(self, seed):
        return jitter(seed, self.info.input_shape[0], self.info.input_shape[-1])


def enlarged(shape):
    """An image shape `(side, side, channels)` at `jitter_side`."""
    side, _, channels = shape
    return (jitter_side(side), jitter_side(side), channels)


def prepared_pair(inputs, targets, input_shape, target_shape):
    """An input and its target, 8-bit images `(height, width, 1-4)` of any
    size, as the model sees them: the input resized to `input_shape`, raw
    float32 0-255; the target resized to `target_shape`, float32 in [0, 1].
    Both through `prepare_images` (antialiased bilinear), as `serve_raw`
    prepares a client's photo."""
    import tensorflow as tf

    from kerasdl.preprocess import prepare_images

    inputs = prepare_images(inputs[tf.newaxis], input_shape, (0.0, 255.0))[0]
    targets = prepare_images(targets[tf.newaxis], target_shape, (0.0, 1.0))[0]
    return inputs, targets


def jitter(seed, side, input_channels):
    """A batch map `(inputs, targets) -> (inputs, targets)`: the random
    jitter of Isola et al. (2017) and TensorFlow's pix2pix tutorial.

    The pairs come at `jitter_side(side)` (the paper's 286 for 256), as
    the dataset's reader resized them from their files; each is cut to
    `side` at one random offset and mirrored left-right half of the time:
    the same transform for an input and its target, which travel together
    as one image of `Cin + Cout` channels. Each image of a batch gets its
    own offset and mirror. Only whole pixels move, so a target that is a
    pixelwise function of its input stays one.

    The random offset is Keras's RandomTranslation, seeded: shifting the
    enlarged image by up to the margin with nearest sampling, then cutting
    out its centre, is the crop at a whole-pixel offset from 0 to the
    margin, drawn per image (RandomCrop draws one offset per batch).

    Example:
        >>> data = data.batch(1).map(jitter(seed=42, side=256, input_channels=3))  # 286x286 pairs
    """
    import keras
    import tensorflow as tf

    larger = jitter_side(side)
    margin = larger - side
    start = margin // 2
    # A shift d followed by cutting at `start` reads the enlarged image
    # from `start - d`: d in [start - margin, start] keeps it inside.
    shift = ((start - margin) / larger, start / larger)
    # float32 whatever the run's precision (as masks.augmenter): input work on the CPU.
    translate = keras.layers.RandomTranslation(
        shift, shift, fill_mode="reflect", interpolation="nearest", seed=seed, dtype="float32"
    )
    mirror = keras.layers.RandomFlip("horizontal", seed=seed + 1, dtype="float32")

    def augment(inputs, targets):
        pair = tf.concat([inputs, targets], axis=-1)
        pair = translate(pair, training=True)[:, start : start + side, start : start + side]
        pair = tf.cast(mirror(pair, training=True), tf.float32)
        return pair[..., :input_channels], pair[..., input_channels:]

    return augment
