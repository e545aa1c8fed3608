import keras
import pytest

from kerasdl.errors import UserError
from kerasdl.keras_file import load_keras_file


def test_a_saved_model_loads_back(tmp_path):
    inputs = keras.Input(shape=(2,))
    model = keras.Model(inputs, keras.layers.Dense(3, name="predictions")(inputs))
    model.save(tmp_path / "model.keras")
    assert load_keras_file(tmp_path / "model.keras").get_layer("predictions").units == 3


def test_a_broken_file_is_one_line_user_error(tmp_path):
    path = tmp_path / "model.keras"
    path.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(UserError, match="Cannot load") as error:
        load_keras_file(path)
    assert "\n" not in str(error.value)
