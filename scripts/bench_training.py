"""Training throughput, side by side in one process: kerasdl against what a user would write.

For the keras.io MNIST convnet, an MLP and an Embedding + LSTM text model
(`bench_models.py`), each round trains every column in turn, so the
machine's noise hits all columns alike. Examples/s are medians over rounds;
ratios are medians of each round's ratio:

- **kerasdl**: the model trained the way `kerasdl train` trains it: its
  `tf.data` pipeline (cache, seeded reshuffle, batch, prefetch), and its
  `auto` choices of precision (the bfloat16 probe), XLA and steps per
  execution, made by kerasdl's own functions on this machine.
- **in-memory batches**: the same choices, fed from batches already cut and
  held as tensors (with the pipeline's tf.data options): the ceiling for the
  input pipeline.
- **keras.io recipe**: `model.fit` on NumPy arrays, float32, Keras defaults.
- **PyTorch eager** float32 and bfloat16 autocast (`bench_torch.py`), when
  torch is installed (`pip install -e '.[bench]'`); otherwise skipped, saying so.
- with `--grid`: tf.data in float32 and mixed_bfloat16, each with XLA off and on.

The input pipeline's cost (a few to some 15 percent) is within the rounds'
noise, so it is also measured finely: one model on the pipeline and one on the in-memory
batches train an epoch each in turn (`--pairs` times, the order swapped every
pair), and the ratio is the median of the epoch pairs' ratios, with its
quartiles.

Also measured in the same run: the machine's matrix-multiply peak (2048x2048
matmuls in TensorFlow, float32 and bfloat16), and from it the fraction of
peak each column reaches (`bench_models.training_flops`).

Usage: python scripts/bench_training.py [--rounds 7] [--pairs 30] [--only cnn,mlp,lstm] [--grid]
Writes bench/training.json and bench/training.md; prints the table.
"""

import argparse
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
import types
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# The bfloat16 probe runs in this benchmark, not read from an earlier cache.
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="kerasdl-bench-")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_models import BUILDERS, SIZES, data, training_flops  # noqa: E402

from kerasdl.data.dataset import Dataset, untuned  # noqa: E402
from kerasdl.distribute import (  # noqa: E402
    precision_policy,
    resolve_jit,
    resolve_precision,
    resolve_steps_per_execution,
    resolve_strategy,
)
from kerasdl.precision_probe import cpu_model, time_train_steps  # noqa: E402
from kerasdl.training import compile_model  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
# What compile_model reads of a Config.
ADAM = types.SimpleNamespace(learning_rate=1e-3, lr_schedule="constant", task="classify")
KERAS_IO = "keras.io recipe"
KERASDL = "kerasdl"
IN_MEMORY = "in-memory batches"
TORCH_FP32 = "PyTorch eager float32"
TORCH_BF16 = "PyTorch eager bf16 autocast"
GRID = {  # setting: (precision, jit_compile)
    "tf.data float32": ("float32", False),
    "tf.data float32 + XLA": ("float32", True),
    "tf.data mixed_bfloat16": ("mixed_bfloat16", False),
    "tf.data mixed_bfloat16 + XLA": ("mixed_bfloat16", True),
}


def kerasdl_choices(name, features, labels):
    """Precision, XLA and steps per execution as `kerasdl train` would choose them here."""
    _, batch, _ = SIZES[name]
    strategy = resolve_strategy("auto", log=lambda *_: None)
    jit, jit_reason = resolve_jit("auto", strategy)

    def build():
        model = BUILDERS[name]()
        compile_model(model, ADAM, jit_compile=jit)
        return model

    key = f"bench {name}, batch {batch}, XLA {jit}"
    probe = (key, lambda: time_train_steps(build, features[:batch], labels[:batch]))
    precision, precision_reason = resolve_precision("auto", strategy, probe)
    steps, _ = resolve_steps_per_execution("auto", math.ceil(len(labels) / batch), strategy)
    return {
        "precision": precision,
        "precision_reason": precision_reason,
        "jit_compile": jit,
        "jit_reason": jit_reason,
        "steps_per_execution": steps,
    }


def feed(kind, features, labels, batch):
    if kind == "pipeline":
        return Dataset(info=None, splits={"train": (features, labels)}).pipeline("train", batch, shuffle=True)
    # In-memory: whole batches, cut once, with the pipeline's tf.data options
    # (the autotuner off), so the two columns differ in the pipeline alone.
    steps = len(labels) // batch
    whole = steps * batch
    return untuned(
        tf.data.Dataset.from_tensor_slices(
            (features[:whole].reshape(steps, batch, *features.shape[1:]), labels[:whole].reshape(steps, batch))
        )
    )


