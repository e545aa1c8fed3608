"""One TFLite variant: convert, verify on the test split, time, describe.

Every variant takes the raw input the data has (pixels 0-16 for the digits,
raw features), with normalisation inside, except one: the int8 variant of a
tabular model takes standardised features. Full-integer models quantize
their input with one scale for the whole tensor, and raw tabular features
span very different ranges (0.05 next to 4,000 in the breast-cancer data), so
the small ones would all round to zero; measured on breast_cancer_ann, a
raw-input int8 model agreed with Keras on 62% of the test split. The card
tells the phone app to standardise with the mean and variance it lists.
"""

import keras
import numpy as np

from kerasdl import tasks
from kerasdl.errors import RunFailed
from kerasdl.export.latency import tflite_latency
from kerasdl.export.portable import portable_copy
from kerasdl.export.savedmodel import write_saved_model
from kerasdl.export.tflite import convert_variant, flex_ops
from kerasdl.export.verify import measure_parity
from kerasdl.litert_runner import TFLiteRunner
from kerasdl.models import FLOAT_FRONT_ENDS

VARIANT_FILES = {
    "float32": "model.tflite",
    "float16": "model_float16.tflite",
    "dynamic": "model_dynamic.tflite",
    "int8": "model_int8.tflite",
}
CALIBRATION_EXAMPLES = 300


def takes_standardised_input(variant, info):
    return variant == "int8" and info.kind == "tabular"


def export_variant(variant, model, dataset, config, test, staging, raw_source, log=print):
    """Converts, checks and times one variant; writes its file into `staging`.

    Args:
        variant: a name from `VARIANT_FILES`.
        model: the trained `keras.Model`.
        dataset: the run's `Dataset`.
        config: the run's `Config` (`int8_io`, `allow_flex`, `seed`).
        test: `(inputs, labels, expected)`: the test examples the export
            checks on (`parity_examples`) and the float32 Keras model's outputs
            on them.
        staging: the export's staging folder.
        raw_source: `(path, recurrent)` from `write_conversion_source`: the
            raw-input SavedModel the converter reads, and how its recurrent
            layers were made convertible.
        log: where warnings go.

    Returns:
        The variant's model-card entry; `{"rejected": reason}` for a
        quantized variant whose parity falls short (its file is not written).

    Raises:
        RunFailed: any failure of the float32 variant, or a conversion error.
    """
    test_inputs, test_labels, expected = test
    if takes_standardised_input(variant, dataset.info):
        head, prepare = _standardised_head(model)
        source, recurrent = staging / "source-standardised", "none"
        if not source.exists():
            write_saved_model(head, dataset.info, source, raw_signature=False)
    else:
        (source, recurrent), prepare = raw_source, _unchanged
    flatbuffer, ops = convert_variant(
        source,
        variant,
        representative=_calibration(dataset, prepare, config.seed),
        int8_io=config.int8_io,
        allow_flex=config.allow_flex,
        token_input=dataset.info.kind == "text",
        quantize_until=getattr(tasks.get(config.task), "QUANTIZE_UNTIL", None),
        float_until=FLOAT_FRONT_ENDS.get(config.model),
    )
    prepared = prepare(test_inputs)
    task = tasks.get(config.task)
    try:
        parity, xnnpack = _measure(task, expected, flatbuffer, prepared, test_labels)
        problem = task.parity_problem(variant, parity)
    except RuntimeError as error:
        parity, problem = None, f"LiteRT cannot run it: {str(error).strip().splitlines()[0][:200]}"
    if problem and variant == "float32":
        raise RunFailed(f"The TFLite model disagrees with the Keras model: {problem}; nothing was exported")
    if problem:
        log(f"warning: TFLite variant {variant} left out: {problem}")
        return {"rejected": problem} | ({"parity": parity.as_dict()} if parity else {})
    if flex_ops(ops):
        log(f"warning: {variant} uses TensorFlow ops ({', '.join(flex_ops(ops))}); a phone app needs the Flex delegate")
    (staging / VARIANT_FILES[variant]).write_bytes(flatbuffer)
    runner = TFLiteRunner(flatbuffer, xnnpack=xnnpack, output=task.OUTPUT)
    entry = {
        "file": VARIANT_FILES[variant],
        "size_bytes": len(flatbuffer),
        "input": _tensor_entry(runner.input_details, runner.input_name, prepare is not _unchanged),
        "output": _tensor_entry(runner.output_details, task.OUTPUT, None),
        "ops": ops,
        "recurrent_layers": recurrent,
        "builtins_only": not flex_ops(ops),
        "parity": parity.as_dict() | {"compared_with": "the Keras model, computing in float32"},
        "latency_ms": tflite_latency(flatbuffer, prepared[:1], xnnpack=xnnpack, output=task.OUTPUT),
        "xnnpack": xnnpack,
    }
    if not xnnpack:
        entry["delegate"] = (
            "XNNPACK, LiteRT's default CPU delegate, cannot prepare this model: create the interpreter without "
            "it (Interpreter.Options().setUseXNNPACK(false) on Android; "
            "experimental_op_resolver_type=BUILTIN_WITHOUT_DEFAULT_DELEGATES in Python)"
        )
    if runner.stateful:
        entry["stateful"] = (
            "batch of 1; reset the interpreter's variable tensors before every input "
            "(Interpreter.resetVariableTensors() on Android, reset_all_variables() in Python)"
        )
    return entry


def _measure(task, expected, flatbuffer, inputs, labels):
    """Parity as a phone runs the model: with XNNPACK, else with the plain builtin kernels.

    XNNPACK cannot prepare some op combinations that the builtin kernels run
    correctly (measured: an int8 LSTM over a masked embedding fails with
    "failed to create XNNPACK runtime"); such a variant ships with the
    delegate off and the card says so.
    """
    try:
        return measure_parity(task, expected, flatbuffer, inputs, labels), True
    except RuntimeError:
        return measure_parity(task, expected, flatbuffer, inputs, labels, xnnpack=False), False


def _unchanged(inputs):
    return inputs


def _standardised_head(model):
    """The network after its normalisation layer, and how inputs reach it."""
    portable = portable_copy(model)
    normalize = portable.get_layer("normalize")
    head = keras.Model(normalize.output, portable.output, name=f"{portable.name}_standardised")
    return head, lambda inputs: np.asarray(normalize(inputs), dtype=np.float32)


def _calibration(dataset, prepare, seed):
    """A seeded sample of the training split, prepared as the model takes it."""
    chosen = prepare(dataset.sample("train", CALIBRATION_EXAMPLES, seed)[0])

    def examples():
        for example in chosen:
            yield [example[np.newaxis]]

    return examples


def _tensor_entry(details, name, standardised):
    entry = {"name": name, "dtype": np.dtype(details["dtype"]).name}
    scale, zero_point = details["quantization"]
    if scale:
        entry["quantization"] = {"scale": float(scale), "zero_point": int(zero_point)}
    if standardised is not None:
        entry["preprocessing"] = "standardise" if standardised else "none"
    return entry
