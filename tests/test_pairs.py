import types

import numpy as np
import pytest
from PIL import Image

from kerasdl.data import load_dataset, load_dataset_for
from kerasdl.errors import UserError

SPLITS = ("train", "validation", "test")


def _noise(rng, side, channels=3, width=None):
    shape = (side, width or side) + ((channels,) if channels == 3 else ())
    return rng.integers(0, 256, shape).astype("uint8")


def _ab_folder(root, count=10, side=32, seed=0):
    """`root/A/NNNN.png` colour noise and `root/B/NNNN.png` its grey negative: B = 255 - grey(A)."""
    rng = np.random.default_rng(seed)
    (root / "A").mkdir(parents=True)
    (root / "B").mkdir()
    for index in range(count):
        colour = Image.fromarray(_noise(rng, side))
        colour.save(root / "A" / f"{index:04d}.png")
        Image.fromarray(255 - np.asarray(colour.convert("L"))).save(root / "B" / f"{index:04d}.png")
    return root


def _side_by_side(folder, count=10, side=32, seed=0, width=None, grey_right=True):
    """`folder/NNNN.png`: colour noise left; right its negative, in colour or, by default, the negative
    of its red channel alone, grey but saved as RGB."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    for index in range(count):
        left = _noise(rng, side, width=width)
        right = np.repeat(255 - left[..., :1], 3, axis=-1) if grey_right else 255 - left
        Image.fromarray(np.concatenate([left, right], axis=1)).save(folder / f"{index:04d}.png")
    return folder


def _pixels(path, crop=None):
    image = Image.open(path)
    return np.asarray(image.crop(crop) if crop else image).astype("float32")


def _check_batches(dataset, split, batch_size):
    """Every batch of `split`: float32, raw 0-255 inputs and 0-1 targets of the info's shapes."""
    batches = list(dataset.pipeline(split, batch_size).as_numpy_iterator())
    for inputs, targets in batches:
        assert inputs.dtype == np.float32 and targets.dtype == np.float32
        assert inputs.shape[1:] == dataset.info.input_shape and targets.shape[1:] == dataset.info.target_shape
        assert 0 <= inputs.min() and inputs.max() <= 255 and 0 <= targets.min() and targets.max() <= 1
    return batches


def test_a_and_b_folders_pair_by_name_and_direction_swaps_them(tmp_path):
    root = _ab_folder(tmp_path / "data")
    forward = load_dataset(f"pairs:{root}", image_size=32)
    info = forward.info
    assert (info.kind, info.input_shape, info.target_shape) == ("image", (32, 32, 3), (32, 32, 1))
    assert info.class_names == ["grey"] and info.value_range == (0.0, 255.0)
    assert [forward.size(split) for split in SPLITS] == [7, 1, 2]
    inputs, targets = forward.arrays("test")
    assert inputs.shape == (2, 32, 32, 3) and targets.shape == (2, 32, 32, 1)
    a_paths, b_paths = forward.splits["test"]
    assert [path[-8:] for path in a_paths] == [path[-8:] for path in b_paths]
    np.testing.assert_allclose(inputs, np.stack([_pixels(path) for path in a_paths]), atol=1e-3)
    np.testing.assert_allclose(targets[..., 0], np.stack([_pixels(path) for path in b_paths]) / 255, atol=1e-5)

    backward = load_dataset(f"pairs:{root}", image_size=32, direction="BtoA")
    assert backward.info.input_shape == (32, 32, 1) and backward.info.target_shape == (32, 32, 3)
    assert backward.info.class_names == ["red", "green", "blue"]
    assert list(backward.splits["test"][0]) == list(b_paths)
    np.testing.assert_allclose(backward.arrays("test")[1], inputs / 255, atol=1e-5)


