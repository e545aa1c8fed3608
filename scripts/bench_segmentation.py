"""U-Net training: speed at quality against the keras.io recipe, and peak memory on a large folder.

Two measurements (issue 16), each in fresh processes:

1. **Speed at quality**: on a `masks:DIR` folder (default: the ISBI 2012
   membranes in `../shared/data/isbi_membranes`), at one image size and
   number of epochs, each round runs in turn (the order swapped every round,
   so the machine's drift hits both alike):

   - **kerasdl**: `kerasdl train unet_segment data=masks:DIR image_size=SIZE
     epochs=E seed=ROUND variants=float32` with the preset's other defaults
     (batches of 2, Adam at 2e-3 with a cosine schedule, augmentation).
     Test mean IoU from the run's metrics.json.
   - **keras.io recipe** (`keras_io_unet.py`): its model, pipeline and
     compile settings, on kerasdl's own train/validation/test split of the
     same folder (same seed), scored the same way on the same truth masks.
   - with `--augmented-recipe`: the recipe again, its training batches put
     through kerasdl's augmentation, so that it does the work kerasdl does.

   Training examples/s, the same way on every side: training examples per
   epoch x (epochs - 1) / the time from the end of the first epoch to the
   end of the last. The first epoch traces and compiles, which a longer run
   pays once; the timed epochs include validation and the checkpoint on
   both sides, as an epoch of `fit` does. The epochs' end times are stamped
   inside the training process (kerasdl: its TensorBoard `epoch_loss`
   events; the recipe: a callback after its checkpoint), so neither process
   start, data scanning, export nor pipe buffering counts. With one epoch,
   the time from the start of `fit` to its end.

   Bars: kerasdl's examples/s >= 1.0x the recipe's (median of the rounds'
   ratios) at the same or better test mean IoU (medians).

2. **Peak memory** (`--only memory`, `bench_segmentation_memory.py`): 2,000
   generated 512x512 grey PNGs with blob masks (seeded, cached in
   `bench/seg-data/`), trained with
   `kerasdl train unet_segment image_size=128 epochs=1 variants=float32`
   under `/usr/bin/time -v` (without it, getrusage of the finished command):
   the peak resident set of the command's process. The same command on 40
   such images shows the peak that does not depend on the folder (libraries,
   model, export). Bar: under 2 GB (2e9 bytes) with 2,000: the folder
   streams from disk.

Usage: python scripts/bench_segmentation.py [--only speed|memory] [--data DIR] [--size 128]
       [--epochs 20] [--rounds 3] [--augmented-recipe] [--recipe-batch-size 32] [--count 2000]
       [KEY=VALUE for kerasdl train ...]
Writes bench/segmentation.json and .md (`--only` keeps the other's last result); prints the tables.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

from bench_segmentation_memory import measure_memory, memory_markdown

ROOT = Path(__file__).resolve().parent.parent
KERASDL = ROOT / ".venv" / "bin" / "kerasdl"
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "isbi_membranes"
RECIPE_SCRIPT = Path(__file__).resolve().parent / "keras_io_unet.py"
SPEED_RATIO_BAR = 1.0

# Side name -> its label in the tables.
KERASDL_SIDE = "kerasdl"
RECIPE = "recipe"
AUGMENTED_RECIPE = "recipe_augmented"
LABELS = {
    KERASDL_SIDE: "kerasdl",
    RECIPE: "keras.io recipe",
    AUGMENTED_RECIPE: "recipe + kerasdl's augmentation",
}
SHORT = {RECIPE: "recipe", AUGMENTED_RECIPE: "augmented recipe"}


# ---------------------------------------------------------------- timing


def examples_per_second(examples_per_epoch, began, epoch_ends):
    """Training examples/s from when `fit` began and when each epoch ended.

    Over the epochs after the first (which traces and compiles); over the
    one epoch from `began` if there is only one.

    Example:
        >>> examples_per_second(100, 0.0, [30.0, 40.0, 50.0])
        10.0
    """
    if not epoch_ends:
        raise ValueError("no epoch ended: nothing to time")
    if len(epoch_ends) == 1:
        return examples_per_epoch / (epoch_ends[0] - began)
    return examples_per_epoch * (len(epoch_ends) - 1) / (epoch_ends[-1] - epoch_ends[0])


def tensorboard_epoch_times(run_dir):
    """`(began, [end of each epoch])` of a kerasdl run, in seconds since the
    epoch, from its TensorBoard training events: the writer opens at the
    start of `fit` (its first event) and logs `epoch_loss` as each epoch ends."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(Path(run_dir) / "logs" / "train"), size_guidance={"tensors": 0})
    events.Reload()
    return events.FirstEventTimestamp(), [event.wall_time for event in events.Tensors("epoch_loss")]


