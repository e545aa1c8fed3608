"""`kerasdl prepare` and `data=tfrecord:DIR`: a folder decoded once into TFRecords, trained from as the folder is."""

import json

import numpy as np
import pytest
from PIL import Image

from kerasdl.cli import main
from kerasdl.data import load_dataset
from kerasdl.data.prepared import prepare
from kerasdl.errors import UserError


def _folder(root, per_class=15, side=12, seed=0, sizes=False):
    """Three classes of bars (row, column, diagonal) on noise; `sizes`: some images larger, to be resized."""
    rng = np.random.default_rng(seed)
    for kind in range(3):
        (root / f"k{kind}").mkdir(parents=True)
        for index in range(per_class):
            size = side + 4 if sizes and index % 2 else side
            image = rng.integers(0, 60, (size, size, 3)).astype("uint8")
            if kind == 0:
                image[::3] = 230
            elif kind == 1:
                image[:, ::3] = 230
            else:
                image[np.eye(size, dtype=bool)] = 230
            Image.fromarray(image).save(root / f"k{kind}" / f"{index:02d}.png")
    return root


@pytest.mark.parametrize("sizes", [False, True], ids=["stored as uint8", "resized, stored as float32"])
def test_prepared_records_hold_what_the_folder_pipeline_reads(tmp_path, sizes):
    folder = _folder(tmp_path / "data", sizes=sizes)
    index = prepare(f"images:{folder}", tmp_path / "records", seed=7, image_size="12", log=lambda line: None)
    assert index["dtype"] == ("float32" if sizes else "uint8")
    assert {split: part["count"] for split, part in index["splits"].items()} == {
        "train": 31,
        "validation": 5,
        "test": 9,
    }
    original = load_dataset(f"images:{folder}", seed=7, image_size="12")
    prepared = load_dataset(f"tfrecord:{tmp_path / 'records'}", seed=7, image_size="12")
    assert prepared.info.class_names == original.info.class_names and not prepared.notes
    np.testing.assert_array_equal(prepared.info.mean, original.info.mean)
    for split in ("train", "validation", "test"):
        for mine, theirs in zip(prepared.arrays(split), original.arrays(split), strict=True):
            np.testing.assert_array_equal(mine, theirs)
    # The same seeded shuffle over the same examples: the same training batches.
    batches = [
        list(data.pipeline("train", 4, shuffle=True, seed=3).as_numpy_iterator()) for data in (prepared, original)
    ]
    for mine, theirs in zip(*batches, strict=True):
        np.testing.assert_array_equal(mine[0], theirs[0])


def test_a_run_from_prepared_records_matches_the_run_from_the_folder(tmp_path, capsys):
    folder = _folder(tmp_path / "data")
    assert main(["prepare", f"images:{folder}", str(tmp_path / "records"), "image_size=12"]) == 0
    assert f"train with data=tfrecord:{tmp_path / 'records'}" in capsys.readouterr().out
    common = ["image_size=12", "epochs=3", "batch_size=4", "model.filters=4,8", "variants=float32", "verbose=0"]
    for name, data in (("folder", f"images:{folder}"), ("records", f"tfrecord:{tmp_path / 'records'}")):
        assert main(["train", "image_cnn", f"data={data}", f"run_dir={tmp_path / 'runs' / name}", *common]) == 0
    folder_run, records_run = (
        json.loads((tmp_path / "runs" / name / "metrics.json").read_text()) for name in ("folder", "records")
    )
    assert records_run["history"]["loss"] == folder_run["history"]["loss"]
    assert records_run["test"] == folder_run["test"]


def test_prepare_and_tfrecord_refuse_what_they_cannot_do_in_one_line(tmp_path, capsys):
    folder = _folder(tmp_path / "data", per_class=12)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("")
    for argv, message in [
        (
            ["prepare", "digits", str(tmp_path / "a")],
            "kerasdl prepare reads image folders (data images:DIR), got 'digits'",
        ),
        (["prepare", f"images:{folder}", str(tmp_path / "full")], "exists and is not an empty folder"),
        (
            ["prepare", f"images:{folder}", str(tmp_path / "b"), "epochs=3"],
            "kerasdl prepare takes seed, validation_fraction",
        ),
        (["prepare", f"images:{folder}", str(tmp_path / "b"), "image_size=big"], "image_size='big' is out of range"),
    ]:
        assert main(argv) == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    assert main(["prepare", f"images:{folder}", str(tmp_path / "records"), "test_fraction=0.25"]) == 0
    with pytest.raises(
        UserError, match="was split with validation_fraction=0.1, test_fraction=0.25 when it was prepared"
    ):
        load_dataset(f"tfrecord:{tmp_path / 'records'}")
    with pytest.raises(UserError, match="holds 12x12 images; run with image_size=auto or 12"):
        load_dataset(f"tfrecord:{tmp_path / 'records'}", test_fraction=0.25, image_size="16")
    with pytest.raises(UserError, match="data=tfrecord:DIR reads a folder written by `kerasdl prepare`"):
        load_dataset(f"tfrecord:{folder}")
    other_seed = load_dataset(f"tfrecord:{tmp_path / 'records'}", seed=1, test_fraction=0.25)
    assert "seed 1 shuffles and initialises this run, the splits stay the prepared ones" in other_seed.notes[0]
