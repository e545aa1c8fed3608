"""Speech synthesis: a label is the next sample; the model outputs its distribution (WaveNet).

Answers the questions every task answers (see `kerasdl.tasks.classify`),
and two more, because the phone model is not the trained one:

- `export_run(...)`: the full WaveNet trains and is saved; what a phone
  runs is its step model, one sample per call with the queues as explicit
  inputs and outputs (`kerasdl.models.wavenet_step`). Its variants are
  verified along a teacher-forced rollout of the test clips
  (`kerasdl.tasks.synthesize_export`).
- `GENERATES`: `kerasdl predict RUN --generate SECONDS --condition LABEL`
  writes a WAV (`kerasdl.tasks.synthesize_generate`).

Examples are stretches of mu-law classes with their label as the
condition (`kerasdl.data.next_sample`); the score is the test audio's
negative log-likelihood in bits per sample, beside the two baselines
(`kerasdl.tasks.synthesize_metrics`).
"""

import dataclasses

import numpy as np

MODEL_FAMILIES = ("wavenet",)
OUTPUT = "next_sample"
# Bits per sample below the histogram baseline: higher is better, as
# `kerasdl runs --sort metric` and HParams expect of a run's summary.
TEST_METRIC = "bits_below_histogram"
LOSSES = ("ce",)
SHARED_DATA_SPECS = ("audio:",)
# The model's time axis is dynamic (it scores whole clips), but training and
# validation batches are all `window` samples long: a TPU compiles one
# program for them, and one more for the test clips (`kerasdl.tpu_check`).
ONE_SHAPE_BATCHES = True
GENERATES = True
INT8_IO_FLOAT = "its int8 step model takes and returns float32 queues and quantizes inside"
# Whole test clips are scored in batches of at most this many samples:
# each sample's 256 probabilities are kept until its batch is scored.
SCORE_SAMPLES = 1 << 16

# The bars a step-model variant must pass to ship, along the rollout:
# float32 only reorders arithmetic, so its next-sample distributions stay
# within 1e-4 of Keras's everywhere; a quantized variant may change the
# test audio's NLL by at most 0.05 bits per sample (under 1% of a model's
# 5-7 bits, a tenth of what a useful model gains on the histogram).
MAX_ABS_DIFF_FLOAT32 = 1e-4
MAX_BITS_CHANGE = 0.05
PARITY_METHOD = (
    "Every variant is the step model, run with the LiteRT interpreter one sample per call along whole test "
    "clips (each true sample fed in, its queues fed back) and compared with the full Keras model computing in "
    "float32 on the same clips. The real-time factor is seconds of those calls per second of audio, one "
    "thread; latency is one call."
)


def receptive_field_of(config):
    """Samples one output of the config's WaveNet sees, its own input included."""
    import inspect

    from kerasdl.models.wavenet import build_wavenet, receptive_field

    shape = {
        name: parameter.default
        for name, parameter in inspect.signature(build_wavenet).parameters.items()
        if name in ("layers_per_stack", "stacks")
    }
    return receptive_field(**(shape | {key: config.model_params[key] for key in shape if key in config.model_params}))


def compile_arguments(config, model):
    """Cross-entropy on the next-sample softmax, and bits per sample, both
    weighed by the examples' weights (padding counts for nothing)."""
    import keras

    from kerasdl.tasks.synthesize_metrics import BitsPerSample

    return {"loss": keras.losses.SparseCategoricalCrossentropy(), "weighted_metrics": [BitsPerSample()]}


def keras_objects():
    from kerasdl.tasks.synthesize_metrics import BitsPerSample

    return {"kerasdl>BitsPerSample": BitsPerSample}


def score(model, batches, info):
    """Bits per sample of the whole test clips' real audio, and the baselines on the same audio."""
    from kerasdl.tasks.synthesize_metrics import UNIFORM_BITS, counts_cross_bits, true_class_bits

    length = None
    bits, samples = 0.0, 0
    counts = np.zeros(len(info.sample_histogram), dtype="int64")
    for inputs, targets, weights in _rebatched(batches):
        length = targets.shape[1]
        # NumPy: JAX's compiled predict step takes no TensorFlow tensors.
        probabilities = model.predict_on_batch({key: np.asarray(value) for key, value in inputs.items()})
        targets, weights = np.asarray(targets), np.asarray(weights) > 0
        bits += float(true_class_bits(np.asarray(probabilities, np.float32), targets)[weights].sum())
        samples += int(weights.sum())
        counts += np.bincount(targets[weights], minlength=len(counts))
    if not samples:
        from kerasdl.errors import RunFailed

        raise RunFailed(f"the test clips hold no audio ({length} samples each, all padding): nothing to score")
    model_bits = bits / samples
    histogram = counts_cross_bits(counts, info.sample_histogram)
    return {
        "bits_per_sample": model_bits,
        "histogram_bits": histogram,
        "uniform_bits": UNIFORM_BITS,
        "bits_below_histogram": histogram - model_bits,
        "test_seconds": samples / info.sample_rate,
        "test_examples": samples,  # next samples scored
    }


