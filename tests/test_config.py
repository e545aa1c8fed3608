import re

import pytest
import yaml

from kerasdl.config import load_config, make_config, preset_names, read_preset
from kerasdl.config_values import parse_overrides
from kerasdl.errors import UserError


def test_required_presets_are_shipped_and_valid():
    assert {"digits_cnn", "breast_cancer_ann", "digits_rnn"} <= set(preset_names())
    for name in preset_names():
        config = make_config(name)
        assert config.preset == name and config.description


def test_overrides_are_typed():
    config = make_config(
        "digits_cnn",
        parse_overrides(["epochs=5", "learning_rate=1e-3", "overwrite=true", "model.filters=16,32,64"]),
    )
    assert config.epochs == 5 and isinstance(config.epochs, int)
    assert config.learning_rate == pytest.approx(0.001)
    assert config.overwrite is True
    assert config.model_params["filters"] == (16, 32, 64)


def test_every_hyperparameter_is_recorded_with_defaults():
    config = make_config("digits_cnn")
    assert config.model_params["filters"] == (32, 64)  # from the preset
    assert config.model_params["kernel_size"] == 3  # the build function's default


def test_changing_the_family_drops_the_presets_hyperparameters():
    config = make_config("digits_cnn", {"model": "rnn"})
    assert config.model == "rnn" and "filters" not in config.model_params
    assert config.model_params["cell"] == "lstm"


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"epochs": "0"}, "epochs=0 is out of range"),
        ({"batch_size": "-1"}, "batch_size=-1 is out of range"),
        ({"learning_rate": "abc"}, "learning_rate must be a number, got 'abc'"),
        ({"epochs": "2.5"}, "epochs must be an integer"),
        ({"epochs": "inf"}, "epochs must be an integer"),
        ({"strategy": "quantum"}, "allowed: one of: auto, cpu, gpu, mirrored, multi_worker, tpu"),
        ({"precision": "int4"}, "precision='int4' is out of range"),
        ({"overwrite": "maybe"}, "overwrite must be true or false"),
        ({"epoch": "3"}, "Unknown config key 'epoch'; allowed keys:"),
        (
            {"model": "transformer"},
            "Unknown model 'transformer'; choose one of: ann, audio_cnn, bert, cnn, l1_unet, pix2pix, rnn, transfer",
        ),
        ({"model.units": "3"}, "Unknown key 'model.units' for model 'cnn'; allowed: model.filters"),
        ({"model.filters": "32,x"}, "model.filters must be a comma-separated list of integers"),
    ],
)
def test_bad_values_name_the_problem_and_what_is_allowed(overrides, message):
    with pytest.raises(UserError, match=None) as error:
        make_config("digits_cnn", overrides)
    assert message in str(error.value)


def test_unknown_preset_lists_the_presets():
    with pytest.raises(UserError, match="Unknown preset 'nope'; choose one of: .*digits_cnn"):
        read_preset("nope")


def test_overrides_must_be_key_value():
    with pytest.raises(UserError, match="Expected KEY=VALUE, got 'epochs'"):
        parse_overrides(["epochs"])


def test_saved_config_rebuilds_the_same_config(tmp_path):
    config = make_config("digits_rnn", {"epochs": "7", "model.cell": "gru"})
    document = {"preset": config.preset} | config.to_dict() | {"versions": {"keras": "3"}, "resolved": {}}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(document))
    assert load_config(tmp_path / "config.yaml") == config


def test_importing_the_command_and_its_config_loads_neither_keras_nor_tensorflow():
    """The command sets KERAS_BACKEND from the settings before Keras loads, so the
    modules it imports first (config, and what config imports) must not import it."""
    import subprocess
    import sys

    code = "import sys, kerasdl.cli, kerasdl.config; print({'keras', 'tensorflow'} & {*sys.modules})"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "set()\n"


def test_box_data_and_the_detector_go_together():
    needs = r"model=yolo \(task=detect\) needs data=boxes:DIR or nuclei_boxes or tfds:NAME; got data=digits"
    with pytest.raises(UserError, match=needs):
        make_config("yolo_detect", {"data": "digits"})
    with pytest.raises(UserError, match="data=boxes:x holds labels for task=detect"):
        make_config("digits_cnn", {"data": "boxes:x"})
    with pytest.raises(UserError, match="int8_io=uint8 is not allowed for task=detect"):
        make_config("yolo_detect", {"data": "boxes:x", "int8_io": "uint8"})
    # Which task a TFDS set is for shows in its features: the loader checks it (test_tfds_detection.py).
    assert make_config("yolo_detect", {"data": "tfds:voc/2007"}).task == "detect"
    assert make_config("digits_cnn", {"data": "tfds:voc/2007"}).task == "classify"


def test_the_audio_keys_are_checked_and_apply_to_audio_data():
    config = make_config("audio_cnn", {"group_pattern": "^[^_]+_([^_]+)_", "clip_seconds": "1.5"})
    assert (config.sample_rate, config.clip_seconds, config.model) == (8000, "1.5", "audio_cnn")
    for key, value, message in (
        ("sample_rate", "500", "sample_rate=500 is out of range; allowed: an integer in [1000, 48000]"),
        ("clip_seconds", "0", "clip_seconds='0' is out of range; allowed: auto or seconds in (0, 60]"),
        ("clip_seconds", "long", "clip_seconds='long' is out of range"),
    ):
        with pytest.raises(UserError, match=re.escape(message)):
            make_config("audio_cnn", {key: value})
    for key in ("label_pattern", "group_pattern", "clip_seconds"):
        with pytest.raises(UserError, match=f"{key} applies to data=audio:DIR; this run's data is digits"):
            make_config("digits_cnn", {key: "1"})


def test_image_pairs_and_the_translators_go_together():
    with pytest.raises(UserError, match=r"model=pix2pix \(task=translate\) needs data=pairs:DIR or colorize"):
        make_config("pix2pix_pairs", {"data": "digits"})
    with pytest.raises(UserError, match="data=pairs:x holds labels for task=translate"):
        make_config("unet_segment", {"data": "pairs:x"})
    with pytest.raises(UserError, match="direction applies to task=translate"):
        make_config("digits_cnn", {"direction": "BtoA"})
    with pytest.raises(UserError, match="direction='AB' is out of range; allowed: one of: AtoB, BtoA"):
        make_config("pix2pix_pairs", {"direction": "AB"})
    # Two optimizers in one step: the GAN trains on TensorFlow only; its baseline anywhere.
    with pytest.raises(UserError, match="model=pix2pix trains on backend=tensorflow only"):
        make_config("pix2pix_pairs", {"backend": "jax"})
    assert make_config("pix2pix_pairs", {"backend": "jax", "model": "l1_unet"}).task == "translate"
