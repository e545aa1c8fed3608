"""The presets' defaults, measured as docs/quality.md quotes them: full-length runs
over several seeds, and the same runs in bfloat16. `make test-full` (CI runs
it after `make test`).

What a recipe reaches is the mean over seeds (see tests/quality_bars.py for
why one seeded run is one draw); its bar allows two binomial standard
errors over the test examples of all the seeds together.
"""

import math

import numpy as np
import pytest
import yaml
from quality_bars import QUALITY_BAR, check_every_variant, sampling_margin

from kerasdl.training import train

# digits_cnn's seed 42 (README's run, all four variants) is make test's
# (tests/test_end_to_end.py); here, the other two presets' seed 42 exports
# all four variants too, and the other seeds float32 only.
SEEDS = {"digits_cnn": [1, 2, 3, 4, 5, 6, 7, 8], "breast_cancer_ann": [42, 1, 2, 3, 4, 5], "digits_rnn": [42, 1, 2, 3]}


def _train(preset, tmp_path, **settings):
    settings = {"verbose": "0", "variants": "float32"} | {key: str(value) for key, value in settings.items()}
    name = "-".join(f"{key}{value}" for key, value in sorted(settings.items()) if key in ("seed", "precision"))
    return train(preset, settings | {"run_dir": str(tmp_path / f"{preset}-{name}")}, log=lambda line: None)


def _params(presets):
    # One worker per preset under `make test-full` (xdist's loadgroup): its runs share no state.
    return [pytest.param(preset, marks=pytest.mark.xdist_group(preset)) for preset in presets]


@pytest.mark.full
@pytest.mark.parametrize("preset", _params(sorted(QUALITY_BAR)))
def test_the_defaults_reach_the_bar_on_average_over_seeds(tmp_path, preset):
    results = [
        _train(preset, tmp_path, seed=seed, **({"variants": "float32,float16,dynamic,int8"} if seed == 42 else {}))
        for seed in SEEDS[preset]
    ]
    if SEEDS[preset][0] == 42:
        check_every_variant(results[0], variant_bars=preset == "breast_cancer_ann")
    accuracies = [result.metrics["test"]["accuracy"] for result in results]
    examples = sum(result.card["variants"]["float32"]["parity"]["examples"] for result in results)
    mean, bar = float(np.mean(accuracies)), QUALITY_BAR[preset]
    margin = sampling_margin(bar, examples)
    print(f"{preset}: mean test accuracy {mean:.4f} over seeds {list(SEEDS[preset])}: {accuracies}")
    print(f"{preset}: bar {bar} - {margin:.4f} (two standard errors over {examples} test examples)")
    assert mean >= bar - margin


@pytest.mark.full
@pytest.mark.parametrize("preset", _params(sorted(QUALITY_BAR)))
def test_bfloat16_keeps_float32_accuracy(tmp_path, preset):
    """mixed_bfloat16 (what precision=auto picks on TPUs, and on CPUs where
    the probe measured it faster) against float32: same seed, same splits,
    two trainings. The two accuracies are two draws, each with the test
    set's noise, so the difference may be two standard errors of a
    difference, sqrt(2) times one accuracy's."""
    results = {
        precision: _train(preset, tmp_path, seed=42, precision=precision) for precision in ("float32", "mixed_bfloat16")
    }
    resolved = yaml.safe_load((results["mixed_bfloat16"].run_dir / "config.yaml").read_text())["resolved"]
    assert resolved["precision"].startswith("mixed_bfloat16")
    accuracy = {precision: result.metrics["test"]["accuracy"] for precision, result in results.items()}
    examples = results["float32"].card["variants"]["float32"]["parity"]["examples"]
    margin = math.sqrt(2) * sampling_margin(QUALITY_BAR[preset], examples)
    print(f"{preset}: test accuracy {accuracy}; allowed difference {margin:.4f}")
    assert accuracy["mixed_bfloat16"] >= accuracy["float32"] - margin
