"""`text:FILE` and `text:DIR` data, and the text_rnn preset end to end."""

import json
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from sms_messages import messages

from kerasdl.cli import main
from kerasdl.config import make_config
from kerasdl.data import load_dataset
from kerasdl.data.streaming import FileDataset
from kerasdl.data.text_table_stream import TextTableStream
from kerasdl.errors import UserError
from kerasdl.tokenize import adapt_vocabulary, read_vocabulary, token_ids


@pytest.fixture
def sms_tsv(tmp_path):
    """label<TAB>text lines, no header, quotes kept as written (the SMS Spam Collection's layout)."""
    path = tmp_path / "sms.tsv"
    path.write_text("".join(f"{label}\t{text}\n" for label, text in messages()) + 'ham\tHe said "ok", fine\n')
    return path


def _all_labels(dataset):
    return np.concatenate([dataset.arrays(split)[1] for split in ("train", "validation", "test")])


def test_a_tsv_becomes_token_ids_with_a_vocabulary_from_train(sms_tsv):
    dataset = load_dataset(f"text:{sms_tsv}", vocabulary_size=1000, sequence_length=8)
    info = dataset.info
    assert info.kind == "text" and info.input_shape == (8,) and info.input_name == "token_ids"
    assert info.class_names == ["ham", "spam"] and np.bincount(_all_labels(dataset)).tolist() == [81, 40]
    assert info.vocabulary[:2] == ["", "[UNK]"] and "win" in info.vocabulary
    train = dataset.arrays("train")[0]
    assert train.dtype == np.int32 and train.shape[1] == 8 and train.max() < len(info.vocabulary)
    assert token_ids(["win"], info.vocabulary, 3).tolist() == [[info.vocabulary.index("win"), 0, 0]]


def test_a_csv_with_a_header_and_extra_columns(tmp_path):
    rows = ["id,category,message"] + [f'{i},{label},"{text}, really"' for i, (label, text) in enumerate(messages())]
    path = tmp_path / "messages.csv"
    path.write_text("\n".join(rows) + "\n")
    dataset = load_dataset(f"text:{path}", vocabulary_size=100, sequence_length=6)
    assert dataset.info.class_names == ["ham", "spam"] and len(_all_labels(dataset)) == 120
    assert any("ignored column(s) id" in note for note in dataset.notes)


def test_columns_are_detected_without_a_header_and_can_be_named(tmp_path):
    path = tmp_path / "reversed.csv"
    path.write_text("".join(f"{text};{label}\n" for label, text in messages()))
    assert load_dataset(f"text:{path}", sequence_length=4).info.class_names == ["ham", "spam"]
    named = load_dataset(f"text:{path}", label="1", text_column="0", sequence_length=4)
    assert named.info.class_names == ["ham", "spam"]


def _reviews(root, count=60):
    """`root/<label>/<n>.txt`, one message a file."""
    for index, (label, text) in enumerate(messages(count)):
        folder = root / label
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{index}.txt").write_text(text)
    return root


def test_a_folder_streams_the_vocabulary_and_ids_a_list_of_its_texts_gives(tmp_path):
    dataset = load_dataset(f"text:{_reviews(tmp_path / 'reviews')}", sequence_length=8)
    assert isinstance(dataset, FileDataset) and dataset.notes == []
    assert dataset.info.class_names == ["ham", "spam"] and len(_all_labels(dataset)) == 60
    paths, labels = dataset.splits["train"]
    texts = [Path(path).read_text().strip() for path in paths]
    # The vocabulary adapted on a stream of files is the one a list of the texts gives.
    assert dataset.info.vocabulary == adapt_vocabulary(texts, 20000)
    ids, streamed_labels = dataset.arrays("train")
    assert ids.dtype == np.int32 and ids.shape == (len(texts), 8)
    np.testing.assert_array_equal(ids, token_ids(texts, dataset.info.vocabulary, 8))
    np.testing.assert_array_equal(streamed_labels, labels)


def test_empty_files_are_skipped_and_files_that_are_not_text_named(tmp_path):
    root = _reviews(tmp_path / "reviews")
    (root / "ham" / "zero.txt").write_bytes(b"")  # skipped when the folder loads
    (root / "ham" / "blank.txt").write_text("  \n")  # found while reading, as is Latin-1:
    (root / "spam" / "latin1.txt").write_bytes("zebra caf\xe9".encode("latin-1"))
    dataset = load_dataset(f"text:{root}", sequence_length=8)
    assert dataset.notes == ["skipped 1 empty text file(s)"] and "zebra" not in dataset.info.vocabulary
    for split in ("train", "validation", "test"):  # each split keeps its length
        assert len(dataset.arrays(split)[0]) == dataset.size(split)
    note = dataset.unreadable_note(("train", "validation", "test"))
    assert note.startswith("skipped 2 file(s) that are not UTF-8 text or hold only whitespace: ")
    assert "blank.txt" in note and "latin1.txt" in note