@pytest.mark.parametrize("direction", ["AtoB", "BtoA"])
def test_side_by_side_images_are_cut_in_halves_and_a_grey_half_is_grey(tmp_path, direction):
    root = _side_by_side(tmp_path / "data")
    dataset = load_dataset(f"pairs:{root}", image_size=32, direction=direction)
    assert dataset.halves == direction
    colour, grey = (32, 32, 3), (32, 32, 1)  # the right half is RGB, but every pixel is grey
    inputs, targets = dataset.arrays("test")
    left = np.stack([_pixels(path, (0, 0, 32, 32)) for path in dataset.splits["test"][0]])
    if direction == "AtoB":
        assert (dataset.info.input_shape, dataset.info.target_shape) == (colour, grey)
        np.testing.assert_allclose(inputs, left, atol=1e-3)
        # Read as grey by luminance, whose weights add up to 0.9999, not 1.
        np.testing.assert_allclose(targets[..., 0], 1 - left[..., 0] / 255, atol=2e-4)
    else:
        assert (dataset.info.input_shape, dataset.info.target_shape) == (grey, colour)
        np.testing.assert_allclose(targets, left / 255, atol=1e-5)


def test_any_size_is_resized_and_auto_is_the_papers_256(tmp_path):
    root = _side_by_side(tmp_path / "data", count=5, side=20, width=30)
    dataset = load_dataset(f"pairs:{root}", validation_fraction=0.2, test_fraction=0.2)
    assert dataset.info.input_shape == (256, 256, 3)
    dataset = load_dataset(f"pairs:{root}", image_size="24", validation_fraction=0.2, test_fraction=0.2)
    [(inputs, targets)] = _check_batches(dataset, "train", 8)
    assert inputs.shape == (3, 24, 24, 3) and targets.shape == (3, 24, 24, 1)


def test_train_val_and_test_sub_folders_are_the_splits(tmp_path):
    root = tmp_path / "data"
    for name, count in (("train", 6), ("val", 2), ("test", 3)):
        _side_by_side(root / name, count=count, seed=count)
    dataset = load_dataset(f"pairs:{root}", image_size=32)
    assert [dataset.size(split) for split in SPLITS] == [6, 2, 3]
    for split, name in zip(SPLITS, ("train", "val", "test"), strict=True):
        assert {path.split("/")[-2] for path in dataset.splits[split][0]} == {name}
    # Without val/ and test/, both are carved from train/ by the fractions.
    for name in ("val", "test"):
        for path in (root / name).iterdir():
            path.unlink()
        (root / name).rmdir()
    dataset = load_dataset(f"pairs:{root}", image_size=32, validation_fraction=0.2, test_fraction=0.3)
    assert [dataset.size(split) for split in SPLITS] == [3, 1, 2]
    assert sorted(np.concatenate([dataset.splits[split][0] for split in SPLITS])) == sorted(
        str(path) for path in (root / "train").iterdir()
    )


def test_splits_are_seeded_and_the_statistics_come_from_training_inputs(tmp_path):
    root = _ab_folder(tmp_path / "data", count=12)
    first, again, other = (load_dataset(f"pairs:{root}", seed=seed, image_size=32) for seed in (1, 1, 2))
    assert all(list(first.splits[split][0]) == list(again.splits[split][0]) for split in SPLITS)
    assert list(first.splits["test"][0]) != list(other.splits["test"][0])
    inputs = first.arrays("train")[0]
    np.testing.assert_allclose(first.info.mean, inputs.mean(axis=(0, 1, 2)), rtol=1e-4)
    np.testing.assert_allclose(first.info.variance, inputs.var(axis=(0, 1, 2)), rtol=1e-3)


def test_the_pipeline_streams_what_arrays_holds(tmp_path):
    dataset = load_dataset(f"pairs:{_ab_folder(tmp_path / 'data')}", image_size=32)
    batches = _check_batches(dataset, "train", 3)
    assert [len(inputs) for inputs, _ in batches] == [3, 3, 1]
    inputs, targets = dataset.arrays("train")
    np.testing.assert_array_equal(np.concatenate([batch[0] for batch in batches]), inputs)
    np.testing.assert_array_equal(np.concatenate([batch[1] for batch in batches]), targets)
    shapes = [inputs.shape for inputs, _ in dataset.pipeline("train", 7, shuffle=True).as_numpy_iterator()]
    assert shapes == [(7, 32, 32, 3)]
    assert dataset.decoded_bytes() == 32 * 32 * 4 * (3 + 1)
    assert [len(part) for part in dataset.sample("test", 1, seed=3)] == [1, 1]


