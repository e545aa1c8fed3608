"""Portable copies of a trained model for export: float32, RNNs unrolled.

Both copies share the trained weights and differ only in how they compute:

- Mixed precision (`mixed_bfloat16`, `mixed_float16`) puts bf16/f16 casts in
  the graph, which TFLite's builtin ops cannot express; the weights are float32
  variables either way, so a float32 copy is the same network, computed in
  full precision.
- Keras 3 RNNs run a `while` loop whose TensorList ops the TFLite converter
  cannot lower to builtins. The sequence length is fixed by the input shape,
  so an unrolled copy changes the graph, not the numbers.
"""

import keras

from kerasdl.distribute import precision_policy


def all_layers(model):
    """Every layer, including those inside Bidirectional wrappers and nested models."""
    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.layers.Bidirectional):
            yield layer.forward_layer
            yield layer.backward_layer
        if isinstance(layer, keras.Model):
            yield from all_layers(layer)


def has_rnn(model):
    return any(isinstance(layer, keras.layers.RNN) for layer in all_layers(model))


def is_float32(model):
    return all(layer.dtype_policy.compute_dtype == "float32" for layer in all_layers(model))


def portable_copy(model, unroll=False):
    """The model with float32 layers (and unrolled RNNs if `unroll`), same weights.

    Returns `model` itself when nothing would change.
    """
    if is_float32(model) and not (unroll and has_rnn(model)):
        return model
    config = model.get_config()
    _rewrite(config, unroll)
    with precision_policy("float32"):
        copy = model.__class__.from_config(config)
    copy.set_weights(model.get_weights())
    return copy


def _rewrite(node, unroll):
    if isinstance(node, dict):
        dtype = node.get("dtype")
        if isinstance(dtype, dict) and "DTypePolicy" in str(dtype.get("class_name", "")):
            node["dtype"] = "float32"
        if unroll and "unroll" in node:
            node["unroll"] = True
        for value in node.values():
            _rewrite(value, unroll)
    elif isinstance(node, list):
        for value in node:
            _rewrite(value, unroll)
