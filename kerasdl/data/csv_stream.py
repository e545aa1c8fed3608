"""`csv:FILE` larger than memory: rows parsed while training reads them.

A table whose features would take more than the memory budget as arrays
(`cache_plan.memory_budget`: an eighth of the memory available, at most 512
MiB, so about 13 million rows of 10 columns) is not loaded into arrays.
Each split's pipeline reads the file line by line (`TextLineDataset`),
keeps the split's rows, parses them (`tf.io.decode_csv`; categories and
labels through lookup tables), and shuffles the training rows in a buffer of
`SHUFFLE_BYTES`. Memory holds the row numbers, the labels and that buffer.

The split is the one a table in memory gets (the same seeded, stratified
choice of rows), but a split's rows come in the file's order into the
buffer, so the batches differ from an in-memory run's, and a file sorted by
its label mixes only within the buffer: the run says so when the longest
run of one label is longer than the buffer. The normalisation's mean and
variance are those of every training row, summed in float64 while the
categories are collected (`training_statistics`).
"""

import dataclasses

import numpy as np

from kerasdl.data.dataset import (
    PREFETCH_BATCHES,
    Dataset,
    batching,
    filled_arrays,
    seeded_choice,
    untuned,
    usable_threads,
)
from kerasdl.data.streaming import DISK_SHUFFLE_BYTES

# Parsed training rows the shuffle buffer holds, as bytes: a disk cache's buffer.
SHUFFLE_BYTES = DISK_SHUFFLE_BYTES
# What tf.data keeps for each element of a shuffle buffer beside its values:
# 1,000,000 rows of 9 float32 features and a label took 386 MiB, 40 bytes of
# values and 365 of tensors each (AMD EPYC family 25).
ELEMENT_BYTES = 384
# Lines of the file a call reads, keeps and parses.
LINES_A_CALL = 4096


