"""Segmentation end to end: a tiny U-Net trained, exported, verified,
served, predicted with, shown in TensorBoard, and resumed."""

import json

import keras
import numpy as np
import pytest
import yaml
from PIL import Image

import kerasdl.training
from kerasdl.cli import main
from kerasdl.history import read_history
from kerasdl.training import train

TINY = {
    "data": None,  # set per test
    "image_size": "32",
    "model.filters": "4",
    "model.depth": "2",
    "batch_size": "4",
    "verbose": "0",
}


@pytest.fixture(scope="module")
def blobs(tmp_path_factory):
    """24 grey 32x32 images of bright discs on noise; the mask is the discs (0/255)."""
    root = tmp_path_factory.mktemp("blobs")
    (root / "images").mkdir()
    (root / "masks").mkdir()
    rng = np.random.default_rng(0)
    rows, columns = np.mgrid[:32, :32]
    for index in range(24):
        mask = np.zeros((32, 32), dtype=np.uint8)
        for _ in range(2):
            y, x, radius = rng.integers(4, 28), rng.integers(4, 28), rng.integers(3, 8)
            mask[(rows - y) ** 2 + (columns - x) ** 2 < radius**2] = 255
        image = np.clip(60 + (mask > 0) * 120 + rng.normal(0, 20, mask.shape), 0, 255).astype(np.uint8)
        Image.fromarray(image).save(root / "images" / f"{index:03d}.png")
        Image.fromarray(mask).save(root / "masks" / f"{index:03d}.png")
    return root


