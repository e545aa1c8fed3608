"""`csv:FILE`: a table of numeric and categorical features with one label column.

The delimiter (comma, semicolon or tab) is detected; the first row is a
header if it is not all numbers. The label column is the `label=` key, else a
column named label, target, class or species, else the last one. Labels may
be words or numbers; the class names are the distinct labels, sorted.

Every other column is a feature. A column whose cells are mostly not
numbers is categorical: its categories are the distinct values of the
training split, sorted, and each cell becomes its category's code, 1 to K,
with 0 for an empty cell or a value the training split never had. The model
one-hot encodes the codes inside (`kerasdl.models.layers.model_inputs`), and
the card lists the categories in code order, so a phone app sends codes. In
a mostly numeric column, a cell that is not a number is a one-line error
naming the row and column (a typo, not a category), as is a row without a
label.
"""

from pathlib import Path

import numpy as np

from kerasdl.data.cache_plan import gib, memory_budget
from kerasdl.data.csv_rows import scan
from kerasdl.data.csv_stream import CsvStream, training_statistics
from kerasdl.data.dataset import DataInfo, Dataset, natural_order, normalisation_stats, split_stratified
from kerasdl.errors import UserError

LABEL_NAMES = ("label", "target", "class", "species")


def load_csv_table(path, seed, validation_fraction, test_fraction, label=""):
    """Loads a CSV table as seeded, stratified splits of raw numeric features.

    Args:
        path: the CSV file.
        seed: seeds the splits.
        validation_fraction: share of all rows for validation.
        test_fraction: share of all rows for the test split.
        label: the label column's name (or 0-based index); empty picks one.

    Returns:
        A `Dataset` of tabular features.

    Example:
        >>> load_csv_table("iris.csv", 42, 0.1, 0.2).info.class_names
        ['setosa', 'versicolor', 'virginica']
    """
    table = scan(Path(path), lambda header: _label_index(header, label))
    label_index = table.label_index
    header = table.header
    class_names = sorted(table.label_names, key=natural_order)
    first_seen = np.asarray([class_names.index(name) for name in table.label_names], dtype="int32")
    labels = first_seen[np.frombuffer(table.labels, dtype="int32")]
    table.labels = None  # its codes are in `labels` now
    feature_columns = [index for index in range(len(header)) if index != label_index]
    for index in feature_columns:
        if not table.is_categorical(index) and table.first_bad[index]:
            number, cell = table.first_bad[index]
            raise UserError(f"{path}: row {number}, column {header[index]!r}: {cell!r} is not a number")
    categorical = [column for column, index in enumerate(feature_columns) if table.is_categorical(index)]
    # Categories come from the training split only, as the normalisation does.
    order = split_stratified(np.arange(len(labels)), labels, seed, validation_fraction, test_fraction)
    names = [header[index] for index in feature_columns]
    size = len(labels) * (4 * len(feature_columns) + 4)
    budget, why = memory_budget()
    notes = []
    if size > budget:
        if table.not_by_line:
            notes.append(
                f"the table takes {gib(size)} as arrays, beyond the memory budget, but {table.not_by_line}: held whole"
            )
        else:
            sizes = (size, budget, why)
            return _streamed(table, path, class_names, feature_columns, categorical, labels, order, sizes)
    features, values = _features(table, feature_columns, categorical, len(labels))
    categories = {}
    for column in categorical:
        features[:, column], categories[column] = _category_codes(features[:, column], values[column], order)
    notes += _category_notes(categories, names)
    splits = {split: (features[chosen], labels[chosen]) for split, (chosen, _) in order.items()}
    del features
    mean, variance = normalisation_stats(splits["train"][0])
    for column in categories:  # codes pass the normalisation unchanged, to be one-hot encoded
        mean[column], variance[column] = 0.0, 1.0
    train = splits["train"][0]
    info = DataInfo(
        name=f"csv:{path}",
        kind="tabular",
        input_shape=(len(feature_columns),),
        class_names=class_names,
        value_range=(float(train.min()), float(train.max())),
        mean=mean,
        variance=variance,
        feature_names=names,
        categories=categories or None,
    )
    return Dataset(info=info, splits=splits, notes=notes)


