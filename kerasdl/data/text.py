"""`text:FILE` or `text:DIR`: labelled texts for the text models.

FILE is a TSV or CSV table with a label column and a text column: a tab in
the first line makes it TSV (cells split on tabs, quotes kept as written, as
in the SMS Spam Collection's `ham<TAB>Go until jurong point...`), otherwise
CSV with `,` or `;` and standard quoting. The first row is a header when it
names the columns (label, text, message, ...) or when its label cell occurs
nowhere else in that column. The label column is `label=` (name or 0-based
index), else one named like a label, else the column with the fewest
distinct values; the text column is `text_column=`, else one named like a
text, else the other column with the longest cells. Other columns are
ignored, and the run says so.

DIR has one sub-folder per class of UTF-8 `.txt` files, one document per
file, as in IMDB's `aclImdb/train/{pos,neg}`; it streams
(`kerasdl.data.text_folder`).

A table that is not UTF-8 and rows without a label fail with the line
numbers; rows with an empty text are skipped and counted in the run's
notes. The splits hold token ids (see `kerasdl.tokenize`), from a
vocabulary adapted on the training split only.
"""

import csv
from pathlib import Path

import numpy as np

from kerasdl.data.cache_plan import memory_budget
from kerasdl.data.dataset import DataInfo, Dataset, first_few, natural_order, split_stratified
from kerasdl.errors import UserError
from kerasdl.tokenize import adapt_vocabulary, token_ids, wordpiece_vocabulary

# Bytes a text table takes in memory, read whole, for each byte of its file:
# a 42 MiB TSV of 500,000 messages peaked 1,042 MiB above the libraries
# (AMD EPYC family 25). A file of more than the memory budget over this streams
# (`text_table_stream`): 20 MiB with the budget's 512 MiB.
HELD_BYTES_PER_BYTE = 25

# Training texts a streaming source's "texts fill every token position"
# note is measured on: all of a small one, a seeded sample of a large one
# (a share, read to the nearest few percent).
FULL_SAMPLE = 2000

LABEL_NAMES = ("label", "labels", "class", "category", "target", "sentiment", "y")
TEXT_NAMES = ("text", "message", "sms", "review", "sentence", "content", "body", "comment", "document", "x")


def load_text(
    spec_path, seed, validation_fraction, test_fraction, vocabulary_size, sequence_length, wordpiece="", **columns
):
    """Loads `text:FILE` or `text:DIR` as seeded, stratified splits of token ids.

    Args:
        spec_path: the TSV/CSV file or the folder of class sub-folders.
        seed: seeds the splits.
        validation_fraction: share of all texts for validation.
        test_fraction: share of all texts for the test split.
        vocabulary_size: most token ids, padding and [UNK] included.
        sequence_length: token ids per text (longer texts are cut).
        wordpiece: a keras-hub BERT preset whose tokeniser to use; empty:
            words (see `vectorised_dataset`).
        **columns: `label=` and `text_column=` for a table (empty: detect).

    Returns:
        A `Dataset` of kind `text`.

    Example:
        >>> load_text("spam.tsv", 42, 0.1, 0.2, 20000, 64).info.class_names
        ['ham', 'spam']
    """
    path = Path(spec_path)
    if path.is_dir():
        from kerasdl.data.text_folder import load_text_folder

        return load_text_folder(
            path, seed, validation_fraction, test_fraction, vocabulary_size, sequence_length, wordpiece
        )
    if path.is_file():
        held = None
        if path.stat().st_size * HELD_BYTES_PER_BYTE > memory_budget()[0]:
            from kerasdl.data.text_table_stream import load_text_table_stream

            settings = (seed, validation_fraction, test_fraction, vocabulary_size, sequence_length, wordpiece)
            dataset, held = load_text_table_stream(path, *settings, **columns)
            if dataset is not None:
                return dataset
        texts, raw_labels, notes = _read_table(path, columns.get("label", ""), columns.get("text_column", ""))
        notes += [held] if held else []
    else:
        raise UserError(f"Text data {spec_path!r} does not exist; pass data=text:FILE (TSV or CSV) or text:DIR")
    class_names = sorted(set(raw_labels), key=natural_order)
    if len(class_names) < 2:
        raise UserError(f"{spec_path!r} has a single class ({class_names[0]!r}); classification needs at least 2")
    labels = np.asarray([class_names.index(label) for label in raw_labels], dtype="int32")
    splits = split_stratified(np.asarray(texts, dtype=object), labels, seed, validation_fraction, test_fraction)
    return vectorised_dataset(
        f"text:{spec_path}", splits, class_names, vocabulary_size, sequence_length, notes, wordpiece
    )


