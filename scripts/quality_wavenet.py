"""Issue 20's WaveNet bar on real speech: wavenet_speech on the Free Spoken
Digit Dataset, conditioned on the digit, and whether what it says is heard.

The 2,250 clips (`{digit}_{speaker}_{take}.wav`, five speakers, 8 kHz) are
not in the repository: pass their folder, by default
`../shared/data/fsdd/recordings` beside the checkout. Steps:

1. A judge: `audio_cnn` trained on the same clips (takes of every speaker
   split stratified), unless `--judge RUN` names a finished one.
2. `wavenet_speech` with its defaults on the clips (the digit is the label,
   so the condition); the bar: at most 30 minutes of training, test NLL at
   least 1.5 bits per sample below the histogram baseline.
3. `--clips` clips per digit generated with the float32 TFLite step model
   (temperature 1, seeded), each as long as the judge's input, written as
   WAVs, and classified by the judge's float32 TFLite model: the share
   heard as the digit asked for (chance: 10%; goal: at least 50%).
4. A picture: real and generated spectrograms of each digit, one column a
   digit (`--figure`, default docs/images/wavenet_fsdd.png).

Results go to `bench/quality_wavenet.json` and a table is printed.
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
BAR = {"bits_below_histogram": 1.5, "training_minutes": 30.0, "heard_as_asked": 0.5}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="the FSDD recordings folder")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", default=str(ROOT / "bench"), help="where the runs, WAVs and the JSON go")
    parser.add_argument("--judge", default="", help="a finished audio_cnn run on FSDD (default: train one)")
    parser.add_argument("--clips", type=int, default=20, help="generated clips per digit")
    parser.add_argument("--temperature", type=float, default=1.0, help="sampling temperature of the generated clips")
    parser.add_argument("--figure", default=str(ROOT / "docs" / "images" / "wavenet_fsdd.png"))
    parser.add_argument(
        "--reuse", action="store_true", help="keep finished runs and generated WAVs of an earlier call (no timing)"
    )
    parser.add_argument("settings", nargs="*", metavar="KEY=VALUE", help="over the wavenet_speech preset")
    args = parser.parse_args()
    data, out = Path(args.data), Path(args.out)
    if not any(data.glob("*_*_*.wav")):
        raise SystemExit(f"{str(data)!r} has no FSDD clips (digit_speaker_take.wav); pass --data DIR")
    runs = out / "quality-runs"
    judge = Path(args.judge) if args.judge else runs / "audio_cnn-fsdd-judge"
    if not args.judge and not (args.reuse and (judge / "metrics.json").exists()):
        _train("audio_cnn", data, judge, args.seed)
    run_dir = runs / "wavenet_speech-fsdd"
    seconds = None
    if not (args.reuse and (run_dir / "metrics.json").exists()):
        seconds = _train("wavenet_speech", data, run_dir, args.seed, args.settings)
    result = {"data": str(data), "seed": args.seed, "settings": args.settings, "seconds": seconds}
    result |= run_figures(run_dir)
    generated = out / ("wavenet-generated" + (f"-t{args.temperature:g}" if args.temperature != 1 else ""))
    result |= heard(run_dir, judge, generated, args.clips, args.seed, args.temperature, args.reuse)
    result["temperature"] = args.temperature
    figure(data, generated, Path(args.figure))
    result["met"] = {
        "bits_below_histogram": result["test"]["bits_below_histogram"] >= BAR["bits_below_histogram"],
        "training_minutes": result["training_minutes"] <= BAR["training_minutes"],
        "heard_as_asked": result["heard_as_asked"] >= BAR["heard_as_asked"],
    }
    out.mkdir(parents=True, exist_ok=True)
    name = "quality_wavenet" + (f"_t{args.temperature:g}" if args.temperature != 1 else "")
    (out / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    print(table(result))


def _train(preset, data, run_dir, seed, settings=()):
    command = [sys.executable, "-m", "kerasdl", "train", preset, f"data=audio:{data}", f"seed={seed}"]
    command += [f"run_dir={run_dir}", "overwrite=true", "verbose=2", *settings]
    start = time.perf_counter()
    subprocess.run(command, check=True)
    return time.perf_counter() - start


def run_figures(run_dir):
    """The test scores, the training time (from the history's epoch times), the variants and the CPU."""
    import yaml

    metrics = json.loads((run_dir / "metrics.json").read_text())
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    card = json.loads((run_dir / "model_card.json").read_text())
    history = metrics["history"]
    return {
        "test": metrics["test"],
        "epochs": len(history["loss"]),
        # From config.yaml, written as fit() starts, to the marker written when it ends.
        "training_minutes": (_mtime(run_dir / "checkpoints" / "fit_complete") - _mtime(run_dir / "config.yaml")) / 60,
        "precision": config["resolved"]["precision"],
        "cpu": config["resolved"]["cpu"],
        "variants": {
            name: entry.get("rejected")
            or {key: entry["parity"][key] for key in ("max_abs_diff", "real_time_factor")}
            | {"bits_per_sample": entry["parity"]["bits_per_sample"]}
            for name, entry in card["variants"].items()
        },
    }


def _mtime(path):
    return path.stat().st_mtime


def heard(run_dir, judge, folder, clips, seed, temperature=1.0, reuse=False):
    """Generates `clips` WAVs per digit (with `reuse`, only those missing)
    and lets the judge classify them."""
    from kerasdl.prediction import generate, load_card, predict

    judge_card = load_card(judge)
    seconds = judge_card["input"]["shape"][1] / judge_card["input"]["sample_rate"]
    folder.mkdir(parents=True, exist_ok=True)
    asked, files, factors = [], [], []
    for digit in load_card(run_dir)["labels"]:
        for index in range(clips):
            path = folder / f"{digit}_generated_{index}.wav"
            if not (reuse and path.exists()):
                made = generate(run_dir, seconds, digit, path, temperature=temperature, seed=seed * 1000 + index)
                factors.append(made["real_time_factor"])
            asked.append(digit)
            files.append(str(path))
    answers = [ranked[0][0] for _, ranked in predict(judge, files, top=1)]
    confusion = {}
    for wanted, answer in zip(asked, answers, strict=True):
        confusion.setdefault(wanted, {}).setdefault(answer, 0)
        confusion[wanted][answer] += 1
    return {
        "generated_seconds": seconds,
        "heard_as_asked": float(np.mean([a == b for a, b in zip(asked, answers, strict=True)])),
        "heard_per_digit": {digit: row.get(digit, 0) / clips for digit, row in confusion.items()},
        "confusion": confusion,
        "generation_real_time_factor": float(np.median(factors)) if factors else None,
        "judge": str(judge),
    }


def figure(data, folder, path):
    """Real (top) and generated (bottom) spectrograms, one column per digit."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from kerasdl.inspection.spectrogram import spectrogram_image
    from kerasdl.wav import read_wav

    digits = sorted({p.name.split("_")[0] for p in folder.glob("*_generated_0.wav")}, key=int)
    fig, axes = plt.subplots(2, len(digits), figsize=(1.6 * len(digits), 3.6), squeeze=False)
    for column, digit in enumerate(digits):
        real = sorted(data.glob(f"{digit}_jackson_*.wav"))[0]  # a take of one speaker
        for row, (name, source) in enumerate((("real", real), ("generated", folder / f"{digit}_generated_0.wav"))):
            samples, rate = read_wav(source)
            axes[row, column].imshow(spectrogram_image(samples, rate)[..., 0], aspect="auto", cmap="magma")
            axes[row, column].set_xticks([])
            axes[row, column].set_yticks([])
            axes[row, column].set_title(f"{digit} {name}", fontsize=8)
    fig.suptitle("FSDD spectrograms, 0-4 kHz: real takes (top), WaveNet conditioned on the digit (bottom)", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=72)


def table(result):
    test = result["test"]
    lines = [
        f"wavenet_speech on FSDD, seed {result['seed']}, {result['cpu']}, {result['precision']}; "
        f"{result['epochs']} epochs, {result['training_minutes']:.1f} min of training",
        "",
        "| measure | value | bar |",
        "|---|---|---|",
        f"| test NLL, bits per sample | {test['bits_per_sample']:.3f} | |",
        f"| histogram baseline, same audio | {test['histogram_bits']:.3f} | |",
        f"| below the histogram | {test['bits_below_histogram']:.3f} | >= {BAR['bits_below_histogram']} |",
        f"| training minutes | {result['training_minutes']:.1f} | <= {BAR['training_minutes']:g} |",
        f"| generated clips the judge hears as asked (temperature {result['temperature']:g}) | "
        f"{result['heard_as_asked']:.1%} | >= "
        f"{BAR['heard_as_asked']:.0%} (chance 10%) |",
        "",
        "per digit: " + ", ".join(f"{d} {share:.0%}" for d, share in result["heard_per_digit"].items()),
        f"generation, float32 TFLite through `kerasdl predict`: real-time factor "
        f"{result['generation_real_time_factor'] or float('nan'):.2f} (median)",
    ]
    return "\n".join(lines + [f"- {name}: {state}" for name, state in result["variants"].items()])


if __name__ == "__main__":
    main()
