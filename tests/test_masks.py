import numpy as np
import pytest
from PIL import Image

from kerasdl.data import load_dataset
from kerasdl.data.mask_folder import IGNORE_INDEX
from kerasdl.data.masks import segmentation_side
from kerasdl.errors import UserError

# A palette whose colours say nothing about the indices: TensorFlow would decode them as these colours.
PALETTE = [channel for index in range(256) for channel in ((index * 37) % 256, (index * 91) % 256, 255 - index)]


def _blobs(rng, side):
    """A grey image of bright discs on a dark, noisy background."""
    rows, columns = np.mgrid[:side, :side]
    image = rng.integers(0, 60, (side, side))
    for _ in range(3):
        y, x = rng.integers(0, side, 2)
        image[(rows - y) ** 2 + (columns - x) ** 2 < (side // 4) ** 2] = 220
    return image.astype("uint8")


def _folder(root, masks, colour=False, palette=False, seed=0):
    """`root/images/NNNN.png` (blobs, grey or colour) and `root/masks/NNNN.png` from `masks`."""
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for index, mask in enumerate(masks):
        image = _blobs(rng, mask.shape[0])
        Image.fromarray(np.stack([image] * 3, -1) if colour else image).save(root / "images" / f"{index:04d}.png")
        saved = Image.fromarray(mask.astype("uint8"), mode="L")
        if palette:
            saved = saved.convert("P")
            saved.putpalette(PALETTE)
        saved.save(root / "masks" / f"{index:04d}.png")
    return root


def _masks(count, side=16, values=(0, 1, 2), seed=0):
    return [np.random.default_rng(seed + index).choice(values, (side, side)) for index in range(count)]


def _read_split(dataset, split):
    """The masks of `split` as written, in the split's order."""
    return np.stack([np.asarray(Image.open(path)) for path in dataset.splits[split][1]])


@pytest.mark.parametrize("palette", [False, True])
def test_grey_and_palette_masks_hold_class_indices(tmp_path, palette):
    dataset = load_dataset(f"masks:{_folder(tmp_path / 'data', _masks(10), palette=palette)}", image_size=16)
    assert dataset.info.class_names == ["class_0", "class_1", "class_2"]
    assert dataset.info.input_shape == (16, 16, 1) and dataset.info.kind == "image"
    assert [dataset.size(split) for split in ("train", "validation", "test")] == [7, 1, 2]
    images, masks = dataset.arrays("test")
    assert images.dtype == np.float32 and masks.dtype == np.uint8 and masks.shape == (2, 16, 16)
    np.testing.assert_array_equal(masks, _read_split(dataset, "test"))


def test_binary_masks_of_0_and_255_are_classes_0_and_1(tmp_path):
    dataset = load_dataset(f"masks:{_folder(tmp_path / 'data', _masks(10, values=(0, 255)))}", image_size=16)
    assert dataset.info.class_names == ["class_0", "class_1"]
    np.testing.assert_array_equal(dataset.arrays("test")[1], _read_split(dataset, "test") // 255)


def test_classes_txt_names_classes_and_255_is_ignored(tmp_path):
    root = _folder(tmp_path / "data", _masks(10, values=(0, 2, IGNORE_INDEX)))
    (root / "classes.txt").write_text("background\ncat\ndog\nbird\n")
    dataset = load_dataset(f"masks:{root}", image_size=16)
    assert dataset.info.class_names == ["background", "cat", "dog", "bird"]
    masks = dataset.arrays("test")[1]
    assert set(np.unique(masks)) == {0, 2, 255}
    np.testing.assert_array_equal(masks, _read_split(dataset, "test"))


@pytest.mark.parametrize("image_size", ["8", "24"])
def test_masks_resize_to_nearest_indices_and_colour_stays_colour(tmp_path, image_size):
    root = _folder(tmp_path / "data", _masks(10, values=(0, 3, 7)), colour=True)
    dataset = load_dataset(f"masks:{root}", image_size=image_size)
    side = int(image_size)
    assert dataset.info.input_shape == (side, side, 3)
    images, masks = dataset.arrays("train")
    assert images.shape == (7, side, side, 3) and masks.shape == (7, side, side)
    assert set(np.unique(masks)) == {0, 3, 7}  # no blend of two indices


def test_auto_size_follows_the_images_in_multiples_of_16_up_to_512(tmp_path):
    assert [segmentation_side("auto", side) for side in (8, 40, 127, 512, 1000)] == [16, 32, 112, 512, 512]
    assert segmentation_side("100", 512) == 100
    dataset = load_dataset(f"masks:{_folder(tmp_path / 'data', _masks(10, side=40))}")
    assert dataset.info.input_shape == (32, 32, 1)


def test_splits_are_seeded_and_the_statistics_come_from_training_images(tmp_path):
    root = _folder(tmp_path / "data", _masks(20))
    first, again, other = (load_dataset(f"masks:{root}", seed=seed, image_size=16) for seed in (1, 1, 2))
    assert all((first.splits[split][0] == again.splits[split][0]).all() for split in ("train", "validation", "test"))
    assert list(first.splits["test"][0]) != list(other.splits["test"][0])
    assert sorted(np.concatenate([first.splits[split][0] for split in first.splits])) == sorted(
        str(path) for path in (root / "images").iterdir()
    )
    images = first.arrays("train")[0]
    np.testing.assert_allclose(first.info.mean, images.mean(axis=(0, 1, 2)), rtol=1e-4)
    np.testing.assert_allclose(first.info.variance, images.var(axis=(0, 1, 2)), rtol=1e-3)


def test_the_pipeline_streams_what_arrays_holds(tmp_path):
    dataset = load_dataset(f"masks:{_folder(tmp_path / 'data', _masks(10))}", image_size=16)
    batches = list(dataset.pipeline("train", 3).as_numpy_iterator())
    assert [len(images) for images, _ in batches] == [3, 3, 1]
    assert batches[0][0].dtype == np.float32 and batches[0][1].dtype == np.uint8
    assert batches[0][0].shape == (3, 16, 16, 1) and batches[0][1].shape == (3, 16, 16)
    images, masks = dataset.arrays("train")
    np.testing.assert_array_equal(np.concatenate([batch[0] for batch in batches]), images)
    np.testing.assert_array_equal(np.concatenate([batch[1] for batch in batches]), masks)
    # Training batches are shuffled and augmented, but every one is whole where the split divides.
    shapes = [masks.shape for _, masks in dataset.pipeline("train", 7, shuffle=True).as_numpy_iterator()]
    assert shapes == [(7, 16, 16)]


def test_a_small_split_kept_in_memory_gives_the_batches_streaming_gives(tmp_path):
    root = _folder(tmp_path / "data", _masks(12))
    dataset = load_dataset(f"masks:{root}", image_size=16)
    assert dataset.decoded_bytes() == 16 * 16 * (4 + 1)

    def three_epochs(split, shuffle):
        batches = dataset.pipeline(split, 2, shuffle=shuffle, seed=5)
        return [list(batches.as_numpy_iterator()) for _ in range(3)]

    dataset.cache, dataset.plan = "none", None  # every epoch from disk
    streamed = {split: three_epochs(split, split == "train") for split in ("train", "validation")}
    dataset.cache, dataset.plan = "memory", None
    for split in ("train", "validation"):
        kept = three_epochs(split, split == "train")
        # Same seeded shuffle and augmentation: the same batches, epoch by epoch.
        for streamed_epoch, kept_epoch in zip(streamed[split], kept, strict=True):
            for (images, masks), (kept_images, kept_masks) in zip(streamed_epoch, kept_epoch, strict=True):
                np.testing.assert_array_equal(images, kept_images)
                np.testing.assert_array_equal(masks, kept_masks)
    # Kept means not read again: with the files gone, the next epoch still comes.
    batches = dataset.pipeline("train", 2, shuffle=True, seed=5)
    first = list(batches.as_numpy_iterator())
    for path in (root / "images").iterdir():
        path.unlink()
    assert len(list(batches.as_numpy_iterator())) == len(first)


def test_augmentation_moves_image_and_mask_together(tmp_path):
    """The masks are `image > 127`: after flips, rotations and zooms they must still be."""
    rng = np.random.default_rng(3)
    images = [_blobs(rng, 32) for _ in range(20)]
    root = tmp_path / "data"
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for index, image in enumerate(images):
        Image.fromarray(image).save(root / "images" / f"{index}.png")
        Image.fromarray((image > 127).astype("uint8")).save(root / "masks" / f"{index}.png")
    dataset = load_dataset(f"masks:{root}", image_size=32, validation_fraction=0.1, test_fraction=0.1)
    plain = dataset.arrays("train")
    augmented = [
        np.concatenate(parts)
        for parts in zip(*dataset.pipeline("train", 16, shuffle=True, seed=5).as_numpy_iterator(), strict=True)
    ]
    moved = np.mean([not any((mask == seen).all() for seen in plain[1]) for mask in augmented[1]])
    assert moved > 0.5  # most masks were transformed
    agreement = np.mean(augmented[1] == (augmented[0][..., 0] > 127))
    # Bilinear images and nearest masks may differ on the discs' edges alone.
    assert agreement > 0.97
    assert set(np.unique(augmented[1])) == {0, 1}
    again = list(dataset.pipeline("train", 16, shuffle=True, seed=5).as_numpy_iterator())
    np.testing.assert_array_equal(np.concatenate([masks for _, masks in again]), augmented[1])
    assert not load_dataset(f"masks:{root}", image_size=32, augment=False).augment


def test_unreadable_files_are_skipped_with_their_pairs_and_noted(tmp_path):
    root = _folder(tmp_path / "data", _masks(12))
    (root / "images" / "0003.png").write_bytes(b"\x89PNG not really a png")
    (root / "masks" / "0007.png").write_bytes(b"not a mask")
    dataset = load_dataset(f"masks:{root}", image_size=16)
    assert dataset.notes == [
        "skipped 2 unreadable image or mask file(s), each with its pair: images/0003.png, masks/0007.png"
    ]
    assert sum(dataset.size(split) for split in ("train", "validation", "test")) == 10
    assert not {"0003", "0007"} & {path[-8:-4] for split in dataset.splits.values() for path in split[0]}


def _break(root, layout):
    """Makes one thing wrong with a good folder of 6 pairs."""
    if layout == "missing_image":
        (root / "images" / "0002.png").unlink()
    elif layout == "missing_mask":
        (root / "masks" / "0004.png").unlink()
    elif layout == "size":
        Image.fromarray(np.zeros((16, 12), "uint8")).save(root / "masks" / "0001.png")
    elif layout == "colour":
        Image.fromarray(np.zeros((16, 16, 3), "uint8")).save(root / "masks" / "0005.png")
    elif layout == "beyond_classes":
        (root / "classes.txt").write_text("background\nobject\n")
    elif layout == "jpeg_mask":
        (root / "masks" / "0003.png").rename(root / "masks" / "0003.jpg")
    elif layout == "no_masks_folder":
        for path in (root / "masks").iterdir():
            path.unlink()
        (root / "masks").rmdir()
    elif layout == "empty":
        for path in (root / "images").iterdir():
            path.unlink()


@pytest.mark.parametrize(
    "layout, message",
    [
        ("missing", "Segmentation folder '{root}' does not exist; pass data=masks:DIR with DIR/images and DIR/masks"),
        ("missing_image", "Mask masks/0002.png has no image images/0002.*"),
        ("missing_mask", "Image images/0004.png has no mask masks/0004.png"),
        ("size", "Mask masks/0001.png is 12x16 but its image images/0001.png is 16x16; a mask must have its image's"),
        ("colour", "Mask masks/0005.png is a colour (RGB) image; masks must be single-channel grey or palette PNGs"),
        ("beyond_classes", "Mask masks/0000.png holds class index 2, but classes.txt names 2 classes (0-1; 255 means"),
        ("jpeg_mask", "Mask masks/0003.jpg is a JPEG, whose compression changes class indices; save masks as PNG"),
        ("no_masks_folder", "'{root}/masks' does not exist; masks:DIR needs DIR/images and DIR/masks"),
        ("empty", "No images in '{root}/images' (.png, .jpg"),
    ],
)
def test_bad_folders_are_one_line_errors_that_name_the_file(tmp_path, layout, message):
    root = tmp_path / "data"
    if layout != "missing":
        _folder(root, _masks(6))
        _break(root, layout)
    with pytest.raises(UserError) as error:
        load_dataset(f"masks:{root}", image_size=16)
    assert message.format(root=root) in str(error.value)
    assert "\n" not in str(error.value)


def test_every_dataset_counts_its_examples(tmp_path):
    iris = load_dataset("iris")
    assert iris.size("train") == len(iris.arrays("train")[1])


def test_augmented_masks_keep_their_indices(tmp_path):
    """Rotations and zooms resample masks by nearest neighbour: a blend of 3 and 255 would be a new value."""
    root = _folder(tmp_path / "data", _masks(12, values=(0, 3, IGNORE_INDEX)))
    dataset = load_dataset(f"masks:{root}", image_size=16)
    masks = np.concatenate([masks for _, masks in dataset.pipeline("train", 8, shuffle=True).as_numpy_iterator()])
    assert set(np.unique(masks)) == {0, 3, IGNORE_INDEX}


def test_segmentation_augmentation_stays_float32_under_a_mixed_policy():
    import keras
    import tensorflow as tf

    from kerasdl.data.masks import augmenter

    # A flat image moves, turns and zooms into itself: 200.25 everywhere.
    # In bfloat16 (a run's policy on a bfloat16 CPU) it would come back 200.
    images = tf.fill((4, 32, 32, 3), 200.25)
    masks = tf.ones((4, 32, 32), tf.uint8)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        moved, moved_masks = augmenter(seed=3)(images, masks)
    finally:
        keras.config.set_dtype_policy(previous)
    np.testing.assert_allclose(moved.numpy(), 200.25, atol=1e-3)
    assert moved_masks.dtype == tf.uint8 and (moved_masks.numpy() == 1).all()
