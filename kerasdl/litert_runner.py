"""Runs a TFLite model with the LiteRT interpreter, as a phone app does.

NumPy and LiteRT only (no TensorFlow): `kerasdl predict` imports it, and the
export's checks (`kerasdl.export.verify`) use it too.
"""

import numpy as np
from ai_edge_litert import schema_py_generated as schema
from ai_edge_litert.interpreter import Interpreter, OpResolverType

from kerasdl.errors import UserError

# At most this many input values (1 MB of float32) per call into LiteRT or
# Keras: 16 images of 128x128 (a U-Net's activations are about 60 times its
# input: 64 such images took about 0.8 GB in LiteRT, and Keras's predict at
# batch 256 held more), one of 512x512, 334 digits of 28x28.
MAX_INPUT_VALUES_PER_CALL = 2**18
BUILTIN_NAMES = {code: name for name, code in vars(schema.BuiltinOperator).items() if not name.startswith("_")}


def examples_per_call(example_shape, most=256):
    """How many examples of `example_shape` go into one call: as many as
    `MAX_INPUT_VALUES_PER_CALL` values allow, at least 1, at most `most`.

    Example:
        >>> examples_per_call((128, 128, 1))
        16
    """
    size = max(1, int(np.prod(example_shape)))
    return int(min(most, max(1, MAX_INPUT_VALUES_PER_CALL // size)))


class TFLiteRunner:
    """One TFLite model behind its `serving_default` signature, float in, float out.

    Integer inputs and outputs (an int8 model with `int8_io`) are quantized
    and dequantized with the scale and zero point stored in the model, as a
    phone app must do; token ids (int32, no scale) pass through unchanged.
    `xnnpack=False` runs LiteRT's builtin kernels without its default CPU
    delegate, for the models XNNPACK cannot prepare. `output` names the
    signature's output that is returned (the task's `OUTPUT`).
    """

    def __init__(self, model_content, num_threads=1, xnnpack=True, output="probabilities"):
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
        self.output = output
        self.output_details = self.runner.get_output_details()[output]
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
        return self.runner(**{self.input_name: prepared})[self.output]

    def __call__(self, inputs):
        prepared = self.quantize(inputs)
        # LiteRT sizes every activation for the whole batch it is given: the
        # verification of a 128x128 U-Net on 400 test images in one batch
        # peaked at 6.3 GB (bench_memory.py), so large inputs go in chunks.
        chunk = examples_per_call(prepared.shape[1:], most=len(prepared) or 1)
        first = self.invoke(prepared[:chunk])
        # Filled in place: a list of chunks and their concatenation would
        # hold the outputs twice at the end.
        outputs = np.empty((len(prepared), *first.shape[1:]), dtype=first.dtype)
        outputs[: len(first)] = first
        for start in range(chunk, len(prepared), chunk):
            outputs[start : start + chunk] = self.invoke(prepared[start : start + chunk])
        if self.output_details["dtype"] != np.float32:
            scale, zero_point = self.output_details["quantization"]
            outputs = (outputs.astype(np.float32) - zero_point) * scale
        return outputs


def tflite_predict(model_content, inputs, num_threads=1, xnnpack=True, output="probabilities"):
    """The output `output` of a TFLite model's `serving_default` signature."""
    return TFLiteRunner(model_content, num_threads, xnnpack, output)(inputs)


def list_ops(flatbuffer):
    """Sorted names of the operators in a TFLite flatbuffer (custom ops as named)."""
    tflite_model = schema.Model.GetRootAs(flatbuffer, 0)
    names = set()
    for index in range(tflite_model.OperatorCodesLength()):
        code = tflite_model.OperatorCodes(index)
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        if builtin == schema.BuiltinOperator.CUSTOM:
            names.add(code.CustomCode().decode())
        else:
            names.add(BUILTIN_NAMES.get(builtin, f"BUILTIN_{builtin}"))
    return sorted(names)
