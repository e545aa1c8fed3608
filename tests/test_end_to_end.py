"""Every preset, end to end: train, evaluate, export, verify, predict.

The three required presets train with their full defaults and must reach the
quality bar of README; the others run a few epochs.
"""

import json

import pytest

from kerasdl.cli import main
from kerasdl.config import preset_names
from kerasdl.training import train

QUALITY_BAR = {"digits_cnn": 0.99, "breast_cancer_ann": 0.96, "digits_rnn": 0.97}


@pytest.mark.slow
@pytest.mark.parametrize("preset", sorted(QUALITY_BAR))
def test_preset_defaults_reach_the_quality_bar(tmp_path, preset):
    result = train(preset, {"run_dir": str(tmp_path / preset), "verbose": "0"}, log=lambda line: None)
    accuracy = result.metrics["test"]["accuracy"]
    parity = result.card["variants"]["float32"]["parity"]
    print(f"{preset}: test accuracy {accuracy:.4f}, {len(result.metrics['history']['loss'])} epochs")
    assert accuracy >= QUALITY_BAR[preset]
    assert parity["top1_agreement"] == 1.0 and parity["accuracy"] == pytest.approx(accuracy, abs=1e-6)
    assert result.card["variants"]["float32"]["builtins_only"]


@pytest.mark.slow
@pytest.mark.parametrize("preset", sorted(set(preset_names()) - set(QUALITY_BAR)))
def test_other_presets_run_end_to_end(tmp_path, preset, capsys):
    run_dir = tmp_path / preset
    assert main(["train", preset, "epochs=3", f"run_dir={run_dir}", "verbose=0"]) == 0
    assert "Test accuracy" in capsys.readouterr().out
    card = json.loads((run_dir / "model_card.json").read_text())
    assert card["variants"]["float32"]["parity"]["top1_agreement"] == 1.0
    features = ",".join("1.0" for _ in range(card["input"]["shape"][1]))
    assert main(["predict", str(run_dir), features]) == 0
    assert capsys.readouterr().out.count("(") == min(3, len(card["labels"]))
