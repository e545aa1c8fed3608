"""The learning rate over a run: cosine after a warmup, plateau halving, constant."""

import numpy as np
import pytest

from kerasdl.callbacks import run_callbacks
from kerasdl.config import make_config
from kerasdl.data.dataset import image_side
from kerasdl.errors import UserError
from kerasdl.schedule import describe, learning_rate


def test_cosine_warms_up_for_an_epoch_then_decays_to_zero_at_the_last_step():
    config = make_config("image_cnn", {"epochs": "10", "learning_rate": "0.004"})
    rate = learning_rate(config, steps_per_epoch=50)
    at = lambda step: float(rate(step))  # noqa: E731
    assert at(0) == pytest.approx(0.0004) and at(50) == pytest.approx(0.004)
    assert at(25) == pytest.approx(0.0022)  # linear warmup
    assert at(50 + 225) == pytest.approx(0.002, rel=1e-3)  # half way through the decay
    assert at(500) == pytest.approx(0.0, abs=1e-9)
    assert describe(config, 50) == "0.004 after a 50-step warmup, cosine decay to 0 over 10 epochs (500 steps)"


def test_a_short_plan_warms_up_for_a_tenth_of_it():
    config = make_config("image_cnn", {"epochs": "2", "learning_rate": "0.01"})
    assert "a 20-step warmup" in describe(config, 100)
    assert float(learning_rate(config, 100)(20)) == pytest.approx(0.01)


def test_plateau_and_constant_are_a_number_and_only_plateau_halves():
    plateau = make_config("digits_cnn")
    constant = make_config("iris_ann")
    cosine = make_config("image_cnn", {"reduce_lr": "3"})  # reduce_lr belongs to the plateau schedule
    for config in (plateau, constant):
        assert learning_rate(config, 40) == config.learning_rate
    # A copy compiled only to evaluate (no steps known) gets the peak rate as a number.
    assert learning_rate(cosine, None) == cosine.learning_rate
    names = lambda config: {type(c).__name__ for c in run_callbacks(_run_dir(), config)}  # noqa: E731
    assert "ReduceLROnPlateau" in names(plateau)
    assert "ReduceLROnPlateau" not in names(constant) | names(cosine)
    assert describe(plateau, 40) == "0.002, halved after 2 epochs without val_loss improving (down to 2e-05)"
    assert describe(constant, 7) == "0.005, constant"


def test_a_reduce_lr_the_schedule_does_not_use_is_said_in_the_run(in_tmp):
    from kerasdl.training import train

    lines = []
    settings = {"epochs": "1", "reduce_lr": "3", "lr_schedule": "cosine", "variants": "float32"}
    train("iris_ann", settings, log=lines.append)
    assert "note: reduce_lr=3 applies to lr_schedule=plateau; this run's cosine schedule does not use it" in lines
    # 105 training examples in batches of 16: 7 steps, of which a tenth (at least one) warm up.
    assert any(
        "learning rate 0.005 after a 1-step warmup, cosine decay to 0 over 1 epoch (7 steps)" in line for line in lines
    )


def test_an_unknown_schedule_is_one_line_naming_the_choices():
    with pytest.raises(UserError, match=r"lr_schedule='linear' is out of range; allowed: one of: cosine, plateau"):
        make_config("image_cnn", {"lr_schedule": "linear"})


def test_a_compiled_model_follows_the_schedule_step_by_step():
    from kerasdl.data import load_dataset
    from kerasdl.models import build_model
    from kerasdl.training import compile_model

    dataset = load_dataset("iris")
    config = make_config("iris_ann", {"lr_schedule": "cosine", "epochs": "10"})  # 50 steps, 5 of warmup
    model = build_model("ann", dataset.info, hidden_units=(4,))
    compile_model(model, config, steps_per_epoch=5)
    features, labels = dataset.arrays("train")
    model.fit(features[:80], labels[:80], batch_size=16, epochs=1, verbose=0)  # 5 steps: the warmup
    assert float(model.optimizer.learning_rate) == pytest.approx(config.learning_rate)
    model.fit(features[:80], labels[:80], batch_size=16, epochs=9, verbose=0)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize(
    ("image_size", "largest", "side"),
    [("auto", 28, 28), ("auto", 500, 32), ("auto", 4, 8), ("auto", None, 32), ("64", 28, 64), ("16", 500, 16)],
)
def test_auto_image_size_keeps_small_images_and_shrinks_photos(image_size, largest, side):
    assert image_side(image_size, largest) == side


def test_an_image_size_that_is_neither_auto_nor_a_size_is_refused():
    for value in ("big", "4", "2000"):
        with pytest.raises(UserError, match=r"image_size=.* out of range; allowed: auto or an integer in \[8, 1024\]"):
            make_config("image_cnn", {"image_size": value})
    assert make_config("image_cnn", {"image_size": 48}).image_size == "48"


def test_a_folder_of_mixed_sizes_loads_as_one_image_at_a_time_would(tmp_path):
    """The loader prepares same-sized images in batches (16x faster here); the pixels are the same."""
    import tensorflow as tf

    from kerasdl.data import load_dataset
    from kerasdl.preprocess import prepare_images

    rng = np.random.default_rng(0)
    shapes = [(28, 28, 1), (20, 31, 3), (9, 9, 1)]
    expected = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        for index, shape in enumerate(shapes * 4):
            pixels = rng.integers(0, 256, shape).astype("uint8")
            (tmp_path / name / f"{index}.png").write_bytes(tf.io.encode_png(pixels).numpy())
            expected.append(prepare_images(pixels[None], (31, 31, 3), (0.0, 255.0))[0].numpy())
    dataset = load_dataset(f"images:{tmp_path}", test_fraction=0.25)
    assert dataset.info.input_shape == (31, 31, 3)  # auto: the largest side, colour as one image is
    loaded = np.concatenate([dataset.arrays(split)[0] for split in ("train", "validation", "test")])
    in_order = lambda images: images[np.lexsort(images.reshape(len(images), -1).T)]  # noqa: E731
    np.testing.assert_array_equal(in_order(loaded), in_order(np.stack(expected)))


def _run_dir():
    import tempfile
    from pathlib import Path

    return Path(tempfile.mkdtemp())
