"""WaveNet (van den Oord et al. 2016): the next sample's distribution from the past ones.

Samples are mu-law companded to 256 classes (`mu_law_encode`). The model
embeds the previous sample's class, runs a causal convolution and stacks of
dilated causal convolutions (dilations 1, 2, ..., 512, repeated), each a
gated unit tanh(filter) x sigmoid(gate) with residual and skip connections,
and ends in a softmax over the 256 classes of the next sample. A label
(the word, the speaker) conditions every layer: its embedding is added to
each filter and gate ("global conditioning").

Generation one sample at a time with the full model recomputes the whole
receptive field for every sample. `step_model` is the fast-WaveNet form
(Paine et al. 2016): each dilated layer keeps a queue of its past inputs,
so a sample costs one step of each layer. The queues are explicit inputs
and outputs, so the TFLite step model is stateless and a phone app owns
the state. Both models share their weights; the step model reproduces the
full model's outputs along any rollout.
"""

import keras

from kerasdl.errors import UserError
from kerasdl.models.layers import check_at_least

QUANTIZATION_CHANNELS = 256  # 8-bit mu-law


def mu_law_encode(samples, channels=QUANTIZATION_CHANNELS):
    """Samples in [-1, 1] as int32 classes 0..channels-1 (mu-law companding).

    Example:
        >>> mu_law_encode(keras.ops.convert_to_tensor([-1.0, 0.0, 1.0]))  # [0, 128, 255]
    """
    mu = channels - 1.0
    samples = keras.ops.clip(samples, -1.0, 1.0)
    companded = keras.ops.sign(samples) * keras.ops.log1p(mu * keras.ops.abs(samples)) / keras.ops.log1p(mu)
    return keras.ops.cast(keras.ops.floor((companded + 1.0) / 2.0 * mu + 0.5), "int32")


def mu_law_decode(classes, channels=QUANTIZATION_CHANNELS):
    """Classes 0..channels-1 back to samples in [-1, 1] (the centre of each class)."""
    mu = channels - 1.0
    companded = 2.0 * keras.ops.cast(classes, "float32") / mu - 1.0
    return keras.ops.sign(companded) * ((1.0 + mu) ** keras.ops.abs(companded) - 1.0) / mu


def dilations(layers_per_stack=10, stacks=2):
    """1, 2, 4, ... 2**(layers_per_stack - 1), `stacks` times."""
    return [2**layer for _ in range(stacks) for layer in range(layers_per_stack)]


def receptive_field(layers_per_stack=10, stacks=2):
    """Samples one output sees, its own input included: the causal
    convolution's 2, and each dilated layer reaches its dilation further back."""
    return 2 + sum(dilations(layers_per_stack, stacks))


def build_wavenet(
    info,
    residual_channels=32,
    dilation_channels=32,
    skip_channels=128,
    layers_per_stack=10,
    stacks=2,
    condition_dim=16,
):
    """The full (training) WaveNet: teacher-forced over a window of samples.

    Args:
        info: `DataInfo` of audio; its `class_names` are the conditions.
        residual_channels: channels of the residual stream.
        dilation_channels: channels of each gated unit.
        skip_channels: channels of the skip connections and the output head.
        layers_per_stack: dilated layers per stack, dilations 1..2**(n-1).
        stacks: how many times the dilations repeat.
        condition_dim: width of the label embedding; 0 for an unconditioned model.

    Returns:
        A `keras.Model` from `{"samples": int32 (batch, time) classes of the
        previous samples, "condition": int32 (batch,)}` to the next samples'
        probabilities `(batch, time, 256)`.
    """
    if info.kind != "audio":
        raise UserError(f"model=wavenet needs audio data (data=audio:DIR); {info.name!r} is {info.kind}")
    for name, value in (
        ("residual_channels", residual_channels),
        ("dilation_channels", dilation_channels),
        ("skip_channels", skip_channels),
        ("layers_per_stack", layers_per_stack),
        ("stacks", stacks),
    ):
        check_at_least(name, value, 1)
    check_at_least("condition_dim", condition_dim, 0)
    layers = WaveNetLayers(
        info.num_classes, residual_channels, dilation_channels, skip_channels, layers_per_stack, stacks, condition_dim
    )
    samples = keras.Input(shape=(None,), dtype="int32", name="samples")
    condition = keras.Input(shape=(), dtype="int32", name="condition")
    x = layers.causal(layers.embed(samples))
    condition_vector = layers.condition(condition)[:, None, :] if condition_dim else None
    skips = []
    for index in range(len(layers.dilations)):
        filters, gates = layers.filters[index](x), layers.gates[index](x)
        x, skip = layers.gated(index, filters, gates, x, condition_vector)
        skips.append(skip)
    probabilities = layers.head(skips)
    model = keras.Model({"samples": samples, "condition": condition}, probabilities, name="wavenet")
    model.wavenet_layers = layers
    return model


