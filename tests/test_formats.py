"""Excel, JSON, JSON Lines and Parquet load into the same Table as CSV, under the same limits.

Every fixture file is built here (openpyxl, pyarrow, json), never kept in git.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import zipfile

import pytest

from bertstudio.data.formats import CSV, JSON, JSONL, PARQUET, XLSX, detect_format
from bertstudio.data.tabular import read_table
from bertstudio.errors import StudioError


def xlsx_bytes(*sheets: tuple[str, list[list]]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    book.remove(book.active)
    for title, rows in sheets:
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def parquet_bytes(columns: dict, **options) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    pq.write_table(pa.table(columns), buffer, **options)
    return buffer.getvalue()


def replace_entry(xlsx: bytes, entry: str, edit) -> bytes:
    """The workbook with one of its XML files changed by `edit(text) -> text`."""
    source = zipfile.ZipFile(io.BytesIO(xlsx))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info.filename)
            target.writestr(info.filename, edit(data.decode()).encode() if info.filename == entry else data)
    return out.getvalue()


REVIEWS = [["text", "stars"], ["good film", 5], ["bad film", 1], ["fine", 3.5]]


# --- detection -------------------------------------------------------------------------------


@pytest.mark.parametrize("raw, name, expected", [
    (b"PAR1\x15\x04", "x.csv", PARQUET),
    (b'[{"a": 1}]', "export", JSON),
    (b'{"a": 1}\n{"a": 2}\n', "export", JSONL),
    (b'{"a": 1}\n', "x.json", JSON),
    (b"[1, 2]", "x.jsonl", JSONL),
    (b"[tag],label\nx,y\n", "x.csv", CSV),
    (b"text,label\n{not json},y\n", "x.csv", CSV),
    (b"PK\x03\x04\x14\x00\x00\x00notes.txt", "x.zip", CSV),  # left to the refusal of ZIP archives
])
def test_the_format_is_told_by_the_bytes_first_and_the_name_second(raw, name, expected):
    assert detect_format(raw, name) == expected


# --- Excel ---------------------------------------------------------------------------------


def test_an_excel_file_loads_its_first_sheet_with_numbers_as_the_text_excel_shows():
    raw = xlsx_bytes(("Reviews", REVIEWS), ("Notes", [["who", "when"], ["me", "today"]]))
    table = read_table(raw, name="reviews.xlsx")
    assert table.columns == ["text", "stars"]
    assert table.rows == [["good film", "5"], ["bad film", "1"], ["fine", "3.5"]]
    assert (table.format, table.sheet, table.delimiter, table.has_header) == ("xlsx", "Reviews", "xlsx", True)
    assert table.column_kinds == {"text": "string", "stars": "number"}
    assert any("'Notes'" in note for note in table.notes)


def test_a_chosen_sheet_is_read_and_fingerprinted_apart_from_the_first():
    raw = xlsx_bytes(("Reviews", REVIEWS), ("Notes", [["who", "when"], ["me", "today"]]))
    first = read_table(raw, name="r.xlsx")
    notes = read_table(raw, name="r.xlsx", sheet="Notes")
    assert notes.rows == [["me", "today"]] and notes.sheet == "Notes"
    assert notes.sha256 != first.sha256
    assert read_table(raw, name="r.xlsx", sheet="Reviews").sha256 == first.sha256


def test_an_unknown_sheet_is_refused_with_the_sheets_there_are():
    raw = xlsx_bytes(("Reviews", REVIEWS), ("Notes", [["a", "b"], ["c", "d"]]))
    with pytest.raises(StudioError, match="no sheet 'Sheet9'; its sheets are: 'Reviews', 'Notes'"):
        read_table(raw, name="r.xlsx", sheet="Sheet9")


def test_excel_cells_past_the_header_are_columns_of_their_own_and_blank_rows_are_skipped():
    raw = xlsx_bytes(("S", [["text", "label"], ["a", "x", "extra"], [None, None], ["b", "y"]]))
    table = read_table(raw, name="s.xlsx")
    assert table.columns == ["text", "label", "column_3"]
    assert table.rows == [["a", "x", "extra"], ["b", "y", ""]]


def test_excel_dates_and_booleans_read_as_plain_text():
    import datetime

    raw = xlsx_bytes(("S", [["text", "when", "ok"], ["a", datetime.datetime(2024, 1, 31), True],
                            ["b", datetime.datetime(2024, 2, 1, 9, 30), False]]))
    assert read_table(raw, name="s.xlsx").rows == [["a", "2024-01-31", "TRUE"],
                                                   ["b", "2024-02-01 09:30:00", "FALSE"]]


def test_an_excel_file_named_csv_is_still_read_as_excel():
    assert read_table(xlsx_bytes(("S", REVIEWS)), name="reviews.csv").format == "xlsx"


def test_an_excel_file_that_unpacks_past_the_limit_is_refused_before_reading():
    raw = replace_entry(xlsx_bytes(("S", REVIEWS)), "xl/worksheets/sheet1.xml",
                        lambda xml: xml.replace("</worksheet>", "<!--" + "x" * 5_000_000 + "--></worksheet>"))
    assert len(raw) < 100_000  # a small upload ...
    with pytest.raises(StudioError, match="unpacks to more than 1 MB"):
        read_table(raw, name="bomb.xlsx", max_bytes=1_000_000)  # ... that would unpack to 5 MB


def test_a_sheet_claiming_a_row_past_excels_last_is_refused_not_looped_over():
    raw = replace_entry(xlsx_bytes(("S", REVIEWS)), "xl/worksheets/sheet1.xml",
                        lambda xml: xml.replace("</sheetData>", '<row r="900000000000"><c r="A900000000000" '
                                                't="inlineStr"><is><t>x</t></is></c></row></sheetData>'))
    with pytest.raises(StudioError, match="more rows than Excel allows"):
        read_table(raw, name="gap.xlsx")


def test_a_sheet_of_cells_far_to_the_right_is_refused_by_its_size_not_padded_into_memory():
    rows = "".join(f'<row r="{r}"><c r="A{r}" t="inlineStr"><is><t>t{r}</t></is></c>'
                   f'<c r="ZZZ{r}" t="inlineStr"><is><t>x</t></is></c></row>' for r in range(1, 400))
    raw = replace_entry(xlsx_bytes(("S", [["a"]])), "xl/worksheets/sheet1.xml",
                        lambda xml: re.sub(r"<sheetData>.*</sheetData>", f"<sheetData>{rows}</sheetData>", xml))
    with pytest.raises(StudioError, match="more cells .* than the size limit"):
        read_table(raw, name="wide.xlsx", max_bytes=2_000_000)


def test_excel_rows_past_the_row_limit_are_refused_while_reading():
    raw = xlsx_bytes(("S", [["text", "label"]] + [[f"t{i}", "x"] for i in range(50)]))
    with pytest.raises(StudioError, match="more than 10 rows"):
        read_table(raw, name="s.xlsx", max_rows=10)
    assert len(read_table(raw, name="s.xlsx", max_rows=50)) == 50


@pytest.mark.parametrize("cut", [30, 200, -40])
def test_a_damaged_excel_file_is_one_plain_sentence(cut):
    raw = xlsx_bytes(("S", REVIEWS))
    damaged = raw[:cut] if cut > 0 else raw[:cut // 2] + raw[cut // 2 + 8:]
    with pytest.raises(StudioError, match="looks like an Excel file but cannot be read"):
        read_table(damaged, name="s.xlsx")


def test_an_empty_sheet_is_refused_by_name():
    raw = xlsx_bytes(("Empty", []), ("S", REVIEWS))
    with pytest.raises(StudioError, match="sheet 'Empty' of 'e.xlsx' is empty"):
        read_table(raw, name="e.xlsx")


def test_an_excel_cell_over_the_text_limit_is_refused_with_its_row_and_column():
    raw = xlsx_bytes(("S", [["text", "label"], ["short", "a"], ["x" * 300, "b"]]))
    with pytest.raises(StudioError, match="Row 2 of 'l.xlsx', column 'text', is 300 characters"):
        read_table(raw, name="l.xlsx", max_text_chars=100)


# --- JSON and JSON Lines -----------------------------------------------------------------------


def test_a_json_array_of_records_takes_the_union_of_their_keys_in_first_seen_order():
    raw = json.dumps([{"text": "a", "label": "x"}, {"label": "y", "source": "web", "text": "b"}]).encode()
    table = read_table(raw, name="d.json")
    assert table.columns == ["text", "label", "source"]
    assert table.rows == [["a", "x", ""], ["b", "y", "web"]]
    assert table.format == "json" and table.delimiter == "json"
    assert any("1 record lacked some fields" in note for note in table.notes)


def test_json_lines_keep_numbers_as_written_and_nulls_empty():
    raw = b'{"text": "a", "score": 1.50, "id": 123456789012345678901234567890}\n\n{"text": "b", "score": null}\n'
    table = read_table(raw, name="d.jsonl")
    assert table.rows == [["a", "1.50", "123456789012345678901234567890"], ["b", "", ""]]
    assert table.format == "jsonl" and table.column_kinds["score"] == "number"


def test_a_list_of_tags_becomes_one_cell_the_task_detector_reads_as_several_labels():
    from bertstudio.data.columns import ColumnChoice
    from bertstudio.tasks.detect import detect_task

    records = [{"text": f"comment {i}", "emotions": tags} for i, tags in
               enumerate([["joy", "love"], ["anger"], [], ["joy"], ["fear", "anger", "joy"], ["love"]] * 5)]
    table = read_table("\n".join(json.dumps(r) for r in records).encode(), name="go.jsonl")
    assert table.column("emotions")[:3] == ["joy|love", "anger", ""]
    assert table.list_separators == {"emotions": "|"}
    assert any("'emotions' holds lists" in note and "multi-label" in note for note in table.notes)
    assert detect_task(table, ColumnChoice(text="text", label="emotions")).task == "multi_label"


def test_one_tag_holding_a_pipe_makes_the_whole_column_join_by_a_semicolon():
    table = read_table(b'[{"text": "a", "tags": ["p", "q"]}, {"text": "b", "tags": ["x|y", "z"]}]', name="t.json")
    assert table.column("tags") == ["p;q", "x|y;z"]
    assert table.list_separators == {"tags": ";"}


def test_tags_holding_every_separator_stay_json_lists():
    table = read_table(b'[{"text": "a", "tags": ["a,b", "c|d"]}, {"text": "b", "tags": ["e;f"]}]', name="t.json")
    assert table.column("tags") == ['["a,b","c|d"]', '["e;f"]']
    assert table.column_kinds["tags"] == "object" and not table.list_separators


def test_nested_objects_and_lists_of_decimals_stay_compact_json():
    raw = b'[{"text": "a", "meta": {"k": [1, 2.50]}, "vec": [0.1, 0.2]}, {"text": "b"}]'
    table = read_table(raw, name="n.json")
    assert table.rows[0] == ["a", '{"k":[1,2.50]}', "[0.1,0.2]"]
    assert any("'meta' holds nested values" in note for note in table.notes)


def test_a_gzipped_json_lines_file_loads():
    table = read_table(gzip.compress(b'{"text": "a", "label": "x"}\n{"text": "b", "label": "y"}\n'),
                       name="d.jsonl.gz")
    assert table.compressed and table.rows == [["a", "x"], ["b", "y"]]


@pytest.mark.parametrize("raw, message", [
    (b'{"text": "a"}\n{"text": "b",, "x": 1}\n', r"Line 2 of 'bad\.json' is not valid JSON"),
    (b'[{"text": "a"}, {"text": "b"}', r"ends before its list of records is closed"),
    (b'[{"text": "a"}, {"text": "b', r"ends in the middle of a record"),
    (b'[{"text": "a"}, 3]', r"Item 2 of the list in 'bad\.json' is a number, not a record"),
    (b'{"text": {"0": "a", "1": "b"}, "label": {"0": "x", "1": "y"}}', r"orient='records'"),
    (b"[]", r"holds no records"),
    (b"[" * 200_000, r"nests its values too deeply"),
])
def test_broken_json_is_one_plain_sentence(raw, message):
    with pytest.raises(StudioError, match=message) as info:
        read_table(raw, name="bad.json")
    assert info.value.message.endswith(".")


def test_json_records_past_the_row_limit_stop_the_reading():
    raw = b"".join(b'{"text": "t%d", "label": "x"}\n' % i for i in range(1000))
    with pytest.raises(StudioError, match="more than 100 rows"):
        read_table(raw, name="d.jsonl", max_rows=100)


def test_a_json_cell_over_the_text_limit_is_refused():
    raw = json.dumps([{"text": "x" * 500, "label": "a"}, {"text": "y", "label": "b"}]).encode()
    with pytest.raises(StudioError, match="Row 1 of 'l.json', column 'text', is 500 characters"):
        read_table(raw, name="l.json", max_text_chars=100)


# --- Parquet --------------------------------------------------------------------------------


def test_a_parquet_file_loads_with_numbers_tags_structs_and_nulls_as_text():
    raw = parquet_bytes({"text": ["a", "b", None], "score": [0.5, None, 2.0],
                         "tags": [["x", "y"], [], None], "meta": [{"k": 1}, None, {"k": 2}]})
    table = read_table(raw, name="p.parquet")
    assert table.columns == ["text", "score", "tags", "meta"]
    assert table.rows == [["a", "0.5", "x|y", '{"k":1}'], ["b", "", "", ""], ["", "2", "", '{"k":2}']]
    assert table.format == "parquet"
    assert table.column_kinds == {"text": "string", "score": "number", "tags": "list", "meta": "object"}


def test_parquet_lists_of_tags_and_of_label_ids_join_one_way_per_column():
    raw = parquet_bytes({"text": ["a", "b", "c"], "tags": [["p", "q"], [], ["x|y", "z"]],
                         "ids": [[3, 27], None, [1]]})
    table = read_table(raw, name="p.parquet")
    assert table.column("tags") == ["p;q", "", "x|y;z"] and table.column("ids") == ["3|27", "", "1"]
    assert table.list_separators == {"tags": ";", "ids": "|"}


def test_a_float32_parquet_column_reads_as_the_short_decimal_it_was_written_as():
    import pyarrow as pa

    raw = parquet_bytes({"text": ["a", "b"], "score": pa.array([0.1, float("nan")], pa.float32())})
    assert read_table(raw, name="p.parquet").column("score") == ["0.1", ""]


def test_parquet_rows_past_the_limit_are_refused_from_the_footer_before_reading():
    raw = parquet_bytes({"text": [f"t{i}" for i in range(500)], "label": ["x"] * 500})
    with pytest.raises(StudioError, match="more than 100 rows"):
        read_table(raw, name="p.parquet", max_rows=100)


def test_one_long_value_repeated_in_a_parquet_file_is_refused_before_it_is_built():
    # Dictionary encoding stores the 50,000-character value once: 2,000 rows of it are ~50 KB on
    # disk and 100 MB as text.
    raw = parquet_bytes({"text": ["x" * 50_000] * 2000, "label": ["a"] * 2000}, compression="zstd")
    assert len(raw) < 200_000
    with pytest.raises(StudioError, match="unpacks to more than"):
        read_table(raw, name="p.parquet", max_bytes=10_000_000)


def test_a_parquet_cell_over_the_text_limit_is_refused():
    raw = parquet_bytes({"text": ["short", "x" * 300], "label": ["a", "b"]})
    with pytest.raises(StudioError, match="300 characters long"):
        read_table(raw, name="p.parquet", max_text_chars=100)


@pytest.mark.parametrize("cut", [8, 100, -12])
def test_a_truncated_parquet_file_is_one_plain_sentence(cut):
    raw = parquet_bytes({"text": ["a", "b"], "label": ["x", "y"]})
    with pytest.raises(StudioError, match="looks like a Parquet file but cannot be read"):
        read_table(raw[:cut], name="p.parquet")


def test_sheet_names_lists_a_workbooks_sheets_and_nothing_for_other_files(tmp_path):
    from bertstudio.data.spreadsheet import sheet_names

    path = tmp_path / "r.xlsx"
    path.write_bytes(xlsx_bytes(("Reviews", REVIEWS), ("Notes", [["a"]])))
    assert sheet_names(path) == ["Reviews", "Notes"]
    assert sheet_names(b"text,label\na,b\n", name="d.csv") == []


@pytest.mark.parametrize("entries, what", [
    ({"[Content_Types].xml": "x" * 9000, "_rels/.rels": "x", "word/document.xml": "x"}, "a Word document"),
    ({"mimetype": "application/vnd.oasis.opendocument.spreadsheet", "content.xml": "x"}, "OpenDocument spreadsheet"),
    ({"notes.txt": "x"}, "a ZIP archive"),
])
def test_a_zip_that_is_not_a_workbook_is_refused_as_what_it_is(entries, what):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for entry, text in entries.items():
            archive.writestr(entry, text)
    with pytest.raises(StudioError, match=what):
        read_table(buffer.getvalue(), name="document.xlsx")
