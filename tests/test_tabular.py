"""Tests for bertstudio.data.tabular: each forgiving fix and each refusal, on bytes built in the test."""

from __future__ import annotations

import codecs
import gzip
import random
from pathlib import Path

import pytest

from bertstudio.errors import StudioError
from bertstudio.data.tabular import decode, looks_like_header, read_table, sniff_delimiter

SHARED = Path(__file__).resolve().parents[2] / "shared"
SIMPLE = "text,label\ngood film,pos\nbad film,neg\nfine film,pos\n"


# --- encodings -------------------------------------------------------------------------------


def test_utf8_file_loads_with_header_and_rows():
    table = read_table(SIMPLE.encode(), name="simple.csv")
    assert table.columns == ["text", "label"]
    assert table.rows == [["good film", "pos"], ["bad film", "neg"], ["fine film", "pos"]]
    assert (table.encoding, table.delimiter, table.has_header) == ("utf-8", ",", True)
    assert table.name == "simple.csv"
    assert table.notes == []


def test_utf8_bom_is_not_part_of_the_first_column_name():
    table = read_table(codecs.BOM_UTF8 + "label,text\n1,é\n0,b\n".encode())
    assert table.columns == ["label", "text"]
    assert table.encoding == "utf-8-sig"
    assert table.rows[0] == ["1", "é"]


def test_latin1_file_loads_with_accents_intact():
    table = read_table("text,label\ncafé crème,pos\nnaïve,neg\n".encode("latin-1"))
    assert table.rows[0][0] == "café crème"
    assert table.rows[1][0] == "naïve"
    assert table.encoding in ("cp1252", "latin-1")


def test_cp1252_smart_quotes_and_euro_sign_come_through():
    raw = "text,label\n“quoted” costs 5€,pos\nit’s fine,neg\n".encode("cp1252")
    table = read_table(raw)
    assert table.encoding == "cp1252"
    assert table.rows[0][0] == "“quoted” costs 5€"
    assert table.rows[1][0] == "it’s fine"


def test_bytes_undefined_in_cp1252_fall_back_to_latin1():
    # 0x81 has no cp1252 character, so only latin-1 can read this file.
    raw = b"text,label\ncaf\xe9 \x81,pos\nok,neg\n"
    table = read_table(raw)
    assert table.encoding == "latin-1"
    assert table.rows[0][0] == "café \x81"


@pytest.mark.parametrize("bom, codec", [(codecs.BOM_UTF16_LE, "utf-16-le"),
                                        (codecs.BOM_UTF16_BE, "utf-16-be")])
def test_utf16_with_bom_loads_in_either_byte_order(bom, codec):
    text = "text\tlabel\nÜber gut\tpos\nschlecht\tneg\n"
    table = read_table(bom + text.encode(codec))
    assert table.encoding == "utf-16"
    assert table.columns == ["text", "label"]
    assert table.rows == [["Über gut", "pos"], ["schlecht", "neg"]]
    assert table.notes == []  # UTF-16's zero bytes are not stray NULs


def test_utf16_without_bom_is_recognised_by_its_zero_bytes():
    text, encoding = decode("text,label\nhello,pos\n".encode("utf-16-le"))
    assert encoding == "utf-16-le"
    assert text.startswith("text,label")


# --- gzip ------------------------------------------------------------------------------------


def test_gzip_file_is_detected_by_magic_bytes_not_extension(tmp_path):
    raw = gzip.compress(SIMPLE.encode())
    path = tmp_path / "data.csv"  # no .gz: the magic bytes decide
    path.write_bytes(raw)
    table = read_table(path)
    assert table.compressed
    assert table.rows[0] == ["good film", "pos"]
    assert table.name == "data.csv"


def test_sha256_is_of_the_raw_compressed_bytes():
    import hashlib
    raw = gzip.compress(SIMPLE.encode(), mtime=0)
    assert read_table(raw).sha256 == hashlib.sha256(raw).hexdigest()


