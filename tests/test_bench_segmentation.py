"""The segmentation benchmark's arithmetic, tables, generated folder and recipe, without training."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

import bench_segmentation as bench  # noqa: E402
import bench_segmentation_memory  # noqa: E402
import keras_io_unet  # noqa: E402


def test_examples_per_second_leaves_out_the_first_epoch_unless_it_is_the_only_one():
    # 100 examples an epoch; epochs end at 30 s (tracing), 40 s and 50 s.
    assert bench.examples_per_second(100, 0.0, [30.0, 40.0, 50.0]) == 10.0
    assert bench.examples_per_second(100, 5.0, [30.0]) == 4.0
    with pytest.raises(ValueError, match="no epoch"):
        bench.examples_per_second(100, 0.0, [])


def _side(examples_per_s, mean_iou):
    return {"examples_per_s": examples_per_s, "mean_iou": mean_iou, "train_examples": 21, "precision": "float32"}


def _rounds(augmented=False):
    """Three rounds in which the median of the ratios (1.0) differs from the ratio of the medians (1.2)."""
    sides = [
        (10.0, 0.80, 10.0, 0.70),
        (12.0, 0.82, 10.0, 0.72),
        (14.0, 0.78, 14.0, 0.74),
    ]
    rows = []
    for seed, (mine, my_iou, recipe, recipe_iou) in enumerate(sides, start=1):
        row = {"seed": seed, "kerasdl": _side(mine, my_iou), "recipe": _side(recipe, recipe_iou)}
        if augmented:
            row["recipe_augmented"] = _side(recipe / 2, recipe_iou)
        rows.append(row)
    return rows


def test_the_summary_takes_medians_and_the_median_of_each_rounds_ratio():
    summary = bench.summarise(_rounds())
    assert summary["rounds"] == 3
    assert summary["kerasdl"] == {"examples_per_s": 12.0, "mean_iou": 0.80}
    assert summary["recipe"]["examples_per_s"] == 10.0 and summary["recipe"]["mean_iou"] == 0.72
    assert summary["recipe"]["ratio"] == pytest.approx(1.0)  # ratios 1.0, 1.2, 1.0
    assert "recipe_augmented" not in summary
    augmented = bench.summarise(_rounds(augmented=True))
    assert augmented["recipe_augmented"]["ratio"] == pytest.approx(2.0)


def _speed_result(rows):
    return {
        "machine": "a CPU",
        "data": "/data/isbi",
        "size": 128,
        "epochs": 20,
        "kerasdl_args": ["batch_size=4"],
        "recipe_batch_size": 32,
        "rounds": rows,
        "median": bench.summarise(rows),
    }


def test_the_speed_table_has_a_line_a_round_then_the_medians_and_the_bars():
    table = bench.speed_markdown(_speed_result(_rounds()))
    assert "21 training images at 128x128, 20 epochs; a CPU" in table
    assert "kerasdl train unet_segment batch_size=4 (precision float32)" in table
    assert "| 2 (seed 2) | 12.0 | 10.0 | 1.20x | 0.820 | 0.720 |" in table
    assert "| median | 12.0 | 10.0 | 1.00x | 0.800 | 0.720 |" in table
    assert "- [x] training examples/s >= 1.0x the recipe's" in table
    assert "- [x] test mean IoU >= the recipe's, after the same epochs" in table
    # Slower, and not as good: both bars fail.
    rows = _rounds()
    for row in rows:
        row["kerasdl"] = _side(row["recipe"]["examples_per_s"] * 0.9, 0.5)
    table = bench.speed_markdown(_speed_result(rows))
    assert "- [ ] training examples/s >= 1.0x the recipe's" in table
    assert "- [ ] test mean IoU >= the recipe's" in table


def test_the_augmented_recipe_gets_its_own_columns():
    table = bench.speed_markdown(_speed_result(_rounds(augmented=True)))
    header = next(line for line in table.splitlines() if line.startswith("| round"))
    assert header.count("|") - 1 == 9
    assert "kerasdl / augmented recipe" in header
    assert "| median | 12.0 | 10.0 | 1.00x | 5.0 | 2.00x | 0.800 | 0.720 | 0.720 |" in table


def test_the_memory_table_gives_mib_the_growth_over_the_small_folder_and_the_bar():
    runs = [
        {
            "images": 2000,
            "peak_rss_bytes": 1700 * bench_segmentation_memory.MIB,
            "command": "kerasdl train unet_segment ...",
        },
        {
            "images": 40,
            "peak_rss_bytes": 1500 * bench_segmentation_memory.MIB,
            "command": "kerasdl train unet_segment ...",
        },
    ]
    result = {
        "machine": "a CPU",
        "side": 512,
        "runs": runs,
        "measured_by": "/usr/bin/time -v",
        "bar_bytes": bench_segmentation_memory.MEMORY_BAR_BYTES,
        "met": True,
    }
    table = bench_segmentation_memory.memory_markdown(result)
    assert "| 2,000 at 512x512 | 128x128, 1 epoch | 1,700 MiB (1.78 GB) |" in table
    assert "1,960 more images cost +200 MiB of peak." in table
    assert "- [x] peak RSS under 2 GB with 2,000 images" in table
    assert "- [ ]" in bench_segmentation_memory.memory_markdown(result | {"met": False})


def test_gnu_time_output_and_key_value_arguments_are_read():
    output = "\tUser time (seconds): 1.0\n\tMaximum resident set size (kbytes): 1551316\n\tExit status: 0\n"
    assert bench_segmentation_memory.max_rss_from_time(output) == 1551316
    with pytest.raises(ValueError, match="Maximum resident set size"):
        bench_segmentation_memory.max_rss_from_time("nothing here")
    assert bench.setting(["seed=7", "batch_size=4"], "seed", 1) == "7"
    assert bench.setting(["batch_size=4"], "seed", 1) == 1


@pytest.mark.parametrize("with_gnu_time", [True, False])
def test_peak_rss_is_the_commands_own_with_or_without_gnu_time(tmp_path, monkeypatch, with_gnu_time):
    if not with_gnu_time:
        monkeypatch.setattr(bench_segmentation_memory, "TIME_TOOL", tmp_path / "no-time")
    elif not bench_segmentation_memory.TIME_TOOL.exists():
        pytest.skip("no /usr/bin/time here")
    holds_200_mib = [sys.executable, "-c", "block = bytearray(200 * 2**20); block[::4096] = b'x' * len(block[::4096])"]
    peak, how = bench_segmentation_memory.peak_rss_bytes(holds_200_mib, tmp_path / "log")
    assert 200 * bench_segmentation_memory.MIB < peak < 400 * bench_segmentation_memory.MIB
    assert ("/usr/bin/time" in how) == with_gnu_time


def test_the_generated_folder_is_a_binary_masks_folder_written_once(tmp_path):
    from kerasdl.data.masks import load_mask_folder

    folder = bench_segmentation_memory.write_blob_folder(tmp_path / "blobs", 3, 32, seed=5)
    images = sorted((folder / "images").glob("*.png"))
    masks = sorted((folder / "masks").glob("*.png"))
    assert [path.name for path in images] == [path.name for path in masks] == ["0000.png", "0001.png", "0002.png"]
    values = set()
    for image_path, mask_path in zip(images, masks, strict=True):
        with Image.open(image_path) as image, Image.open(mask_path) as mask:
            assert (image.mode, image.size, mask.mode, mask.size) == ("L", (32, 32), "L", (32, 32))
            values |= set(np.unique(np.asarray(mask)).tolist())
    assert values == {0, 255}
    # Cached: the same settings leave the files alone; other settings rewrite them.
    written = masks[0].stat().st_mtime_ns
    bench_segmentation_memory.write_blob_folder(folder, 3, 32, seed=5)
    assert masks[0].stat().st_mtime_ns == written
    assert json.loads((folder / "complete.json").read_text()) == {"count": 3, "side": 32, "seed": 5}
    bench_segmentation_memory.write_blob_folder(folder, 4, 32, seed=5)
    assert len(list((folder / "images").glob("*.png"))) == 4
    # kerasdl reads it as 0/255 masks: two classes.
    dataset = load_mask_folder(folder, seed=1, validation_fraction=0.25, test_fraction=0.25, image_size="16")
    assert dataset.binary and dataset.info.class_names == ["class_0", "class_1"]


def test_the_recipe_model_has_the_keras_io_parameter_count_and_its_pipeline_reads_0_255_masks_as_0_1(tmp_path):
    # keras.io's summary of get_model((160, 160), 3): 2,058,979 parameters.
    assert keras_io_unet.get_model((160, 160), 3).count_params() == 2_058_979
    folder = bench_segmentation_memory.write_blob_folder(tmp_path / "blobs", 3, 32, seed=5)
    paths = [sorted(str(path) for path in (folder / kind).glob("*.png")) for kind in ("images", "masks")]
    images, targets = next(iter(keras_io_unet.get_dataset(2, (16, 16), *paths, binary=True)))
    assert images.shape == (2, 16, 16, 3) and images.dtype == "float32" and float(images.numpy().max()) > 1
    assert targets.shape == (2, 16, 16, 1) and set(np.unique(targets.numpy()).tolist()) <= {0, 1}