def keras_throughput(name, arrays, precision, jit, steps_per_execution, source):
    """Examples per second of `fit` over the model's measurement epochs, after a warm-up epoch."""
    features, labels = arrays
    _, batch, epochs = SIZES[name]
    with precision_policy(precision):
        model = compiled(name, precision, jit, steps_per_execution)
        if source == "numpy":

            def fit(count):
                model.fit(features, labels, batch_size=batch, epochs=count, verbose=0)

        else:
            batches = feed(source, features, labels, batch)

            def fit(count):
                model.fit(batches, epochs=count, verbose=0, shuffle=False)  # the pipeline shuffles

        fit(1)  # traces and compiles
        start = time.perf_counter()
        fit(epochs)
        return epochs * len(labels) / (time.perf_counter() - start)


def compiled(name, precision, jit, steps_per_execution):
    with precision_policy(precision):
        model = BUILDERS[name]()
        compile_model(model, ADAM, jit_compile=jit, steps_per_execution=steps_per_execution)
    return model


def pipeline_epoch_pairs(name, arrays, precision, jit, steps_per_execution, pairs):
    """`pairs` ratios of an epoch's time on in-memory batches to one on the
    pipeline, the two models' epochs alternating (and which goes first
    alternating too), so that both sides of a ratio share the machine's state."""
    features, labels = arrays
    _, batch, _ = SIZES[name]
    # Epoch times compare like for like only if both sides train the same
    # examples: the in-memory side has whole batches only.
    assert len(labels) % batch == 0, f"{name}: {len(labels)} examples do not divide into batches of {batch}"
    sides = []
    with precision_policy(precision):
        for source in ("pipeline", "memory"):
            model = compiled(name, precision, jit, steps_per_execution)
            batches = feed(source, features, labels, batch)
            model.fit(batches, epochs=1, verbose=0)  # traces, compiles and fills the cache
            sides.append((model, batches))
        ratios = []
        for pair in range(pairs):
            seconds = {}
            for index in (0, 1) if pair % 2 == 0 else (1, 0):
                model, batches = sides[index]
                start = time.perf_counter()
                model.fit(batches, epochs=1, verbose=0)
                seconds[index] = time.perf_counter() - start
            ratios.append(seconds[1] / seconds[0])
    return ratios


def matmul_peak(dtype, size=2048, repeats=6):
    """GFLOP/s of TensorFlow's matmul at `size`x`size`: the machine's practical peak."""
    a = tf.cast(tf.random.uniform((size, size)), dtype)
    tf.matmul(a, a).numpy()
    start = time.perf_counter()
    for _ in range(repeats):
        product = tf.matmul(a, a)
    product.numpy()
    return repeats * 2 * size**3 / (time.perf_counter() - start) / 1e9


def load_torch():
    try:
        import bench_torch
    except ImportError:
        print("PyTorch is not installed: its columns are skipped (pip install -e '.[bench]')", file=sys.stderr)
        return None
    return bench_torch


def measure(name, args, torch_bench, peaks):
    arrays = data(name)
    features, labels = arrays
    _, batch, epochs = SIZES[name]
    choices = kerasdl_choices(name, features, labels)
    print(f"{name}: kerasdl chose {choices}", file=sys.stderr)
    mine = (choices["precision"], choices["jit_compile"], choices["steps_per_execution"])
    columns = {
        KERASDL: lambda: keras_throughput(name, arrays, *mine, "pipeline"),
        IN_MEMORY: lambda: keras_throughput(name, arrays, *mine, "memory"),
        KERAS_IO: lambda: keras_throughput(name, arrays, "float32", "auto", 1, "numpy"),
    }
    if torch_bench:
        columns[TORCH_FP32] = lambda: torch_bench.throughput(name, features, labels, batch, epochs)
        columns[TORCH_BF16] = lambda: torch_bench.throughput(name, features, labels, batch, epochs, bf16=True)
    if args.grid:
        for setting, (precision, jit) in GRID.items():
            columns[setting] = lambda p=precision, j=jit: keras_throughput(name, arrays, p, j, 1, "pipeline")
    samples = {column: [] for column in columns}
    for round_ in range(args.rounds):
        peaks["float32"].append(matmul_peak(tf.float32))
        peaks["bfloat16"].append(matmul_peak(tf.bfloat16))
        for column, run in columns.items():
            samples[column].append(run())
            print(f"{name} round {round_ + 1} {column}: {samples[column][-1]:,.0f} ex/s", file=sys.stderr)
    epoch_pairs = pipeline_epoch_pairs(name, arrays, *mine, args.pairs) if args.pairs else []
    return choices, samples, epoch_pairs


def paired(samples, column, baseline):
    """Median over rounds of `column / baseline` within each round: the
    rounds alternate, so each pair shared the machine's state at the time."""
    if baseline not in samples:
        return None
    return statistics.median(a / b for a, b in zip(samples[column], samples[baseline], strict=True))


