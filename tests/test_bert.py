"""text_bert offline: a tiny BERT preset built here, with a WordPiece vocabulary
computed from the training texts, saved as a preset directory and fine-tuned."""

import json

import numpy as np
import pytest
import tensorflow as tf
from sms_messages import messages
from tiny_bert import save_tiny_bert_preset

from kerasdl.cli import main
from kerasdl.data import load_dataset
from kerasdl.errors import UserError
from kerasdl.tokenize import read_vocabulary, token_ids


@pytest.fixture(scope="session")
def sms_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("bert_data") / "sms.tsv"
    path.write_text("".join(f"{label}\t{text}\n" for label, text in messages(150, ("", "please", "x"))))
    return path


@pytest.fixture(scope="session")
def bert_preset(tmp_path_factory, sms_file):
    """A 2-layer BERT backbone and its tokenizer saved as a keras-hub preset directory."""
    texts = [line.split("\t", 1)[1] for line in sms_file.read_text().splitlines()]
    return save_tiny_bert_preset(tmp_path_factory.mktemp("presets") / "tiny_bert", texts)


def test_wordpiece_tokenisation_uses_the_presets_vocabulary(sms_file, bert_preset):
    dataset = load_dataset(f"text:{sms_file}", sequence_length=12, wordpiece=str(bert_preset))
    info = dataset.info
    assert info.tokenizer == "wordpiece" and info.vocabulary[:3] == ["[PAD]", "[CLS]", "[SEP]"]
    ids = token_ids(["Win now"], info.vocabulary, 6, "wordpiece")[0].tolist()
    assert ids[0] == 1 and ids[3] == 2 and ids[4:] == [0, 0]  # [CLS] win now [SEP] [PAD] [PAD]
    assert [info.vocabulary[i] for i in ids[1:3]] == ["win", "now"]


def test_text_bert_fine_tunes_exports_builtins_only_and_predicts_text(sms_file, bert_preset, tmp_path, capsys):
    run_dir = tmp_path / "run"
    settings = [f"data=text:{sms_file}", f"model.preset={bert_preset}", "sequence_length=16", "epochs=10"]
    settings += ["learning_rate=0.003", "variants=float32,int8", f"run_dir={run_dir}", "verbose=0"]
    assert main(["train", "text_bert", *settings]) == 0
    assert float(capsys.readouterr().out.split("Test accuracy")[1].split("%")[0]) >= 90
    card = json.loads((run_dir / "model_card.json").read_text())
    assert card["input"]["tokenizer"] == "wordpiece" and card["input"]["dtype"] == "int32"
    assert read_vocabulary(run_dir / "vocab.txt") == read_vocabulary(
        bert_preset / "assets" / "tokenizer" / "vocabulary.txt"
    )
    for variant in ("float32", "int8"):
        entry = card["variants"][variant]
        assert entry["builtins_only"] and entry["parity"]["top1_agreement"] >= 0.98, entry

    texts = ["WIN a FREE prize, call now!", "see you at lunch"]
    assert main(["predict", str(run_dir), *texts, "--top", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("WIN a FREE prize, call now!: spam") and lines[1].startswith("see you at lunch: ham")
    served = tf.saved_model.load(str(run_dir / "saved_model")).signatures["serve_raw"](texts=tf.constant(texts))
    assert np.argmax(served["probabilities"], axis=1).tolist() == [1, 0]


@pytest.mark.parametrize(
    "setting, message",
    [
        ("model.preset=./no/such/preset", "model.preset='./no/such/preset' is not a directory"),
        ("sequence_length=64", "sequence_length=64 is longer than the 32 positions of"),
    ],
)
def test_bad_presets_are_one_line_errors(sms_file, bert_preset, setting, message, in_tmp, capsys):
    settings = [f"data=text:{sms_file}", f"model.preset={bert_preset}", setting]
    assert main(["train", "text_bert", *settings]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (in_tmp / "saved_models").exists()


def test_bert_needs_text(bert_preset):
    from kerasdl.models import build_model

    with pytest.raises(UserError, match="model=bert needs text data"):
        build_model("bert", load_dataset("digits").info, preset=str(bert_preset))
