"""`text:FILE` larger than memory: rows read and tokenised while training reads them.

A text table read whole takes about 25 times its file's size in memory
(`text.HELD_BYTES_PER_BYTE`); a larger file than the memory budget allows
streams instead, as a large `csv:` table does (`csv_stream`): one pass in
Python checks every row and records each usable row's label and line in
the file, the columns are chosen as for a table in memory
(`text.table_columns`) on its first `DETECTION_ROWS` rows, and each split's
pipeline reads the file, keeps its rows by line, splits them into cells
and tokenises the text with the vectorizer `serve_raw` uses. The
vocabulary is adapted on a stream of the training rows.

A table TensorFlow's line reader would read otherwise than Python's `csv`
(a quoted text holding a line break, as reviews often do; lone carriage
returns; stray quotes; non-ASCII spaces around a label) is read whole, and
the run says why.
"""

import csv
import dataclasses
import itertools

import numpy as np

from kerasdl.data.csv_rows import ASCII_SPACE, CsvTable, holds_line_break
from kerasdl.data.csv_stream import CsvStream, label_lookup
from kerasdl.data.dataset import first_few, natural_order, split_stratified
from kerasdl.data.text import learn_vocabulary, streamed_info, table_columns, table_dialect
from kerasdl.errors import UserError
from kerasdl.tokenize import vectorizer

# Rows the label and text columns are chosen on.
DETECTION_ROWS = 10_000
# Texts a vocabulary pass hands Keras at a time.
ADAPT_BATCH = 1024


class _Tsv(csv.Dialect):
    """Tab-separated, quotes kept as written (the SMS Spam Collection's layout)."""

    delimiter, quotechar, quoting, lineterminator = "\t", '"', csv.QUOTE_NONE, "\n"
    doublequote, skipinitialspace = False, False


def load_text_table_stream(
    path, seed, validation_fraction, test_fraction, vocabulary_size, sequence_length, wordpiece, **columns
):
    """`(TextTableStream, None)`, or `(None, why)` for a table that must be read whole.

    Args are those of `kerasdl.data.text.load_text`, `path` a `Path`.
    """
    table, tsv = _layout(path)
    width = len(next(table.rows(), (0, []))[1])
    sample = [(number, row) for number, row, _ in itertools.islice(_rows(table, tsv, width), DETECTION_ROWS)]
    if len(sample) < 2:
        raise UserError(f"{str(path)!r} has fewer than two rows")
    header, names, label_index, text_index = table_columns(
        sample, columns.get("label", ""), columns.get("text_column", ""), path
    )
    wrong, missing, empty, codes, labels, lines, why = [], [], 0, {}, [], [], None
    for number, row, line in itertools.islice(_rows(table, tsv, width), int(header), None):
        if len(row) != width:
            wrong.append(number)
            continue
        label, text = row[label_index].strip(), row[text_index].strip()
        if not label:
            missing.append(number)
        elif not text:
            empty += 1
        else:
            labels.append(codes.setdefault(label, len(codes)))
            lines.append(line)
        if why is None and holds_line_break(row):
            why = "a quoted text holds a line break"
        if why is None and row[label_index].strip(ASCII_SPACE) != label:
            why = "a label has non-ASCII spaces around it"
    if wrong:
        raise UserError(f"{str(path)!r}: line(s) {first_few(wrong)} do not have {width} columns like line 1")
    if missing:
        raise UserError(f"{str(path)!r}: line(s) {first_few(missing)} have no label in column {names[label_index]!r}")
    why = why or table.line_problem
    if why:
        return None, f"the file is too large to read whole in memory comfortably, but {why}: read whole"
    class_names = sorted(codes, key=natural_order)
    if len(class_names) < 2:
        raise UserError(f"{str(path)!r} has a single class ({class_names[0]!r}); classification needs at least 2")
    first_seen = np.asarray([class_names.index(name) for name in codes], dtype="int32")
    labels = first_seen[np.asarray(labels, dtype="int32")]
    order = split_stratified(np.arange(len(labels)), labels, seed, validation_fraction, test_fraction)
    info = streamed_info(f"text:{path}", class_names, sequence_length)
    dataset = TextTableStream(
        info=info,
        splits={split: (np.sort(rows), labels[np.sort(rows)]) for split, (rows, _) in order.items()},
        notes=[f"skipped {empty} row(s) with an empty text"] if empty else [],
        path=str(path),
        delimiter=table.dialect.delimiter,
        width=width,
        label_column=label_index,
        lines=np.asarray(lines, dtype="int64"),
        line_count=table.line_count,
        text_column=text_index,
        tsv=tsv,
    )
    ignored = [names[index] for index in range(width) if index not in (label_index, text_index)]
    if ignored:
        dataset.notes.append(f"ignored column(s) {', '.join(ignored)}: kerasdl reads one label and one text column")
    learn_vocabulary(dataset, vocabulary_size, wordpiece, seed)
    dataset.notes.append(
        f"the file ({path.stat().st_size / 2**20:,.0f} MiB) is read and tokenised while training reads it, "
        f"the training rows shuffled in a buffer of {dataset.shuffle_rows():,}"
    )
    return dataset, None


@dataclasses.dataclass
class TextTableStream(CsvStream):
    """Splits of a text table read from the file by the pipeline
    (`CsvStream`); `pipeline()` yields int32 token ids `(batch,
    sequence_length)` and int32 labels.

    Args:
        text_column: the text's cell.
        tsv: cells are split on tabs, at most `width - 1` times, quotes
            kept; else `tf.io.decode_csv`.
    """

    text_column: int = 1
    tsv: bool = False

    def row_bytes(self):
        """Bytes of one example: int32 token ids and label."""
        return 4 * self.info.input_shape[0] + 4

    def texts(self, split):
        """Batches of the split's texts (for the vocabulary)."""
        rows = self.splits[split][0]
        return self._parsed(rows, example=lambda cells: cells[self.text_column]).batch(ADAPT_BATCH)

    def _cells(self, lines):
        import tensorflow as tf

        if not self.tsv:
            return super()._cells(lines)
        cells = tf.strings.split(lines, "\t", maxsplit=self.width - 1).to_tensor("", shape=[None, self.width])
        return tf.unstack(cells, num=self.width, axis=1)

    def _example(self):
        import tensorflow as tf

        tokenize = vectorizer(self.info.tokenizer, self.info.vocabulary, self.info.input_shape[0])
        label_of = label_lookup(self.info.class_names, self.label_column)
        return lambda cells: (tf.cast(tokenize(cells[self.text_column]), tf.int32), label_of(cells))


def _layout(path):
    """`(CsvTable, tsv)`: how the file's rows are read, from its first non-blank line."""
    with open(path, encoding="utf-8-sig", newline="") as file:
        try:
            first = next((line for line in file if line.strip()), "")
        except UnicodeDecodeError:
            raise UserError(f"{str(path)!r} is not UTF-8 text; save it as UTF-8") from None
    dialect = table_dialect(first, path)
    return CsvTable(path, dialect or _Tsv, has_header=False, header=[]), dialect is None


def _rows(table, tsv, width):
    """`(line number, cells, line)` of the non-blank rows: the number 1-based
    as the errors of a table in memory say it, the line 0-based as
    `TextLineDataset` counts. A TSV's cells past `width - 1` tabs are the text's."""
    for _, row, line in table.rows_and_lines():
        if tsv and len(row) > width:
            row = [*row[: width - 1], "\t".join(row[width - 1 :])]
        yield line + 1, row, line