def test_a_text_folder_trains_and_serves_raw_text(tmp_path, capsys):
    run_dir = tmp_path / "run"
    root = _reviews(tmp_path / "reviews", 90)
    bad = [root / label / f"latin1-{index}.txt" for label in ("ham", "spam") for index in range(2)]
    for path in bad:
        path.write_bytes("caf\xe9 au lait".encode("latin-1"))
    settings = ["sequence_length=8", "model.units=8", "model.embedding_dim=8", "epochs=8", "variants=float32"]
    assert main(["train", "text_rnn", f"data=text:{root}", "learning_rate=0.01", *settings, f"run_dir={run_dir}"]) == 0
    out = capsys.readouterr().out
    # 18 test texts of two well-separated kinds: all but one right, or the model did not learn.
    assert float(out.split("Test accuracy")[1].split("%")[0]) >= 90
    # Each split's files that are not text are named once: training and
    # validation after the first epoch, the test split once it is scored.
    named = [line for line in out.splitlines() if "are not UTF-8 text" in line]
    assert sum(str(path) in "".join(named) for path in bad) == len(bad)
    config = make_config("text_rnn")
    splits = load_dataset(f"text:{root}", config.seed, config.validation_fraction, config.test_fraction).splits
    in_test = [path for path in bad if str(path) in splits["test"][0]]
    assert any(line.startswith("test split: skipped") for line in named) == bool(in_test)
    served = tf.saved_model.load(str(run_dir / "saved_model")).signatures["serve_raw"]
    probabilities = served(texts=tf.constant(["claim your cash reward", "thanks for the lift"]))["probabilities"]
    assert np.argmax(probabilities, axis=1).tolist() == [1, 0]


@pytest.mark.parametrize(
    "content, options, message",
    [
        ("ham\thi\nham\tyo\nham\tok\nham\tno\n", {}, "has a single class ('ham')"),
        ("label,text\nham,hi\n,yo\nspam,ok\n", {}, "line(s) 3 have no label in column 'label'"),
        ("label,text\nham,hi\nspam,yo\n", {"label": "kind"}, "Label column 'kind' does not exist in"),
        ("ham\thi\nspam\tyo\nham\tok\n", {"text_column": "5"}, "it has no header; use an index 0-1"),
        ("ham\thi\tx\nspam\tyo\n", {}, "line(s) 2 do not have 3 columns like line 1"),
        ("ham\thi\n", {}, "has fewer than two rows"),
    ],
)
def test_bad_tables_are_one_line_errors(tmp_path, content, options, message):
    path = tmp_path / "bad.tsv"
    path.write_text(content)
    with pytest.raises(UserError) as error:
        load_dataset(f"text:{path}", **options)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_a_table_that_is_not_utf8_names_the_line(tmp_path):
    path = tmp_path / "latin1.tsv"
    path.write_bytes("ham\thi\nspam\tcaf\xe9\n".encode("latin-1"))
    with pytest.raises(UserError, match=r"is not UTF-8 text \(line 2\)"):
        load_dataset(f"text:{path}")


def test_missing_data_and_image_models_on_text_are_one_line_errors(sms_tsv, in_tmp, capsys):
    assert main(["train", "text_rnn"]) == 2
    assert "Text data 'data/texts.tsv' does not exist" in capsys.readouterr().err
    assert main(["train", "text_rnn", f"data=text:{sms_tsv}", "model=cnn"]) == 2
    assert "model=cnn needs image data" in capsys.readouterr().err
    assert main(["train", "text_rnn", f"data=text:{sms_tsv}", "model=ann"]) == 2
    assert "is text; text data trains with model=rnn" in capsys.readouterr().err
    assert main(["train", "text_rnn", "vocabulary_size=2"]) == 2
    assert "vocabulary_size=2 is out of range" in capsys.readouterr().err
    assert not (in_tmp / "saved_models").exists()