def vectorised_dataset(name, splits, class_names, vocabulary_size, sequence_length, notes=(), wordpiece=""):
    """Splits of raw texts -> a `Dataset` of token ids.

    Args:
        name: the data spec.
        splits: `{"train": (texts, labels), "validation": ..., "test": ...}`.
        class_names: label of each class index.
        vocabulary_size: most token ids, padding and [UNK] included (words
            only: a WordPiece vocabulary is the pretrained model's).
        sequence_length: token ids per text.
        notes: lines the run should show.
        wordpiece: a keras-hub BERT preset whose WordPiece tokeniser to use;
            empty: words, with a vocabulary from the training split only.
    """
    if wordpiece:
        vocabulary, kind = wordpiece_vocabulary(wordpiece)
    else:
        vocabulary, kind = adapt_vocabulary(splits["train"][0], vocabulary_size), "words"
    ids = {
        split: (token_ids(texts, vocabulary, sequence_length, kind), labels)
        for split, (texts, labels) in splits.items()
    }
    notes = list(notes) + full_texts_notes(ids["train"][0])
    info = DataInfo(
        name=name,
        kind="text",
        input_shape=(sequence_length,),
        class_names=list(class_names),
        value_range=(0, len(vocabulary) - 1),
        mean=None,
        variance=None,
        vocabulary=vocabulary,
        tokenizer=kind,
    )
    return Dataset(info=info, splits=ids, notes=notes)


def streamed_info(name, class_names, sequence_length):
    """The `DataInfo` of a text source that streams, its vocabulary still to learn (`learn_vocabulary`)."""
    return DataInfo(
        name=name,
        kind="text",
        input_shape=(sequence_length,),
        class_names=class_names,
        value_range=(0, 1),
        mean=None,
        variance=None,
        vocabulary=None,
        tokenizer="words",
    )


def learn_vocabulary(dataset, vocabulary_size, wordpiece, seed):
    """Sets a streaming text dataset's vocabulary (adapted on a stream of
    its training texts, `dataset.texts("train")`, or the preset's
    WordPiece) and value range, and notes how many texts fill every token
    position, on a seeded sample of at most `FULL_SAMPLE` of them."""
    info = dataset.info
    if wordpiece:
        info.vocabulary, info.tokenizer = wordpiece_vocabulary(wordpiece)
    else:
        info.vocabulary = adapt_vocabulary(dataset.texts("train"), vocabulary_size)
    info.value_range = (0, len(info.vocabulary) - 1)
    ids = dataset.sample("train", FULL_SAMPLE, seed if dataset.size("train") > FULL_SAMPLE else None)[0]
    dataset.notes += full_texts_notes(ids)


def full_texts_notes(ids):
    """`[the run's line]` when more than 5% of the texts whose token ids are
    `ids` fill every position (longer ones were cut), else `[]`."""
    full = float(np.mean(ids[:, -1] != 0)) if len(ids) else 0.0
    if full <= 0.05:
        return []
    return [
        f"{full:.0%} of training texts fill all sequence_length={ids.shape[1]} token positions and "
        "longer ones are cut; a larger sequence_length keeps more of them"
    ]


def _read_table(path, label, text_column):
    rows = _rows(path)
    header, names, label_index, text_index = table_columns(rows, label, text_column, path)
    width = len(names)
    body = rows[1:] if header else rows
    missing = [number for number, row in body if not row[label_index].strip()]
    if missing:
        raise UserError(f"{str(path)!r}: line(s) {first_few(missing)} have no label in column {names[label_index]!r}")
    texts, labels, empty = [], [], 0
    for _, row in body:
        text = row[text_index].strip()
        if not text:
            empty += 1
            continue
        texts.append(text)
        labels.append(row[label_index].strip())
    notes = [f"skipped {empty} row(s) with an empty text"] if empty else []
    ignored = [names[index] for index in range(width) if index not in (label_index, text_index)]
    if ignored:
        notes.append(f"ignored column(s) {', '.join(ignored)}: kerasdl reads one label and one text column")
    if not texts:
        raise UserError(f"{str(path)!r} has no rows with a text")
    return texts, labels, notes


