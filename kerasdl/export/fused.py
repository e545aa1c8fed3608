"""Opt-in (`fused_lstm=true`): LSTMs as fused TFLite `UNIDIRECTIONAL_SEQUENCE_LSTM` ops.

The TFLite converter fuses an LSTM into one builtin op only when the layer is
Keras 2's (`tf_keras`): its TensorFlow function carries the `api_implements`
annotation the converter looks for, and Keras 3 layers do not. So, for export
only, kerasdl rebuilds the recurrent model as a `tf_keras` twin with the same
weights, checks that the twin computes the same outputs, and converts that.

Measured on digits_rnn (bidirectional LSTM, 128 units): the unrolled int8 file
is 0.39x of float32, because unrolling repeats the graph and its quantization
parameters for every time step; the fused int8 file is 0.27x.

Why it is not the default: the fused op needs a static batch of 1, and it
keeps its hidden and cell state in variable tensors *across calls*. A phone
app must reset them before every input (`Interpreter.resetVariableTensors()`);
called example after example without the reset, the digits_rnn twin agreed
with Keras on 12% of the test split. The model card says so, and kerasdl's
own runner resets; the unrolled default cannot be misused that way.

Models with GRU layers (TFLite has no fused GRU) or with layers this module
does not map fall back to the unrolled copy.
"""

import keras
import numpy as np
import tensorflow as tf

from kerasdl.export.portable import all_layers, has_rnn, portable_copy
from kerasdl.export.savedmodel import write_saved_model

FUSED_OPS = {"UNIDIRECTIONAL_SEQUENCE_LSTM", "BIDIRECTIONAL_SEQUENCE_LSTM"}
_PASS_THROUGH = (keras.layers.Dropout, keras.layers.InputLayer)


def write_conversion_source(model, info, path, sample, fused_lstm=False, task=None):
    """Writes the SavedModel the TFLite converter reads: float32, builtin-ready.

    Args:
        model: the trained model (any precision).
        info: the data's `DataInfo`.
        path: destination folder.
        sample: a few inputs, to check a fused twin against the model.
        fused_lstm: try the fused-LSTM twin first.
        task: the run's task module, whose `serving_outputs` the TFLite
            model computes; None is `classify`.

    Returns:
        How recurrent layers were made convertible: `fused` (stateful LSTM
        ops, batch 1), `unrolled`, or `none` (no recurrent layer).
    """
    portable = portable_copy(model)
    twin = fused_twin(portable, sample) if fused_lstm else None
    if twin is not None:
        spec = tf.TensorSpec((1, *info.input_shape), tf.float32, name=info.input_name)
        serve = tf.function(lambda inputs: {"probabilities": twin(inputs, training=False)})
        tf.saved_model.save(twin, str(path), signatures={"serving_default": serve.get_concrete_function(spec)})
        return "fused"
    write_saved_model(portable_copy(model, unroll=True), info, path, raw_signature=False, task=task)
    return "unrolled" if has_rnn(model) else "none"


def fused_twin(model, sample):
    """A `tf_keras` twin of a chain-shaped LSTM model, or None if there is none.

    Args:
        model: the trained Keras 3 model, computing in float32.
        sample: a few inputs; the twin must reproduce the model's outputs on
            them to within 1e-5, or it is not used.
    """
    layers = list(all_layers(model))
    if not any(isinstance(layer, keras.layers.LSTM) for layer in layers):
        return None
    if any(isinstance(layer, keras.layers.GRU) for layer in layers) or len(model.inputs) != 1:
        return None
    import tf_keras

    inputs = tf_keras.Input(tuple(model.inputs[0].shape[1:]))
    x, pairs = inputs, []
    for layer in model.layers:  # a chain: each layer feeds the next
        if isinstance(layer, _PASS_THROUGH):
            continue
        twin_layer = _twin_layer(tf_keras, layer)
        if twin_layer is None:
            return None
        x = twin_layer(x)
        pairs.append((twin_layer, layer))
    twin = tf_keras.Model(inputs, x, name=f"{model.name}_fused")
    for twin_layer, layer in pairs:
        if twin_layer.weights and not isinstance(layer, keras.layers.Normalization):
            twin_layer.set_weights(layer.get_weights())
    expected = np.asarray(model(sample, training=False))
    if not np.allclose(np.asarray(twin(sample, training=False)), expected, atol=1e-5):
        return None
    return twin


def _twin_layer(tf_keras, layer):
    config = layer.get_config()
    if isinstance(layer, keras.layers.Normalization):
        return tf_keras.layers.Normalization(axis=config["axis"], mean=config["mean"], variance=config["variance"])
    if isinstance(layer, keras.layers.Reshape):
        return tf_keras.layers.Reshape(config["target_shape"])
    if isinstance(layer, keras.layers.Flatten):
        return tf_keras.layers.Flatten()
    if isinstance(layer, keras.layers.Dense):
        return tf_keras.layers.Dense(config["units"], activation=config["activation"], use_bias=config["use_bias"])
    if isinstance(layer, keras.layers.LSTM):
        return _twin_lstm(tf_keras, config)
    if isinstance(layer, keras.layers.Bidirectional) and isinstance(layer.forward_layer, keras.layers.LSTM):
        forward = _twin_lstm(tf_keras, layer.forward_layer.get_config())
        return tf_keras.layers.Bidirectional(forward, merge_mode=config["merge_mode"])
    return None


def _twin_lstm(tf_keras, config):
    return tf_keras.layers.LSTM(
        config["units"],
        activation=config["activation"],
        recurrent_activation=config["recurrent_activation"],
        use_bias=config["use_bias"],
        return_sequences=config["return_sequences"],
    )
