import io

import keras
import numpy as np
import pytest
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from kerasdl.tasks.mask_images import PALETTE, SEPARATOR_WIDTH
from kerasdl.tasks.segment_samples import SegmentationSamples

SIDE = 16


def _model():
    """16x16x1 raw images -> a 2-class softmax per pixel."""
    inputs = keras.Input((SIDE, SIDE, 1))
    x = keras.layers.Rescaling(1 / 255, name="rescale")(inputs)
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="block1_conv")(x)
    outputs = keras.layers.Conv2D(2, 1, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="tiny_segmenter")


def _data(count, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.uniform(0, 255, (count, SIDE, SIDE, 1)).astype("float32")
    return images, (images[..., 0] > 128).astype("uint8")


def _written(log_dir):
    """`{tag: [(step, picture)]}` of the image summaries in `log_dir`.

    TF2's `tf.summary.image` stores each as a string tensor (width, height,
    PNG) tagged for the images plugin, not as a TF1 image event.
    """
    events = EventAccumulator(str(log_dir), size_guidance={"tensors": 0}).Reload()
    written = {}
    for tag in events.Tags()["tensors"]:
        assert events.SummaryMetadata(tag).plugin_data.plugin_name == "images"
        for event in events.Tensors(tag):
            width, height, png = event.tensor_proto.string_val
            picture = np.asarray(Image.open(io.BytesIO(png)))
            assert picture.shape[:2] == (int(height), int(width))
            written.setdefault(tag, []).append((event.step, picture))
    return written


def test_samples_are_written_each_epoch_beside_tensorboards_logs(tmp_path):
    images, masks = _data(4)
    samples = SegmentationSamples(tmp_path / "logs", images[:3], masks[:3])
    model = _model()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(
        images,
        masks,
        batch_size=2,
        epochs=2,
        verbose=0,
        callbacks=[samples, keras.callbacks.TensorBoard(log_dir=str(tmp_path / "logs"))],
    )

    assert {"train", "samples"} <= {path.name for path in (tmp_path / "logs").iterdir()}
    written = _written(tmp_path / "logs" / "samples")
    assert sorted(written) == ["samples/0", "samples/1", "samples/2"]
    truth_columns = slice(SIDE + SEPARATOR_WIDTH, 2 * SIDE + SEPARATOR_WIDTH)
    for index in range(3):
        assert [step for step, _ in written[f"samples/{index}"]] == [0, 1]
        for _, picture in written[f"samples/{index}"]:
            assert picture.shape == (SIDE, 3 * SIDE + 2 * SEPARATOR_WIDTH, 3)
            np.testing.assert_array_equal(picture[:, truth_columns], PALETTE[masks[index]])
    assert samples._writer is None  # closed at the end of training


def test_mixed_precision_outputs_are_cast_before_the_argmax(tmp_path):
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        model = _model()  # its softmax is float16 too: nothing here asks for float32
    finally:
        keras.config.set_dtype_policy(previous)
    images, masks = _data(2)
    assert model.predict(images, verbose=0).dtype == np.float16
    samples = SegmentationSamples(tmp_path / "logs", images, masks)
    samples.set_model(model)

    predicted = samples.predicted_masks()
    expected = model.predict(images, verbose=0).astype("float32").argmax(-1)
    assert predicted.dtype == np.uint8
    np.testing.assert_array_equal(predicted, expected)
    samples.on_train_begin()
    samples.on_epoch_end(0)
    samples.on_train_end()
    written = _written(tmp_path / "logs" / "samples")
    assert sorted(written) == ["samples/0", "samples/1"]
    for index in range(2):
        [(step, picture)] = written[f"samples/{index}"]
        assert step == 0
        np.testing.assert_array_equal(picture[:, 2 * (SIDE + SEPARATOR_WIDTH) :], PALETTE[predicted[index]])


def test_masks_must_match_the_images(tmp_path):
    images, masks = _data(2)
    with pytest.raises(ValueError, match=r"masks must be \(2, 16, 16\).*\(2, 8, 8\)"):
        SegmentationSamples(tmp_path, images, masks[:, :8, :8])