@dataclasses.dataclass
class CsvStream(Dataset):
    """Splits of a CSV table read from the file by the pipeline.

    `splits[name]` is `(row numbers, labels)`, the rows (0-based among the
    table's non-blank rows after the header) in file order.

    Args:
        path: the CSV file.
        delimiter: its cell separator.
        width: cells a row.
        label_column: the label's cell.
        columns: `[(cell index, categories or None), ...]`, one a feature:
            a numeric cell is parsed, a categorical one becomes its code
            (1 + its position in the categories; 0 for empty or unseen).
        lines: each row's line in the file (0-based; the header's and blank
            lines are nobody's).
        line_count: lines in the file.
    """

    path: str = ""
    delimiter: str = ","
    width: int = 0
    label_column: int = 0
    columns: list = dataclasses.field(default_factory=list)
    lines: np.ndarray = None
    line_count: int = 0
    loaded: dict = dataclasses.field(default_factory=dict, repr=False, compare=False)

    def row_bytes(self):
        """Bytes of one parsed row: float32 features and an int32 label."""
        return 4 * len(self.columns) + 4

    def shuffle_rows(self):
        """Rows the training split is shuffled in: all of them, or `SHUFFLE_BYTES` of them."""
        return max(1, min(self.size("train"), SHUFFLE_BYTES // (self.row_bytes() + ELEMENT_BYTES)))

    def arrays(self, split):
        """`split` read once into preallocated arrays, and kept."""
        if split not in self.loaded:
            self.loaded[split] = self._read(self.splits[split][0])
        return self.loaded[split]

    def sample(self, split, count, seed=None):
        """At most `count` rows of `split`: the first ones or a seeded choice, reading only those."""
        if split in self.loaded:
            return super().sample(split, count, seed)
        rows = self.splits[split][0]
        chosen = rows[:count] if seed is None else np.sort(rows[seeded_choice(len(rows), count, seed)])
        return self._read(chosen)

    def pipeline(self, split, batch_size, shuffle=False, seed=0, replicas=1, even=False):
        """A batched `tf.data.Dataset` of `(features, labels)` for `split`,
        parsed from the file (see `Dataset.pipeline` for the arguments)."""
        rows = self.splits[split][0]
        keep, batch_size, drop_remainder = batching(len(rows), batch_size, replicas, shuffle, even)
        data = self._parsed(rows[:keep])
        if shuffle:
            data = data.shuffle(self.shuffle_rows(), seed=seed, reshuffle_each_iteration=True)
        return untuned(data.batch(batch_size, drop_remainder=drop_remainder).prefetch(PREFETCH_BATCHES))

    def _read(self, rows):
        return filled_arrays(self._parsed(rows).batch(4096), len(rows))

    def _parsed(self, rows, example=None):
        """The table's `rows` (sorted row numbers), parsed, in file order:
        `example(cells)` (default `_example`) of each, `cells` a list of a
        block's string columns.

        Lines are read and parsed `LINES_A_CALL` at a time: a call per row
        made the pipeline read 10,000 rows a second (AMD EPYC family 25)."""
        import tensorflow as tf

        wanted = np.zeros(self.line_count + 1, dtype=bool)  # the last: any line past the end
        wanted[self.lines[rows]] = True
        wanted = tf.constant(wanted)
        example = example or self._example()

        def parse(block, lines):
            numbers = block * LINES_A_CALL + tf.range(tf.size(lines, out_type=tf.int64))
            lines = tf.boolean_mask(lines, tf.gather(wanted, tf.minimum(numbers, self.line_count)))
            lines = tf.strings.regex_replace(lines, "^\ufeff", "")  # a UTF-8 byte-order mark
            return example([tf.strings.strip(cell) for cell in self._cells(lines)])

        blocks = tf.data.TextLineDataset(self.path).batch(LINES_A_CALL).enumerate()
        data = blocks.map(parse, num_parallel_calls=usable_threads(), deterministic=True).unbatch()
        return data.apply(tf.data.experimental.assert_cardinality(len(rows)))

    def _cells(self, lines):
        """A block of lines -> its `width` columns of cells (`tf.io.decode_csv`)."""
        import tensorflow as tf

        return tf.io.decode_csv(lines, [""] * self.width, field_delim=self.delimiter)

    def _example(self):
        """`cells -> (float32 features, int32 labels)` of a block, the lookup tables made once."""
        import tensorflow as tf

        tables = [_lookup(categories) if categories is not None else None for _, categories in self.columns]
        label_of = label_lookup(self.info.class_names, self.label_column)

        def example(cells):
            features = [
                tf.strings.to_number(cells[index]) if table is None else tf.cast(table.lookup(cells[index]), tf.float32)
                for (index, _), table in zip(self.columns, tables, strict=True)
            ]
            return tf.stack(features, axis=1), label_of(cells)

        return example


def label_lookup(class_names, column):
    """`cells -> int32 label indices` of a block; a label the table's scan
    did not see (a parser difference, never a silent class) fails."""
    import tensorflow as tf

    table = _lookup(class_names, first=0)

    def label_of(cells):
        label = table.lookup(cells[column])
        known = tf.debugging.assert_non_negative(label, message="a label the table's scan did not see")
        with tf.control_dependencies([known]):
            return tf.cast(label, tf.int32)

    return label_of


def _lookup(names, first=1):
    """A table from each name to `first` + its position; -1 (labels) or 0 (categories) for others."""
    import tensorflow as tf

    keys = tf.constant(list(names), dtype=tf.string)
    values = tf.range(first, first + len(names), dtype=tf.int64)
    return tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(keys, values), default_value=first - 1)


def training_statistics(table, feature_columns, categorical, train_rows):
    """One pass over the training rows: per feature float64 mean and
    variance (codes: 0 and 1, they are one-hot encoded), the smallest and
    largest value, and each categorical column's sorted categories.

    Args:
        table: the `csv_rows.CsvTable`.
        feature_columns: the cell index of each feature.
        categorical: the features (positions in `feature_columns`) that are categorical.
        train_rows: a boolean per row, True for a training row.
    """
    from kerasdl.data.dataset import natural_order

    numeric = [column for column in range(len(feature_columns)) if column not in categorical]
    # Sums of the values less the first row's: E[x^2] - E[x]^2 of raw
    # values loses the variance of a column like timestamps to rounding.
    shift, total, squares = None, np.zeros(len(numeric)), np.zeros(len(numeric))
    low, high, count = np.full(len(numeric), np.inf), np.full(len(numeric), -np.inf), 0
    seen = {column: set() for column in categorical}
    chunk = []

    def add(chunk, shift):
        values = np.asarray(chunk, dtype="float64").reshape(len(chunk), len(numeric))
        np.minimum(low, values.min(0, initial=np.inf), out=low)
        np.maximum(high, values.max(0, initial=-np.inf), out=high)
        values -= shift
        np.add(total, values.sum(0), out=total)
        np.add(squares, (values**2).sum(0), out=squares)

    for row, (_, cells) in enumerate(table.rows()):
        if not train_rows[row]:
            continue
        count += 1
        chunk.append([float(cells[feature_columns[column]]) for column in numeric])
        for column in categorical:
            seen[column].add(cells[feature_columns[column]].strip())
        if shift is None:
            shift = np.asarray(chunk[0], dtype="float64")
        if len(chunk) == 65536:
            add(chunk, shift)
            chunk = []
    add(chunk, shift)
    categories = {column: sorted(seen[column] - {""}, key=natural_order) for column in categorical}
    mean = np.zeros(len(feature_columns), dtype="float64")
    variance = np.ones(len(feature_columns), dtype="float64")
    mean[numeric] = shift + total / count
    variance[numeric] = np.maximum(squares / count - (total / count) ** 2, 0)
    lows = list(low) + [0 if "" in seen[column] else 1 for column in categorical]
    highs = list(high) + [len(categories[column]) for column in categorical]
    value_range = (float(np.float32(min(lows))), float(np.float32(max(highs))))  # as read into float32
    return mean.astype("float32"), variance.astype("float32"), value_range, categories