def summarise(name, choices, samples, epoch_pairs, peaks):
    flops = training_flops(BUILDERS[name]())
    rows = {}
    for column, values in samples.items():
        rate = statistics.median(values)
        mine = column in (KERASDL, IN_MEMORY)
        bf16 = "bf16" in column or "bfloat16" in column or (mine and "bfloat16" in choices["precision"])
        peak = statistics.median(peaks["bfloat16" if bf16 else "float32"])
        rows[column] = {
            "examples_per_s": rate,
            "all_rounds": values,
            "vs_keras_io": paired(samples, column, KERAS_IO),
            "vs_pytorch_fp32": paired(samples, column, TORCH_FP32),
            "gflop_per_s": rate * flops / 1e9,
            "of_matmul_peak": rate * flops / 1e9 / peak,
        }
    return {
        "training_flops_per_example": flops,
        "kerasdl_choices": choices,
        "pipeline_vs_in_memory": paired(samples, KERASDL, IN_MEMORY),
        "pipeline_vs_in_memory_epochs": epoch_summary(epoch_pairs),
        "columns": rows,
    }


def epoch_summary(ratios):
    if len(ratios) < 4:
        return None
    quartiles = statistics.quantiles(ratios, n=4)
    return {"median": statistics.median(ratios), "quartiles": [quartiles[0], quartiles[2]], "pairs": ratios}


def markdown(report):
    lines = [
        f"Machine: {report['machine']['cpu']}, {report['machine']['cores']} cores; "
        f"TensorFlow {report['machine']['tensorflow']}, Keras {report['machine']['keras']}, "
        f"PyTorch {report['machine']['torch'] or 'not installed'}; {report['rounds']} rounds, medians.",
        f"Matmul peak (2048x2048): float32 {report['matmul_peak_gflops']['float32']:,.0f} GFLOP/s, "
        f"bfloat16 {report['matmul_peak_gflops']['bfloat16']:,.0f} GFLOP/s.",
        "",
        "Ratios are medians of the ratios within each round.",
        "",
        "| model | column | examples/s | vs keras.io | vs PyTorch fp32 | GFLOP/s | of peak |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, model in report["models"].items():
        for column, row in model["columns"].items():
            torch_ratio = f"{row['vs_pytorch_fp32']:.2f}x" if row["vs_pytorch_fp32"] else "-"
            lines.append(
                f"| {name} | {column} | {row['examples_per_s']:,.0f} | {row['vs_keras_io']:.2f}x | {torch_ratio} "
                f"| {row['gflop_per_s']:.1f} | {row['of_matmul_peak']:.0%} |"
            )
    lines.append("")
    for name, model in report["models"].items():
        choices = model["kerasdl_choices"]
        lines.append(
            f"- {name}: kerasdl chose {choices['precision']} ({choices['precision_reason']}), "
            f"XLA {'on' if choices['jit_compile'] else 'off'}, {choices['steps_per_execution']} steps per execution; "
            f"its pipeline ran at {model['pipeline_vs_in_memory']:.2f}x the in-memory batches"
            + pipeline_epochs_text(model["pipeline_vs_in_memory_epochs"])
        )
    return "\n".join(lines) + "\n"


def pipeline_epochs_text(epochs):
    if not epochs:
        return "."
    low, high = epochs["quartiles"]
    return (
        f" in the rounds, and at {epochs['median']:.2f}x (quartiles {low:.2f}-{high:.2f}) "
        f"in {len(epochs['pairs'])} alternating epoch pairs."
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument(
        "--pairs", type=int, default=30, help="alternating epoch pairs, pipeline against memory (0, or at least 4)"
    )
    parser.add_argument("--only", default="cnn,mlp,lstm")
    parser.add_argument("--grid", action="store_true", help="also tf.data float32/bfloat16 with XLA off and on")
    args = parser.parse_args()
    if args.pairs != 0 and args.pairs < 4:
        parser.error(f"--pairs {args.pairs}: allowed are 0 (skip) or at least 4 (for quartiles)")
    torch_bench = load_torch()
    peaks = {"float32": [], "bfloat16": []}
    measured = {name: measure(name, args, torch_bench, peaks) for name in args.only.split(",")}
    report = {
        "machine": {
            "cpu": cpu_model(),
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "torch": torch_bench.version() if torch_bench else None,
        },
        "rounds": args.rounds,
        "epoch_pairs": args.pairs,
        "matmul_peak_gflops": {dtype: statistics.median(values) for dtype, values in peaks.items()},
        "models": {name: summarise(name, *measured[name], peaks) for name in measured},
    }
    out = ROOT / "bench"
    out.mkdir(exist_ok=True)
    (out / "training.json").write_text(json.dumps(report, indent=2) + "\n")
    table = markdown(report)
    (out / "training.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
