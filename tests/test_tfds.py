"""TFDS sources, offline: tfds.testing.mock_data stands in for the download."""

import numpy as np
import pytest
import tensorflow_datasets as tfds

from kerasdl.cli import main
from kerasdl.data import load_dataset
from kerasdl.data.tfds import _complete_splits
from kerasdl.errors import UserError


def test_mnist_loads_as_grey_images_with_its_class_names():
    with tfds.testing.mock_data(num_examples=200):
        dataset = load_dataset("tfds:mnist", image_size=28)
    assert dataset.info.input_shape == (28, 28, 1) and dataset.info.value_range == (0.0, 255.0)
    assert dataset.info.class_names == [str(digit) for digit in range(10)]
    assert sum(len(dataset.arrays(split)[1]) for split in ("train", "validation", "test")) == 200


def test_colour_images_of_any_size_are_resized():
    with tfds.testing.mock_data(num_examples=60):
        dataset = load_dataset("tfds:tf_flowers", image_size=16)
    assert dataset.info.input_shape == (16, 16, 3) and len(dataset.info.class_names) == 5


def test_imdb_reviews_load_as_token_ids_like_text_files():
    with tfds.testing.mock_data(num_examples=60):
        dataset = load_dataset("tfds:imdb_reviews", vocabulary_size=500, sequence_length=20)
    info = dataset.info
    assert info.kind == "text" and info.class_names == ["neg", "pos"] and info.input_shape == (20,)
    assert info.vocabulary[:2] == ["", "[UNK]"] and dataset.arrays("train")[0].dtype == np.int32
    assert sum(len(dataset.arrays(split)[1]) for split in ("train", "validation", "test")) == 60


def test_the_datasets_own_test_split_is_kept_and_validation_carved_stratified():
    rng = np.random.default_rng(0)
    train = (rng.normal(size=(100, 2)).astype("float32"), np.repeat(np.arange(4), 25).astype("int32"))
    test = (rng.normal(size=(8, 2)).astype("float32"), np.arange(8).astype("int32") % 4)
    splits = _complete_splits({"train": train, "test": test}, seed=1, validation_fraction=0.2, test_fraction=0.2)
    assert splits["test"] is test
    assert len(splits["validation"][1]) == 20 and np.bincount(splits["validation"][1]).tolist() == [5, 5, 5, 5]
    validation = (train[0][:4], train[1][:4])
    own = _complete_splits({"train": train, "validation": validation, "test": test}, 1, 0.2, 0.2)
    assert own["validation"] is validation and own["train"] is train


def test_offline_without_data_says_how_to_prefetch(tmp_path, monkeypatch, in_tmp, capsys):
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "tfds"))
    monkeypatch.setattr("kerasdl.data.tfds_download._download_reachable", lambda: False)
    assert main(["train", "cnn_mnist", "epochs=1"]) == 2
    err = capsys.readouterr().err
    assert "tfds:mnist needs a download, there is no network here" in err
    assert "download_and_prepare --datasets=mnist" in err and err.count("\n") == 1
    assert not (in_tmp / "saved_models").exists()


@pytest.mark.parametrize(
    "spec, message",
    [
        ("tfds:no_such_dataset", "Unknown TFDS dataset 'no_such_dataset'"),
        ("tfds:squad", "tfds:squad is not an image- or text-classification dataset"),
    ],
)
def test_unknown_or_unsupported_datasets(spec, message):
    with pytest.raises(UserError, match=message):
        load_dataset(spec)


def test_cnn_mnist_trains_end_to_end_on_mock_data(tmp_path, capsys):
    run_dir = tmp_path / "run"
    with tfds.testing.mock_data(num_examples=200):
        status = main(["train", "cnn_mnist", "epochs=1", f"run_dir={run_dir}", "verbose=0", "variants=float32"])
    assert status == 0
    assert (run_dir / "labels.txt").read_text().splitlines() == [str(digit) for digit in range(10)]
    assert "Test accuracy" in capsys.readouterr().out


@pytest.mark.parametrize("preset", ["cnn_mnist", "cnn_cifar10", "cnn_tf_flowers", "rnn_imdb"])
def test_every_tfds_preset_loads_and_builds_offline(preset):
    from kerasdl.config import make_config
    from kerasdl.data import load_dataset_for
    from kerasdl.models import build_model

    config = make_config(preset)
    with tfds.testing.mock_data(num_examples=200):  # random labels: enough of each class for the splits
        dataset = load_dataset_for(config)
    model = build_model(config.model, dataset.info, **config.model_params)
    features = dataset.arrays("train")[0][:2]
    assert model(features).shape == (2, dataset.info.num_classes)
