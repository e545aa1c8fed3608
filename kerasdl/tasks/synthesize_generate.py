"""Generation: the step model called once per sample, its queues fed back.

The loop a phone app runs (the model card spells it out): start with every
queue zero and the sample class 128 (silence); each call returns the next
sample's 256 probabilities and the updated queues; draw a class from the
probabilities (sharpened or flattened by a temperature), feed it and the
queues back, and turn the classes into samples with mu-law decoding.
`TFLiteStep` is that loop's call on a TFLite step model, `KerasStep` on the
Keras one; `generate` is the loop.
"""

import time
from pathlib import Path

import numpy as np

from kerasdl.errors import UserError

SILENCE = 128  # the mu-law class of the sample 0.0: what the first call reads
MAX_SECONDS = 60.0


def draw(probabilities, temperature, rng):
    """One class per row of `probabilities` `(batch, 256)`: sampled from
    them raised to `1 / temperature` and renormalised; the most likely
    class at temperature 0."""
    if temperature == 0:
        return np.argmax(probabilities, axis=1).astype(np.int32)
    # In logs, relative to the likeliest class: a low temperature's powers
    # would underflow to zero for every class.
    if temperature == 1:
        weights = probabilities.astype(np.float64)
    else:
        logs = np.log(np.maximum(probabilities.astype(np.float64), 1e-30)) / temperature
        weights = np.exp(logs - logs.max(axis=1, keepdims=True))
    cumulative = np.cumsum(weights, axis=1)
    targets = rng.random(len(weights)) * cumulative[:, -1]
    return np.minimum((cumulative < targets[:, None]).sum(axis=1), weights.shape[1] - 1).astype(np.int32)


def generate(step, conditions, steps, temperature=1.0, seed=0):
    """Classes `(len(conditions), steps)` drawn one sample at a time.

    Args:
        step: `(samples, conditions, queues) -> (probabilities, queues)`, a
            `TFLiteStep` or `KerasStep`; `step.queue_shapes` are the queues'
            shapes without the batch axis.
        conditions: int label indices, one clip each.
        steps: samples per clip.
        temperature: see `draw`.
        seed: seeds the draws.
    """
    rng = np.random.default_rng(seed)
    conditions = np.asarray(conditions, dtype=np.int32)
    queues = [np.zeros((len(conditions), *shape), np.float32) for shape in step.queue_shapes]
    sample = np.full(len(conditions), SILENCE, np.int32)
    classes = np.zeros((len(conditions), steps), np.int32)
    for index in range(steps):
        probabilities, queues = step(sample, conditions, queues)
        sample = draw(probabilities, temperature, rng)
        classes[:, index] = sample
    return classes


def decoded(classes):
    """Samples in [-1, 1] of mu-law `classes` (`kerasdl.models.wavenet.mu_law_decode`)."""
    from kerasdl.models.wavenet import mu_law_decode

    return np.asarray(mu_law_decode(np.asarray(classes)), dtype=np.float32)


