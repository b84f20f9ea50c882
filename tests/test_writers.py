"""write_rows: predictions go back in the format they were read from, safely and atomically."""

from __future__ import annotations

import csv
import json
import zipfile

import pytest

from bertstudio.data.tabular import read_table
from bertstudio.data.writers import write_rows
from bertstudio.errors import StudioError

SOURCE = (b'[{"text": "=HYPERLINK(\\"http://x\\")", "tags": ["a", "b"], "score": 1.5, "id": "007", "ok": true},'
          b' {"text": "fine", "tags": [], "score": null, "id": "8", "ok": false}]')


def predictions(table):
    header = list(table.raw_header or table.columns) + ["predicted_labels", "prob_a"]
    rows = [list(row) + ["a,b", "0.912345"] for row in table.rows]
    return header, rows


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".xlsx", ".json", ".jsonl", ".parquet"])
def test_every_format_written_reads_back_as_the_same_table(tmp_path, suffix):
    table = read_table(SOURCE, name="in.json")
    header, rows = predictions(table)
    path = write_rows(tmp_path / f"out{suffix}", header, rows, like=table)
    back = read_table(path)
    assert back.columns == header
    # Only the spreadsheet formats touch the formula; the rest give every cell back as it was.
    expected = [list(row) for row in rows]
    if suffix in (".csv", ".tsv"):
        expected[0][0] = "'" + expected[0][0]
    if suffix in (".xlsx",):
        expected = [row[:4] + [row[4].upper()] + row[5:] for row in expected]
    assert back.rows == expected
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary file left


def test_json_output_gives_the_inputs_own_types_back_and_new_number_columns_as_numbers(tmp_path):
    table = read_table(SOURCE, name="in.json")
    header, rows = predictions(table)
    path = write_rows(tmp_path / "out.jsonl", header, rows, like=table, list_columns={"predicted_labels": ","})
    first, second = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert first == {"text": '=HYPERLINK("http://x")', "tags": ["a", "b"], "score": 1.5, "id": "007",
                     "ok": True, "predicted_labels": ["a", "b"], "prob_a": 0.912345}
    assert second["tags"] == [] and second["score"] is None and second["id"] == "8" and second["ok"] is False


def test_a_json_array_is_written_for_a_json_name(tmp_path):
    path = write_rows(tmp_path / "out.json", ["text", "n"], [["a", "1"], ["b", ""]])
    assert json.loads(path.read_text(encoding="utf-8")) == [{"text": "a", "n": 1}, {"text": "b", "n": None}]


def test_an_excel_cell_that_looks_like_a_formula_stays_text(tmp_path):
    path = write_rows(tmp_path / "out.xlsx", ["=SUM(A1)", "b"], [["=1+1", "+cmd"], ["@x", "-y"]])
    sheet = zipfile.ZipFile(path).read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet and "<f " not in sheet
    from openpyxl import load_workbook

    cells = list(load_workbook(path).active.iter_rows())
    assert [c.value for c in cells[1]] == ["=1+1", "+cmd"]
    assert all(c.data_type == "s" for row in cells for c in row)
    assert cells[1][0].quotePrefix


def test_excel_output_writes_numbers_as_numbers_and_keeps_the_sheet_name(tmp_path):
    from openpyxl import Workbook, load_workbook

    book = Workbook()
    book.active.title = "Reviews"
    for row in [["text", "id"], ["good", "007"], ["bad", "12"]]:
        book.active.append(row)
    book.save(tmp_path / "r.xlsx")
    table = read_table(tmp_path / "r.xlsx")
    path = write_rows(tmp_path / "out.xlsx", table.raw_header + ["prob_pos"],
                      [row + ["0.25"] for row in table.rows], like=table)
    sheet = load_workbook(path).active
    assert sheet.title == "Reviews"
    assert [c.value for c in next(sheet.iter_rows(min_row=2))] == ["good", "007", 0.25]


def test_parquet_output_has_typed_columns(tmp_path):
    import pyarrow.parquet as pq

    table = read_table(SOURCE, name="in.json")
    header, rows = predictions(table)
    path = write_rows(tmp_path / "out.parquet", header, rows, like=table, list_columns={"predicted_labels": ","})
    read = pq.read_table(path)
    types = {field.name: str(field.type).replace("element: ", "item: ") for field in read.schema}
    assert types == {"text": "string", "tags": "list<item: string>", "score": "double", "id": "string",
                     "ok": "bool", "predicted_labels": "list<item: string>", "prob_a": "double"}


def test_blank_and_repeated_header_names_become_unique_field_names(tmp_path):
    path = write_rows(tmp_path / "out.jsonl", ["text", "", "text"], [["a", "b", "c"]])
    assert json.loads(path.read_text(encoding="utf-8")) == {"text": "a", "column_2": "b", "text_2": "c"}


def test_tsv_output_is_tab_separated_and_neutralised(tmp_path):
    path = write_rows(tmp_path / "out.tsv", ["text", "label"], [["=cmd", "a,b"]])
    with open(path, newline="", encoding="utf-8") as handle:
        assert list(csv.reader(handle, delimiter="\t")) == [["text", "label"], ["'=cmd", "a,b"]]


def test_an_unknown_suffix_is_refused_with_the_ones_that_work(tmp_path):
    with pytest.raises(StudioError, match=r"must end in one of \.csv, \.tsv, \.xlsx"):
        write_rows(tmp_path / "out.xls", ["a"], [["b"]])


def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(tmp_path):
    target = tmp_path / "out.xlsx"
    target.write_bytes(b"old")
    with pytest.raises(StudioError, match="longer than Excel keeps"):
        write_rows(target, ["text"], [["x" * 40_000]])
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.xlsx"]


def test_control_characters_xml_cannot_hold_are_dropped_from_excel_cells(tmp_path):
    path = write_rows(tmp_path / "out.xlsx", ["text"], [["bell\x07 here"]])
    assert read_table(path).rows == [["bell here"]]
