"""Conversion to TFLite with builtin ops only, and the check that proves it."""

import os
import tempfile

import keras
import tensorflow as tf
from ai_edge_litert import schema_py_generated as schema

from kerasdl.errors import RunFailed
from kerasdl.export.savedmodel import write_saved_model
from kerasdl.quiet import captured_native_output

_BUILTIN_NAMES = {code: name for name, code in vars(schema.BuiltinOperator).items() if not name.startswith("_")}
# Control flow and tensor lists: builtins in name, but they keep a phone from
# running the model on most delegates, and they mean an RNN was not unrolled.
_DISALLOWED_BUILTINS = {"WHILE", "IF", "CALL_ONCE"}


def convert_to_tflite(model, info):
    """Converts `model` to a float32 TFLite flatbuffer with builtin ops only.

    Recurrent layers are converted from an unrolled copy that shares the
    trained weights: Keras 3 RNNs run a `while` loop whose TensorList ops the
    converter cannot lower to builtins. The sequence length is fixed by the
    input shape, so unrolling changes the graph, not the numbers.

    Returns:
        `(flatbuffer_bytes, op_names)`.

    Raises:
        RunFailed: the converter failed or produced non-builtin ops.
    """
    export_model = unrolled_copy(model) if has_rnn(model) else model
    with tempfile.TemporaryDirectory(prefix="kerasdl-tflite-") as workdir:
        write_saved_model(export_model, info, os.path.join(workdir, "saved_model"))
        converter = tf.lite.TFLiteConverter.from_saved_model(os.path.join(workdir, "saved_model"))
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        with captured_native_output() as converter_log:
            try:
                flatbuffer = converter.convert()
            except Exception as error:  # the converter raises several kinds
                detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
                raise RunFailed(f"TFLite conversion failed: {detail} (converter log: {converter_log.tail()})") from None
    ops = list_ops(flatbuffer)
    check_builtin_only(ops)
    return flatbuffer, ops


def has_rnn(model):
    return any(isinstance(layer, keras.layers.RNN) for layer in _all_layers(model))


def unrolled_copy(model):
    """The same architecture with every RNN layer's `unroll=True`, same weights."""
    config = model.get_config()
    _set_unroll(config)
    copy = model.__class__.from_config(config)
    copy.set_weights(model.get_weights())
    return copy


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


def _set_unroll(node):
    if isinstance(node, dict):
        if "unroll" in node:
            node["unroll"] = True
        for value in node.values():
            _set_unroll(value)
    elif isinstance(node, list):
        for value in node:
            _set_unroll(value)


def _all_layers(model):
    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.layers.Bidirectional):
            yield layer.forward_layer
        if isinstance(layer, keras.Model):
            yield from _all_layers(layer)
