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


def quantize_before(converter, float_flatbuffer, layer_name, representative):
    """`converter` (set up for int8) quantizing everything up to the output
    of `layer_name`; the ops after it run in float32 with float outputs.

    Returns:
        The int8 flatbuffer (float32 input and outputs).
    """
    options = tf.lite.experimental.QuantizationDebugOptions(
        denylisted_nodes=downstream_tensors(float_flatbuffer, layer_name)
    )
    debugger = tf.lite.experimental.QuantizationDebugger(
        converter=converter, debug_dataset=representative, debug_options=options
    )
    return debugger.get_nondebug_quantized_model()
