"""int8 models whose post-processing stays float32 (selective quantization).

A detector's TFLite model ends in decoding and NMS: box corners in input
pixels (0 to the image side), class scores (0 to 1), class indices and
per-class box offsets of several image sides, joined into one output. Full
integer quantization gives each tensor one int8 scale, so the joined
`detections` had a step of over a pixel and every score rounded to 0 or one
step: on BCCD the int8 model's mAP@0.5:0.95 was 0.000 against the Keras
model's 0.540 (the collapse Ultralytics users report). Quantizing the
network only, up to its output layer, and computing the post-processing in
float32 gave 0.536. TensorFlow's documented way to keep chosen ops float is
the quantization debugger's `denylisted_nodes`; the nodes are found by
walking the float model's graph from the network's output.

An audio classifier needs the other way round (`quantize_after`): its
front end squares the STFT, whose power spans ten orders of magnitude,
which one 8-bit scale cannot hold (the int8 FSDD model agreed with Keras
on 17% of the clips); the spectrogram stays float32 and the CNN after it
is quantized.
"""

import tensorflow as tf
from ai_edge_litert import schema_py_generated as schema


def downstream_tensors(flatbuffer, layer_name):
    """Names of the tensors computed from the output of the Keras layer
    `layer_name` (the layer's own output excluded), in a float TFLite model.

    The layer's output is the tensor whose name has `/<layer_name>` in it and
    that no op of that layer consumes further (the last one written)."""
    graph = schema.Model.GetRootAs(flatbuffer, 0).Subgraphs(0)
    names = [graph.Tensors(index).Name().decode() for index in range(graph.TensorsLength())]
    marked = [index for index, name in enumerate(names) if f"/{layer_name}" in name]
    if not marked:
        raise ValueError(f"No tensor of layer {layer_name!r} in the TFLite model")
    reached = {max(marked)}
    found = []
    for position in range(graph.OperatorsLength()):  # operators are stored in execution order
        operator = graph.Operators(position)
        if reached & set(operator.InputsAsNumpy().tolist()):
            outputs = operator.OutputsAsNumpy().tolist()
            reached.update(outputs)
            found += [names[index] for index in outputs]
    return found


def upstream_tensors(flatbuffer, layer_name):
    """Names of the tensors the output of the Keras layer `layer_name` is
    computed from, that output included, in a float TFLite model (found as
    in `downstream_tensors`)."""
    graph = schema.Model.GetRootAs(flatbuffer, 0).Subgraphs(0)
    names = [graph.Tensors(index).Name().decode() for index in range(graph.TensorsLength())]
    marked = [index for index, name in enumerate(names) if f"/{layer_name}" in name]
    if not marked:
        raise ValueError(f"No tensor of layer {layer_name!r} in the TFLite model")
    producers = {}
    for position in range(graph.OperatorsLength()):
        operator = graph.Operators(position)
        for output in operator.OutputsAsNumpy().tolist():
            producers[output] = operator
    wanted, found = [max(marked)], set()
    while wanted:  # walk back from the layer's output through the ops that made each input
        tensor = wanted.pop()
        if tensor in found or tensor not in producers:
            continue  # seen, or a model input or a constant
        found.add(tensor)
        wanted += [index for index in producers[tensor].InputsAsNumpy().tolist() if index >= 0]
    return [names[index] for index in sorted(found)]


def quantize_after(converter, float_flatbuffer, layer_name, representative):
    """`converter` (set up for int8) keeping everything up to the output of
    `layer_name` in float32 and quantizing the ops after it.

    Returns:
        The int8 flatbuffer (float32 input and outputs).
    """
    return _debugged(converter, upstream_tensors(float_flatbuffer, layer_name), representative)


def quantize_before(converter, float_flatbuffer, layer_name, representative):
    """`converter` (set up for int8) quantizing everything up to the output
    of `layer_name`; the ops after it run in float32 with float outputs.

    Returns:
        The int8 flatbuffer (float32 input and outputs).
    """
    return _debugged(converter, downstream_tensors(float_flatbuffer, layer_name), representative)


def _debugged(converter, float_tensors, representative):
    """The quantized model of `converter` with the ops making `float_tensors` left in float32."""
    options = tf.lite.experimental.QuantizationDebugOptions(denylisted_nodes=float_tensors)
    debugger = tf.lite.experimental.QuantizationDebugger(
        converter=converter, debug_dataset=representative, debug_options=options
    )
    return debugger.get_nondebug_quantized_model()
