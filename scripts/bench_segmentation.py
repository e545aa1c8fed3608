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

2. **Peak memory** (`--only memory`): 2,000 generated 512x512 grey PNGs
   with blob masks (seeded, cached in `bench/seg-data/`), trained with
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
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
KERASDL = ROOT / ".venv" / "bin" / "kerasdl"
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "isbi_membranes"
RECIPE_SCRIPT = Path(__file__).resolve().parent / "keras_io_unet.py"
SPEED_RATIO_BAR = 1.0
MEMORY_BAR_BYTES = 2e9
# The small folder beside the large one: the peak that does not depend on the data.
FLOOR_IMAGES = 40
MIB = 2**20
TIME_TOOL = Path("/usr/bin/time")  # GNU time: -v reports the peak resident set

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


# ---------------------------------------------------------------- generated images and peak memory


def blob_example(rng, side):
    """One grey image and its 0/255 mask: a few smooth elliptic blobs (the
    mask: where they stand out) over an uneven background, with noise."""
    axis = np.arange(side, dtype="float32")
    field = np.zeros((side, side), dtype="float32")
    for _ in range(rng.integers(3, 9)):
        centre_y, centre_x = rng.uniform(0, side, 2)
        radius_y, radius_x = rng.uniform(side / 40, side / 10, 2)
        # A Gaussian is separable: the outer product of two 1-D ones.
        along_y = np.exp(-0.5 * ((axis - centre_y) / radius_y) ** 2)
        along_x = np.exp(-0.5 * ((axis - centre_x) / radius_x) ** 2)
        field = np.maximum(field, np.outer(along_y, along_x))
    tilt_y, tilt_x = rng.uniform(-1, 1, 2)
    background = 70 + 25 * (tilt_y * axis[:, None] + tilt_x * axis[None, :]) / side
    image = background + 110 * field + rng.normal(0, 12, (side, side))
    mask = np.where(field > 0.5, 255, 0).astype("uint8")
    return np.clip(image, 0, 255).astype("uint8"), mask


def write_blob_folder(folder, count, side, seed=0):
    """Writes `count` images and masks into `folder/images` and
    `folder/masks` (`0000.png`, ...), unless a complete set with the same
    settings is there already (`folder/complete.json`). Returns `folder`.

    Example:
        >>> write_blob_folder(Path("bench/seg-data/blobs-40x512"), 40, 512)
    """
    from PIL import Image

    folder = Path(folder)
    marker = folder / "complete.json"
    wanted = {"count": count, "side": side, "seed": seed}
    if marker.exists() and json.loads(marker.read_text()) == wanted:
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "images").mkdir(parents=True)
    (folder / "masks").mkdir()
    rng = np.random.default_rng(seed)
    for index in range(count):
        image, mask = blob_example(rng, side)
        Image.fromarray(image, mode="L").save(folder / "images" / f"{index:04d}.png")
        Image.fromarray(mask, mode="L").save(folder / "masks" / f"{index:04d}.png")
    marker.write_text(json.dumps(wanted) + "\n")
    return folder


def peak_rss_bytes(command, log, env=None):
    """Runs `command` (with `env`), its output into `log`; returns the peak
    resident set of its process (the largest one, if it starts others) in
    bytes and how that was measured."""
    if TIME_TOOL.exists():
        with Path(log).open("w") as output:
            finished = subprocess.run(
                [str(TIME_TOOL), "-v", *command], stdout=output, stderr=subprocess.STDOUT, env=env
            )
        text = Path(log).read_text()
        if finished.returncode:
            sys.exit(f"{' '.join(command)} failed:\n{text[-3000:]}")
        return max_rss_from_time(text) * 1024, "/usr/bin/time -v"
    # A fresh Python process runs the command, so that its children's peak
    # is this command's alone.
    report = (
        "import resource, subprocess, sys; code = subprocess.run(sys.argv[1:]).returncode; "
        "print('maxrss_kib', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(code)"
    )
    with Path(log).open("w") as output:
        finished = subprocess.run(
            [sys.executable, "-c", report, *command], stdout=output, stderr=subprocess.STDOUT, env=env
        )
    text = Path(log).read_text()
    if finished.returncode:
        sys.exit(f"{' '.join(command)} failed:\n{text[-3000:]}")
    kib = int(re.findall(r"^maxrss_kib (\d+)$", text, flags=re.MULTILINE)[-1])
    return kib * 1024, "getrusage(RUSAGE_CHILDREN) of the finished command"