def _augmented(dataset, seed):
    batches = list(dataset.pipeline("train", 8, shuffle=True, seed=seed).as_numpy_iterator())
    return [np.concatenate(parts) for parts in zip(*batches, strict=True)]


def test_jitter_moves_input_and_target_together_and_repeats_with_its_seed(tmp_path):
    """Every target is 1 - input / 255: after the jitter it must still be, pixel for pixel."""
    root = _side_by_side(tmp_path / "data", count=20, grey_right=False)
    dataset = load_dataset(f"pairs:{root}", image_size=32, validation_fraction=0.1, test_fraction=0.1)
    plain_inputs = dataset.arrays("train")[0]
    inputs, targets = _augmented(dataset, seed=5)
    assert inputs.shape == (16, 32, 32, 3) and targets.shape == (16, 32, 32, 3)
    moved = np.mean([not any(np.allclose(image, seen) for seen in plain_inputs) for image in inputs])
    assert moved > 0.5  # most pairs were cropped elsewhere or mirrored
    # Bilinear resizing is a weighted mean: the relation survives it, up to float rounding.
    np.testing.assert_allclose(targets, 1 - inputs / 255, atol=1e-5)
    again = _augmented(dataset, seed=5)
    np.testing.assert_array_equal(again[0], inputs)
    np.testing.assert_array_equal(again[1], targets)
    assert not np.array_equal(_augmented(dataset, seed=6)[0], inputs)
    unaugmented = load_dataset(
        f"pairs:{root}", image_size=32, validation_fraction=0.1, test_fraction=0.1, augment=False
    )
    assert sorted(map(bytes, _augmented(unaugmented, seed=5)[0])) == sorted(map(bytes, plain_inputs))


def _mean_gradient(images):
    return np.mean(np.abs(np.diff(images, axis=1))) + np.mean(np.abs(np.diff(images, axis=2)))


def test_jittered_targets_are_as_sharp_as_unjittered_ones(tmp_path):
    """Pairs are read for the jitter at 36 px straight from their 128 px files, not resized to 32 and then
    enlarged: resampling twice would smooth the targets the discriminator learns as real. Noise images:
    read once, the mean gradient of the crops is the plain targets' within a few per cent (36 and 32 px
    read from 128 px noise average 3.6 and 4 source pixels); read twice, bilinear enlargement of 32 px
    noise loses a fifth or more (0.73-0.76 measured on ISBI EM images)."""
    root = _side_by_side(tmp_path / "data", count=20, side=128, grey_right=False)
    dataset = load_dataset(f"pairs:{root}", image_size=32, validation_fraction=0.1, test_fraction=0.1)
    plain = dataset.arrays("train")[1]
    _, jittered = _augmented(dataset, seed=5)
    assert jittered.shape == plain.shape
    assert _mean_gradient(jittered) / _mean_gradient(plain) > 0.9


def test_a_small_split_kept_in_memory_gives_the_batches_streaming_gives(tmp_path):
    root = _ab_folder(tmp_path / "data", count=12)
    dataset = load_dataset(f"pairs:{root}", image_size=32)

    def three_epochs(split, shuffle):
        batches = dataset.pipeline(split, 2, shuffle=shuffle, seed=5)
        return [list(batches.as_numpy_iterator()) for _ in range(3)]

    dataset.cache, dataset.plan = "none", None  # every epoch from disk
    streamed = {split: three_epochs(split, split == "train") for split in ("train", "validation")}
    dataset.cache, dataset.plan = "memory", None
    for split in ("train", "validation"):
        # Same seeded shuffle and jitter: the same batches, epoch by epoch.
        for streamed_epoch, kept_epoch in zip(streamed[split], three_epochs(split, split == "train"), strict=True):
            for streamed_batch, kept_batch in zip(streamed_epoch, kept_epoch, strict=True):
                np.testing.assert_array_equal(streamed_batch[0], kept_batch[0])
                np.testing.assert_array_equal(streamed_batch[1], kept_batch[1])


