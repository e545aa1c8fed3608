"""Single-example latency of a TFLite model with the LiteRT interpreter."""

import functools
import time

import numpy as np

from kerasdl.litert_runner import TFLiteRunner

THREADS = (1, 2)


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
        `{"1_thread": {"median_ms": ..., "p90_ms": ...}, "2_threads": {...}}`.
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


def _time(call, runs, warmup):
    for _ in range(warmup):
        call()
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - start)
    milliseconds = np.asarray(seconds) * 1000
    return {"median_ms": float(np.median(milliseconds)), "p90_ms": float(np.percentile(milliseconds, 90))}
