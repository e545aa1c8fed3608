"""Issue 20's audio classification bar on real speech: audio_cnn on the Free
Spoken Digit Dataset with one whole speaker held out.

The 2,250 clips (`{digit}_{speaker}_{take}.wav`, five speakers, 8 kHz) are
not in the repository: pass their folder, by default
`../shared/data/fsdd/recordings` beside the checkout. `group_pattern` makes
the speaker the group, so the test split is one whole speaker (drawn with
the seed) and validation holds other takes of the four the model trains on.
The bar: accuracy >= 0.85 on the unseen speaker, >= 0.95 on held-out takes
of the seen ones. The second figure is the validation split's, which also
chose the kept epoch (by its loss): slightly optimistic, said so in the
table. Results go to `bench/quality_audio.json` and a table is printed.
"""

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "fsdd" / "recordings"
SPEAKER = r"^[^_]+_([^_]+)_"  # 7_jackson_32.wav: jackson
BAR = {"unseen_speaker": 0.85, "seen_speakers": 0.95}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="the FSDD recordings folder")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", default=str(ROOT / "bench"), help="where the run and the JSON go")
    args = parser.parse_args()
    data, out = Path(args.data), Path(args.out)
    if not any(data.glob("*_*_*.wav")):
        raise SystemExit(f"{str(data)!r} has no FSDD clips (digit_speaker_take.wav); pass --data DIR")
    run_dir = out / "quality-runs" / "audio_cnn-fsdd"
    command = [sys.executable, "-m", "kerasdl", "train", "audio_cnn", f"data=audio:{data}"]
    command += [f"group_pattern={SPEAKER}", f"seed={args.seed}", f"run_dir={run_dir}", "overwrite=true", "verbose=2"]
    start = time.perf_counter()
    subprocess.run(command, check=True)
    seconds = time.perf_counter() - start
    result = {"data": str(data), "seed": args.seed, "seconds": seconds}
    result |= figures(run_dir)
    result["met"] = all(result[split] >= bar for split, bar in BAR.items())
    out.mkdir(parents=True, exist_ok=True)
    (out / "quality_audio.json").write_text(json.dumps(result, indent=2) + "\n")
    print(table(result))


def figures(run_dir):
    """Test accuracy (the unseen speaker), the kept epoch's validation
    accuracy (seen speakers' other takes), the split note and the CPU."""
    import yaml

    metrics = json.loads((run_dir / "metrics.json").read_text())
    history = metrics["history"]
    kept = int(np.argmin(history["val_loss"]))
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    card = json.loads((run_dir / "model_card.json").read_text())
    return {
        "unseen_speaker": metrics["test"]["accuracy"],
        "seen_speakers": history["val_accuracy"][kept],
        "kept_epoch": kept + 1,
        "cpu": config["resolved"]["cpu"],
        "variants": {name: entry.get("rejected") or "shipped" for name, entry in card["variants"].items()},
    }


def table(result):
    return "\n".join(
        [
            f"audio_cnn on FSDD, one speaker held out, seed {result['seed']}, {result['cpu']}; "
            f"bar met: {'yes' if result['met'] else 'no'}; {result['seconds'] / 60:.1f} min",
            "",
            "| split | accuracy | bar |",
            "|---|---|---|",
            f"| test: the unseen speaker | {result['unseen_speaker']:.2%} | >= {BAR['unseen_speaker']:.0%} |",
            f"| validation: other takes of the seen speakers (chose epoch {result['kept_epoch']}) | "
            f"{result['seen_speakers']:.2%} | >= {BAR['seen_speakers']:.0%} |",
            "",
            *(f"- {name}: {state}" for name, state in result["variants"].items()),
        ]
    )


if __name__ == "__main__":
    main()