def test_gzip_that_unpacks_past_the_cap_is_refused():
    raw = gzip.compress(b"text,label\n" + b"a" * 50_000 + b",x\n")
    with pytest.raises(StudioError, match="unpacks to more than"):
        read_table(raw, name="bomb.csv.gz", max_bytes=10_000)


def test_truncated_gzip_is_refused_as_damaged():
    raw = gzip.compress(SIMPLE.encode() * 100)
    with pytest.raises(StudioError, match="damaged or incomplete gzip"):
        read_table(raw[: len(raw) // 2])


def test_plain_file_over_the_cap_is_refused(tmp_path):
    path = tmp_path / "big.csv"
    path.write_bytes(SIMPLE.encode() * 10)
    with pytest.raises(StudioError, match="larger than"):
        read_table(path, max_bytes=100)


# --- delimiters and quoting -----------------------------------------------------------------


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_each_supported_delimiter_is_detected(delimiter):
    text = "".join(delimiter.join(r) + "\n" for r in
                   [["text", "label"], ["one, two", "a"], ["three", "b"], ["four; five", "a"]])
    if delimiter == ",":
        text = 'text,label\n"one, two",a\nthree,b\nfour; five,a\n'
    table = read_table(text.encode())
    assert table.delimiter == delimiter
    assert table.columns == ["text", "label"]
    assert table.rows[0][0] == "one, two"


def test_quoted_delimiters_do_not_count_when_sniffing():
    text = 'text;label\n"a;b;c;d";x\n"e;f;g";y\n"h";x\n'
    assert sniff_delimiter(text) == ";"
    assert read_table(text.encode()).rows[0] == ["a;b;c;d", "x"]


def test_quoted_fields_keep_commas_newlines_and_doubled_quotes():
    raw = b'text,label\r\n"line one\r\nline two, still",pos\r\n"say ""hi""",neg\r\n'
    table = read_table(raw)
    assert table.rows == [["line one\r\nline two, still", "pos"], ['say "hi"', "neg"]]


def test_crlf_and_old_mac_line_endings_read_like_lf():
    for newline in ("\r\n", "\r"):
        table = read_table(SIMPLE.replace("\n", newline).encode())
        assert table.rows == read_table(SIMPLE.encode()).rows


def test_tsv_with_unbalanced_quotes_is_read_without_quoting():
    # The opening quote of row 1 never closes; CSV quoting would run it into the next rows.
    lines = ["label\ts1\ts2", '1\t"Stop now\the left', '0\tplain\ttext',
             '1\tA "quoted" word\tx y', '0\tend\tz']
    table = read_table(("\n".join(lines) + "\n").encode())
    assert table.quoting == "none"
    assert len(table.rows) == 4
    assert table.rows[0] == ["1", '"Stop now', "he left"]
    assert table.rows[2] == ["1", 'A "quoted" word', "x y"]
    assert any("quotes" in note for note in table.notes)


def test_tsv_with_csv_style_quoting_keeps_quoting():
    lines = ["s1\ts2\tlabel", '"He said ""hi"""\tplain\t0', "a\tb\t1", '"x\ty"\tz\t0']
    table = read_table(("\n".join(lines) + "\n").encode())
    assert table.quoting == "csv"
    assert table.rows[0] == ['He said "hi"', "plain", "0"]
    assert table.rows[2] == ["x\ty", "z", "0"]


def test_tsv_text_starting_with_a_stray_quote_is_kept_verbatim():
    # CSV quoting would silently drop these quotes although every row has the same width.
    lines = ["text\tlabel", '"Wow" she said\t1', "plain\t0", '"ok" then\t1']
    table = read_table(("\n".join(lines) + "\n").encode())
    assert table.quoting == "none"
    assert table.rows[0] == ['"Wow" she said', "1"]


# --- header detection ------------------------------------------------------------------------


def test_missing_header_is_detected_from_a_number_atop_a_numeric_column():
    table = read_table(b"3,Wall St. bears,Short sellers\n1,World news,Talks\n2,Sports,Win\n")
    assert not table.has_header
    assert table.columns == ["column_1", "column_2", "column_3"]
    assert table.rows[0] == ["3", "Wall St. bears", "Short sellers"]
    assert len(table.rows) == 3


def test_missing_header_is_detected_when_first_row_values_reappear_below():
    table = read_table(b"spam,win a prize now\nham,see you at noon\nspam,free entry\n")
    assert not table.has_header
    assert table.rows[0] == ["spam", "win a prize now"]


def test_word_header_over_numeric_column_is_kept_as_header():
    assert looks_like_header(["id", "text"], [["1", "a"], ["2", "b"]])
    assert not looks_like_header(["7", "text"], [["1", "a"], ["2", "b"]])


def test_header_with_no_rows_is_refused():
    with pytest.raises(StudioError, match="header row but no data rows"):
        read_table(b"text,label\n", name="only-header.csv")


# --- header names, ragged rows, NULs ---------------------------------------------------------


def test_empty_and_duplicate_header_names_get_column_numbers_and_suffixes():
    table = read_table(b"name,,name,name_2\na,b,c,d\ne,f,g,h\n")
    assert table.columns == ["name", "column_2", "name_2", "name_2_2"]


def test_trailing_unnamed_columns_get_column_numbers():
    table = read_table(b"v1,v2,,,\r\nham,hello,,,\r\nspam,win,,,\r\nham,ok,,,")
    assert table.columns == ["v1", "v2", "column_3", "column_4", "column_5"]
    assert table.rows[2] == ["ham", "ok", "", "", ""]


def test_trailing_empty_header_names_over_narrower_rows_are_dropped():
    table = read_table(b"v1,v2,,,\nham,hello\nspam,win\n")
    assert table.columns == ["v1", "v2"]
    assert table.notes == []


def test_short_rows_are_padded_and_counted():
    table = read_table(b"a,b,c\n1,2,3\n4,5\n6\n7,8,9\n")
    assert table.rows == [["1", "2", "3"], ["4", "5", ""], ["6", "", ""], ["7", "8", "9"]]
    assert "2 short rows padded with empty cells." in table.notes


def test_long_rows_fold_extra_cells_into_the_last_column():
    table = read_table(b"label,text\npos,hello, world\nneg,fine\npos,a,b,c\nneg,ok\n")
    assert table.columns == ["label", "text"]
    assert table.rows[0] == ["pos", "hello, world"]
    assert table.rows[2] == ["pos", "a,b,c"]
    assert any("2 long rows" in note for note in table.notes)


def test_long_rows_with_only_empty_extra_cells_are_cut():
    table = read_table(b"label,text\npos,hello,,\nneg,fine\nneg,ok\n")
    assert table.rows[0] == ["pos", "hello"]
    assert "1 row had extra empty cells removed." in table.notes


def test_header_missing_names_is_widened_to_the_rows():
    table = read_table(b"label,text\n1,a,x\n0,b,y\n1,c,z\n")
    assert table.columns == ["label", "text", "column_3"]


def test_nul_bytes_are_removed_and_noted():
    table = read_table(b"text,label\nhel\x00lo there my friend,pos\nbad\x00 one here,neg\n")
    assert table.rows[0][0] == "hello there my friend"
    assert "Removed 2 NUL characters." in table.notes


def test_blank_lines_and_delimiter_only_lines_are_skipped():
    table = read_table(b"text,label\n\ngood,pos\n,\n\nbad,neg\n\n")
    assert table.rows == [["good", "pos"], ["bad", "neg"]]


def test_single_column_file_reads_as_one_column():
    table = read_table(b"text\nhello\nworld\n")
    assert table.columns == ["text"]
    assert len(table.rows) == 2


# --- refusals --------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [b"", b"   \n\r\n  ", codecs.BOM_UTF8, gzip.compress(b"", mtime=0)])  # mtime=0: the same test id in every collection (pytest -n)
def test_empty_file_is_refused(raw):
    with pytest.raises(StudioError, match="is empty"):
        read_table(raw, name="empty.csv")


@pytest.mark.parametrize("raw, what", [
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "PNG image"),
    (b"\xff\xd8\xff\xe0\x00\x10JFIF", "JPEG image"),
    (b"GIF89a\x01\x00\x01\x00", "GIF image"),
    (b"%PDF-1.7\n%\xe2\xe3", "PDF file"),
    (b"PK\x03\x04\x14\x00\x06\x00\x08\x00[Content_Types].xml", "Excel file but cannot be read"),
    (b"PK\x03\x04\x14\x00\x00\x00xl/workbook.xml", "Excel file but cannot be read"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 50, r"old Excel \(\.xls\)"),
    (b"PK\x03\x04\x14\x00\x00\x00notes.txt", "ZIP archive"),
    (b"PK\x03\x04\x14\x00\x00\x00word/document.xml", "Word document"),
    (b"PK\x03\x04\x14\x00\x00\x00mimetypeapplication/vnd.oasis.opendocument.spreadsheet", r"OpenDocument spreadsheet \(\.ods\)"),
])
def test_known_binary_formats_are_refused_by_name(raw, what):
    with pytest.raises(StudioError, match=what) as info:
        read_table(raw, name="upload")
    assert "CSV" in str(info.value)


def test_gzipped_image_is_refused_too():
    with pytest.raises(StudioError, match="PNG image"):
        read_table(gzip.compress(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100))


def test_nul_heavy_file_is_refused_as_not_text():
    with pytest.raises(StudioError, match="not a text file"):
        read_table(b"ab\x00\x00\x00\x07\x00\x00\x00\x01" * 100)


def test_random_bytes_are_refused_as_not_text():
    raw = random.Random(0).randbytes(4096)
    with pytest.raises(StudioError, match="not a text file"):
        read_table(raw)


def test_missing_path_is_refused_with_the_path(tmp_path):
    missing = tmp_path / "nope.csv"
    with pytest.raises(StudioError, match="nope.csv' does not exist"):
        read_table(missing)


def test_folder_is_refused(tmp_path):
    with pytest.raises(StudioError, match="is a folder"):
        read_table(tmp_path)


def test_unclosed_quote_swallowing_the_file_is_refused():
    raw = b'text,label\n"never closed,pos\n' + b"x" * 140_000 + b",neg\n"
    with pytest.raises(StudioError, match="never closed"):
        read_table(raw)


def test_unknown_column_error_lists_the_columns_that_exist():
    table = read_table(SIMPLE.encode(), name="simple.csv")
    with pytest.raises(StudioError, match="no column 'txt' in 'simple.csv'.*'text', 'label'"):
        table.column_index("txt")


# --- real files (optional) -------------------------------------------------------------------


@pytest.mark.skipif(not (SHARED / "data").is_dir(), reason="shared data folder not present")
def test_real_sms_spam_file_loads_as_latin1_with_crlf_and_unnamed_columns():
    table = read_table(SHARED / "data" / "sms_spam" / "spam.csv")
    assert table.encoding in ("cp1252", "latin-1")
    assert table.columns[:2] == ["v1", "v2"]
    assert len(table.rows) == 5572
    assert {row[0] for row in table.rows} == {"ham", "spam"}


@pytest.mark.skipif(not (SHARED / "data").is_dir(), reason="shared data folder not present")
def test_real_mrpc_file_with_bom_and_unbalanced_quotes_keeps_every_row():
    table = read_table(SHARED / "data" / "mrpc" / "train.tsv")
    assert table.encoding == "utf-8-sig"
    assert table.columns == ["Quality", "#1 ID", "#2 ID", "#1 String", "#2 String"]
    assert len(table.rows) == 3668
    assert table.quoting == "none"


# --- other table formats, special files, limits ----------------------------------------------


@pytest.mark.parametrize("raw, name, what", [
    (b"ARROW1\x00\x00\xff\xff\xff\xff", "train.feather", "an Arrow"),
    (b"SQLite format 3\x00\x10\x00\x01\x01", "data.db", "an SQLite database"),
])
def test_table_formats_not_read_are_named_with_a_way_to_save_them_as_csv(raw, name, what):
    with pytest.raises(StudioError, match=what) as info:
        read_table(raw, name=name)
    assert f"'{name}' looks like {what}" in info.value.message
    assert "save it as CSV or TSV" in info.value.message


def test_a_csv_whose_cells_hold_json_is_still_a_csv():
    table = read_table(b'text,meta\ngood film,"{""a"": 1}"\nbad film,"[1, 2]"\n', name="data.json.csv")
    assert table.rows[0] == ["good film", '{"a": 1}']


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    import os
    import threading

    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    outcome: list[BaseException | object] = []
    reader = threading.Thread(target=lambda: outcome.append(_attempt(fifo)), daemon=True)
    reader.start()
    reader.join(30)  # only so a regression fails instead of hanging the suite
    if reader.is_alive():
        with open(fifo, "wb"):  # a writer lets the blocked reader go
            pass
        pytest.fail("read_table waited on the FIFO for a writer")
    assert isinstance(outcome[0], StudioError) and "is not a regular file" in outcome[0].message


def _attempt(path):
    try:
        return read_table(path)
    except StudioError as exc:
        return exc


def test_a_device_that_never_ends_is_refused_before_reading(tmp_path):
    with pytest.raises(StudioError, match="'/dev/zero' is not a regular file"):
        read_table("/dev/zero")
    link = tmp_path / "zero.csv"
    link.symlink_to("/dev/zero")
    with pytest.raises(StudioError, match="is not a regular file"):
        read_table(link)


def test_a_file_that_says_it_is_empty_is_read_only_up_to_the_limit():
    # /proc files report a size of 0 whatever they hold: the read itself must stop at the limit.
    with pytest.raises(StudioError, match="is larger than 100 bytes"):
        read_table("/proc/self/maps", max_bytes=100)


def test_rows_past_the_limit_are_refused_while_reading():
    raw = ("text,label\n" + "".join(f"t{i},{i % 2}\n" for i in range(100))).encode()
    with pytest.raises(StudioError, match=r"'many.csv' has more than 99 rows, the limit here; upload a sample of at "
                                          r"most 99 rows\."):
        read_table(raw, name="many.csv", max_rows=99)
    assert len(read_table(raw, name="many.csv", max_rows=100)) == 100
    blank_lines = raw.replace(b"\n", b"\n\n")  # blank lines are not rows
    assert len(read_table(blank_lines, name="many.csv", max_rows=100)) == 100


def test_a_file_without_a_header_counts_its_first_row_against_the_limit():
    raw = "".join(f"{i},{i % 2}\n" for i in range(11)).encode()
    with pytest.raises(StudioError, match="has more than 10 rows"):
        read_table(raw, name="bare.csv", max_rows=10)


def test_a_cell_past_the_text_limit_is_refused_naming_its_row_and_column():
    raw = b"text,label\nshort,pos\n" + b"x" * 1001 + b",neg\n"
    with pytest.raises(StudioError, match=r"Row 2 of 'long.csv', column 'text', is 1,001 characters long, more than "
                                          r"the 1,000 one text may have"):
        read_table(raw, name="long.csv", max_text_chars=1000)
    assert read_table(raw, name="long.csv", max_text_chars=1001).rows[1][0] == "x" * 1001
    with pytest.raises(StudioError, match="A header name in 'head.csv'"):
        read_table(b"x" * 50 + b",label\na,b\n", name="head.csv", max_text_chars=20)


def test_the_default_text_limit_applies_to_every_file():
    from bertstudio.limits import MAX_TEXT_CHARS

    raw = b'text,label\n"' + b"word " * (MAX_TEXT_CHARS // 5 + 1) + b'",pos\nshort,neg\n'
    with pytest.raises(StudioError, match=f"column 'text', is {MAX_TEXT_CHARS + 5:,} characters long"):
        read_table(raw, name="huge.csv")