# ---------------------------------------------------------------- the speed rounds


def setting(extra, key, default):
    """The value of `key` among the KEY=VALUE arguments, or `default`."""
    for argument in extra:
        name, _, value = argument.partition("=")
        if name == key:
            return value
    return default


def run_kerasdl(folder, size, epochs, seed, run_dir, extra):
    command = [str(KERASDL), "train", "unet_segment", f"data=masks:{folder}", f"image_size={size}"]
    command += [f"epochs={epochs}", f"seed={seed}", f"run_dir={run_dir}", "overwrite=true", "variants=float32"]
    command += ["verbose=2", *extra]
    log = Path(f"{run_dir}.log")
    with log.open("w") as output:
        finished = subprocess.run(command, stdout=output, stderr=subprocess.STDOUT)
    if finished.returncode:
        sys.exit(f"kerasdl train failed ({' '.join(command)}):\n{log.read_text()[-3000:]}")
    import yaml

    metrics = json.loads((run_dir / "metrics.json").read_text())
    resolved = yaml.safe_load((run_dir / "config.yaml").read_text()).get("resolved", {})
    began, epoch_ends = tensorboard_epoch_times(run_dir)
    # Examples/s waits for the recipe's count of the same training split
    # (kerasdl's own loader, in the recipe's process): see `finish_round`.
    return {
        "began": began,
        "epoch_ends": epoch_ends,
        "epochs_run": len(epoch_ends),
        "mean_iou": metrics["test"]["mean_iou"],
        "pixel_accuracy": metrics["test"]["pixel_accuracy"],
        "precision": resolved.get("precision"),
        "cpu": resolved.get("cpu"),
    }


def finish_round(row):
    """kerasdl's examples/s, from its epoch times and the size of the
    training split the recipe read (the same files: same loader, same seed)."""
    mine = row[KERASDL_SIDE]
    mine["train_examples"] = row[RECIPE]["train_examples"]
    mine["examples_per_s"] = examples_per_second(mine["train_examples"], mine["began"], mine["epoch_ends"])
    return row


def run_recipe(folder, size, epochs, seed, batch_size, augment, extra):
    command = [sys.executable, str(RECIPE_SCRIPT), str(folder), f"--size={size}", f"--epochs={epochs}"]
    command += [f"--seed={seed}", f"--batch-size={batch_size}"]
    command += [f"--validation-fraction={setting(extra, 'validation_fraction', 0.1)}"]
    command += [f"--test-fraction={setting(extra, 'test_fraction', 0.2)}"]
    command += ["--augment"] if augment else []
    finished = subprocess.run(command, capture_output=True, text=True)
    if finished.returncode:
        sys.exit(f"the keras.io recipe failed ({' '.join(command)}):\n{finished.stderr[-3000:]}")
    measured = json.loads(finished.stdout.strip().splitlines()[-1])
    return {
        "examples_per_s": examples_per_second(measured["train_examples"], measured["began"], measured["epoch_ends"]),
        "train_examples": measured["train_examples"],
        "epochs_run": len(measured["epoch_ends"]),
        "mean_iou": measured["mean_iou"],
        "pixel_accuracy": measured["pixel_accuracy"],
        "batch_size": measured["batch_size"],
        "parameters": measured["parameters"],
    }


