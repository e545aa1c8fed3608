"""The Pix2Pix generator, discriminator and GAN step, and the collapse guard, on tiny 32x32 pairs."""

import keras
import numpy as np
import pytest

from kerasdl.checkpoints import RunCheckpoints
from kerasdl.data.dataset import DataInfo
from kerasdl.errors import UserError
from kerasdl.models.pix2pix import build_discriminator, build_generator, build_l1_unet, build_pix2pix
from kerasdl.tasks import checkpoint_rule, translate
from kerasdl.tasks.translate_samples import TranslationSamples, collapse_signs, output_spread


def _info(side=32, inputs=1, targets=3):
    return DataInfo(
        name="pairs:test",
        kind="image",
        input_shape=(side, side, inputs),
        target_shape=(side, side, targets),
        class_names=["red", "green", "blue"][:targets],
        value_range=(0.0, 255.0),
        mean=np.full(inputs, 127.0, "float32"),
        variance=np.full(inputs, 5000.0, "float32"),
    )


def _pairs(count=8, side=32, seed=0):
    rng = np.random.default_rng(seed)
    inputs = (rng.random((count, side, side, 1)) * 255).astype("float32")
    targets = np.repeat(1 - inputs / 255, 3, axis=-1).astype("float32")  # a function of the input
    return inputs, targets


def _compiled(model):
    model.compile(optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5), **translate.compile_arguments(None, model))
    return model


def test_generator_maps_pixels_to_an_image_of_the_targets_shape_in_0_1():
    generator = build_generator(_info(), filters=8)
    assert generator.output_shape == (None, 32, 32, 3)
    # depth auto goes down to 1x1: five halvings of 32
    assert [layer.name for layer in generator.layers if layer.name.endswith("_conv")][:5] == [
        f"down{level}_conv" for level in range(1, 6)
    ]
    outputs = np.asarray(generator.predict(_pairs(2)[0], verbose=0))
    assert outputs.min() >= 0 and outputs.max() <= 1


def test_discriminator_is_the_70x70_patchgan_at_256():
    # The paper's discriminator on 256x256 pairs answers for 30x30 overlapping patches.
    discriminator = build_discriminator(_info(256), filters=4)
    assert discriminator.output_shape == (None, 30, 30, 1)


def test_bad_settings_are_one_line_errors():
    with pytest.raises(UserError, match="depth=9"):
        build_generator(_info(), depth=9)
    with pytest.raises(UserError, match="norm"):
        build_l1_unet(_info(), norm="layer")
    with pytest.raises(UserError, match="l1_weight"):
        build_pix2pix(_info(), l1_weight=-1)
    with pytest.raises(UserError, match="multiples of 32"):
        build_generator(_info(48), depth=5)


def test_gan_step_updates_both_networks_with_finite_losses():
    model = _compiled(build_pix2pix(_info(), filters=8, discriminator_filters=8))
    generator_before = [w.copy() for w in model.generator.get_weights()]
    discriminator_before = [w.copy() for w in model.discriminator.get_weights()]
    history = model.fit(*_pairs(), batch_size=4, epochs=1, verbose=0).history
    for name in ("loss", "l1", "gan", "discriminator", "psnr", "ssim", "sharpness"):
        assert np.isfinite(history[name][0]), name
    changed = [not np.allclose(a, b) for a, b in zip(generator_before, model.generator.get_weights(), strict=True)]
    assert all(changed[:2]) and sum(changed) > len(changed) // 2
    after = model.discriminator.get_weights()
    changed = [not np.allclose(a, b) for a, b in zip(discriminator_before, after, strict=True)]
    assert sum(changed) > len(changed) // 2
    # generator loss = gan + 100 x L1 on [-1, 1] images (2 x L1 on [0, 1])
    assert model.l1_weight == 100.0


def test_resume_restores_both_networks_and_both_optimizers(tmp_path):
    inputs, targets = _pairs()
    model = _compiled(build_pix2pix(_info(), filters=8, discriminator_filters=8))
    checkpoints = RunCheckpoints(tmp_path, "val_loss", "min", None, interval=0)
    model.fit(inputs, targets, batch_size=4, epochs=2, validation_data=(inputs, targets), callbacks=[checkpoints])
    assert int(model.discriminator_optimizer.iterations) == 4

    resumed = _compiled(build_pix2pix(_info(), filters=8, discriminator_filters=8))
    restore = RunCheckpoints(tmp_path, "val_loss", "min", None, interval=0)
    restore.set_model(resumed)
    restore.on_train_begin()
    for name in ("generator", "discriminator"):
        for saved, loaded in zip(getattr(model, name).weights, getattr(resumed, name).weights, strict=True):
            np.testing.assert_array_equal(saved.numpy(), loaded.numpy())
    for saved, loaded in zip(model.optimizers, resumed.optimizers, strict=True):
        assert int(loaded.iterations) == 4
        for a, b in zip(saved.variables, loaded.variables, strict=True):
            np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_l1_baseline_trains_with_l1_and_logs_the_same_scalars():
    model = _compiled(build_l1_unet(_info(), filters=8))
    history = model.fit(*_pairs(), batch_size=4, epochs=1, verbose=0).history
    assert {"loss", "l1", "psnr", "ssim", "sharpness"} <= set(history)
    assert history["loss"][0] == pytest.approx(history["l1"][0], rel=1e-5)


def test_collapse_guard_fires_on_a_constant_generator(tmp_path):
    inputs, targets = _pairs(4)
    assert output_spread(targets, targets) == pytest.approx(1.0)
    pixels = keras.Input((32, 32, 1))
    constant = keras.Model(pixels, keras.layers.Concatenate()([pixels * 0 + 0.5] * 3))  # grey, whatever the input
    lines = []
    samples = TranslationSamples(tmp_path, inputs, targets, log=lines.append)
    samples.set_model(constant)
    for epoch in range(3):
        samples.on_epoch_end(epoch, {"discriminator": 0.3})
    samples.on_train_end()
    assert len(lines) == 1 and "mode collapse" in lines[0]  # said once, not every epoch
    assert any(path.name.startswith("events") for path in (tmp_path / "samples").iterdir())
    assert "discriminator's loss is 0.0010" in collapse_signs(0.001, 1.0)["discriminator"]
    assert collapse_signs(0.35, 0.8) == {}


def test_a_gans_best_checkpoint_is_its_last_epoch(tmp_path):
    inputs, targets = _pairs()
    model = _compiled(build_pix2pix(_info(), filters=8, discriminator_filters=8))
    # A best so far that no epoch can beat: a classifier's checkpoint would keep none of these epochs.
    checkpoints = RunCheckpoints(tmp_path, checkpoint_rule("pix2pix", "val_loss"), "min", -1.0, interval=0)
    model.fit(inputs, targets, batch_size=4, epochs=2, validation_data=(inputs, targets), callbacks=[checkpoints])
    last = [weight.numpy() for weight in model.generator.weights]
    fresh = _compiled(build_pix2pix(_info(), filters=8, discriminator_filters=8))
    fresh.load_weights(tmp_path / "best.weights.h5")
    for saved, loaded in zip(last, fresh.generator.weights, strict=True):
        np.testing.assert_array_equal(saved, loaded.numpy())
