"""`make bench-text`: a folder of text files, streamed against read whole.

A generated folder shaped like IMDB's `aclImdb/train` (two classes of
documents of about 230 words, drawn from a Zipf-distributed vocabulary of
50,000 made-up words; cached in `bench/text-scale/`), loaded three ways,
each in its own process:

- **streamed**: `kerasdl`'s `text:DIR` (`kerasdl.data.text_folder`): the
  vocabulary adapted on a stream of the training files, every file read and
  tokenised by the pipeline (`cache=none`).
- **whole**: what `text:DIR` did before it streamed: every file read into a
  Python list, the vocabulary adapted on it, every split turned into token
  ids in memory (`kerasdl.data.text.vectorised_dataset`).
- **keras**: `keras.utils.text_dataset_from_directory` with a
  `TextVectorization` adapted on its texts and mapped over it (the Keras
  guide's way).

A text table is loaded two ways too: a TSV of `--table-rows` messages
(5 to 40 words) read whole (`table-held`) and streamed (`table-streamed`,
`kerasdl.data.text_table_stream`), the memory budget set to force each.

For each: seconds to load, the libraries already imported (listing, vocabulary, and for `whole` the ids),
examples/s of one pass over the training pipeline (batches of 32, median of
`--rounds` passes), and the process's peak RSS. The folder sizes are
`--count` and twice as many: the streamed peak must not grow with the
folder. Results go to `bench/text_scale.json` and `bench/text_scale.md`.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench"
SEQUENCE_LENGTH = 200
VOCABULARY_SIZE = 20_000
MIB = 2**20
SOURCES = ("streamed", "whole", "keras")
TABLE_SOURCES = ("table-held", "table-streamed")


def write_text_folder(folder, count, seed=0):
    """`folder/{neg,pos}/<n>.txt`: `count` documents; reused when complete."""
    marker = folder / "complete"
    if marker.exists():
        return folder
    rng = np.random.default_rng(seed)
    words = np.asarray([f"w{index}" for index in range(50_000)])
    for label in ("neg", "pos"):
        (folder / label).mkdir(parents=True, exist_ok=True)
    for index in range(count):
        label = ("neg", "pos")[index % 2]
        ranks = np.minimum(rng.zipf(1.2, int(rng.integers(120, 340))), len(words)) - 1
        text = " ".join(words[ranks]) + (" good film" if label == "pos" else " bad film")
        (folder / label / f"{index}.txt").write_text(text)
    marker.touch()
    return folder


def write_text_table(path, count, seed=0):
    """A TSV of `count` `label<TAB>text` rows; reused when present."""
    if path.exists():
        return path
    rng = np.random.default_rng(seed)
    words = np.asarray([f"w{index}" for index in range(30_000)])
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{path}.partial", "w") as file:
        for index in range(count):
            ranks = np.minimum(rng.zipf(1.3, int(rng.integers(5, 40))), len(words)) - 1
            file.write(("spam" if index % 3 == 0 else "ham") + "\t" + " ".join(words[ranks]) + "\n")
    os.replace(f"{path}.partial", path)
    return path


def measure(source, folder, rounds):
    """In this process: load `folder` the `source` way and time passes over its training pipeline."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras  # noqa: F401 (the libraries' import is not the load's time)

    import kerasdl.data  # noqa: F401

    started = time.perf_counter()
    if source in TABLE_SOURCES:
        import kerasdl.data.text
        from kerasdl.data import load_dataset

        budget = 1 if source == "table-streamed" else 2**40
        kerasdl.data.text.memory_budget = lambda: (budget, "given")
        dataset = load_dataset(f"text:{folder}", sequence_length=64, vocabulary_size=VOCABULARY_SIZE)
        train = dataset.pipeline("train", 32, shuffle=True)
    elif source == "keras":
        import keras
        import tensorflow as tf

        texts = keras.utils.text_dataset_from_directory(
            folder, batch_size=32, validation_split=0.3, subset="training", seed=42, verbose=False
        )
        layer = keras.layers.TextVectorization(max_tokens=VOCABULARY_SIZE, output_sequence_length=SEQUENCE_LENGTH)
        layer.adapt(texts.map(lambda text, label: text))
        train = texts.map(lambda text, label: (layer(text), label), num_parallel_calls=tf.data.AUTOTUNE)
        train = train.prefetch(tf.data.AUTOTUNE)
    else:
        dataset = _whole(folder) if source == "whole" else _streamed(folder)
        train = dataset.pipeline("train", 32)
    load_seconds = time.perf_counter() - started
    rates = []
    for _ in range(rounds):
        started, count = time.perf_counter(), 0
        for ids, _ in train:
            count += len(ids)
        rates.append(count / (time.perf_counter() - started))
    return {"load_seconds": round(load_seconds, 1), "examples_per_s": round(statistics.median(rates)), "rates": rates}


