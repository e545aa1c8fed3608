import pytest

from kerasdl.errors import UserError
from kerasdl.hub_preset import load_preset


def test_a_path_that_is_not_a_directory_is_refused_before_keras_hub_looks(tmp_path):
    with pytest.raises(UserError, match="is not a directory"):
        load_preset("BertTokenizer", str(tmp_path / "missing"))


def test_a_directory_that_is_not_a_preset_is_one_line_user_error(tmp_path):
    with pytest.raises(UserError, match="Cannot load a BertTokenizer from") as error:
        load_preset("BertTokenizer", str(tmp_path))
    assert "\n" not in str(error.value)
