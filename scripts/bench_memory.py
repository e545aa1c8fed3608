"""Peak memory (RSS) of `kerasdl train PRESET`, and which stage of the run sets it.

Two measurements, each in a fresh process:

1. The whole command, as a user runs it: the peak resident set of the
   `kerasdl train` process (getrusage of the finished child).
2. The same run in stages: this script's child imports kerasdl, wraps the
   stage functions of `kerasdl.training` and, at each boundary, reads the
   peak since the last boundary (VmHWM) and the resident set left after it
   (VmRSS), then resets the peak (Linux `/proc/self/clear_refs`, value 5).
   Stages: importing the libraries, loading the data, set-up (strategy,
   precision probe, model), fitting, evaluating, exporting.

Usage: python scripts/bench_memory.py [--preset digits_cnn] [KEY=VALUE ...]
(settings over the preset, as on the command line: `make bench-memory
PRESET=unet_segment ARGS='data=masks:DIR image_size=128 epochs=1'`).
Writes bench/memory.json and prints a Markdown table.
"""

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KERASDL = Path(sys.executable).parent / "kerasdl"


def status_kib(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


class Stages:
    """Peak and resident memory per stage of one process, in MiB."""

    def __init__(self):
        self.rows = []
        self.resettable = True
        self.reset()
        self.started = time.perf_counter()

    def reset(self):
        try:
            Path("/proc/self/clear_refs").write_text("5")
        except OSError:
            self.resettable = False  # peaks are then cumulative

    def end(self, stage):
        now = time.perf_counter()
        self.rows.append(
            {
                "stage": stage,
                "peak_mib": status_kib("VmHWM") / 1024,
                "rss_after_mib": status_kib("VmRSS") / 1024,
                "seconds": now - self.started,
            }
        )
        self.started = now
        self.reset()


def child(preset, run_dir, overrides=()):
    """Runs `train(preset)` with a boundary around each stage; prints the rows as JSON."""
    stages = Stages()
    import kerasdl.training as training  # noqa: F401  (TensorFlow, Keras, keras-hub, ...)
    from kerasdl.quiet import quiet_tensorflow

    quiet_tensorflow()
    stages.end("import TensorFlow, Keras and kerasdl")

    def around(name, before=None, after=None):
        wrapped = getattr(training, name)

        def call(*args, **kwargs):
            if before:
                stages.end(before)
            result = wrapped(*args, **kwargs)
            if after:
                stages.end(after)
            return result

        setattr(training, name, call)

    around("load_dataset_for", after="load the data")
    around("_fit_phases", before="set-up: strategy, precision probe, model", after="fit")
    around("export_run", before="evaluate the best checkpoint", after="export SavedModel and TFLite, verify")
    settings = dict(item.split("=", 1) for item in overrides) | {"run_dir": run_dir, "verbose": 0}
    training.train(preset, settings, log=lambda *_: None)
    print(json.dumps({"rows": stages.rows, "resettable": stages.resettable}))


def whole_command(preset, run_dir, overrides=()):
    """Peak RSS in MiB and seconds of `kerasdl train PRESET` in a child process."""
    start = time.perf_counter()
    subprocess.run(
        [str(KERASDL), "train", preset, *overrides, f"run_dir={run_dir}", "verbose=0"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    # ru_maxrss of RUSAGE_CHILDREN is the largest of the waited-for children: this one, run first.
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="digits_cnn")
    parser.add_argument("--child", metavar="RUN_DIR", help=argparse.SUPPRESS)
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="settings over the preset")
    args = parser.parse_args()
    if args.child:
        return child(args.preset, args.child, args.overrides)
    with tempfile.TemporaryDirectory() as scratch:
        peak, seconds = whole_command(args.preset, f"{scratch}/whole", args.overrides)
        staged = subprocess.run(
            [sys.executable, __file__, "--preset", args.preset, "--child", f"{scratch}/staged", *args.overrides],
            check=True,
            capture_output=True,
            text=True,
        )
    stages = json.loads(staged.stdout.strip().splitlines()[-1])
    report = {"preset": args.preset, "overrides": args.overrides, "peak_rss_mib": peak, "seconds": seconds, **stages}
    out = ROOT / "bench"
    out.mkdir(exist_ok=True)
    (out / "memory.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [
        f"`kerasdl train {' '.join([args.preset, *args.overrides])}`: peak RSS {peak:,.0f} MiB in {seconds:.1f} s.",
        "",
        "| stage | peak during it (MiB) | resident after it (MiB) | seconds |",
        "|---|---|---|---|",
    ]
    for row in report["rows"]:
        peak_mib, after_mib = row["peak_mib"], row["rss_after_mib"]
        lines.append(f"| {row['stage']} | {peak_mib:,.0f} | {after_mib:,.0f} | {row['seconds']:.1f} |")
    if not report["resettable"]:
        lines.append("\n(/proc/self/clear_refs was not writable: each peak includes the stages before it.)")
    table = "\n".join(lines) + "\n"
    (out / "memory.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