def _break(root, layout):
    """Makes one thing wrong with a good folder: 6 A/B pairs, or 6 side-by-side images for `odd` and `no_images`."""
    if layout == "no_partner_b":
        (root / "B" / "0004.png").unlink()
    elif layout == "no_partner_a":
        (root / "A" / "0002.png").unlink()
    elif layout == "no_b_folder":
        for path in (root / "B").iterdir():
            path.unlink()
        (root / "B").rmdir()
    elif layout == "size":
        Image.fromarray(np.zeros((32, 30), "uint8")).save(root / "B" / "0001.png")
    elif layout == "corrupt":
        (root / "A" / "0003.png").write_bytes(b"\x89PNG not really a png")
    elif layout == "odd":
        Image.fromarray(np.zeros((32, 63, 3), "uint8")).save(root / "0005.png")
    elif layout == "no_images":
        for path in root.iterdir():
            path.rename(root / f"{path.stem}.txt")


@pytest.mark.parametrize(
    "layout, message",
    [
        ("missing", "Pair folder '{root}' does not exist; pass data=pairs:DIR with DIR/A and DIR/B"),
        ("no_partner_b", "A/0004.png has no partner B/0004.*; every image in A/ needs one in B/ with the same name"),
        ("no_partner_a", "B/0002.png has no partner A/0002.*; every image in B/ needs one in A/ with the same name"),
        ("no_b_folder", "'{root}/B' does not exist; pairs:DIR needs DIR/A and DIR/B"),
        ("size", "A/0001.png is 32x32 but its partner B/0001.png is 30x32; the two images of a pair must be the same"),
        ("corrupt", "Cannot read A/0003.png as an image (.png, .jpg, .jpeg, .bmp, .gif); it may be corrupt"),
        ("odd", "0005.png is 63 pixels wide, an odd width that cannot be cut into two equal halves"),
        ("empty", "Pair folder '{root}' is empty; pairs:DIR needs DIR/A and DIR/B"),
        ("no_images", "No images and no A/ and B/ sub-folders in '{root}'; pairs:DIR needs DIR/A and DIR/B"),
        ("direction", "Unknown direction 'AtoC'; choose one of: AtoB, BtoA"),
        ("too_few", "6 pair(s) in '{root}' cannot fill train, validation and test (validation_fraction=0.5, "),
    ],
)
def test_bad_folders_are_one_line_errors_that_name_the_file(tmp_path, layout, message):
    root = tmp_path / "data"
    if layout in ("odd", "no_images"):
        _side_by_side(root, count=6)
    elif layout == "empty":
        root.mkdir()
    elif layout != "missing":
        _ab_folder(root, count=6)
    _break(root, layout)
    options = {"direction": "AtoC"} if layout == "direction" else {}
    if layout == "too_few":
        options = {"validation_fraction": 0.5, "test_fraction": 0.5}
    with pytest.raises(UserError) as error:
        load_dataset(f"pairs:{root}", image_size=32, **options)
    assert message.format(root=root) in str(error.value)
    assert "\n" not in str(error.value)


def test_grey_files_on_both_sides_give_grey_inputs_and_targets(tmp_path):
    root = _side_by_side(tmp_path / "data", count=6)
    for path in root.iterdir():
        Image.open(path).convert("L").save(path)
    info = load_dataset(f"pairs:{root}", image_size=32, validation_fraction=0.2, test_fraction=0.2).info
    assert info.input_shape == (32, 32, 1) and info.target_shape == (32, 32, 1)


def test_a_runs_config_passes_its_direction(tmp_path):
    root = _ab_folder(tmp_path / "data", count=6)
    config = types.SimpleNamespace(
        data=f"pairs:{root}", seed=42, validation_fraction=0.2, test_fraction=0.2, image_size="32", label="",
        text_column="", vocabulary_size=100, sequence_length=8, model="pix2pix", model_params={}, task="translate",
        mosaic=0.0, direction="BtoA",
    )  # fmt: skip
    assert load_dataset_for(config).info.input_shape == (32, 32, 1)
    del config.direction  # a config from before the key: AtoB
    assert load_dataset_for(config).info.input_shape == (32, 32, 3)
