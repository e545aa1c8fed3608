"""Conversion to TFLite with builtin ops only, and the check that proves it."""

import os
import tempfile
import warnings

import tensorflow as tf

from kerasdl.errors import RunFailed
from kerasdl.export.selective import quantize_after, quantize_before
from kerasdl.litert_runner import BUILTIN_NAMES as _BUILTIN_NAMES
from kerasdl.litert_runner import list_ops
from kerasdl.quiet import captured_native_output

# Control flow and tensor lists: builtins in name, but they keep a phone from
# running the model on most delegates, and they mean an RNN was not unrolled.
_DISALLOWED_BUILTINS = {"WHILE", "IF", "CALL_ONCE"}


def convert_variant(
    source,
    variant,
    representative=None,
    int8_io="float",
    allow_flex=False,
    token_input=False,
    quantize_until=None,
    float_until=None,
):
    """Converts a SavedModel's `serving_default` to one TFLite variant.

    Args:
        source: SavedModel folder of the portable model (float32, unrolled).
        variant: `float32`; `float16` (float16 weights); `dynamic`
            (dynamic-range: int8 weights, float activations); `int8` (full
            integer, calibrated on `representative`).
        representative: for `int8`, a callable yielding `[example_batch]`
            lists drawn from the training split, prepared as the model takes
            them.
        int8_io: for `int8`, the input/output type: `float` (the model
            quantizes inside), `int8` or `uint8`.
        allow_flex: permit TensorFlow (Flex) ops; a phone app then needs the
            Flex delegate.
        token_input: the input is int32 token ids, which stay int32 whatever
            `int8_io` says (only the output type follows it).
        quantize_until: for `int8`, the name of the Keras layer whose output
            ends the quantized part; the ops after it stay float32 (a
            detector's decoding and NMS, `kerasdl.export.selective`).
        float_until: for `int8`, the name of the Keras layer whose output
            ends a float32 front end; the ops after it are quantized (an
            audio model's spectrogram).

    Returns:
        `(flatbuffer_bytes, op_names)`.

    Raises:
        RunFailed: the converter failed or produced ops outside the builtin set.
    """
    converter = tf.lite.TFLiteConverter.from_saved_model(str(source))
    ops_sets = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if variant == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif variant == "dynamic":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif variant == "int8":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative
        ops_sets = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if int8_io != "float":
            converter.inference_output_type = getattr(tf, int8_io)
            if not token_input:
                converter.inference_input_type = getattr(tf, int8_io)
    elif variant != "float32":
        raise ValueError(f"Unknown variant {variant!r}")
    selective = variant == "int8" and (quantize_until or float_until)
    if selective:
        ops_sets.append(tf.lite.OpsSet.TFLITE_BUILTINS)  # the float32 part
    if allow_flex:
        ops_sets.append(tf.lite.OpsSet.SELECT_TF_OPS)
    converter.target_spec.supported_ops = ops_sets
    with captured_native_output() as converter_log, warnings.catch_warnings():
        # The quantization debugger builds a tf.lite.Interpreter, which warns that it is deprecated.
        warnings.simplefilter("ignore", UserWarning)
        try:
            if selective:
                float_model = tf.lite.TFLiteConverter.from_saved_model(str(source)).convert()
                if quantize_until:
                    flatbuffer = quantize_before(converter, float_model, quantize_until, representative)
                else:
                    flatbuffer = quantize_after(converter, float_model, float_until, representative)
            else:
                flatbuffer = converter.convert()
        except Exception as error:  # the converter raises several kinds
            detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise RunFailed(
                f"TFLite conversion ({variant}) failed: {detail[:300]} (converter log: {converter_log.tail()[:300]})"
            ) from None
    ops = list_ops(flatbuffer)
    check_builtin_only(ops, allow_flex=allow_flex)
    return flatbuffer, ops


def convert_to_tflite(model, info, sample, variant="float32", fused_lstm=False):
    """Converts a Keras model straight to one variant (float32 by default).

    The converter reads a float32 copy that shares the trained weights, with
    RNNs unrolled (or LSTMs fused, if asked); see `kerasdl.export.fused`.

    Args:
        model: a trained `keras.Model`.
        info: the data's `DataInfo`.
        sample: a few inputs, to check a fused twin against the model.
        variant: a TFLite variant name.
        fused_lstm: try fused LSTM ops.

    Returns:
        `(flatbuffer_bytes, op_names)`.
    """
    from kerasdl.export.fused import write_conversion_source

    with tempfile.TemporaryDirectory(prefix="kerasdl-tflite-") as workdir:
        source = os.path.join(workdir, "saved_model")
        write_conversion_source(model, info, source, sample, fused_lstm)
        return convert_variant(source, variant)


def flex_ops(ops):
    return [op for op in ops if op.startswith("Flex")]


def check_builtin_only(ops, allow_flex=False):
    """Raises `RunFailed` naming any Flex, custom or control-flow op.

    With `allow_flex`, Flex ops pass (the caller warns); other custom ops and
    control flow still fail.
    """
    custom = [op for op in ops if op not in _BUILTIN_NAMES.values()]
    if allow_flex:
        custom = [op for op in custom if not op.startswith("Flex")]
    bad = custom + [op for op in ops if op in _DISALLOWED_BUILTINS]
    if bad:
        raise RunFailed(
            f"The TFLite model needs ops outside the builtin set: {', '.join(sorted(bad))}; "
            "a phone app could not run it without the Flex delegate"
        )
