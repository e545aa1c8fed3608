"""A CSV table read row by row, never whole.

`csv:FILE` reads its table twice (`kerasdl.data.csv_table`): once to learn
each row's label and line and what each column holds (`scan`), once to fill
preallocated arrays (`CsvTable.rows`), or, for a table larger than the
memory budget, to sum the training rows' statistics (`csv_stream`). Neither
pass keeps the text or a list of rows, so memory holds the float32 features
and the labels (as codes), not a Python object for every cell: a table of
1,000,000 rows and 10 columns (72 MB) loads with a peak RSS of 234 MiB,
against 1,183 MiB read whole into lists, and in 16 to 18 s against 23 to 28 s
(AMD EPYC family 25).
"""

import array
import csv
import dataclasses
import re
from pathlib import Path

from kerasdl.data.dataset import first_few, is_number
from kerasdl.errors import UserError

# What `tf.strings.strip` strips (`str.strip` strips every Unicode space).
ASCII_SPACE = " \t\n\r\x0b\x0c"


@dataclasses.dataclass
class CsvTable:
    """What the first pass learned of a table.

    `header` names the columns (`column0`... for a table without one);
    `filled`, `words` and `first_bad` are
    per column: the non-empty cells, those that are not numbers, and the
    first cell that is not a number (empty ones included) with its row.
    """

    path: Path
    dialect: object
    has_header: bool
    header: list
    label_index: int = 0
    # Each row's label, as the index of its label in `label_names` (first seen first).
    labels: array.array = dataclasses.field(default_factory=lambda: array.array("i"))
    label_names: list = dataclasses.field(default_factory=list)
    # Each row's line in the file, and the file's lines (a streamed table reads by line).
    lines: array.array = dataclasses.field(default_factory=lambda: array.array("q"))
    line_count: int = 0
    filled: list = dataclasses.field(default_factory=list)
    words: list = dataclasses.field(default_factory=list)
    first_bad: list = dataclasses.field(default_factory=list)
    # Why the rows cannot be read line by line by TensorFlow (`csv_stream`),
    # or None: what a row's cells show, else what its lines show.
    not_by_line: str = None
    line_problem: str = None
    # The most rows in a row with the same label (a table sorted by label has long runs).
    longest_run: int = 0

    def rows(self):
        """`(row number, cells)` of each non-blank row after the header,
        numbered as the table's non-blank rows (the header is row 1)."""
        return ((number, row) for number, row, _ in self.rows_and_lines())

    def rows_and_lines(self):
        """`rows()` with each row's line in the file (0-based, where the row
        ends); `line_count` is set once the file has been read through."""
        with _opened(self.path) as file:
            reader = csv.reader(self._checked(file), self.dialect)
            number = 0
            try:
                for row in reader:
                    if not _blank(row, self.dialect.delimiter):
                        number += 1
                        if number > 1 or not self.has_header:
                            yield number, row, reader.line_num - 1
            except UnicodeDecodeError:
                raise UserError(f"{str(self.path)!r} is not UTF-8 text; save it as UTF-8") from None
            except csv.Error as error:  # a cell over the csv module's 131,072 characters
                raise UserError(f"{str(self.path)!r}, line {reader.line_num}: {error}") from None
            self.line_count = reader.line_num

    def _checked(self, lines):
        """`lines`, noting in `line_problem` the first reason TensorFlow's
        line-by-line CSV reader would read them otherwise than `csv` does."""
        delimiter = re.escape(self.dialect.delimiter)
        # A line whose quotes all open, close or double inside quoted cells:
        # elsewhere `csv` keeps a quote as a character, and
        # `tf.io.decode_csv` refuses the line.
        cell = rf'"(?:[^"]|"")*"|[^{delimiter}"\r\n]*'
        quoted = re.compile(rf"(?:{cell})(?:{delimiter}(?:{cell}))*\r?\n?")
        quoting = self.dialect.quoting != csv.QUOTE_NONE  # a TSV's quotes are characters to both readers
        if quoting and (self.dialect.quotechar != '"' or self.dialect.skipinitialspace):
            self.line_problem = "its quoting is not the standard double quotes"
        for line in lines:
            if line.endswith("\r") and not self.line_problem:
                self.line_problem = "its lines end in a lone carriage return"
            if '"' in line and quoting and not self.line_problem and not quoted.fullmatch(line):
                # (Or the line opens a cell that holds a line break, which `_not_by_line` names first.)
                self.line_problem = "a cell holds a quote outside quoting"
            yield line

    def is_categorical(self, column):
        """Mostly words: more than half of the column's non-empty cells are not numbers."""
        return self.words[column] * 2 > self.filled[column]


