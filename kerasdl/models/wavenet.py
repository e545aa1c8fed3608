"""WaveNet (van den Oord et al. 2016): the next sample's distribution from the past ones.

Samples are mu-law companded to 256 classes (`mu_law_encode`). The model
embeds the previous sample's class, runs a causal convolution and stacks of
dilated causal convolutions (dilations 1, 2, ..., 512, repeated), each a
gated unit tanh(filter) x sigmoid(gate) with residual and skip connections,
and ends in a softmax over the 256 classes of the next sample. A label
(the word, the speaker) conditions every layer: its embedding is added to
each filter and gate ("global conditioning").

Generation one sample at a time with the full model would recompute the
whole receptive field for every sample; `kerasdl.models.wavenet_step`
builds the fast-WaveNet step model from the same layers.
"""

import re

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
        # The last layer's output feeds only its skip: it has no residual projection.
        self.residuals = [
            keras.layers.Conv1D(residual, 1, name=f"layer{i}_residual") for i in range(len(self.dilations) - 1)
        ]
        self.skips = [keras.layers.Conv1D(skip, 1, name=f"layer{i}_skip") for i in range(len(self.dilations))]
        self.head_hidden = keras.layers.Conv1D(skip, 1, activation="relu", name="head_hidden")
        self.head_output = keras.layers.Conv1D(QUANTIZATION_CHANNELS, 1, name="head_logits")
        self.softmax = keras.layers.Softmax(dtype="float32", name="next_sample")

    @classmethod
    def from_model(cls, model):
        """The layers of a trained WaveNet, found by name: a model loaded
        from a `.keras` file, or a float32 copy, has no `wavenet_layers`."""
        found = cls.__new__(cls)
        names = {layer.name: layer for layer in model.layers}
        count = sum(1 for name in names if re.fullmatch(r"layer\d+_filter", name))
        found.embed, found.causal = names["sample_embedding"], names["causal_conv"]
        found.condition = names.get("condition_embedding")
        found.filters = [names[f"layer{i}_filter"] for i in range(count)]
        found.gates = [names[f"layer{i}_gate"] for i in range(count)]
        found.dilations = [layer.dilation_rate[0] for layer in found.filters]
        conditioned = found.condition is not None
        found.condition_filters = [names[f"layer{i}_condition_filter"] for i in range(count)] if conditioned else []
        found.condition_gates = [names[f"layer{i}_condition_gate"] for i in range(count)] if conditioned else []
        found.residuals = [names[f"layer{i}_residual"] for i in range(count - 1)]
        found.skips = [names[f"layer{i}_skip"] for i in range(count)]
        found.head_hidden, found.head_output = names["head_hidden"], names["head_logits"]
        found.softmax = names["next_sample"]
        return found

    def gated(self, index, filters, gates, x, condition_vector):
        """One layer's gated unit, residual and skip: `(new x, skip)`; the last layer's new x is None."""
        if condition_vector is not None:
            filters = filters + self.condition_filters[index](condition_vector)
            gates = gates + self.condition_gates[index](condition_vector)
        z = keras.ops.tanh(filters) * keras.ops.sigmoid(gates)
        new = x + self.residuals[index](z) if index < len(self.residuals) else None
        return new, self.skips[index](z)

    def head(self, skips):
        """Next-sample probabilities from the sum of the skips."""
        total = skips[0]
        for skip in skips[1:]:  # a running sum: stacked, the skips would take 20 times the memory
            total = total + skip
        x = keras.ops.relu(total)
        return self.softmax(self.head_output(self.head_hidden(x)))