def table_columns(rows, label, text_column, path):
    """`(header, names, label index, text index)` of a table's rows
    `[(line number, cells), ...]` (all of them, or the first thousands of a
    large table), as the module's docstring says they are chosen."""
    width = len(rows[0][1])
    if width < 2:
        raise UserError(f"{str(path)!r} needs a label column and a text column; found one column")
    wrong = [number for number, row in rows if len(row) != width]
    if wrong:
        raise UserError(f"{str(path)!r}: line(s) {first_few(wrong)} do not have {width} columns like line 1")
    first = [cell.strip() for cell in rows[0][1]]
    named = any(cell.lower() in LABEL_NAMES + TEXT_NAMES for cell in first)
    header = named or _first_row_is_header(rows, _pick_label(rows, None, "", path))
    names = first if header else [f"column{index}" for index in range(width)]
    body = rows[1:] if header else rows
    label_index = _pick_label(rows, names if header else None, label, path)
    text_index = _pick_text(body, names if header else None, label_index, text_column, path)
    return header, names, label_index, text_index


def table_dialect(first_line, path):
    """None for a TSV (a tab in the first line), else the CSV dialect `csv` sniffs from it."""
    if "\t" in first_line:
        return None
    try:
        return csv.Sniffer().sniff(first_line.rstrip("\r\n"), delimiters=",;")
    except csv.Error:
        raise UserError(f"{str(path)!r}: cannot tell its columns apart; use tabs, commas or semicolons") from None


def _rows(path):
    """`[(line_number, cells), ...]` of the non-blank rows."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        line = path.read_bytes()[: error.start].count(b"\n") + 1
        raise UserError(f"{str(path)!r} is not UTF-8 text (line {line}); save it as UTF-8") from None
    lines = text.splitlines()
    numbered = [(number, line) for number, line in enumerate(lines, start=1) if line.strip()]
    if len(numbered) < 2:
        raise UserError(f"{str(path)!r} has fewer than two rows")
    dialect = table_dialect(numbered[0][1], path)
    if dialect is None:
        width = numbered[0][1].count("\t") + 1
        # Texts are the free-form part: split no further than the first line does.
        return [(number, line.split("\t", width - 1)) for number, line in numbered]
    reader = csv.reader(lines, dialect)
    return [(reader.line_num, row) for row in reader if any(cell.strip() for cell in row)]


def _pick_label(rows, header, label, path):
    width = len(rows[0][1])
    if label:
        return _named_column("Label", label, header, width, path)
    if header:
        for index, name in enumerate(header):
            if name.lower() in LABEL_NAMES:
                return index
    body = rows[1:]
    distinct = [len({row[index].strip() for _, row in body}) for index in range(width)]
    return int(np.argmin(distinct))


def _first_row_is_header(rows, label_index):
    """A class needs several examples, so a first label seen only once is a column name."""
    first = rows[0][1][label_index].strip()
    return all(row[label_index].strip() != first for _, row in rows[1:])


def _pick_text(body, header, label_index, text_column, path):
    width = len(body[0][1])
    candidates = [index for index in range(width) if index != label_index]
    if text_column:
        return _named_column("Text", text_column, header, width, path)
    if header:
        for index in candidates:
            if header[index].lower() in TEXT_NAMES:
                return index
    lengths = [np.mean([len(row[index]) for _, row in body]) for index in candidates]
    return candidates[int(np.argmax(lengths))]


def _named_column(kind, name, header, width, path):
    """The index of a column the user named, by header name or 0-based index."""
    if header and name in header:
        return header.index(name)
    if name.isdigit() and int(name) < width:
        return int(name)
    choices = f"columns: {', '.join(header)}" if header else f"it has no header; use an index 0-{width - 1}"
    raise UserError(f"{kind} column {name!r} does not exist in {str(path)!r}; {choices}")
