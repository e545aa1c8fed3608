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

import csv
from pathlib import Path

import numpy as np

from kerasdl.data.dataset import (
    DataInfo,
    Dataset,
    first_few,
    is_number,
    natural_order,
    normalisation_stats,
    split_stratified,
)
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
    header, rows = _read_rows(Path(path))
    label_index = _label_index(header, label)
    missing = [number for number, row in rows if not row[label_index].strip()]
    if missing:
        raise UserError(f"{path}: row(s) {first_few(missing)} have no value in label column {header[label_index]!r}")
    raw_labels = [row[label_index].strip() for _, row in rows]
    class_names = sorted(set(raw_labels), key=natural_order)
    labels = np.asarray([class_names.index(value) for value in raw_labels], dtype="int32")
    feature_columns = [index for index in range(len(header)) if index != label_index]
    features = np.empty((len(rows), len(feature_columns)), dtype="float32")
    categorical = {}
    for column, index in enumerate(feature_columns):
        cells = [(number, row[index].strip()) for number, row in rows]
        if _is_categorical(cells):
            categorical[column] = [cell for _, cell in cells]
        else:
            features[:, column] = _numeric_column(path, header[index], cells)
    # Categories come from the training split only, as the normalisation does.
    order = split_stratified(np.arange(len(rows)), labels, seed, validation_fraction, test_fraction)
    categories, notes = {}, []
    for column, values in categorical.items():
        features[:, column], categories[column] = _category_codes(values, order["train"][0])
        names = categories[column]
        shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
        name = header[feature_columns[column]]
        notes.append(f"column {name!r} is categorical ({len(names)} values: {shown}); one-hot inside")
    splits = {split: (features[chosen], labels[chosen]) for split, (chosen, _) in order.items()}
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
        feature_names=[header[index] for index in feature_columns],
        categories=categories or None,
    )
    return Dataset(info=info, splits=splits, notes=notes)


def _read_rows(path):
    if not path.is_file():
        raise UserError(f"CSV file {str(path)!r} does not exist")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise UserError(f"{str(path)!r} is not UTF-8 text (byte {error.start}); save it as UTF-8") from None
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) < 2:
        raise UserError(f"{str(path)!r} has fewer than two rows")
    try:
        dialect = csv.Sniffer().sniff(lines[0], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    rows = list(csv.reader(lines, dialect))
    has_header = not all(is_number(cell) for cell in rows[0] if cell.strip())
    header = [cell.strip() for cell in rows[0]] if has_header else [f"column{i}" for i in range(len(rows[0]))]
    body = list(enumerate(rows[1:] if has_header else rows, start=2 if has_header else 1))
    wrong = [number for number, row in body if len(row) != len(header)]
    if wrong:
        raise UserError(f"{str(path)!r}: row(s) {first_few(wrong)} do not have {len(header)} columns like the header")
    if len(header) < 2:
        raise UserError(f"{str(path)!r} needs at least one feature column and a label column")
    return header, body


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


def _is_categorical(cells):
    """Mostly words: more than half of the non-empty cells are not numbers."""
    filled = [cell for _, cell in cells if cell]
    return sum(not is_number(cell) for cell in filled) * 2 > len(filled)


def _category_codes(values, train_rows):
    """Codes 1..K for the training split's sorted categories; 0 for empty or unseen values."""
    names = sorted({values[row] for row in train_rows} - {""}, key=natural_order)
    lookup = {name: code for code, name in enumerate(names, start=1)}
    return [lookup.get(value, 0) for value in values], names


def _numeric_column(path, name, cells):
    values, bad = [], []
    for number, cell in cells:
        if is_number(cell):
            values.append(float(cell))
        else:
            bad.append((number, cell))
    if bad:
        number, cell = bad[0]
        raise UserError(f"{path}: row {number}, column {name!r}: {cell!r} is not a number")
    return values
