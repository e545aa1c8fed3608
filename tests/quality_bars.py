"""docs/quality.md's quality bars, and the sampling noise that a measured accuracy is allowed.

A seed draws the splits and the initial weights, and the CPU's kernels
decide the last bits of every sum (oneDNN picks other kernels with AVX-512
than with AVX2), so one seeded run is one draw: seed 42 of digits_cnn
scored 358 of 360 test digits on an AVX-512 CPU and 356 on an AVX2 one.
What separates a regression from such a draw is the test set's sampling
noise: the binomial standard error sqrt(p (1 - p) / n) at the bar p over
the n test examples measured. A bar allows two of those standard errors.
"""

import math

QUALITY_BAR = {"digits_cnn": 0.99, "breast_cancer_ann": 0.96, "digits_rnn": 0.97}
# Largest accuracy loss (points) and smallest top-1 agreement per quantized
# variant; docs/export.md's bar names the CNN and the MLP.
VARIANT_BAR = {"float16": (0.5, 0.99), "dynamic": (0.5, 0.99), "int8": (1.0, 0.99)}


def sampling_margin(accuracy, examples):
    """Two binomial standard errors of an accuracy measured on `examples` test examples.

    Example:
        >>> round(sampling_margin(0.99, 360), 4)  # one seed of digits_cnn: about 1 point
        0.0105
    """
    return 2 * math.sqrt(accuracy * (1 - accuracy) / examples)


def check_every_variant(result, variant_bars=True):
    """All four TFLite variants shipped, builtins only, float32 exact; the
    quantized ones within `VARIANT_BAR` when `variant_bars`."""
    variants = result.card["variants"]
    accuracy = result.metrics["test"]["accuracy"]
    assert set(variants) == {"float32", "float16", "dynamic", "int8"}
    assert all(entry.get("builtins_only") for entry in variants.values())  # none left out, an LSTM's included
    assert variants["float32"]["parity"]["top1_agreement"] == 1.0
    if variant_bars:
        for name, (points, agreement) in VARIANT_BAR.items():
            assert variants[name]["parity"]["top1_agreement"] >= agreement
            assert variants[name]["parity"]["accuracy"] >= accuracy - points / 100
