"""File data streamed through tf.data: caches, files that fail to decode, worker shares."""

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from kerasdl.cli import main
from kerasdl.config import make_config
from kerasdl.data import load_dataset
from kerasdl.data.cache_plan import CachePlan
from kerasdl.data.streaming import shard_files
from kerasdl.errors import UserError


def _digits_folder(root, per_class=12, classes=3, side=20, seed=0):
    """`root/<class>/<n>.png`: a bright bar whose position says the class, on noise."""
    rng = np.random.default_rng(seed)
    for label in range(classes):
        (root / f"c{label}").mkdir(parents=True)
        for index in range(per_class):
            image = rng.integers(0, 50, (side, side, 3)).astype("uint8")
            image[label * side // classes : (label + 1) * side // classes] = 220
            Image.fromarray(image).save(root / f"c{label}" / f"{index:03d}.png")
    return root


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _epochs(dataset, split, count=2, shuffle=True, seed=5):
    batches = dataset.pipeline(split, 4, shuffle=shuffle, seed=seed)
    return [list(batches.as_numpy_iterator()) for _ in range(count)]


def test_a_file_that_fails_to_decode_is_replaced_counted_and_named(tmp_path):
    root = _digits_folder(tmp_path / "data")
    dataset = load_dataset(f"images:{root}", image_size=16)
    train_paths = dataset.splits["train"][0]
    broken = str(train_paths[3])
    _truncate(Path(broken))  # its header still reads: only decoding finds it
    data = dataset.pipeline("train", 4, shuffle=True, seed=1)
    # The stream keeps its length, so Keras knows every epoch's steps.
    assert int(data.cardinality()) == len(train_paths) // 4
    images = np.concatenate([batch[0] for batch in data.as_numpy_iterator()])
    assert len(images) == len(train_paths) // 4 * 4 and np.isfinite(images).all()
    assert dataset.unreadable("train") == [broken]
    note = dataset.unreadable_note()
    assert note.startswith("skipped 1 file(s) that failed to decode while reading: ") and broken in note


def test_kept_in_memory_or_streamed_the_batches_are_the_same(tmp_path):
    dataset = load_dataset(f"images:{_digits_folder(tmp_path / 'data')}", image_size=16)
    dataset.cache = "none"
    streamed = _epochs(dataset, "train")
    dataset.cache, dataset.plan = "memory", None
    for streamed_epoch, kept_epoch in zip(streamed, _epochs(dataset, "train"), strict=True):
        for (images, labels), (kept_images, kept_labels) in zip(streamed_epoch, kept_epoch, strict=True):
            np.testing.assert_array_equal(images, kept_images)
            np.testing.assert_array_equal(labels, kept_labels)


def test_a_disk_cache_is_read_back_without_the_files(tmp_path):
    root = _digits_folder(tmp_path / "data")
    dataset = load_dataset(f"images:{root}", image_size=16)
    dataset.cache, dataset.cache_dir = "disk", tmp_path / "cache"
    batches = dataset.pipeline("train", 4, shuffle=True, seed=3)

    def epoch():
        batches_read = list(batches.as_numpy_iterator())
        images = np.concatenate([images for images, _ in batches_read])
        return [image.tobytes() for image in images], np.concatenate([labels for _, labels in batches_read])

    first_images, first_labels = epoch()
    assert list((tmp_path / "cache").glob("train-*.index"))  # written by the first epoch
    for path in root.glob("*/*.png"):
        path.unlink()
    second_images, second_labels = epoch()
    # Every example again, from the cache (the files are gone), in another order.
    assert sorted(second_images) == sorted(first_images) and second_images != first_images
    assert sorted(second_labels.tolist()) == sorted(first_labels.tolist())


def test_auto_keeps_what_fits_the_budget_in_memory_and_the_rest_on_disk():
    plan = CachePlan.decide("auto", {"train": 3 * 2**30, "validation": 2**27}, budget=2**29)
    assert plan.places == {"train": "disk", "validation": "memory"}
    assert plan.reason.startswith("cache=auto: train 3.00 GiB in disk, validation 128 MiB in memory")
    both = CachePlan.decide("auto", {"train": 2**28, "validation": 2**28}, budget=2**29)
    assert both.places == {"train": "memory", "validation": "memory"}
    # No room on disk either: decoded every epoch.
    assert CachePlan.decide("auto", {"train": 2**32}, budget=2**29, disk_room=2**31).places == {"train": "none"}
    assert CachePlan.decide("none", {"train": 1}).places == {"train": "none"}


def test_a_cache_the_config_does_not_know_is_one_line():
    with pytest.raises(UserError, match=r"cache='ram' is out of range; allowed: one of: auto, memory, disk, none"):
        make_config("image_cnn", {"cache": "ram"})


def test_each_worker_reads_an_equal_share_of_the_files(tmp_path):
    assert shard_files(7, 2, 0).tolist() == [0, 2, 4] and shard_files(7, 2, 1).tolist() == [1, 3, 5]
    dataset = load_dataset(f"images:{_digits_folder(tmp_path / 'data', per_class=14)}", image_size=16)
    shares = []
    for worker in range(2):
        batches = dataset.pipeline("train", 3, shuffle=True, seed=2, shard=(2, worker))
        shares.append(np.concatenate([labels for _, labels in batches.as_numpy_iterator()]))
    assert len(shares[0]) == len(shares[1])
    # Both shares hold every class (the files come grouped by class).
    assert all(set(share.tolist()) == {0, 1, 2} for share in shares)
    assert dataset.decoded["train"] == set(range(dataset.size("train") // 2 * 2))


def test_a_large_folder_takes_its_statistics_from_a_seeded_sample(tmp_path, monkeypatch):
    import kerasdl.data.images

    root = _digits_folder(tmp_path / "data")
    whole = load_dataset(f"images:{root}", image_size=16)
    images = whole.arrays("train")[0]
    np.testing.assert_allclose(whole.info.mean, images.mean(axis=(0, 1, 2)), rtol=1e-5)
    assert not [note for note in whole.notes if note.startswith("normalisation")]
    monkeypatch.setattr(kerasdl.data.images, "STATS_BYTES", 5 * whole.decoded_bytes())
    sampled = load_dataset(f"images:{root}", image_size=16, seed=42)
    assert "normalisation: mean and variance of 5 training images drawn with seed 42" in sampled.notes
    assert not np.allclose(sampled.info.mean, whole.info.mean)


def test_a_run_says_where_it_caches_names_what_failed_and_removes_its_disk_cache(tmp_path, capsys, monkeypatch):
    import kerasdl.export.parity_sample

    # A test split larger than the export's budget is checked on a seeded sample of it.
    monkeypatch.setattr(kerasdl.export.parity_sample, "PARITY_BYTES", 3 * 16 * 16 * 3 * 4)
    root = _digits_folder(tmp_path / "data")
    config = make_config("image_cnn")
    splits = load_dataset(f"images:{root}", config.seed, config.validation_fraction, config.test_fraction).splits
    broken = str(splits["train"][0][0])
    _truncate(Path(broken))
    run_dir = tmp_path / "run"
    argv = ["train", "image_cnn", f"data=images:{root}", "image_size=16", "epochs=2", "variants=float32"]
    assert main([*argv, f"run_dir={run_dir}", "verbose=0", "model.filters=4,8", "batch_size=4", "cache=disk"]) == 0
    out = capsys.readouterr().out
    assert f"skipped 1 file(s) that failed to decode while reading: {broken}" in out
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["resolved"]["cache"] == "cache=disk"
    assert not (run_dir / "cache").exists()  # as large as the decoded data: gone with the run
    assert json.loads((run_dir / "metrics.json").read_text())["test"]["accuracy"] > 0
    test_size = len(splits["test"][0])
    assert f"the exported models are checked on 3 of the {test_size} test examples (drawn with seed" in out
    card = json.loads((run_dir / "model_card.json").read_text())
    assert card["variants"]["float32"]["parity"]["examples"] == 3
    assert f"on {test_size} held-out examples" in out  # the test metrics count the whole split
    assert f"drawn, on 3 of the {test_size} test examples, a seeded sample" in (run_dir / "report.md").read_text()
