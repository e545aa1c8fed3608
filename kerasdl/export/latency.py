"""Single-example latency of a TFLite model with the LiteRT interpreter."""

import functools
import time

import numpy as np

from kerasdl.litert_runner import TFLiteRunner

THREADS = (1, 2)
# Seconds of timed calls per thread count, at most: 200 runs of a 2 ms
# classifier take 0.4 s, but of a 256x256 Pix2Pix generator's dynamic-range
# variant (2.3 s a call: hybrid transposed convolutions) 8 minutes. The
# median of the runs that fit is reported, with their number; at least
# `MIN_RUNS` run whatever they take.
TIME_BUDGET_SECONDS = 10.0
MIN_RUNS = 5


def tflite_latency(model_content, example, threads=THREADS, runs=200, warmup=20, xnnpack=True, output="probabilities"):
    """Median and 90th-percentile milliseconds of one `invoke` on one example.

    Args:
        model_content: the flatbuffer.
        example: one input batch of size 1, as floats (quantized here if the
            model takes integers, outside the timed region).
        threads: LiteRT CPU thread counts to measure.
        runs: timed invocations per thread count, after `warmup` untimed ones.
        xnnpack: run with LiteRT's default XNNPACK delegate, as a phone would.
        output: the signature output the model computes (the task's `OUTPUT`).

    Returns:
        `{"1_thread": {"median_ms": ..., "p90_ms": ..., "runs": ...}, "2_threads": {...}}`:
        fewer runs than `runs` where they would take over `TIME_BUDGET_SECONDS`.
    """
    results = {}
    for count in threads:
        runner = TFLiteRunner(model_content, num_threads=count, xnnpack=xnnpack, output=output)
        invoke = functools.partial(runner.invoke, runner.quantize(example))
        results[f"{count}_thread{'s' if count > 1 else ''}"] = _time(invoke, runs, warmup)
    return results


def keras_latency(model, example, runs=30, warmup=5):
    """The same figures for `model(example, training=False)`, for comparison."""
    return _time(lambda: model(example, training=False), runs, warmup)


def _time(call, runs, warmup, budget=TIME_BUDGET_SECONDS):
    began = time.perf_counter()
    for _ in range(warmup):
        call()
        if time.perf_counter() - began > budget / 5:  # a slow model needs little warming
            break
    seconds = []
    began = time.perf_counter()
    while len(seconds) < runs and (len(seconds) < MIN_RUNS or time.perf_counter() - began < budget):
        start = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - start)
    milliseconds = np.asarray(seconds) * 1000
    return {
        "median_ms": float(np.median(milliseconds)),
        "p90_ms": float(np.percentile(milliseconds, 90)),
        "runs": len(seconds),
    }
