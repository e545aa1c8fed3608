"""Measures `make train` after set-up: wall-clock seconds, median of N runs.

Each run is the real command a user types (TensorFlow import, training of
the default preset, evaluation, export and TFLite verification). Every run
writes a new numbered run directory; this script removes only the ones it
created. The figure goes into docs/measured-figures.md by hand, with the machine it ran on.

    .venv/bin/python scripts/time_make_train.py --runs 3
"""

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="how many times to run `make train` (default 3)")
    args = parser.parse_args()

    seconds, accuracies = [], []
    for index in range(1, args.runs + 1):
        before = set((ROOT / "saved_models").iterdir())
        start = time.perf_counter()
        done = subprocess.run(["make", "--no-print-directory", "train"], cwd=ROOT, capture_output=True, text=True)
        elapsed = time.perf_counter() - start
        created = set((ROOT / "saved_models").iterdir()) - before
        if done.returncode != 0:
            raise SystemExit(f"make train failed:\n{done.stderr[-2000:]}")
        for run_dir in created:
            metrics = json.loads((run_dir / "metrics.json").read_text())
            accuracies.append(metrics["test"]["accuracy"])
            shutil.rmtree(run_dir)
        seconds.append(elapsed)
        print(f"run {index}: {elapsed:.1f} s, test accuracy {accuracies[-1]:.4f}", flush=True)

    print(
        f"make train (after set-up): median {statistics.median(seconds):.1f} s over {len(seconds)} runs "
        f"(min {min(seconds):.1f}, max {max(seconds):.1f}); {os.cpu_count()} cores, {platform.machine()}, "
        f"Python {platform.python_version()}"
    )


if __name__ == "__main__":
    main()