@pytest.fixture(scope="module")
def segment_run(blobs, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run") / "unet"
    settings = TINY | {"data": f"masks:{blobs}", "epochs": "3", "variants": "float32,int8", "run_dir": str(run_dir)}
    return train("unet_segment", settings, log=lambda line: None)


def test_the_run_scores_by_iou_and_the_card_says_how_to_read_a_mask(segment_run):
    run_dir = segment_run.run_dir
    test = json.loads((run_dir / "metrics.json").read_text())["test"]
    assert set(test) == {"loss", "mean_iou", "pixel_accuracy", "iou", "dice"}
    assert set(test["iou"]) == {"class_0", "class_1"} and 0 <= test["mean_iou"] <= 1
    card = json.loads((run_dir / "model_card.json").read_text())
    assert card["task"] == "segment" and card["output"]["shape"] == [1, 32, 32, 2]
    assert "argmax over the last axis" in card["output"]["meaning"]
    assert (run_dir / "labels.txt").read_text() == "class_0\nclass_1\n"
    assert "pixel agreement" in (run_dir / "report.md").read_text()


def test_every_shipped_variant_is_builtin_and_agrees_pixel_by_pixel(segment_run):
    variants = segment_run.card["variants"]
    float32 = variants["float32"]
    assert float32["builtins_only"] and {"TRANSPOSE_CONV", "ARG_MAX"} <= set(float32["ops"])
    assert float32["parity"]["pixel_agreement"] >= 0.999
    int8 = variants["int8"]
    if "rejected" not in int8:  # shipped: it passed the bar
        assert int8["parity"]["pixel_agreement"] >= 0.98
        assert int8["parity"]["keras_mean_iou"] - int8["parity"]["mean_iou"] <= 0.01


def test_serve_raw_takes_a_photo_of_any_size_and_returns_its_mask_at_that_size(segment_run):
    import tensorflow as tf

    served = tf.saved_model.load(str(segment_run.run_dir / "saved_model"))
    photo = np.random.default_rng(1).integers(0, 256, (1, 50, 70, 1), dtype=np.uint8)
    outputs = served.signatures["serve_raw"](images=tf.constant(photo))
    assert outputs["mask"].shape == (1, 50, 70) and outputs["mask"].dtype == tf.uint8
    assert outputs["probabilities"].shape == (1, 32, 32, 2)


def test_predict_writes_a_mask_and_an_overlay_at_the_photos_size(segment_run, blobs, tmp_path, capsys):
    photo = tmp_path / "photo.png"
    Image.open(blobs / "images" / "000.png").resize((48, 40)).save(photo)
    out = tmp_path / "out"
    assert main(["predict", str(segment_run.run_dir), str(photo), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "class_0" in printed and "photo.mask.png" in printed
    with Image.open(out / "photo.mask.png") as mask:
        assert mask.mode == "P" and mask.size == (48, 40)
        assert set(np.unique(np.asarray(mask))) <= {0, 1}
    with Image.open(out / "photo.overlay.png") as overlay:
        assert overlay.size == (48, 40)


def test_tensorboard_shows_validation_samples_each_epoch(segment_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tags = set()
    for folder in [path.parent for path in (segment_run.run_dir / "logs").rglob("events.out.tfevents*")]:
        events = EventAccumulator(str(folder), size_guidance={"images": 0, "tensors": 0})
        events.Reload()
        tags |= set(events.Tags().get("images", [])) | {
            tag for tag in events.Tags().get("tensors", []) if "sample" in tag
        }
    assert any("sample" in tag for tag in tags), tags


class _Interrupt(Exception):
    pass


class _InterruptAfter(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 1:
            raise _Interrupt()


def test_an_interrupted_segmentation_run_resumes(blobs, tmp_path, monkeypatch):
    settings = TINY | {"data": f"masks:{blobs}", "epochs": "3", "variants": "float32", "run_dir": str(tmp_path / "r")}
    original = kerasdl.training.run_callbacks
    monkeypatch.setattr(kerasdl.training, "run_callbacks", lambda *a, **k: original(*a, **k) + [_InterruptAfter()])
    with pytest.raises(_Interrupt):
        train("unet_segment", settings, log=lambda line: None)
    assert len(read_history(tmp_path / "r" / "history.csv")["loss"]) == 2
    monkeypatch.setattr(kerasdl.training, "run_callbacks", original)
    lines = []
    result = train("unet_segment", settings, log=lines.append)
    assert result.resumed and any("resuming the interrupted run" in line for line in lines)
    assert len(result.metrics["history"]["loss"]) == 3


def test_a_unet_trains_on_two_replicas_when_a_last_batch_would_leave_one_empty(blobs, tmp_path):
    # 17 training images in global batches of 8: a last batch of 1, which
    # split across two replicas leaves one without images (TensorFlow's CPU
    # convolutions then fail). The 2 validation images split one each.
    settings = TINY | {"data": f"masks:{blobs}", "epochs": "1", "variants": "float32", "run_dir": str(tmp_path / "r")}
    result = train("unet_segment", settings | {"strategy": "mirrored"}, log=lambda line: None)
    config = yaml.safe_load((tmp_path / "r" / "config.yaml").read_text())
    assert config["resolved"]["strategy"] == "MirroredStrategy, 2 replicas (CPU:0, CPU:1)"
    assert result.card["variants"]["float32"]["parity"]["examples"] == 5  # the whole test split (24 - 17 - 2)
    assert result.card["variants"]["float32"]["parity"]["pixel_agreement"] >= 0.999


def test_evaluate_reloads_the_saved_model_and_prints_each_class(segment_run, capsys):
    assert main(["evaluate", str(segment_run.run_dir)]) == 0
    printed = capsys.readouterr().out
    assert "test mean_iou" in printed and "iou[class_1]" in printed and "(recorded:" in printed


def test_every_tflite_model_also_returns_the_uint8_mask(segment_run, blobs):
    from kerasdl.litert_runner import TFLiteRunner

    content = (segment_run.run_dir / "model.tflite").read_bytes()
    photo = np.asarray(Image.open(blobs / "images" / "001.png"), dtype=np.float32)[np.newaxis, ..., np.newaxis]
    probabilities = TFLiteRunner(content)(photo)
    mask = TFLiteRunner(content, output="mask").invoke(photo)
    assert mask.dtype == np.uint8 and mask.shape == (1, 32, 32)
    np.testing.assert_array_equal(mask, probabilities.argmax(-1))