def max_rss_from_time(text):
    """KiB from GNU time's `Maximum resident set size (kbytes): N` line."""
    found = re.findall(r"Maximum resident set size \(kbytes\): (\d+)", text)
    if not found:
        raise ValueError("no 'Maximum resident set size' line in the output of /usr/bin/time -v")
    return int(found[-1])


def measure_memory(args, out):
    """Peak RSS of the command on `--count` images, and on `FLOOR_IMAGES` of
    the same kind: what the libraries, the model and the export cost
    whatever the folder's size. Streaming keeps the two close."""
    counts = [args.count] + ([FLOOR_IMAGES] if args.count > FLOOR_IMAGES else [])
    runs = out / "seg-runs"
    runs.mkdir(parents=True, exist_ok=True)
    measured = []
    for count in counts:
        folder = write_blob_folder(out / "seg-data" / f"blobs-{count}x{args.side}", count, args.side)
        run_dir = runs / f"memory-{count}"
        command = [str(KERASDL), "train", "unet_segment", f"data=masks:{folder.resolve()}", "image_size=128"]
        command += ["epochs=1", "variants=float32", f"run_dir={run_dir}", "overwrite=true", "verbose=2"]
        # An empty cache: each run probes bfloat16 (a second model in memory)
        # as a first run on a machine does, rather than the second reading
        # the first one's answer.
        with tempfile.TemporaryDirectory(prefix="kerasdl-bench-cache-") as cache:
            peak, how = peak_rss_bytes(command, f"{run_dir}.log", env=os.environ | {"XDG_CACHE_HOME": cache})
        measured.append({"images": count, "peak_rss_bytes": peak, "command": " ".join(["kerasdl", *command[1:]])})
        print(f"{count} images: peak RSS {peak / MIB:,.0f} MiB ({how})", flush=True)
    return {
        "machine": machine(),
        "side": args.side,
        "runs": measured,
        "measured_by": how,
        "bar_bytes": MEMORY_BAR_BYTES,
        "met": measured[0]["peak_rss_bytes"] < MEMORY_BAR_BYTES,
    }


def memory_markdown(result):
    side, bar = result["side"], result["bar_bytes"]
    main = result["runs"][0]
    lines = [
        f"## Peak memory of U-Net training on {main['images']:,} generated {side}x{side} images; {result['machine']}",
        "",
        f"`{main['command']}`",
        "",
        "| images (grey PNGs, blob masks) | trained at | peak RSS |",
        "|---|---|---|",
    ]
    for run in result["runs"]:
        peak = run["peak_rss_bytes"]
        lines.append(
            f"| {run['images']:,} at {side}x{side} | 128x128, 1 epoch | {peak / MIB:,.0f} MiB ({peak / 1e9:.2f} GB) |"
        )
    lines += ["", f"Measured by {result['measured_by']}: the peak resident set of the command's process."]
    if len(result["runs"]) > 1:
        floor = result["runs"][1]
        growth = (main["peak_rss_bytes"] - floor["peak_rss_bytes"]) / MIB
        lines.append(f"{main['images'] - floor['images']:,} more images cost {growth:+,.0f} MiB of peak.")
    lines += [
        "",
        f"- [{'x' if result['met'] else ' '}] peak RSS under {bar / 1e9:.0f} GB with {main['images']:,} images",
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
        results["memory"] = measure_memory(args, out)
        saved.write_text(json.dumps(results, indent=2) + "\n")
    if args.only in (None, "speed"):
        results["speed"] = measure_speed(args, extra, out)
        saved.write_text(json.dumps(results, indent=2) + "\n")
    table = markdown(results)
    (out / "segmentation.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