class TFLiteStep:
    """A TFLite step model (batch 1), called by tensor index.

    Each call sets the sample and the condition, and the queues it is given;
    after the invoke, each updated queue is copied straight from the output
    tensor into its input tensor, and the call returns `HELD` for the
    queues: handed back, it means "as the model left them", so a
    generation loop moves each queue once a step instead of three times (out
    into a new array, and back in), a third of a step's time.
    `hold_state=False` returns the queues as arrays instead (to record them).
    """

    HELD = ("the queues, kept in the interpreter",)

    def __init__(self, model_content, num_threads=1, xnnpack=True, hold_state=True):
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        resolver = OpResolverType.AUTO if xnnpack else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        try:
            self.interpreter = Interpreter(
                model_content=model_content, num_threads=num_threads, experimental_op_resolver_type=resolver
            )
            self.interpreter.allocate_tensors()
            runner = self.interpreter.get_signature_runner("serving_default")
            inputs, outputs = runner.get_input_details(), runner.get_output_details()
        except (ValueError, RuntimeError) as error:
            raise UserError(f"Cannot load the TFLite model: {str(error).strip().splitlines()[0]}") from None
        del runner  # it holds no tensors, but the loop below needs none of its checks
        count = sum(1 for name in inputs if name.startswith("queue"))
        self.queue_shapes = [tuple(inputs[f"queue{i}"]["shape"][1:]) for i in range(count)]
        # An unconditioned model's converter may drop its unused condition input.
        self._inputs = [inputs[name]["index"] for name in ("sample", "condition") if name in inputs]
        self._queues_in = [inputs[f"queue{i}"]["index"] for i in range(count)]
        self._probabilities = outputs["next_sample"]["index"]
        self._queues_out = [outputs[f"queue{i}"]["index"] for i in range(count)]
        # Functions returning NumPy views of the tensors: a view must be
        # dropped before the next invoke, so each is made, used and let go.
        tensor = self.interpreter.tensor
        self._moves = [(tensor(out), tensor(into)) for out, into in zip(self._queues_out, self._queues_in, strict=True)]
        self.hold_state = hold_state

    def __call__(self, samples, conditions, queues):
        set_tensor, get_tensor = self.interpreter.set_tensor, self.interpreter.get_tensor
        for index, value in zip(self._inputs, (samples, conditions), strict=False):
            set_tensor(index, value)
        if queues is not self.HELD:
            for index, queue in zip(self._queues_in, queues, strict=True):
                set_tensor(index, queue)
        self.interpreter.invoke()
        if not self.hold_state:
            return get_tensor(self._probabilities), [get_tensor(index) for index in self._queues_out]
        for out, into in self._moves:
            into()[...] = out()
        return get_tensor(self._probabilities), self.HELD


class KerasStep:
    """A Keras step model (`kerasdl.models.wavenet_step`), any batch size."""

    def __init__(self, model):
        from kerasdl.models.wavenet_step import queue_inputs

        self.model = model
        self.queue_shapes = [tuple(tensor.shape[1:]) for tensor in queue_inputs(model)]
        self.names = [f"queue{i}" for i in range(len(self.queue_shapes))]

    def __call__(self, samples, conditions, queues):
        inputs = {"sample": samples, "condition": conditions} | dict(zip(self.names, queues, strict=True))
        outputs = self.model.predict_on_batch(inputs)
        return np.asarray(outputs["next_sample"]), [np.asarray(outputs[name]) for name in self.names]


def generate_wav(run_dir, card, seconds, condition, out, variant="float32", temperature=1.0, seed=0):
    """`kerasdl predict RUN --generate SECONDS --condition LABEL --out FILE.wav`.

    Returns `{"file", "seconds", "sample_rate", "condition", "temperature", "real_time_factor"}`.
    """
    from kerasdl.prediction import read_model, variant_entry
    from kerasdl.wav import write_wav

    if not 0 < seconds <= MAX_SECONDS:
        raise UserError(f"--generate takes seconds in (0, {MAX_SECONDS:g}], got {seconds:g}")
    if not 0 <= temperature <= 10:
        raise UserError(f"--temperature must be in [0, 10] (1 samples the model as it is), got {temperature:g}")
    labels = [str(label) for label in card["labels"]]
    if condition is None or str(condition) not in labels:
        raise UserError(f"--condition must be one of this model's labels: {', '.join(labels)}; got {condition!r}")
    out = Path(out or f"generated_{condition}.wav")
    if out.suffix.lower() != ".wav":
        raise UserError(f"--out {str(out)!r} must name a .wav file")
    entry = variant_entry(card, variant)
    rate = card["generation"]["sample_rate"]
    if round(seconds * rate) < 1:
        raise UserError(f"--generate {seconds:g} is less than one sample at {rate} Hz")
    step = TFLiteStep(read_model(Path(run_dir) / entry["file"]), xnnpack=entry.get("xnnpack", True))
    began = time.perf_counter()
    classes = generate(step, [labels.index(str(condition))], round(seconds * rate), temperature, seed)
    spent = time.perf_counter() - began
    write_wav(out, decoded(classes[0]), rate)
    return {
        "file": str(out),
        "seconds": seconds,
        "sample_rate": rate,
        "condition": str(condition),
        "temperature": temperature,
        "real_time_factor": spent / seconds,
    }