def test_text_rnn_trains_exports_and_predicts_raw_text(sms_tsv, tmp_path, capsys):
    run_dir = tmp_path / "run"
    settings = [
        "learning_rate=0.01",
        "sequence_length=8",
        "model.units=8",
        "model.embedding_dim=8",
        "epochs=20",
        "variants=float32,int8",
    ]
    assert main(["train", "text_rnn", f"data=text:{sms_tsv}", *settings, f"run_dir={run_dir}", "verbose=0"]) == 0
    assert float(capsys.readouterr().out.split("Test accuracy")[1].split("%")[0]) >= 90
    card = json.loads((run_dir / "model_card.json").read_text())
    assert card["input"]["dtype"] == "int32" and card["input"]["vocabulary_file"] == "vocab.txt"
    vocabulary = read_vocabulary(run_dir / "vocab.txt")
    assert vocabulary[:2] == ["", "[UNK]"] and len(vocabulary) == card["input"]["vocabulary_size"]
    int8 = card["variants"]["int8"]
    assert int8["builtins_only"] and int8["parity"]["top1_agreement"] >= 0.98
    assert int8["xnnpack"] or "setUseXNNPACK(false)" in int8["delegate"]

    texts = ["WIN a FREE prize, call now!", "see you at lunch"]
    served = tf.saved_model.load(str(run_dir / "saved_model")).signatures["serve_raw"](texts=tf.constant(texts))
    assert main(["predict", str(run_dir), *texts, "--top", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("WIN a FREE prize, call now!: spam") and lines[1].startswith("see you at lunch: ham")
    assert np.argmax(served["probabilities"], axis=1).tolist() == [1, 0]
    (tmp_path / "message.txt").write_text("urgent: claim your cash reward")
    assert main(["predict", str(run_dir), str(tmp_path / "message.txt"), "--variant", "int8"]) == 0
    assert ": spam" in capsys.readouterr().out


def test_a_folder_with_no_readable_text_is_one_line(tmp_path):
    for label in ("a", "b"):
        (tmp_path / "docs" / label).mkdir(parents=True)
        for index in range(12):
            (tmp_path / "docs" / label / f"{index}.txt").write_bytes("na\xefve".encode("latin-1"))
    with pytest.raises(UserError, match=r"No training file in .* could be read as UTF-8 text \(.*\.txt"):
        load_dataset(f"text:{tmp_path / 'docs'}")


def _stream_tables(monkeypatch):
    """Makes every text table larger than memory allows, so it streams."""
    import kerasdl.data.text

    monkeypatch.setattr(kerasdl.data.text, "memory_budget", lambda: (1, "given"))


def _rows(ids, labels):
    """A split's examples as sorted tuples: a streamed split comes in file order."""
    return sorted(map(tuple, np.c_[ids, labels].tolist()))


@pytest.mark.parametrize("layout", ["tsv", "csv with a header", "semicolons"])
def test_a_streamed_text_table_gives_the_splits_and_vocabulary_of_one_in_memory(tmp_path, monkeypatch, layout):
    rows = messages()
    path = tmp_path / "texts.txt"
    if layout == "tsv":
        path.write_text("".join(f"{label}\t{text}\n" for label, text in rows) + 'ham\tHe said "ok", fine\n')
    elif layout == "csv with a header":
        path.write_text(
            "id,category,message\n" + "".join(f'{i},{label},"{text}, really"\n' for i, (label, text) in enumerate(rows))
        )
    else:
        path.write_text("".join(f"{text};{label}\n" for label, text in rows))
    held = load_dataset(f"text:{path}", sequence_length=8)
    _stream_tables(monkeypatch)
    streamed = load_dataset(f"text:{path}", sequence_length=8)
    assert (
        isinstance(streamed, TextTableStream) and "is read and tokenised while training reads it" in streamed.notes[-1]
    )
    assert streamed.info.vocabulary == held.info.vocabulary and streamed.info.class_names == held.info.class_names
    for split in ("train", "validation", "test"):
        assert _rows(*streamed.arrays(split)) == _rows(*held.arrays(split))


def test_a_large_text_table_with_line_breaks_in_quotes_is_read_whole(tmp_path, monkeypatch):
    _stream_tables(monkeypatch)
    path = tmp_path / "reviews.csv"
    path.write_text("label,text\n" + "".join(f'{label},"{text}\nsecond line"\n' for label, text in messages()))
    dataset = load_dataset(f"text:{path}", sequence_length=8)
    assert not isinstance(dataset, TextTableStream)
    assert any(note.endswith("but a quoted text holds a line break: read whole") for note in dataset.notes)


def test_text_rnn_trains_on_a_streamed_table(sms_tsv, tmp_path, capsys, monkeypatch):
    _stream_tables(monkeypatch)
    run_dir = tmp_path / "run"
    settings = ["learning_rate=0.01", "sequence_length=8", "model.units=8", "model.embedding_dim=8", "epochs=20"]
    assert main(["train", "text_rnn", f"data=text:{sms_tsv}", *settings, "variants=float32", f"run_dir={run_dir}"]) == 0
    out = capsys.readouterr().out
    assert "is read and tokenised while training reads it" in out
    # 25 test messages of two well-separated kinds: 90% allows two misses.
    assert float(out.split("Test accuracy")[1].split("%")[0]) >= 90
