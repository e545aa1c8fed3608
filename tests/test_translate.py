"""The translation task's answers: parity and its bars, the card, the pictures."""

import numpy as np
import pytest
from PIL import Image

from kerasdl.data.dataset import DataInfo
from kerasdl.tasks import translate
from kerasdl.tasks.translate_images import triple, write_contact_sheet, write_outputs


def _images(count=4, side=16, channels=3, seed=0):
    return np.random.default_rng(seed).random((count, side, side, channels)).astype("float32")


def test_parity_is_psnr_against_keras_and_ssim_to_the_targets():
    keras_images, targets = _images(), _images(seed=1)
    shifted = keras_images + 0.01  # MSE 1e-4 everywhere: 40 dB
    parity = translate.parity(keras_images, shifted, targets)
    assert parity.examples == 4
    assert parity.psnr_db == pytest.approx(40.0, abs=0.01) and parity.worst_psnr_db == pytest.approx(40.0, abs=0.01)
    assert parity.max_abs_diff == pytest.approx(0.01, abs=1e-6)
    same = translate.parity(keras_images, keras_images.copy(), targets)
    assert same.psnr_db == pytest.approx(100.0) and same.ssim == pytest.approx(same.keras_ssim)


def test_float32_needs_50_db_and_a_quantized_variant_30_db_and_its_ssim():
    parity = translate.Parity(examples=4, psnr_db=40.0, worst_psnr_db=38.0, max_abs_diff=0.02, ssim=0.5, keras_ssim=0.5)
    assert "40.0 dB PSNR from the Keras model's, below 50 dB" in translate.parity_problem("float32", parity)
    assert translate.parity_problem("int8", parity) is None
    worse = translate.Parity(4, 35.0, 33.0, 0.05, ssim=0.47, keras_ssim=0.5)
    assert "0.030 below the Keras model's" in translate.parity_problem("dynamic", worse)
    assert "below 30 dB" in translate.parity_problem("float16", translate.Parity(4, 25.0, 20.0, 0.2, 0.5, 0.5))
    cells = translate.parity_cells(parity.as_dict())
    assert cells == ["40.0 dB", "38.0 dB", "0.02", "0.500 (+0.0000)"]


def test_the_card_says_range_layout_and_how_to_get_8_bit_pixels():
    info = DataInfo("pairs:x", "image", (64, 64, 1), ["grey"], (0.0, 255.0), np.zeros(1), np.ones(1))
    info.target_shape = (64, 64, 1)
    output = translate.card_output(info)
    assert output["shape"] == [1, 64, 64, 1] and output["range"] == [0.0, 1.0]
    assert "1 channel (grey)" in output["layout"] and "multiply by 255" in output["meaning"]
    assert translate.headline({"ssim": 0.5, "psnr": 20.0, "l1": 0.1, "sharpness": 0.9})[0] == "SSIM"


def test_outputs_are_written_at_each_photos_size_and_the_sheet_has_a_row_each(tmp_path):
    photo = tmp_path / "street.jpg"
    Image.fromarray(np.zeros((30, 50, 3), np.uint8)).save(photo)
    results = write_outputs(_images(2, 16, 1), [str(photo), "literal input"], out_dir=tmp_path / "out")
    with Image.open(results[0]["image"]) as written:
        assert written.size == (50, 30) and written.mode == "L"  # grey output at the photo's size
    assert results[1]["image"].endswith("literal_input.out.png") and results[1]["input"] is None
    sheet = tmp_path / "sheet.png"
    write_contact_sheet([r["input"] for r in results], [r["output"] for r in results], sheet)
    with Image.open(sheet) as picture:
        assert picture.height == 2 * 256 + 2  # two rows and the white line between them
    assert triple(np.zeros((8, 8, 1)), np.zeros((8, 8, 3)), np.ones((8, 8, 3)))[0, -1].tolist() == [255, 255, 255]


def test_a_gans_kept_epoch_is_its_last_in_the_plots_and_the_run_list():
    from kerasdl.history import LAST_EPOCH, best_epoch
    from kerasdl.tasks import checkpoint_rule

    assert checkpoint_rule("pix2pix", "val_loss") == LAST_EPOCH
    assert checkpoint_rule("l1_unet", "val_loss") == "val_loss"  # the baseline keeps its lowest validation loss
    assert best_epoch([3.0, 1.0, 2.0], LAST_EPOCH) == 3 and best_epoch([3.0, 1.0, 2.0], "val_loss") == 2
