"""The fast-WaveNet step model (Paine et al. 2016): one sample per call.

Generating with the full model recomputes the whole receptive field for
every new sample. Here each dilated layer keeps a queue of its past
inputs, so a sample costs one step of each layer. The queues are explicit
inputs and outputs: the TFLite step model is stateless and a phone app owns
the state. The step model reads the full model's weights (shared, not
copied) and reproduces its outputs along any rollout.

A step computes what the full model's layers compute at one time step, with
fewer, larger matrix products: a kernel-2 causal convolution at one step is
`[past, now] @ [kernel[0]; kernel[1]]`; a layer's filter, gate and
condition terms are one product with their kernels side by side; the 20
skip projections summed are one product of the concatenated gated units.
Measured on the default WaveNet (AMD Zen 5, one thread, float32 TFLite
with XNNPACK), one invoke took 105 us with a layer per convolution; the
fused step takes fewer ops and less time (`make bench`, `real_time_factor`).
"""

import keras

from kerasdl.models.wavenet import WaveNetLayers


def state_shapes(model):
    """The step model's queues, without the batch axis: `(1, residual)` for
    the causal convolution, then `(dilation, residual)` per dilated layer."""
    layers = _layers(model)
    residual = layers.embed.output_dim
    return [(1, residual)] + [(dilation, residual) for dilation in layers.dilations]


def step_model(model):
    """The step model of a full WaveNet `model` (shared weights).

    Inputs: `sample` int32 `(batch,)`, the class of the last sample;
    `condition` int32 `(batch,)`; `queue0`, `queue1`, ... float32 queues of
    `state_shapes(model)`, zeros at the start (the full model's causal
    padding), oldest entry first. Outputs: `next_sample` probabilities
    `(batch, 256)` and the updated queues, `queue0`, ... in the same order.

    Example:
        >>> step = step_model(build_wavenet(info))
        >>> outputs = step({"sample": ..., "condition": ..., "queue0": ..., ...})
    """
    layers = _layers(model)
    sample = keras.Input(shape=(), dtype="int32", name="sample")
    condition = keras.Input(shape=(), dtype="int32", name="condition")
    queues = [keras.Input(shape=shape, name=f"queue{i}") for i, shape in enumerate(state_shapes(model))]
    embedded = layers.embed(sample)
    x = PointwiseStep(layers.causal, name="causal_step")(keras.ops.concatenate([queues[0][:, 0], embedded], -1))
    updated = [embedded[:, None, :]]
    condition_vector = layers.condition(condition) if layers.condition is not None else None
    units = []
    for index, queue in enumerate(queues[1:]):
        conditioning = (
            (layers.condition_filters[index], layers.condition_gates[index]) if condition_vector is not None else ()
        )
        gated = GatedStep(layers.filters[index], layers.gates[index], *conditioning, name=f"layer{index}_step")
        unit = gated(queue[:, 0], x, condition_vector)
        shifted = x[:, None, :] if queue.shape[1] == 1 else keras.ops.concatenate([queue[:, 1:], x[:, None, :]], 1)
        updated.append(shifted)
        if index < len(layers.residuals):  # the last layer's output feeds only the skips
            x = x + PointwiseStep(layers.residuals[index], name=f"layer{index}_residual_step")(unit)
        units.append(unit)
    skips = SkipSum(layers.skips, name="skip_sum")(keras.ops.concatenate(units, -1))
    hidden = PointwiseStep(layers.head_hidden, name="head_hidden_step")(keras.ops.relu(skips))
    probabilities = layers.softmax(PointwiseStep(layers.head_output, name="head_logits_step")(hidden))
    inputs = {"sample": sample, "condition": condition} | {f"queue{i}": queue for i, queue in enumerate(queues)}
    outputs = {"next_sample": probabilities} | {f"queue{i}": queue for i, queue in enumerate(updated)}
    return keras.Model(inputs, outputs, name="wavenet_step")


def _layers(model):
    return getattr(model, "wavenet_layers", None) or WaveNetLayers.from_model(model)


def _flat_kernel(conv, dtype):
    """A `Conv1D` kernel `(width, in, out)` as `(width * in, out)`: the
    product with the inputs of its `width` taps side by side, oldest first."""
    kernel = keras.ops.cast(conv.kernel, dtype)
    return keras.ops.reshape(kernel, (-1, kernel.shape[-1]))


class PointwiseStep(keras.layers.Layer):
    """A `Conv1D` at one time step, its taps' inputs side by side (`(batch,
    width * in)`), with its own weights and activation."""

    def __init__(self, conv, **kwargs):
        super().__init__(**kwargs)
        self.conv = conv

    def call(self, inputs):
        outputs = keras.ops.matmul(inputs, _flat_kernel(self.conv, inputs.dtype))
        outputs = outputs + keras.ops.cast(self.conv.bias, inputs.dtype)
        return self.conv.activation(outputs)


class GatedStep(keras.layers.Layer):
    """One dilated layer's gated unit tanh(filter) x sigmoid(gate) at one
    step: the filter and gate convolutions (and the condition's projections)
    as one product of `[past, now, condition]` with their kernels."""

    def __init__(self, filters, gates, condition_filters=None, condition_gates=None, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.gates = filters, gates
        self.condition_filters, self.condition_gates = condition_filters, condition_gates

    def call(self, past, now, condition=None):
        dtype = now.dtype
        kernel = keras.ops.concatenate([_flat_kernel(self.filters, dtype), _flat_kernel(self.gates, dtype)], 1)
        inputs = [past, now]
        if self.condition_filters is not None:
            projections = [keras.ops.cast(self.condition_filters.kernel, dtype)]
            projections.append(keras.ops.cast(self.condition_gates.kernel, dtype))
            kernel = keras.ops.concatenate([kernel, keras.ops.concatenate(projections, 1)], 0)
            inputs.append(keras.ops.cast(condition, dtype))
        both = keras.ops.matmul(keras.ops.concatenate(inputs, -1), kernel)
        both = both + keras.ops.cast(keras.ops.concatenate([self.filters.bias, self.gates.bias], 0), dtype)
        width = self.filters.filters
        return keras.ops.tanh(both[:, :width]) * keras.ops.sigmoid(both[:, width:])


class SkipSum(keras.layers.Layer):
    """The sum of every layer's skip projection at one step, as one product
    of the gated units side by side with the projections' kernels stacked."""

    def __init__(self, skips, **kwargs):
        super().__init__(**kwargs)
        self.skips = skips

    def call(self, units):
        kernel = keras.ops.concatenate([_flat_kernel(skip, units.dtype) for skip in self.skips], 0)
        bias = sum(keras.ops.cast(skip.bias, units.dtype) for skip in self.skips)
        return keras.ops.matmul(units, kernel) + bias


def queue_inputs(step):
    """The step model's queue inputs in order, `queue0` first (Keras may
    keep a model's dict inputs in another order)."""
    named = {tensor.name: tensor for tensor in step.inputs}
    return [named[f"queue{index}"] for index in range(len(named) - 2)]
