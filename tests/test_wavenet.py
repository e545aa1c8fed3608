"""WaveNet: mu-law, causality, the receptive field, and the step model equal to the full model."""

import keras
import numpy as np
import pytest

from kerasdl.data.dataset import DataInfo
from kerasdl.errors import UserError
from kerasdl.models.wavenet import (
    build_wavenet,
    mu_law_decode,
    mu_law_encode,
    receptive_field,
)
from kerasdl.models.wavenet_step import state_shapes, step_model

INFO = DataInfo(
    name="tones",
    kind="audio",
    input_shape=(800,),
    class_names=["a", "b", "c"],
    value_range=(-1.0, 1.0),
    mean=np.zeros(1, "float32"),
    variance=np.ones(1, "float32"),
    sample_rate=8000,
)
TINY = {"residual_channels": 8, "dilation_channels": 8, "skip_channels": 16, "layers_per_stack": 3, "stacks": 2}


def test_mu_law_round_trip_is_within_half_a_class_and_finest_near_silence():
    samples = np.linspace(-1, 1, 2001, dtype="float32")
    classes = np.asarray(mu_law_encode(samples))
    assert classes.min() == 0 and classes.max() == 255 and np.all(np.diff(classes) >= 0)
    decoded = np.asarray(mu_law_decode(classes))
    # One class spans 2/255 of the companded range: the round trip moves a
    # sample by at most half of that, expanded back (largest at full scale).
    mu = 255.0
    companded = np.sign(samples) * np.log1p(mu * np.abs(samples)) / np.log1p(mu)
    back = np.sign(decoded) * np.log1p(mu * np.abs(decoded)) / np.log1p(mu)
    assert np.abs(back - companded).max() <= 1 / 255 + 1e-6
    quiet = np.abs(samples) < 0.01
    assert np.abs(decoded - samples)[quiet].max() < 2e-4  # fine steps near silence
    assert list(np.asarray(mu_law_encode(np.array([-1.0, 0.0, 1.0], "float32")))) == [0, 128, 255]


def _inputs(rng, batch=2, time=60):
    return {
        "samples": rng.integers(0, 256, (batch, time)).astype("int32"),
        "condition": np.arange(batch, dtype="int32") % 3,
    }


def test_changing_a_future_sample_changes_no_earlier_output_and_the_receptive_field_is_as_computed():
    model = build_wavenet(INFO, **TINY)
    rng = np.random.default_rng(0)
    inputs = _inputs(rng)
    before = np.asarray(model(inputs))
    changed = {key: value.copy() for key, value in inputs.items()}
    changed["samples"][:, 40] = (changed["samples"][:, 40] + 77) % 256
    after = np.asarray(model(changed))
    np.testing.assert_array_equal(after[:, :40], before[:, :40])  # causal: nothing before the change moves
    moved = np.flatnonzero(np.abs(after - before).max(axis=(0, 2)) > 0)
    # The causal conv's 2 and dilations 1, 2, 4 twice: an input reaches 2 + 14 outputs, its own included.
    assert receptive_field(3, 2) == 16 and list(moved) == list(range(40, 40 + 16))


def test_the_condition_changes_the_output():
    keras.utils.set_random_seed(0)
    model = build_wavenet(INFO, **TINY)
    inputs = _inputs(np.random.default_rng(1))
    other = inputs | {"condition": (inputs["condition"] + 1) % 3}
    # Untrained, the outputs are all near 1/256; a change of the condition
    # moves them by 1e-5 to 1e-4 (seeds differ), float32 rounding by 1e-9.
    assert np.abs(np.asarray(model(inputs)) - np.asarray(model(other))).max() > 1e-6


@pytest.mark.parametrize("condition_dim", [4, 0])
def test_the_step_model_reproduces_the_full_model_along_a_rollout(condition_dim):
    model = build_wavenet(INFO, **TINY, condition_dim=condition_dim)
    inputs = _inputs(np.random.default_rng(2), time=50)
    full = np.asarray(model(inputs))
    step = step_model(model)
    queues = {f"queue{i}": np.zeros((2, *shape), "float32") for i, shape in enumerate(state_shapes(model))}
    assert [shape[0] for shape in state_shapes(model)] == [1, 1, 2, 4, 1, 2, 4]
    outputs = []
    for t in range(50):
        result = step({"sample": inputs["samples"][:, t], "condition": inputs["condition"], **queues})
        outputs.append(np.asarray(result["next_sample"]))
        queues = {name: np.asarray(result[name]) for name in queues}
    np.testing.assert_allclose(np.stack(outputs, axis=1), full, atol=1e-6)


def test_wavenet_needs_audio_and_sane_sizes():
    with pytest.raises(UserError, match="model=wavenet needs audio data"):
        build_wavenet(DataInfo("x", "image", (8, 8, 1), ["a", "b"], (0, 1), np.zeros(1), np.ones(1)))
    with pytest.raises(UserError, match="stacks"):
        build_wavenet(INFO, **(TINY | {"stacks": 0}))
