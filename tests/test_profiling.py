"""`profile=START,END`: steps to Keras's profiled calls, checks, and a real trace."""

import sys

import keras
import numpy as np
import pytest

from kerasdl.callbacks import run_callbacks
from kerasdl.config import make_config
from kerasdl.errors import UserError
from kerasdl.profiling import check_profile_backend, parse_profile, profile_batches


def test_steps_become_the_calls_that_hold_them():
    assert parse_profile("") is None and parse_profile("3,3") == (3, 3)
    assert profile_batches("20,40", steps_per_execution=16) == (2, 3)  # calls of steps 17-32 and 33-48
    assert profile_batches("5,9") == (5, 9) and profile_batches("") == 0


@pytest.mark.parametrize("setting", ["9,3", "0,4", "a,b", "5", "1,2,3"])
def test_a_bad_range_is_one_line(setting):
    with pytest.raises(UserError, match="profile must"):
        parse_profile(setting)
    with pytest.raises(UserError, match=r"profile=.*START,END training steps with 1 <= START <= END, or empty"):
        make_config("iris_ann", {"profile": setting})


def test_jax_needs_python_3_12():
    if sys.version_info >= (3, 12):
        check_profile_backend("1,2", "jax")  # Keras traces with jax.profiler there
    else:
        with pytest.raises(UserError, match="needs Python 3.12 or newer on the JAX backend"):
            check_profile_backend("1,2", "jax")
    check_profile_backend("1,2", "tensorflow")
    check_profile_backend("", "jax")


def test_the_named_steps_are_traced_for_the_profile_dashboard(tmp_path):
    config = make_config("iris_ann", {"profile": "3,4"})
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", steps_per_execution=2)
    callbacks = [
        c for c in run_callbacks(tmp_path, config, steps_per_execution=2) if isinstance(c, keras.callbacks.TensorBoard)
    ]
    features, labels = np.random.default_rng(0).random((64, 4)).astype("float32"), np.zeros(64, "int32")
    model.fit(features, labels, batch_size=8, epochs=1, verbose=0, callbacks=callbacks)
    traces = list((tmp_path / "logs" / "train" / "plugins" / "profile").glob("*/*.xplane.pb"))
    assert len(traces) == 1 and traces[0].stat().st_size > 1000
