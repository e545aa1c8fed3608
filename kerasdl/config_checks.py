"""The values each `Config` key allows: a test and the words that say it.

`config._check` applies them to every value a user sets; a value outside
is a one-line `UserError` that names the key and what it allows.
"""

from kerasdl.config_values import TFLITE_VARIANTS, parse_variants, positive_seconds
from kerasdl.errors import UserError
from kerasdl.schedule import SCHEDULES

BACKENDS = ("auto", "tensorflow", "jax")
STRATEGIES = ("auto", "cpu", "gpu", "mirrored", "multi_worker", "tpu")
PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")
JIT = ("auto", "true", "false")
MONITORS = ("val_loss", "val_accuracy")
INT8_IO = ("float", "int8", "uint8")
DIRECTIONS = ("AtoB", "BtoA")
CACHES = ("auto", "memory", "disk", "none")  # kerasdl.data.cache_plan
# Audio sample rates a run may ask for, Hz: telephone speech to studio audio.
SAMPLE_RATES = (1000, 48000)

CHECKS = {
    "epochs": (lambda v: v >= 1, "an integer >= 1"),
    "batch_size": (lambda v: v >= 1, "an integer >= 1"),
    "learning_rate": (lambda v: 0 < v <= 10, "a number in (0, 10]"),
    "early_stopping": (lambda v: v >= 0, "an integer >= 0 (0 turns it off)"),
    "reduce_lr": (lambda v: v >= 0, "an integer >= 0 (0 turns it off)"),
    "validation_fraction": (lambda v: 0 < v < 0.5, "a number in (0, 0.5)"),
    "test_fraction": (lambda v: 0 < v < 0.5, "a number in (0, 0.5)"),
    "mosaic": (lambda v: 0 <= v <= 1, "a number in [0, 1]"),
    "direction": (lambda v: v in DIRECTIONS, "one of: " + ", ".join(DIRECTIONS)),
    "seed": (lambda v: 0 <= v < 2**31, "an integer in [0, 2**31)"),
    "verbose": (lambda v: v in (0, 1, 2), "0, 1 or 2"),
    "backend": (lambda v: v in BACKENDS, "one of: " + ", ".join(BACKENDS)),
    "strategy": (lambda v: v in STRATEGIES, "one of: " + ", ".join(STRATEGIES)),
    "precision": (lambda v: v in PRECISIONS, "one of: " + ", ".join(PRECISIONS)),
    "jit_compile": (lambda v: v in JIT, "one of: " + ", ".join(JIT)),
    "steps_per_execution": (
        lambda v: v == "auto" or (v.isascii() and v.isdigit() and int(v) >= 1),
        "auto or an integer >= 1",
    ),
    "inspect_every": (
        lambda v: v == "auto" or (v.isascii() and v.isdigit()),
        "auto, 0 (none) or an integer >= 1",
    ),
    "profile": (lambda v: valid_profile(v), "START,END training steps with 1 <= START <= END, or empty"),
    "monitor": (lambda v: v in MONITORS, "one of: " + ", ".join(MONITORS)),
    "lr_schedule": (lambda v: v in SCHEDULES, "one of: " + ", ".join(SCHEDULES)),
    "int8_io": (lambda v: v in INT8_IO, "one of: " + ", ".join(INT8_IO)),
    "cache": (lambda v: v in CACHES, "one of: " + ", ".join(CACHES)),
    "image_size": (
        lambda v: v == "auto" or (v.isascii() and v.isdigit() and 8 <= int(v) <= 1024),
        "auto or an integer in [8, 1024]",
    ),
    "vocabulary_size": (lambda v: 3 <= v <= 1_000_000, "an integer in [3, 1000000]"),
    "sequence_length": (lambda v: 1 <= v <= 4096, "an integer in [1, 4096]"),
    "sample_rate": (lambda v: SAMPLE_RATES[0] <= v <= SAMPLE_RATES[1], "an integer in [{}, {}]".format(*SAMPLE_RATES)),
    "clip_seconds": (lambda v: v == "auto" or positive_seconds(v) <= 60, "auto or seconds in (0, 60]"),
    "window": (lambda v: 16 <= v <= 65536, "an integer in [16, 65536]"),
    "fine_tune_epochs": (lambda v: v >= 0, "an integer >= 0 (0 skips the second phase)"),
    "fine_tune_layers": (lambda v: v >= 0, "an integer >= 0"),
    "fine_tune_learning_rate": (lambda v: 0 < v <= 1, "a number in (0, 1]"),
    "variants": (lambda v: bool(parse_variants(v)), "comma-separated names from: " + ", ".join(TFLITE_VARIANTS)),
}


def valid_profile(setting):
    from kerasdl.profiling import parse_profile

    try:
        parse_profile(setting)
    except UserError:
        return False
    return True
