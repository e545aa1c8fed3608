"""history.csv read without trusting it: damaged rows are left out and named,
and a resume rewrites the file from its intact rows."""

import pytest

from kerasdl.callbacks import best_so_far
from kerasdl.errors import UserError
from kerasdl.history import parse_history, read_history, repair_history

HEADER = "epoch,accuracy,loss,val_accuracy,val_loss\r\n"


def _rows(*epochs):
    return "".join(f"{epoch},0.{epoch + 5},{1 - epoch / 10},0.{epoch + 4},{1.1 - epoch / 10}\r\n" for epoch in epochs)


def test_history_keeps_the_last_row_of_a_redone_epoch(tmp_path):
    (tmp_path / "history.csv").write_text(
        "epoch,loss,val_accuracy,val_loss\n0,1.0,0.5,0.9\n1,0.8,0.6,0.7\n1,0.7,0.7,0.6\n2,0.6,0.65,0.65\n"
    )
    history = read_history(tmp_path / "history.csv")
    assert history["loss"] == [1.0, 0.7, 0.6]
    assert best_so_far(history, "val_loss") == 0.6 and best_so_far(history, "val_accuracy") == 0.7
    assert best_so_far({}, "val_loss") is None
    assert parse_history(tmp_path / "history.csv").problems == []
    assert read_history(tmp_path / "absent.csv") == {}


# Each damage as a user met it, and what reading it says.
DAMAGE = {
    # Two `kerasdl train` at the same moment, before run directories were locked.
    "interleaved": (HEADER + HEADER + _rows(0, 0, 1, 1), ["line 2 repeats the header"], 2),
    # A crash (power, kill -9) in the middle of writing a row.
    "cut_mid_line": (HEADER + _rows(0, 1) + "2,0.7,0.", ["line 4 is cut short (no end of line)"], 2),
    "hand_edit": (
        HEADER + _rows(0) + "one,0.5,1,0.4,1\r\n" + "1,0.6,oops,0.5,1\r\n" + "2,0.6\r\n" + _rows(3),
        [
            "line 3 has epoch 'one', not a whole number",
            "line 4 has 'oops' for loss, not a number",
            "line 5 has 2 of the header's 5 fields",
        ],
        2,
    ),
    "other_header": (HEADER + "epoch,loss\r\n" + _rows(0), ["line 2 is a second, different header"], 1),
    "no_header": ("0,0.5,1.0,0.4,1.1\r\n" + _rows(1), ["line 1 is not the header (it should start with 'epoch')"], 0),
    "not_utf8": (HEADER.encode() + b"\xff\xfe,1,2,3,4\r\n" + _rows(0).encode(), None, 1),
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_damaged_history_never_raises_and_names_what_is_wrong(tmp_path, damage):
    content, problems, intact = DAMAGE[damage]
    path = tmp_path / "history.csv"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    history = parse_history(path)
    if problems is not None:
        assert history.problems == problems
    assert history.problems and len(history.rows) == intact
    assert len(read_history(path).get("loss", [])) == intact


def test_a_resume_rewrites_a_damaged_history_from_its_intact_rows(tmp_path):
    content, _, _ = DAMAGE["interleaved"]
    damaged = content + "2,0.7,0."  # and the last row cut short
    (tmp_path / "history.csv").write_text(damaged, newline="")
    lines = []
    repair_history(tmp_path, log=lines.append)
    (line,) = lines
    assert "was damaged (line 2 repeats the header; line 7 is cut short (no end of line))" in line
    assert "kept its 2 intact epoch rows and resumed; the damaged file is now history.damaged.csv" in line
    assert (tmp_path / "history.damaged.csv").read_bytes().decode() == damaged  # nothing lost
    assert (tmp_path / "history.csv").read_bytes().decode() == HEADER + _rows(0, 1)
    # A clean file is left alone.
    repair_history(tmp_path, log=lines.append)
    assert len(lines) == 1


def test_a_history_without_a_header_is_set_aside_so_the_resumed_run_starts_a_new_one(tmp_path):
    (tmp_path / "history.csv").write_text(DAMAGE["no_header"][0])
    lines = []
    repair_history(tmp_path, log=lines.append)
    assert "kept its 0 intact epoch rows" in lines[0]
    assert not (tmp_path / "history.csv").exists() and (tmp_path / "history.damaged.csv").exists()


def test_a_history_that_cannot_be_set_aside_is_one_line_saying_what_to_do(tmp_path, monkeypatch):
    (tmp_path / "history.csv").write_text(HEADER + HEADER)

    def refuse(source, destination):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("kerasdl.history.os.replace", refuse)
    with pytest.raises(UserError, match=r"cannot be replaced \(Permission denied\); move it out of the run directory"):
        repair_history(tmp_path, log=print)


def test_each_repair_keeps_its_damaged_copy_and_odd_digits_are_damage_not_a_crash(tmp_path):
    path = tmp_path / "history.csv"
    path.write_text(HEADER + _rows(0) + "\u00b2,0.5,1,0.4,1\r\n")  # a superscript two is a digit, not a number
    assert parse_history(path).problems == ["line 3 has epoch '\u00b2', not a whole number"]
    repair_history(tmp_path, log=lambda line: None)
    path.write_text(path.read_text() + HEADER)
    repair_history(tmp_path, log=lambda line: None)
    assert (tmp_path / "history.damaged.csv").exists() and (tmp_path / "history.damaged-2.csv").exists()
    assert parse_history(path).epochs_done() == 1 and not parse_history(path).problems
