"""Runs a TFLite model with LiteRT and compares it with the Keras model."""

import dataclasses

import numpy as np
from ai_edge_litert.interpreter import Interpreter

from kerasdl.errors import RunFailed

# float32 conversion changes the arithmetic order, not the maths: outputs may
# differ in the last bits, never by this much.
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


def tflite_predict(model_content, inputs, num_threads=1):
    """Class probabilities from the TFLite model's `serving_default` signature.

    Args:
        model_content: the flatbuffer bytes.
        inputs: a float32 batch shaped like the model's input.
        num_threads: LiteRT CPU threads.
    """
    interpreter = Interpreter(model_content=model_content, num_threads=num_threads)
    runner = interpreter.get_signature_runner("serving_default")
    (input_name,) = runner.get_input_details()
    outputs = runner(**{input_name: np.asarray(inputs, dtype=np.float32)})
    return outputs["probabilities"]


def check_parity(model, model_content, inputs, labels, tolerance=MAX_ABS_DIFF_FLOAT32):
    """Compares TFLite and Keras outputs; raises `RunFailed` on a mismatch.

    Args:
        model: the trained `keras.Model`.
        model_content: the TFLite flatbuffer.
        inputs: held-out inputs (the test split).
        labels: their labels, for the TFLite model's accuracy.
        tolerance: largest allowed absolute difference of any probability.

    Returns:
        A `Parity`.
    """
    expected = np.asarray(model.predict(inputs, verbose=0, batch_size=256), dtype=np.float32)
    actual = tflite_predict(model_content, inputs)
    parity = Parity(
        examples=len(inputs),
        top1_agreement=float(np.mean(expected.argmax(-1) == actual.argmax(-1))),
        max_abs_diff=float(np.max(np.abs(expected - actual))),
        accuracy=float(np.mean(actual.argmax(-1) == labels)),
    )
    if parity.top1_agreement < 1.0 or parity.max_abs_diff > tolerance:
        raise RunFailed(
            f"The TFLite model disagrees with the Keras model: top-1 agreement "
            f"{parity.top1_agreement:.2%}, max abs difference {parity.max_abs_diff:.2g} "
            f"(allowed 100% and {tolerance:g}); nothing was exported"
        )
    return parity
