"""TFDS segmentation sets, offline: tfds.testing.mock_data stands in for the download.

mock_data's own oxford_iiit_pet masks are random bytes of a random size, so
most pixels fall outside the trimap's 1-3; `_pets` makes masks the size of
their photo with trimap values only, and gives photo `i` the grey level
`10 * i`, so a split's images tell which records it read.
"""

import functools
import json

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from kerasdl.data import load_dataset
from kerasdl.data.masks import MaskDataset
from kerasdl.data.tfds_records import tfds_splits
from kerasdl.data.tfds_segmentation import trimap_classes
from kerasdl.training import train

EXAMPLES = 24


def _pets(builder, split, decoders=None, **kwargs):
    """`EXAMPLES` oxford_iiit_pet records as TFDS stores them (the image and
    mask features the loader asks for)."""
    features, decoders = decoders.extract_features(builder.info.features), decoders.decoders

    def examples():
        rng = np.random.default_rng(0)
        for index in range(EXAMPLES):
            height, width = rng.integers(20, 60, size=2)
            yield features.encode_example(
                {
                    "image": np.full((height, width, 3), 10 * index, dtype=np.uint8),
                    "segmentation_mask": rng.integers(1, 4, (height, width, 1), dtype=np.uint8),
                }
            )

    specs = tf.nest.map_structure(lambda info: tf.TensorSpec(info.shape, info.dtype), features.get_serialized_info())
    data = tf.data.Dataset.from_generator(examples, output_signature=specs)
    return data.map(functools.partial(features.decode_example, decoders=decoders))


def test_trimap_values_become_pet_background_border():
    trimap = np.array([[1, 2, 3], [3, 1, 0]], dtype=np.uint8)
    assert trimap_classes(trimap).numpy().tolist() == [[0, 1, 2], [2, 0, 255]]  # 0: not a trimap value, ignored


def test_oxford_pets_load_as_three_class_segmentation():
    with tfds.testing.mock_data(as_dataset_fn=_pets):
        dataset = load_dataset("tfds:oxford_iiit_pet", image_size=32)
        info = dataset.info
        assert isinstance(dataset, MaskDataset) and info.class_names == ["pet", "background", "border"]
        assert info.kind == "image" and info.input_shape == (32, 32, 3) and info.value_range == (0.0, 255.0)
        # No split is known under mock_data, so all three come from train: 20% test, 10% validation.
        assert [dataset.size(split) for split in ("train", "validation", "test")] == [17, 2, 5]
        read = []
        for split in ("train", "validation", "test"):
            images, masks = dataset.arrays(split)
            assert images.dtype == np.float32 and masks.dtype == np.uint8 and masks.shape[1:] == (32, 32)
            assert set(np.unique(masks)) == {0, 1, 2}
            read += (images[:, 0, 0, 0] / 10).round().astype(int).tolist()
        assert sorted(read) == list(range(EXAMPLES))
        images, masks = next(iter(dataset.pipeline("train", 8, shuffle=True, seed=1)))
        assert images.shape == (8, 32, 32, 3) and images.dtype == tf.float32
        assert masks.shape == (8, 32, 32) and masks.dtype == tf.uint8
        assert [array.shape for array in dataset.sample("train", 3, seed=2)] == [(3, 32, 32, 3), (3, 32, 32)]
        assert np.allclose(info.mean, np.mean(np.arange(0, 10 * EXAMPLES, 10)[sorted(dataset.splits["train"][1])]))


def test_photos_of_any_size_default_to_128_and_stray_mask_values_are_ignored():
    with tfds.testing.mock_data(num_examples=EXAMPLES):  # masks of random bytes
        dataset = load_dataset("tfds:oxford_iiit_pet")
        masks = dataset.arrays("test")[1]
    assert dataset.info.input_shape == (128, 128, 3)  # as TensorFlow's segmentation tutorial resizes them
    assert set(np.unique(masks)) == {0, 1, 2, 255}


def test_tfds_test_split_is_kept_and_validation_carved_from_train():
    splits = tfds_splits({"train": 3680, "test": 3669}, seed=42, validation_fraction=0.1, test_fraction=0.2)
    assert set(splits["test"][0]) == {"test"} and splits["test"][1].tolist() == list(range(3669))
    train, validation = splits["train"][1], splits["validation"][1]
    assert len(validation) == 368 and sorted([*train, *validation]) == list(range(3680))
    again = tfds_splits({"train": 3680, "test": 3669}, seed=42, validation_fraction=0.1, test_fraction=0.2)
    assert np.array_equal(again["validation"][1], validation)


def test_other_sets_keep_the_class_indices_they_store():
    with tfds.testing.mock_data(num_examples=EXAMPLES):  # mask values 0-254
        dataset = load_dataset("tfds:caltech_birds2010", image_size=16)
        masks = dataset.arrays("test")[1]
    assert dataset.info.class_names[:2] == ["class_0", "class_1"] and len(dataset.info.class_names) == 255
    assert masks.shape[1:] == (16, 16) and masks.max() < 255


def test_unet_pets_trains_and_exports_on_mock_data(tmp_path):
    overrides = {
        "model.filters": 4,
        "model.depth": 2,
        "image_size": 32,
        "epochs": 1,
        "batch_size": 8,
        "variants": "float32",
        "verbose": 0,
        "run_dir": str(tmp_path / "run"),
    }
    with tfds.testing.mock_data(as_dataset_fn=_pets):
        result = train("unet_pets", overrides, log=lambda line: None)
    metrics = json.loads((result.run_dir / "metrics.json").read_text())
    assert 0.0 <= metrics["test"]["mean_iou"] <= 1.0
    assert (result.run_dir / "labels.txt").read_text().splitlines() == ["pet", "background", "border"]