def _rebatched(batches):
    """The test batches again, at most `SCORE_SAMPLES` samples each."""
    length = batches.element_spec[1].shape[1]
    return batches.unbatch().batch(max(1, SCORE_SAMPLES // length)).as_numpy_iterator()


@dataclasses.dataclass
class Parity:
    """How closely a TFLite step model follows the Keras model along a teacher-forced rollout of test clips."""

    examples: int  # steps of the rollout (next-sample distributions compared)
    clips: int
    max_abs_diff: float  # of the distributions, over every step and class
    bits_per_sample: float  # NLL of the rollout's true next samples under the TFLite model
    keras_bits_per_sample: float

    def as_dict(self):
        return dataclasses.asdict(self)


def parity(expected, actual, labels):
    """Compares TFLite distributions `actual` `(steps, 256)` with Keras's
    `expected` on the rollout's true next samples `labels` `(steps,)`;
    `clips` is set by the caller."""
    from kerasdl.tasks.synthesize_metrics import true_class_bits

    return Parity(
        examples=len(labels),
        clips=0,
        max_abs_diff=float(np.max(np.abs(expected.astype(np.float64) - actual))),
        bits_per_sample=float(true_class_bits(actual, labels).mean()),
        keras_bits_per_sample=float(true_class_bits(expected, labels).mean()),
    )


def parity_problem(variant, parity):
    """Why `parity` is not good enough for `variant`, or None if it is."""
    if variant == "float32" and parity.max_abs_diff > MAX_ABS_DIFF_FLOAT32:
        return f"its next-sample probabilities differ from Keras's by up to {parity.max_abs_diff:.2g}"
    change = parity.bits_per_sample - parity.keras_bits_per_sample
    if abs(change) > MAX_BITS_CHANGE:
        return f"it changes the test NLL by {change:+.3f} bits per sample (allowed: {MAX_BITS_CHANGE})"
    return None


PARITY_COLUMNS = ("rollout steps", "max abs diff", "NLL bits/sample (change)", "real-time factor")


def parity_cells(parity):
    """A variant's parity (a card's dict) as the report's cells, in `PARITY_COLUMNS` order."""
    change = parity["bits_per_sample"] - parity["keras_bits_per_sample"]
    speed = parity.get("real_time_factor")
    return [
        f"{parity['examples']} ({parity['clips']} clip{'s' * (parity['clips'] != 1)})",
        f"{parity['max_abs_diff']:.2g}",
        f"{parity['bits_per_sample']:.4f} ({change:+.4f})",
        f"{speed:.3f}" if speed is not None else "",
    ]


def agreement(parity):
    return (
        f"its next-sample probabilities are within {parity['max_abs_diff']:.1g} of Keras's along "
        f"{parity['examples']} teacher-forced steps"
    )


def headline(test):
    nan = float("nan")
    return "NLL", (
        f"{test.get('bits_per_sample', nan):.3f} bits per sample ({test.get('bits_below_histogram', nan):.3f} "
        f"below the histogram's {test.get('histogram_bits', nan):.3f}, uniform {test.get('uniform_bits', nan):g})"
    )


def description(info):
    return "speech generation, one sample at a time"


def card_output(info):
    return {
        "name": OUTPUT,
        "shape": [1, 256],
        "dtype": "float32",
        "meaning": (
            "the probabilities of the next sample's 256 mu-law classes; draw one (see generation) and feed "
            "it back as the next call's sample"
        ),
    }


def sample_callbacks(log_dir, dataset, config):
    """Each few epochs: a short generated clip per condition, as audio and as a spectrogram."""
    from kerasdl.tasks.synthesize_samples import GeneratedSamples

    return [GeneratedSamples(log_dir, dataset.info, config.seed, config.inspect_every, config.epochs)]


def export_run(run_dir, model, dataset, config, metrics, log=print):
    """The Keras file, the step model's SavedModel and TFLite variants, the card and report."""
    from kerasdl.tasks.synthesize_export import export_step_model

    return export_step_model(run_dir, model, dataset, config, metrics, log)


def generate_file(run_dir, card, seconds, condition, out, variant, temperature, seed):
    """`kerasdl predict RUN --generate`: writes the WAV, returns what `format_prediction` prints."""
    from kerasdl.tasks.synthesize_generate import generate_wav

    return generate_wav(run_dir, card, seconds, condition, out, variant, temperature, seed)


def format_prediction(result):
    return (
        f"wrote {result['file']} ({result['seconds']:g} s at {result['sample_rate']} Hz, condition "
        f"{result['condition']!r}, temperature {result['temperature']:g}; {result['real_time_factor']:.2f} s of "
        "compute per second of audio)"
    )
