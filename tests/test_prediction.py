import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from kerasdl.errors import UserError
from kerasdl.prediction import predict, read_input

IRIS_SETOSA = "5.1,3.5,1.4,0.2"
DIGITS_SPEC = {"shape": [1, 8, 8, 1], "value_range": [0.0, 16.0]}


def test_csv_row_npy_and_csv_file_give_the_same_answer(iris_run, tmp_path):
    np.save(tmp_path / "one.npy", np.array([5.1, 3.5, 1.4, 0.2], dtype="float32"))
    (tmp_path / "rows.csv").write_text("sepal_l,sepal_w,petal_l,petal_w\n5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n")
    results = predict(iris_run.run_dir, [IRIS_SETOSA, str(tmp_path / "one.npy"), str(tmp_path / "rows.csv")])
    assert [source for source, _ in results][:2] == [IRIS_SETOSA, str(tmp_path / "one.npy")]
    assert len(results) == 4  # the CSV file holds two rows
    first = results[0][1]
    for other in (results[1][1], results[2][1]):
        np.testing.assert_allclose([p for _, p in other], [p for _, p in first], atol=1e-6)
    assert (
        [label for label, _ in first] == [label for label, _ in results[1][1]] == [label for label, _ in results[2][1]]
    )
    assert sum(probability for _, probability in first) == pytest.approx(1.0, abs=1e-5)
    assert {label for label, _ in first} == {"setosa", "versicolor", "virginica"}


def test_top_limits_the_classes(iris_run):
    ((_, ranked),) = predict(iris_run.run_dir, [IRIS_SETOSA], top=1)
    assert len(ranked) == 1


def test_images_are_resized_greyed_and_scaled_to_the_value_range(tmp_path):
    # A 32x32 colour image, white on the left half: 255 maps to 16, 0 to 0.
    image = np.zeros((32, 32, 3), dtype="uint8")
    image[:, :16] = 255
    (tmp_path / "half.png").write_bytes(tf.io.encode_png(image).numpy())
    pixels = read_input(str(tmp_path / "half.png"), DIGITS_SPEC)
    assert pixels.shape == (1, 8, 8, 1) and pixels.dtype == np.float32
    # Grey is 0.2989 R + 0.587 G + 0.114 B; columns 3 and 4 blend (antialiasing).
    np.testing.assert_allclose(pixels[0, :, :3, 0], 16.0, atol=0.01)
    np.testing.assert_allclose(pixels[0, :, 5:, 0], 0.0, atol=1e-3)


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_any_channel_count_becomes_the_models_channels(channels):
    from kerasdl.preprocess import prepare_images

    images = np.full((2, 16, 12, channels), 255, dtype="uint8")
    grey = prepare_images(images, (8, 8, 1), (0.0, 16.0))
    colour = prepare_images(images, (4, 4, 3), (0.0, 1.0))
    assert grey.shape == (2, 8, 8, 1) and colour.shape == (2, 4, 4, 3)
    np.testing.assert_allclose(grey, 16.0, atol=0.01)
    np.testing.assert_allclose(colour, 1.0, atol=1e-3)


@pytest.mark.parametrize(
    "content, name, message",
    [
        (b"\x89PNG\r\n\x1a\n not really", "broken.png", "Cannot decode image"),
        (None, "missing.png", "does not exist"),
        (b"\x93NUMPY junk", "bad.npy", "Cannot read"),
        (b"1,2,3\n", "short.csv", "has shape (1, 3); this model takes (8, 8, 1)"),
        (b"hello", "notes.txt", "use an image"),
    ],
)
def test_bad_inputs_are_one_line_errors(tmp_path, content, name, message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(UserError) as error:
        read_input(str(path), DIGITS_SPEC)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_a_row_of_the_wrong_length_names_the_expected_shape(iris_run):
    with pytest.raises(UserError, match=r"has shape \(1, 3\); this model takes \(4,\) per example"):
        predict(iris_run.run_dir, ["1,2,3"])


def test_every_exported_variant_predicts(iris_run):
    labels = {}
    for variant in ("float32", "float16", "dynamic", "int8"):
        ((_, ranked),) = predict(iris_run.run_dir, [IRIS_SETOSA], variant=variant)
        labels[variant] = ranked[0][0]
    assert len(set(labels.values())) == 1


@pytest.mark.parametrize("damage", ["truncate", "replace"])
def test_a_corrupt_tflite_file_is_one_line(iris_run, tmp_path, damage):
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(iris_run.run_dir, copy)
    model = copy / "model.tflite"
    model.write_bytes(model.read_bytes()[:100] if damage == "truncate" else b"not a model at all")
    with pytest.raises(UserError, match="model.tflite' is not a TFLite model|Cannot load the TFLite model"):
        predict(copy, [IRIS_SETOSA])


def test_a_run_without_export_is_refused(tmp_path):
    with pytest.raises(UserError, match="has no exported model"):
        predict(tmp_path, [IRIS_SETOSA])


def test_predict_runs_without_tensorflow(iris_run, tmp_path):
    """LiteRT, NumPy and Pillow only: a prediction takes a fraction of a second, not TensorFlow's import."""
    image = tmp_path / "digit.png"
    image.write_bytes(tf.io.encode_png(np.zeros((20, 20, 1), "uint8")).numpy())
    code = (
        "import sys; from kerasdl.cli import main; from kerasdl.prediction import read_input; "
        f"status = main(['predict', sys.argv[1], {IRIS_SETOSA!r}]); "
        f"read_input(sys.argv[2], {DIGITS_SPEC!r}); "
        "print(status, 'tensorflow' in sys.modules, 'keras' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(iris_run.run_dir), str(image)], capture_output=True, text=True, timeout=120
    )
    assert done.stdout.splitlines()[-1] == "0 False False", done.stdout + done.stderr
