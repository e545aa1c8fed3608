"""Runs TFLite models with LiteRT and compares them with the Keras model."""

import dataclasses
import os

import numpy as np
from ai_edge_litert.interpreter import Interpreter, OpResolverType

from kerasdl.errors import UserError

# Smallest top-1 agreement with the Keras model for a variant to be shipped.
# float32 changes the arithmetic order, not the maths: it must agree fully and
# its probabilities may differ only in the last bits.
MIN_AGREEMENT = {"float32": 1.0, "float16": 0.99, "dynamic": 0.98, "int8": 0.98}
MAX_ABS_DIFF_FLOAT32 = 1e-4


@dataclasses.dataclass
class Parity:
    """How closely a TFLite model matches the Keras model on the same inputs."""

    examples: int
    top1_agreement: float
    max_abs_diff: float
    accuracy: float

    def as_dict(self):
        return dataclasses.asdict(self)


class TFLiteRunner:
    """One TFLite model behind its `serving_default` signature, float in, float out.

    Integer inputs and outputs (an int8 model with `int8_io`) are quantized
    and dequantized with the scale and zero point stored in the model, as a
    phone app must do; token ids (int32, no scale) pass through unchanged.
    `xnnpack=False` runs LiteRT's builtin kernels without its default CPU
    delegate, for the models XNNPACK cannot prepare.
    """

    def __init__(self, model_content, num_threads=1, xnnpack=True):
        from kerasdl.export.tflite import list_ops

        resolver = OpResolverType.AUTO if xnnpack else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        try:
            self.interpreter = Interpreter(
                model_content=model_content, num_threads=num_threads, experimental_op_resolver_type=resolver
            )
            self.interpreter.allocate_tensors()  # before the runner holds tensor references
            self.runner = self.interpreter.get_signature_runner("serving_default")
            ops = list_ops(model_content)
        except (ValueError, RuntimeError) as error:
            raise UserError(f"Cannot load the TFLite model: {str(error).strip().splitlines()[0]}") from None
        ((self.input_name, self.input_details),) = self.runner.get_input_details().items()
        self.output_details = self.runner.get_output_details()["probabilities"]
        # Fused LSTMs (fused_lstm=true) keep their state in variable tensors
        # between calls; every input is a new sequence.
        self.stateful = bool({"UNIDIRECTIONAL_SEQUENCE_LSTM", "BIDIRECTIONAL_SEQUENCE_LSTM"} & set(ops))

    def quantize(self, inputs):
        """Float inputs (or token ids) as the model's input dtype."""
        dtype = self.input_details["dtype"]
        scale, zero_point = self.input_details["quantization"]
        if dtype == np.float32 or not scale:
            return np.asarray(inputs, dtype=dtype)
        inputs = np.asarray(inputs, dtype=np.float32)
        limits = np.iinfo(dtype)
        return np.clip(np.round(inputs / scale + zero_point), limits.min, limits.max).astype(dtype)

    def invoke(self, prepared):
        """Runs already-quantized inputs; returns the raw output.

        A model with a static batch of 1 runs one example at a time, as on a
        phone; a stateful one is reset before each.
        """
        if tuple(self.input_details["shape_signature"][:1]) == (1,) and len(prepared) != 1:
            return np.concatenate([self.invoke(prepared[index : index + 1]) for index in range(len(prepared))])
        if self.stateful:
            self.interpreter.reset_all_variables()
        return self.runner(**{self.input_name: prepared})["probabilities"]

    def __call__(self, inputs):
        outputs = self.invoke(self.quantize(inputs))
        if self.output_details["dtype"] != np.float32:
            scale, zero_point = self.output_details["quantization"]
            outputs = (outputs.astype(np.float32) - zero_point) * scale
        return outputs


def tflite_predict(model_content, inputs, num_threads=1, xnnpack=True):
    """Class probabilities from a TFLite model's `serving_default` signature."""
    return TFLiteRunner(model_content, num_threads, xnnpack)(inputs)


# The parity run is the whole test split in one batch, split over every core:
# four image_cnn variants' parity runs took 2.4 s instead of 3.0 s (two
# cores, under cProfile). The outputs are those of one thread, bit for bit:
# seen for the four variants on 2,000 digits, and tested (test_export.py).
PARITY_THREADS = os.cpu_count() or 1


def measure_parity(expected, model_content, inputs, labels, xnnpack=True):
    """Compares a TFLite model's outputs with the Keras probabilities `expected`."""
    actual = tflite_predict(model_content, inputs, num_threads=PARITY_THREADS, xnnpack=xnnpack)
    return Parity(
        examples=len(inputs),
        top1_agreement=float(np.mean(expected.argmax(-1) == actual.argmax(-1))),
        max_abs_diff=float(np.max(np.abs(expected - actual))),
        accuracy=float(np.mean(actual.argmax(-1) == labels)),
    )


def parity_problem(variant, parity):
    """Why `parity` is not good enough for `variant`, or None if it is."""
    needed = MIN_AGREEMENT[variant]
    if parity.top1_agreement < needed:
        return f"top-1 agreement {parity.top1_agreement:.2%} with the Keras model is below {needed:.0%}"
    if variant == "float32" and parity.max_abs_diff > MAX_ABS_DIFF_FLOAT32:
        return f"max abs difference {parity.max_abs_diff:.2g} exceeds {MAX_ABS_DIFF_FLOAT32:g}"
    return None