class WaveNetLayers:
    """The layers of a WaveNet, shared by its full and its step model."""

    def __init__(self, conditions, residual, dilation, skip, layers_per_stack, stacks, condition_dim):
        self.dilations = dilations(layers_per_stack, stacks)
        self.embed = keras.layers.Embedding(QUANTIZATION_CHANNELS, residual, name="sample_embedding")
        self.causal = keras.layers.Conv1D(residual, 2, padding="causal", name="causal_conv")
        self.condition = (
            keras.layers.Embedding(conditions, condition_dim, name="condition_embedding") if condition_dim else None
        )
        self.filters = [
            keras.layers.Conv1D(dilation, 2, dilation_rate=d, padding="causal", name=f"layer{i}_filter")
            for i, d in enumerate(self.dilations)
        ]
        self.gates = [
            keras.layers.Conv1D(dilation, 2, dilation_rate=d, padding="causal", name=f"layer{i}_gate")
            for i, d in enumerate(self.dilations)
        ]
        self.condition_filters = (
            [
                keras.layers.Dense(dilation, use_bias=False, name=f"layer{i}_condition_filter")
                for i in range(len(self.dilations))
            ]
            if condition_dim
            else []
        )
        self.condition_gates = (
            [
                keras.layers.Dense(dilation, use_bias=False, name=f"layer{i}_condition_gate")
                for i in range(len(self.dilations))
            ]
            if condition_dim
            else []
        )
        self.residuals = [
            keras.layers.Conv1D(residual, 1, name=f"layer{i}_residual") for i in range(len(self.dilations))
        ]
        self.skips = [keras.layers.Conv1D(skip, 1, name=f"layer{i}_skip") for i in range(len(self.dilations))]
        self.head_hidden = keras.layers.Conv1D(skip, 1, activation="relu", name="head_hidden")
        self.head_output = keras.layers.Conv1D(QUANTIZATION_CHANNELS, 1, name="head_logits")
        self.softmax = keras.layers.Softmax(dtype="float32", name="next_sample")

    def gated(self, index, filters, gates, x, condition_vector):
        """One layer's gated unit, residual and skip: `(new x, skip)`."""
        if condition_vector is not None:
            filters = filters + self.condition_filters[index](condition_vector)
            gates = gates + self.condition_gates[index](condition_vector)
        z = keras.ops.tanh(filters) * keras.ops.sigmoid(gates)
        return x + self.residuals[index](z), self.skips[index](z)

    def head(self, skips):
        """Next-sample probabilities from the sum of the skips."""
        x = keras.ops.relu(keras.ops.sum(keras.ops.stack(skips), axis=0))
        return self.softmax(self.head_output(self.head_hidden(x)))


class ConvStep(keras.layers.Layer):
    """A kernel-2 causal `Conv1D`'s output at one time step, from its input
    `dilation` steps back and its input now: what the convolution computes
    at that step, with its own weights."""

    def __init__(self, conv, **kwargs):
        super().__init__(**kwargs)
        self.conv = conv

    def call(self, past, now):
        kernel = keras.ops.cast(self.conv.kernel, past.dtype)
        return keras.ops.matmul(past, kernel[0]) + keras.ops.matmul(now, kernel[1]) + self.conv.bias


def state_shapes(model):
    """The step model's queues, without the batch axis: `(1, residual)` for
    the causal convolution, then `(dilation, residual)` per dilated layer."""
    layers = model.wavenet_layers
    residual = layers.embed.output_dim
    return [(1, residual)] + [(dilation, residual) for dilation in layers.dilations]


def step_model(model):
    """The fast-WaveNet step model of a full WaveNet `model` (shared weights).

    Inputs: `sample` int32 `(batch,)`, the class of the last sample;
    `condition` int32 `(batch,)`; `queue0`, `queue1`, ... float32 queues of
    `state_shapes(model)`, zeros at the start (the full model's causal
    padding), oldest entry first. Outputs: `next_sample` probabilities
    `(batch, 256)` and the updated queues, `queue0`, ... in the same order.
    `model` must come from `build_wavenet` in this process: its layers are
    found through `model.wavenet_layers`, which a saved model does not keep
    (reloading a trained one by its layer names is the synthesize task's).
    """
    layers = model.wavenet_layers
    sample = keras.Input(shape=(), dtype="int32", name="sample")
    condition = keras.Input(shape=(), dtype="int32", name="condition")
    queues = [keras.Input(shape=shape, name=f"queue{i}") for i, shape in enumerate(state_shapes(model))]
    embedded = layers.embed(sample)
    x = ConvStep(layers.causal, name="causal_step")(queues[0][:, 0], embedded)
    updated = [embedded[:, None, :]]
    condition_vector = layers.condition(condition)[:, None, :] if layers.condition is not None else None
    skips = []
    for index, queue in enumerate(queues[1:]):
        past = queue[:, 0]
        filters = ConvStep(layers.filters[index], name=f"layer{index}_filter_step")(past, x)
        gates = ConvStep(layers.gates[index], name=f"layer{index}_gate_step")(past, x)
        updated.append(keras.ops.concatenate([queue[:, 1:], x[:, None, :]], axis=1))
        x, skip = layers.gated(index, filters[:, None], gates[:, None], x[:, None], condition_vector)
        x = x[:, 0]
        skips.append(skip)
    probabilities = layers.head(skips)[:, 0]
    inputs = {"sample": sample, "condition": condition} | {f"queue{i}": queue for i, queue in enumerate(queues)}
    outputs = {"next_sample": probabilities} | {f"queue{i}": queue for i, queue in enumerate(updated)}
    return keras.Model(inputs, outputs, name="wavenet_step")