def _streamed(folder):
    from kerasdl.data import load_dataset

    dataset = load_dataset(f"text:{folder}", sequence_length=SEQUENCE_LENGTH, vocabulary_size=VOCABULARY_SIZE)
    dataset.cache = "none"
    return dataset


def _whole(folder):
    """`text:DIR` as it was before it streamed: the texts in a list, then ids."""
    from kerasdl.data.dataset import split_stratified
    from kerasdl.data.text import vectorised_dataset

    texts, labels = [], []
    for label, name in enumerate(("neg", "pos")):
        for file in sorted((folder / name).glob("*.txt")):
            texts.append(file.read_text(encoding="utf-8-sig").strip())
            labels.append(label)
    splits = split_stratified(np.asarray(texts, dtype=object), np.asarray(labels, "int32"), 42, 0.1, 0.2)
    return vectorised_dataset(f"text:{folder}", splits, ["neg", "pos"], VOCABULARY_SIZE, SEQUENCE_LENGTH)


def run_child(source, folder, rounds):
    """`measure` in a fresh process; its result and the peak RSS it measured of itself."""
    command = [sys.executable, __file__, "--child", source, "--folder", str(folder), "--rounds", str(rounds)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = process.communicate()
    if process.returncode:
        sys.exit(f"{source} on {folder} failed:\n{err[-3000:]}")
    result = json.loads(out.strip().splitlines()[-1])
    result["peak_rss_bytes"] = result.pop("self_peak_rss_bytes")
    return result


def markdown(report):
    lines = [f"# A folder of text files, streamed or read whole ({report['machine']})", ""]
    lines += ["| files or rows | source | load s | train pass examples/s | peak RSS |", "|---|---|---|---|---|"]
    for run in report["runs"]:
        lines.append(
            f"| {run['files']:,} | {run['source']} | {run['load_seconds']} | {run['examples_per_s']:,} | "
            f"{run['peak_rss_bytes'] / MIB:,.0f} MiB |"
        )
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=25_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--table-rows", type=int, default=500_000)
    parser.add_argument("--child", choices=SOURCES + TABLE_SOURCES)
    parser.add_argument("--folder", type=Path)
    args = parser.parse_args()
    if args.child:
        import resource

        result = measure(args.child, args.folder, args.rounds)
        result["self_peak_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        print(json.dumps(result))
        return
    from kerasdl.cpu import describe_cpu

    report = {"machine": describe_cpu(), "runs": []}
    for count in (args.count, 2 * args.count):
        folder = write_text_folder(OUT / "text-scale" / f"docs-{count}", count)
        for source in SOURCES:
            result = run_child(source, folder, args.rounds)
            report["runs"].append({"files": count, "source": source} | result)
            print(
                f"{count:,} files, {source}: load {result['load_seconds']} s, {result['examples_per_s']:,} "
                f"examples/s, peak RSS {result['peak_rss_bytes'] / MIB:,.0f} MiB",
                flush=True,
            )
    table = write_text_table(OUT / "text-scale" / f"messages-{args.table_rows}.tsv", args.table_rows)
    for source in TABLE_SOURCES:
        result = run_child(source, table, args.rounds)
        report["runs"].append({"files": args.table_rows, "source": source} | result)
        print(
            f"{args.table_rows:,}-row table, {source}: load {result['load_seconds']} s, "
            f"{result['examples_per_s']:,} examples/s, peak RSS {result['peak_rss_bytes'] / MIB:,.0f} MiB",
            flush=True,
        )
    OUT.mkdir(exist_ok=True)
    (OUT / "text_scale.json").write_text(json.dumps(report, indent=2) + "\n")
    (OUT / "text_scale.md").write_text(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