def measure_speed(args, extra, out):
    folder = Path(args.data).resolve()
    if not (folder / "images").is_dir() or not (folder / "masks").is_dir():
        sys.exit(f"{str(folder)!r} has no images/ and masks/; pass --data DIR (a masks:DIR folder)")
    sides = [KERASDL_SIDE, RECIPE] + ([AUGMENTED_RECIPE] if args.augmented_recipe else [])
    runs = out / "seg-runs"
    runs.mkdir(parents=True, exist_ok=True)
    rows = []
    for index in range(args.rounds):
        # Round N seeds both sides with N, unless the KEY=VALUE arguments name a seed.
        seed = int(setting(extra, "seed", index + 1))
        order = sides if index % 2 == 0 else sides[::-1]
        row = {"seed": seed}
        for side in order:
            if side == KERASDL_SIDE:
                row[side] = run_kerasdl(folder, args.size, args.epochs, seed, runs / "speed-kerasdl", extra)
            else:
                augment = side == AUGMENTED_RECIPE
                row[side] = run_recipe(folder, args.size, args.epochs, seed, args.recipe_batch_size, augment, extra)
        rows.append(finish_round(row))
        for side in sides:
            print(
                f"round {index + 1} {LABELS[side]}: {row[side]['examples_per_s']:.1f} examples/s, "
                f"test mean IoU {row[side]['mean_iou']:.3f}",
                flush=True,
            )
    return {
        "machine": machine(),
        "data": str(folder),
        "size": args.size,
        "epochs": args.epochs,
        "kerasdl_args": extra,
        "recipe_batch_size": args.recipe_batch_size,
        "rounds": rows,
        "median": summarise(rows),
    }


def summarise(rows):
    """Medians over rounds: each side's examples/s and test mean IoU, and
    each recipe's ratio (kerasdl / recipe), the median of the rounds' own
    ratios (the two sides of a ratio shared the machine's state)."""
    sides = [side for side in (KERASDL_SIDE, RECIPE, AUGMENTED_RECIPE) if side in rows[0]]
    summary = {"rounds": len(rows)}
    for side in sides:
        summary[side] = {
            "examples_per_s": statistics.median(row[side]["examples_per_s"] for row in rows),
            "mean_iou": statistics.median(row[side]["mean_iou"] for row in rows),
        }
        if side != KERASDL_SIDE:
            summary[side]["ratio"] = statistics.median(ratios(rows, side))
    return summary


def ratios(rows, side):
    return [row[KERASDL_SIDE]["examples_per_s"] / row[side]["examples_per_s"] for row in rows]


def speed_bars(summary):
    """`[(what, met)]` of the speed-at-quality bar, against the plain recipe."""
    mine, recipe = summary[KERASDL_SIDE], summary[RECIPE]
    return [
        (f"training examples/s >= {SPEED_RATIO_BAR:.1f}x the recipe's", recipe["ratio"] >= SPEED_RATIO_BAR),
        ("test mean IoU >= the recipe's, after the same epochs", mine["mean_iou"] >= recipe["mean_iou"]),
    ]


def timing_note(epochs):
    if epochs == 1:
        timed = "training examples / time from the start of fit to the end of its one epoch (tracing, "
    else:
        timed = "training examples x (epochs - 1) / time from the end of epoch 1 to the end of the last ("
    return f"Examples/s: {timed}validation and checkpoints included); ratios: medians of each round's kerasdl / recipe."