def _streamed(table, path, class_names, feature_columns, categorical, labels, order, sizes):
    """A `CsvStream` of the table: its rows parsed by the pipeline (a table larger than the memory budget)."""
    size, budget, why = sizes
    train_rows = np.zeros(len(labels), dtype=bool)
    train_rows[order["train"][0]] = True
    mean, variance, value_range, categories = training_statistics(table, feature_columns, categorical, train_rows)
    names = [table.header[index] for index in feature_columns]
    info = DataInfo(
        name=f"csv:{path}",
        kind="tabular",
        input_shape=(len(feature_columns),),
        class_names=class_names,
        value_range=value_range,
        mean=mean,
        variance=variance,
        feature_names=names,
        categories=categories or None,
    )
    splits = {split: (np.sort(rows), labels[np.sort(rows)]) for split, (rows, _) in order.items()}
    columns = [(index, categories.get(column)) for column, index in enumerate(feature_columns)]
    dataset = CsvStream(
        info=info,
        splits=splits,
        notes=_category_notes(categories, names),
        path=str(path),
        delimiter=table.dialect.delimiter,
        width=len(table.header),
        label_column=table.label_index,
        columns=columns,
        lines=np.frombuffer(table.lines, dtype="int64"),
        line_count=table.line_count,
    )
    buffer = dataset.shuffle_rows()
    dataset.notes.append(
        f"the table's {len(labels):,} rows take {gib(size)} as arrays, more than the memory budget ({gib(budget)}: "
        f"{why}): its rows are parsed from the file while training reads them, the training rows shuffled in a "
        f"buffer of {buffer:,}"
    )
    if table.longest_run > buffer:
        dataset.notes.append(
            f"warning: the file holds {table.longest_run:,} rows with the same label one after another, more "
            f"than the shuffle buffer's {buffer:,} rows: batches will hold few classes; shuffle the file's rows "
            "once (keeping the header first)"
        )
    return dataset


def _category_notes(categories, names):
    """The run's line for each categorical column."""
    notes = []
    for column, categories_of in categories.items():
        shown = ", ".join(categories_of[:5]) + (", ..." if len(categories_of) > 5 else "")
        notes.append(f"column {names[column]!r} is categorical ({len(categories_of)} values: {shown}); one-hot inside")
    return notes


def _features(table, feature_columns, categorical, count):
    """The second pass: float32 features, each categorical cell held as the
    index of its value in that column's list of distinct values (returned
    beside, by column), until `_category_codes` maps it to a code."""
    features = np.empty((count, len(feature_columns)), dtype="float32")  # indices exact below 2**24 values
    seen = {column: {} for column in categorical}
    kinds = [(index, seen.get(column)) for column, index in enumerate(feature_columns)]
    for row, (_, cells) in enumerate(table.rows()):
        # One assignment a row, from a list: numpy sets an item at a Python call's cost.
        features[row] = [
            float(cells[index]) if distinct is None else distinct.setdefault(cells[index].strip(), len(distinct))
            for index, distinct in kinds
        ]
    return features, {column: list(distinct) for column, distinct in seen.items()}


def _label_index(header, label):
    if label:
        if label in header:
            return header.index(label)
        if label.isdigit() and int(label) < len(header):
            return int(label)
        raise UserError(f"Label column {label!r} does not exist; columns: {', '.join(header)}")
    for index, name in enumerate(header):
        if name.lower() in LABEL_NAMES:
            return index
    return len(header) - 1


def _category_codes(indices, values, order):
    """Codes 1..K of a column for the training split's sorted categories; 0
    for an empty cell or a value the training split never had."""
    indices = indices.astype("int64")
    names = sorted({values[index] for index in np.unique(indices[order["train"][0]])} - {""}, key=natural_order)
    lookup = {name: code for code, name in enumerate(names, start=1)}
    codes = np.asarray([lookup.get(value, 0) for value in values], dtype="float32")
    return codes[indices], names
