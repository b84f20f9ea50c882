"""Yes/no cells: one rule for the columns the Data tab offers and the cells training reads as tags."""

from bertstudio.data.columns import ColumnChoice
from bertstudio.data.tabular import read_table
from bertstudio.tasks.multi_label import MultiLabel
from bertstudio.tasks.yes_no import is_yes_no_column, read_flag, yes_no_columns


def table(text):
    return read_table(text.encode("utf-8"), name="flags.csv")


def test_every_spelling_of_yes_and_no_reads_as_a_flag_and_anything_else_does_not():
    assert [read_flag(c) for c in ("1", " 1.0 ", "01", "Yes", "y", "TRUE", "t")] == [True] * 7
    assert [read_flag(c) for c in ("0", "0.0", "No", "n", "false", "F", "", "  ")] == [False] * 8
    assert [read_flag(c) for c in ("2", "maybe", "0.5", "-1")] == [None] * 4


def test_a_column_is_yes_no_when_some_cell_is_filled_and_every_filled_cell_is_a_flag():
    assert is_yes_no_column(["1", "", "0", "1.0"]) and is_yes_no_column(["t", "f", "T"])
    assert not is_yes_no_column(["", " "])  # nothing to judge
    assert not is_yes_no_column(["1", "0", "2"])


def test_the_columns_offered_are_exactly_those_training_reads_as_tags():
    rows = "text,joy,anger,score,kind\n" + "".join(
        f"text {i},{'t' if i % 2 else 'F'},{'1.0' if i % 3 == 0 else ''},{i * 1.5},{'ab'[i % 2]}\n" for i in range(12))
    data = table(rows)
    offered = yes_no_columns(data)
    assert offered == ["joy", "anger"]
    targets = MultiLabel().read_targets(data, ColumnChoice("text", "joy", label_columns=tuple(offered)))
    assert all(isinstance(value, tuple) for value in targets)  # no row dropped as "not 0/1"
    assert targets[:4] == [("anger",), ("joy",), (), ("anger", "joy")]


def test_only_the_first_rows_are_judged():
    rows = "text,flag\n" + "".join(f"t{i},{i % 2}\n" for i in range(10)) + "t10,maybe\n"
    data = table(rows)
    assert yes_no_columns(data, sample=10) == ["flag"] and yes_no_columns(data) == []
