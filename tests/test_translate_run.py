"""Image-to-image translation end to end: a tiny Pix2Pix trained on pairs,
exported (the generator alone), verified, served and predicted with."""

import json

import numpy as np
import pytest
from PIL import Image

from kerasdl.cli import main
from kerasdl.training import train

TINY = {
    "image_size": "32",
    "model.filters": "8",
    "model.discriminator_filters": "8",
    "batch_size": "4",
    "epochs": "2",
    # float32: on a bfloat16 CPU the precision probe may pick bfloat16 for
    # the tiny model, and the parity bars compare float32 arithmetic.
    "precision": "float32",
    "verbose": "0",
}


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    """20 pairs in DIR/A, DIR/B: grey noise in, its colour negative out (a known function of the input)."""
    root = tmp_path_factory.mktemp("pairs")
    (root / "A").mkdir()
    (root / "B").mkdir()
    rng = np.random.default_rng(0)
    for index in range(20):
        grey = rng.integers(0, 256, (32, 32), dtype=np.uint8)
        Image.fromarray(grey).save(root / "A" / f"{index:03d}.png")
        colour = np.stack([255 - grey, grey // 2, np.full_like(grey, 200)], axis=-1)
        Image.fromarray(colour).save(root / "B" / f"{index:03d}.png")
    return root


@pytest.fixture(scope="module")
def translate_run(pairs, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run") / "pix2pix"
    settings = TINY | {"data": f"pairs:{pairs}", "variants": "float32,dynamic", "run_dir": str(run_dir)}
    return train("pix2pix_pairs", settings, log=lambda line: None)


def test_the_run_scores_images_and_the_card_says_the_output_range(translate_run):
    run_dir = translate_run.run_dir
    test = json.loads((run_dir / "metrics.json").read_text())["test"]
    assert set(test) == {"l1", "psnr", "ssim", "sharpness"}
    assert 0 <= test["l1"] <= 1 and -1 <= test["ssim"] <= 1 and test["psnr"] > 0
    card = json.loads((run_dir / "model_card.json").read_text())
    assert card["task"] == "translate" and card["output"]["shape"] == [1, 32, 32, 3]
    assert card["output"]["range"] == [0.0, 1.0] and card["input"]["shape"][-1] == 1
    assert (run_dir / "labels.txt").read_text() == "red\ngreen\nblue\n"
    assert "PSNR to Keras" in (run_dir / "report.md").read_text()
    history = (run_dir / "history.csv").read_text().splitlines()[0].split(",")
    assert {"discriminator", "gan", "l1", "val_psnr", "val_ssim", "val_sharpness"} <= set(history)


def test_only_the_generator_is_exported_and_every_variant_passes_its_bar(translate_run):
    import keras

    model = keras.saving.load_model(translate_run.run_dir / "model.keras", compile=False)
    assert model.name == "generator" and model.output_shape == (None, 32, 32, 3)
    variants = translate_run.card["variants"]
    assert variants["float32"]["builtins_only"] and variants["float32"]["parity"]["psnr_db"] >= 50
    dynamic = variants["dynamic"]
    if "rejected" not in dynamic:  # shipped: it passed the bar
        assert dynamic["parity"]["psnr_db"] >= 30
        assert dynamic["parity"]["keras_ssim"] - dynamic["parity"]["ssim"] <= 0.02


def test_serve_raw_returns_a_uint8_image_of_the_inputs_size(translate_run):
    import tensorflow as tf

    served = tf.saved_model.load(str(translate_run.run_dir / "saved_model"))
    photo = np.random.default_rng(1).integers(0, 256, (1, 50, 70, 3), dtype=np.uint8)  # colour, not the 32x32 grey
    image = served.signatures["serve_raw"](images=tf.constant(photo))["image"]
    assert image.dtype == tf.uint8 and tuple(image.shape) == (1, 50, 70, 3)


def test_predict_writes_each_output_at_its_inputs_size_and_a_contact_sheet(translate_run, pairs, tmp_path, capsys):
    first, second = tmp_path / "first.png", tmp_path / "second.png"
    Image.open(pairs / "A" / "000.png").resize((48, 40)).save(first)
    Image.open(pairs / "A" / "001.png").save(second)
    sheet = tmp_path / "sheet.png"
    assert main(["predict", str(translate_run.run_dir), str(first), str(second), "--grid", str(sheet)]) == 0
    assert Image.open(tmp_path / "first.out.png").size == (48, 40)
    assert Image.open(tmp_path / "second.out.png").mode == "RGB"
    with Image.open(sheet) as picture:
        assert picture.height > 2 * 256  # two rows of input | output
    assert "first.out.png (48x40)" in capsys.readouterr().out


def test_evaluate_rescores_the_exported_generator_and_tensorboard_has_the_triples(translate_run, capsys):
    assert main(["evaluate", str(translate_run.run_dir)]) == 0
    assert "ssim" in capsys.readouterr().out
    assert any((translate_run.run_dir / "logs" / "samples").iterdir())


def test_grid_on_a_classifier_is_a_one_line_error(iris_run, capsys):
    assert main(["predict", str(iris_run.run_dir), "5.1,3.5,1.4,0.2", "--grid", "sheet.png"]) == 2
    assert "--grid applies to image-to-image translation" in capsys.readouterr().err
