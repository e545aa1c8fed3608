"""Conversion to TFLite with builtin ops only, and the check that proves it."""

import os
import tempfile

import tensorflow as tf
from ai_edge_litert import schema_py_generated as schema

from kerasdl.errors import RunFailed
from kerasdl.export.portable import portable_copy
from kerasdl.export.savedmodel import write_saved_model
from kerasdl.quiet import captured_native_output

_BUILTIN_NAMES = {code: name for name, code in vars(schema.BuiltinOperator).items() if not name.startswith("_")}
# Control flow and tensor lists: builtins in name, but they keep a phone from
# running the model on most delegates, and they mean an RNN was not unrolled.
_DISALLOWED_BUILTINS = {"WHILE", "IF", "CALL_ONCE"}


def convert_to_tflite(model, info):
    """Converts `model` to a float32 TFLite flatbuffer with builtin ops only.

    The conversion reads a portable copy (float32, RNNs unrolled) that shares
    the trained weights; see `kerasdl.export.portable`.

    Returns:
        `(flatbuffer_bytes, op_names)`.

    Raises:
        RunFailed: the converter failed or produced non-builtin ops.
    """
    with tempfile.TemporaryDirectory(prefix="kerasdl-tflite-") as workdir:
        source = os.path.join(workdir, "saved_model")
        write_saved_model(portable_copy(model, unroll=True), info, source)
        converter = tf.lite.TFLiteConverter.from_saved_model(source)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        with captured_native_output() as converter_log:
            try:
                flatbuffer = converter.convert()
            except Exception as error:  # the converter raises several kinds
                detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
                raise RunFailed(
                    f"TFLite conversion failed: {detail[:300]} (converter log: {converter_log.tail()[:300]})"
                ) from None
    ops = list_ops(flatbuffer)
    check_builtin_only(ops)
    return flatbuffer, ops


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
            names.add(_BUILTIN_NAMES.get(builtin, f"BUILTIN_{builtin}"))
    return sorted(names)


def check_builtin_only(ops):
    """Raises `RunFailed` naming any Flex, custom or control-flow op."""
    custom = [op for op in ops if op not in _BUILTIN_NAMES.values()]
    bad = custom + [op for op in ops if op in _DISALLOWED_BUILTINS]
    if bad:
        raise RunFailed(
            f"The TFLite model needs ops outside the builtin set: {', '.join(sorted(bad))}; "
            "a phone app could not run it without the Flex delegate"
        )