def scan(path, label_index_of):
    """The first pass over `path`: a `CsvTable`.

    Args:
        path: the CSV file.
        label_index_of: `header -> the label column's index` (it may raise);
            the table keeps it as `label_index`.

    Raises:
        UserError: the file is missing, not UTF-8, has fewer than two rows
            or columns, rows of another width or rows without a label.
    """
    if not path.is_file():
        raise UserError(f"CSV file {str(path)!r} does not exist")
    table = _first_row(path)
    table.label_index = label_index = label_index_of(table.header)
    width = len(table.header)
    table.filled, table.words, table.first_bad = [0] * width, [0] * width, [None] * width
    wrong, missing, run, codes = [], [], 0, {}
    for number, row, line in table.rows_and_lines():
        if len(row) != width:
            wrong.append(number)
            continue
        cells = [cell.strip() for cell in row]
        if not cells[label_index]:
            missing.append(number)
        code = codes.setdefault(cells[label_index], len(codes))
        run = run + 1 if table.labels and table.labels[-1] == code else 1
        table.longest_run = max(table.longest_run, run)
        table.labels.append(code)
        table.lines.append(line)
        if not table.not_by_line:
            table.not_by_line = _not_by_line(row, cells)
        for column, cell in enumerate(cells):
            number_cell = is_number(cell)
            if cell:
                table.filled[column] += 1
                table.words[column] += not number_cell
            if not number_cell and table.first_bad[column] is None:
                table.first_bad[column] = (number, cell)
    table.label_names = list(codes)
    table.not_by_line = table.not_by_line or table.line_problem
    if wrong:
        raise UserError(f"{str(path)!r}: row(s) {first_few(wrong)} do not have {width} columns like the header")
    if missing:
        name = table.header[label_index]
        raise UserError(f"{path}: row(s) {first_few(missing)} have no value in label column {name!r}")
    return table


def _first_row(path):
    """The table's dialect (from its first non-blank line) and header."""
    with _opened(path) as file:
        try:
            line = next((line for line in file if line.strip()), "")
            second = next((line for line in file if line.strip()), "")  # blank as `_blank` says
        except UnicodeDecodeError:
            raise UserError(f"{str(path)!r} is not UTF-8 text; save it as UTF-8") from None
    if not second:
        raise UserError(f"{str(path)!r} has fewer than two rows")
    try:
        dialect = csv.Sniffer().sniff(line.rstrip("\r\n"), delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    first = next(csv.reader([line.rstrip("\r\n")], dialect))
    has_header = not all(is_number(cell) for cell in first if cell.strip())
    header = [cell.strip() for cell in first] if has_header else [f"column{i}" for i in range(len(first))]
    if len(header) < 2:
        raise UserError(f"{str(path)!r} needs at least one feature column and a label column")
    return CsvTable(path, dialect, has_header, header)


def _opened(path):
    return open(path, encoding="utf-8-sig", newline="")


def _blank(row, delimiter):
    """A blank line, as `str.strip` says: `[]`, `['  ']`, or only empty cells between whitespace delimiters."""
    return not "".join(row).strip() and (len(row) <= 1 or delimiter.isspace())


def holds_line_break(row):
    """A quoted cell of `row` spans lines: the row is not one line of the file."""
    return any("\n" in cell or "\r" in cell for cell in row)


def _not_by_line(row, cells):
    """Why `tf.io.decode_csv` and `tf.strings` would read this row otherwise than `csv` and `str` do, or None."""
    if holds_line_break(row):
        return "a quoted cell holds a line break"
    for raw, cell in zip(row, cells, strict=True):
        if raw.isascii():
            # Python's float() takes 1_000; TensorFlow's parser neither that nor 32 characters or more.
            if ("_" in cell or len(cell) >= 32) and is_number(cell):
                return f"a number TensorFlow does not parse ({cell[:20]!r})"
        elif raw.strip(ASCII_SPACE) != cell:
            return "a cell has non-ASCII spaces around it"
        elif is_number(cell):
            return f"a number TensorFlow does not parse ({cell[:20]!r})"
    return None