def speed_markdown(result):
    """The speed measurement as Markdown: one line a round, then the medians and the bars."""
    summary = result["median"]
    recipes = [side for side in (RECIPE, AUGMENTED_RECIPE) if side in summary]
    first = result["rounds"][0]
    header = ["round", "kerasdl examples/s"]
    for side in recipes:
        header += [f"{LABELS[side]} examples/s", f"kerasdl / {SHORT[side]}"]
    header += ["kerasdl mean IoU"] + [f"{LABELS[side]} mean IoU" for side in recipes]

    def cells(examples, ratio_by_side, iou):
        line = [f"{examples[KERASDL_SIDE]:,.1f}"]
        for side in recipes:
            line += [f"{examples[side]:,.1f}", f"{ratio_by_side[side]:.2f}x"]
        return line + [f"{iou[side]:.3f}" for side in [KERASDL_SIDE, *recipes]]

    lines = [
        "## U-Net training speed at quality: kerasdl vs the keras.io recipe; "
        f"medians of {summary['rounds']} round{'s' if summary['rounds'] != 1 else ''}",
        "",
        f"{result['data']}: {first[KERASDL_SIDE]['train_examples']} training images at "
        f"{result['size']}x{result['size']}, {result['epochs']} epoch{'s' if result['epochs'] != 1 else ''}; "
        f"{result['machine']}",
        f"kerasdl train unet_segment {' '.join(result['kerasdl_args'])}".rstrip()
        + f" (precision {str(first[KERASDL_SIDE]['precision']).split(' (')[0]}); "
        f"recipe: Xception-style U-Net, Adam(1e-4), batches of {result['recipe_batch_size']}",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for index, row in enumerate(result["rounds"], start=1):
        examples = {side: row[side]["examples_per_s"] for side in [KERASDL_SIDE, *recipes]}
        ratio_by_side = {side: examples[KERASDL_SIDE] / examples[side] for side in recipes}
        iou = {side: row[side]["mean_iou"] for side in [KERASDL_SIDE, *recipes]}
        lines.append(f"| {index} (seed {row['seed']}) | " + " | ".join(cells(examples, ratio_by_side, iou)) + " |")
    examples = {side: summary[side]["examples_per_s"] for side in [KERASDL_SIDE, *recipes]}
    ratio_by_side = {side: summary[side]["ratio"] for side in recipes}
    iou = {side: summary[side]["mean_iou"] for side in [KERASDL_SIDE, *recipes]}
    lines.append("| median | " + " | ".join(cells(examples, ratio_by_side, iou)) + " |")
    lines += [
        "",
        timing_note(result["epochs"]),
        "",
        *[f"- [{'x' if met else ' '}] {what}" for what, met in speed_bars(summary)],
    ]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- the report


def machine():
    sys.path.insert(0, str(ROOT))
    from kerasdl.cpu import describe_cpu

    return f"{describe_cpu()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def markdown(results):
    parts = []
    if "speed" in results:
        parts.append(speed_markdown(results["speed"]))
    if "memory" in results:
        parts.append(memory_markdown(results["memory"]))
    return "\n".join(parts)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("speed", "memory"), help="run one measurement (default: both)")
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="speed: a masks:DIR folder (images/, masks/)")
    parser.add_argument("--size", type=int, default=128, help="speed: image side for both (a multiple of 16)")
    parser.add_argument("--epochs", type=int, default=20, help="speed: epochs for both (the preset's 20)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--augmented-recipe", action="store_true", help="speed: also the recipe with kerasdl's augmentation"
    )
    parser.add_argument("--recipe-batch-size", type=int, default=32, help="speed: the recipe's batch (its own: 32)")
    parser.add_argument("--count", type=int, default=2000, help="memory: images to generate")
    parser.add_argument("--side", type=int, default=512, help="memory: their side")
    parser.add_argument("--out", default=str(ROOT / "bench"))
    args, extra = parser.parse_known_args()
    unknown = [argument for argument in extra if "=" not in argument or argument.startswith("-")]
    if unknown:
        parser.error(f"unrecognised arguments: {' '.join(unknown)} (kerasdl settings are KEY=VALUE)")
    if args.rounds < 1 or args.epochs < 1:
        parser.error(f"--rounds {args.rounds} and --epochs {args.epochs}: both must be at least 1")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    saved = out / "segmentation.json"
    results = json.loads(saved.read_text()) if saved.exists() else {}
    if args.only in (None, "memory"):
        results["memory"] = measure_memory(args, out, KERASDL, machine)
        saved.write_text(json.dumps(results, indent=2) + "\n")
    if args.only in (None, "speed"):
        results["speed"] = measure_speed(args, extra, out)
        saved.write_text(json.dumps(results, indent=2) + "\n")
    table = markdown(results)
    (out / "segmentation.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
