import numpy as np
import pytest

from kerasdl.data import BUNDLED, load_dataset
from kerasdl.data.dataset import batching
from kerasdl.errors import UserError


@pytest.mark.parametrize("name", sorted(BUNDLED))
def test_bundled_splits_are_stratified_and_disjoint(name):
    dataset = load_dataset(name, seed=42)
    sizes = {split: len(dataset.arrays(split)[1]) for split in ("train", "validation", "test")}
    total = sum(sizes.values())
    assert sizes["test"] == pytest.approx(0.2 * total, abs=2)
    assert sizes["validation"] == pytest.approx(0.1 * total, abs=2)
    overall = np.bincount(np.concatenate([dataset.arrays(split)[1] for split in sizes])) / total
    for split in sizes:
        counts = np.bincount(dataset.arrays(split)[1], minlength=dataset.info.num_classes)
        assert counts.min() >= 1
        # Stratified: each class's share within about one example of its overall share.
        np.testing.assert_allclose(counts / sizes[split], overall, atol=1.5 / sizes[split])
    rows = {split: {row.tobytes() for row in dataset.arrays(split)[0]} for split in sizes}
    # Bundled data has a few duplicate rows; splits share no more than those.
    assert len(rows["train"] & rows["test"]) <= 0.02 * sizes["test"]


def test_splits_repeat_with_the_seed_and_change_without_it():
    first, again, other = (load_dataset("wine", seed=seed) for seed in (3, 3, 4))
    np.testing.assert_array_equal(first.arrays("test")[0], again.arrays("test")[0])
    assert not np.array_equal(first.arrays("test")[0], other.arrays("test")[0])


def test_digits_are_raw_8x8_grey_images_with_train_statistics():
    dataset = load_dataset("digits")
    info = dataset.info
    train_pixels = dataset.arrays("train")[0]
    assert info.kind == "image" and info.input_shape == (8, 8, 1) and info.value_range == (0.0, 16.0)
    assert info.class_names == [str(digit) for digit in range(10)]
    assert train_pixels.max() == 16.0  # raw, not normalised: the model normalises
    np.testing.assert_allclose(info.mean, [train_pixels.mean()], rtol=1e-5)
    np.testing.assert_allclose(info.variance, [train_pixels.var()], rtol=1e-4)


def test_tabular_statistics_are_per_feature():
    dataset = load_dataset("breast_cancer")
    assert dataset.info.kind == "tabular" and dataset.info.input_shape == (30,)
    assert dataset.info.class_names == ["malignant", "benign"]
    np.testing.assert_allclose(dataset.info.mean, dataset.arrays("train")[0].mean(axis=0), rtol=1e-5)


def test_pipeline_batches_and_shuffles_each_epoch():
    dataset = load_dataset("iris")
    pipeline = dataset.pipeline("train", batch_size=32, shuffle=True, seed=1)
    batches = list(pipeline)
    assert batches[0][0].shape == (32, 4) and batches[0][1].dtype.name == "int32"
    assert sum(len(labels) for _, labels in batches) == len(dataset.arrays("train")[1])
    second_epoch = list(pipeline)
    assert not np.array_equal(batches[0][1].numpy(), second_epoch[0][1].numpy())


def test_a_split_too_small_for_every_class_is_refused():
    with pytest.raises(
        UserError, match=r"test_fraction=0.01 leaves fewer than one example per class .* use at least 0.02"
    ):
        load_dataset("iris", test_fraction=0.01)


def test_tabular_value_range_comes_from_the_training_split():
    dataset = load_dataset("breast_cancer")
    train = dataset.arrays("train")[0]
    assert dataset.info.value_range == (float(train.min()), float(train.max()))


def test_unknown_dataset_lists_the_choices():
    with pytest.raises(UserError, match="Unknown dataset 'mnist_offline'; choose one of: digits, breast_cancer"):
        load_dataset("mnist_offline")


@pytest.mark.parametrize(
    "count, batch, replicas, shuffle, expected",
    [
        (17, 8, 1, True, (17, 8, False)),  # one device: every example, the last batch partial
        (16, 8, 2, True, (16, 8, True)),  # whole batches: static batch dimension
        (19, 8, 2, True, (19, 8, False)),  # a last batch of 3 gives each replica one or two
        (17, 8, 2, True, (17, 8, True)),  # a last batch of 1 would leave a replica empty: dropped
        (9, 8, 2, False, (8, 8, True)),  # not shuffled: the odd example left out
        (3, 8, 2, False, (2, 2, True)),  # smaller than a batch: a first batch the replicas divide
        (1, 8, 2, False, (1, 2, False)),  # never emptied
    ],
)
def test_no_batch_leaves_a_replica_without_examples(count, batch, replicas, shuffle, expected):
    keep, batch_size, drop_remainder = batching(count, batch, replicas, shuffle)
    assert (keep, batch_size, drop_remainder) == expected
    last = keep % batch_size
    if replicas > 1 and keep > last:
        assert drop_remainder or last == 0 or last >= replicas
