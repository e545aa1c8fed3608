"""`kerasdl runs`: one line per run, sortable, and two runs compared."""

import json
import os

import pytest
import yaml

from kerasdl.cli import main
from kerasdl.errors import UserError
from kerasdl.run_list import compare_runs, list_runs


def _run(folder, preset, accuracy=None, val_loss=(0.9, 0.5, 0.7), size=2048, when=1_800_000_000, **settings):
    folder.mkdir(parents=True)
    config = {"preset": preset, "data": "digits", "task": "classify", "epochs": 3, "monitor": "val_loss"} | settings
    (folder / "config.yaml").write_text(yaml.safe_dump(config | {"resolved": {"precision": "float32"}}))
    rows = "".join(f"{i},{1.0 - i / 10},{loss}\n" for i, loss in enumerate(val_loss))
    (folder / "history.csv").write_text("epoch,loss,val_loss\n" + rows)
    if accuracy is not None:  # finished
        (folder / "model.tflite").write_bytes(b"x" * size)
        (folder / "metrics.json").write_text(json.dumps({"test": {"accuracy": accuracy, "loss": 0.3}}))
        os.utime(folder / "metrics.json", (when, when))
    else:
        os.utime(folder / "config.yaml", (when, when))
    return folder


def test_one_line_per_run_newest_first(tmp_path):
    _run(tmp_path / "digits_cnn", "digits_cnn", accuracy=0.9861, when=1_800_000_000)
    _run(tmp_path / "digits_cnn-2", "digits_cnn", accuracy=0.9944, size=4096, when=1_800_000_100)
    _run(tmp_path / "iris_ann", "iris_ann", when=1_800_000_200)  # stopped before metrics.json
    header, rows = list_runs(tmp_path)
    assert header[:6] == ["run", "preset", "task", "status", "test metric", "best epoch"]
    assert [row[0] for row in rows] == ["iris_ann", "digits_cnn-2", "digits_cnn"]
    assert rows[0][3] == "interrupted" and rows[0][4] == "" and rows[0][6] == ""
    assert rows[1][3:7] == ["finished", "accuracy 0.9944", "2/3", "4.0 KiB"]  # val_loss was lowest at epoch 2
    assert [row[0] for row in list_runs(tmp_path, sort="metric")[1]] == ["digits_cnn-2", "digits_cnn", "iris_ann"]
    with pytest.raises(UserError, match="--sort must be one of: when, name, preset, metric, size"):
        list_runs(tmp_path, sort="speed")


def test_compare_puts_the_differences_first(tmp_path):
    first = _run(tmp_path / "a", "digits_cnn", accuracy=0.98, learning_rate=0.002)
    second = _run(tmp_path / "b", "digits_cnn", accuracy=0.99, learning_rate=0.001)
    header, rows, differing = compare_runs(first, second)
    assert header == ["", str(first), str(second)]
    assert {row[0] for row in rows[:differing]} == {"learning_rate", "test accuracy"}
    assert ["learning_rate", "0.002", "0.001"] in rows and ["epochs", "3", "3"] in rows[differing:]


def test_the_command_prints_the_table_and_refuses_a_non_run(tmp_path, capsys):
    _run(tmp_path / "runs" / "digits_cnn", "digits_cnn", accuracy=0.99)
    assert main(["runs", str(tmp_path / "runs")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("run ") and lines[1].startswith("digits_cnn ") and len(lines) == 2
    assert main(["runs", "--compare", str(tmp_path / "runs"), str(tmp_path / "runs" / "digits_cnn")]) == 2
    assert "is not a run directory (it has no config.yaml)" in capsys.readouterr().err
    assert main(["runs", str(tmp_path / "empty")]) == 2
    (tmp_path / "empty").mkdir()
    assert main(["runs", str(tmp_path / "empty")]) == 0
    assert "no runs under" in capsys.readouterr().out
