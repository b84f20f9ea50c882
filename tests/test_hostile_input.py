"""Hostile input: whatever bytes arrive, the loader returns a table or the project's own error.

A property-based test feeds `read_table` arbitrary bytes (and bytes that look like CSV, gzip and
text in odd encodings, and Excel, JSON and Parquet files cut short or with bytes changed), then runs
the data summary and `prepare_data` over what came back; the only exception allowed anywhere is
StudioError. Then the named cases: a gzip bomb, a cell up to
the text limit and a 9.8 MB one past it, a text of 400,000 tokens through the preview, a million
short rows, 2.4 million rows past the row limit, devices, FIFOs and folders, and config JSON of
the wrong shape.
"""

from __future__ import annotations

import gzip
import io
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bertstudio.config import TrainConfig
from bertstudio.data.dataset import prepare_data
from bertstudio.data.summary import data_summary
from bertstudio.errors import StudioError
from bertstudio.hosting import HostingSettings
from bertstudio.limits import MAX_TEXT_CHARS
from bertstudio.data.tabular import read_table

# Pieces that CSV files are made of, so generated files reach the parser's corners (quotes,
# delimiters, line ends, NULs, BOMs) far more often than uniform random bytes would.
_PIECES = [b",", b";", b"\t", b"|", b'"', b'""', b"\n", b"\r\n", b"\r", b"\x00", b"\xef\xbb\xbf", b"\xff\xfe",
           b"text", b"label", b"a", b"b", b"1", b"0", b"-", b"1.0", b" ", b"\xe9", b"\x81", b"=cmd", b"<script>"]
csv_like = st.lists(st.sampled_from(_PIECES) | st.binary(max_size=4), max_size=60).map(b"".join)
any_bytes = st.binary(max_size=400) | csv_like | csv_like.map(gzip.compress)


def _load_and_prepare(raw: bytes) -> None:
    """What the Data tab does with an upload; raises only StudioError."""
    try:
        table = read_table(raw, name="upload.csv")
    except StudioError as exc:
        assert exc.message.strip() and exc.message.endswith((".", "?"))
        return
    assert all(len(row) == len(table.columns) for row in table.rows)
    summary = data_summary(table)
    assert summary["rows_total"] == len(table.rows)
    for text in table.columns:
        for label in table.columns:
            if text == label:
                continue
            try:
                prepared = prepare_data(TrainConfig(text_column=text, label_column=label, model="bundled"),
                                        table)
            except StudioError:
                continue
            assert len(prepared.labels) >= 2 and prepared.report.rows_kept <= len(table.rows)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(any_bytes)
def test_any_bytes_give_a_table_or_a_plain_studio_error(raw):
    _load_and_prepare(raw)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(st.text(max_size=12), min_size=1, max_size=4), min_size=1, max_size=25),
       st.sampled_from(["utf-8", "utf-16", "cp1252", "latin-1"]), st.sampled_from([",", ";", "\t"]))
def test_any_table_of_text_in_any_supported_encoding_loads_or_is_refused_plainly(rows, encoding, delimiter):
    import csv

    buffer = io.StringIO(newline="")
    csv.writer(buffer, delimiter=delimiter).writerows(rows)
    try:
        raw = buffer.getvalue().encode(encoding)
    except UnicodeEncodeError:
        raw = buffer.getvalue().encode("utf-8")
    _load_and_prepare(raw)


def _sample_files() -> dict[str, bytes]:
    """One small valid file per structured format, built here, for the damage below."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from openpyxl import Workbook

    rows = [["text", "label"], ["good film", "pos"], ["bad film", "neg"], ["=cmd", "pos"]]
    book = Workbook()
    for row in rows:
        book.active.append(row)
    xlsx, parquet = io.BytesIO(), io.BytesIO()
    book.save(xlsx)
    pq.write_table(pa.table({"text": [r[0] for r in rows[1:]], "tags": [["a", "b"], [], None]}), parquet)
    records = [dict(zip(rows[0], row)) for row in rows[1:]]
    return {"x.xlsx": xlsx.getvalue(), "x.parquet": parquet.getvalue(),
            "x.json": json.dumps(records).encode(), "x.jsonl": "\n".join(map(json.dumps, records)).encode()}


_SAMPLES = _sample_files()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(_SAMPLES)), st.integers(min_value=0), st.integers(min_value=0, max_value=255),
       st.booleans())
def test_an_excel_json_or_parquet_file_cut_or_changed_anywhere_loads_or_is_refused_plainly(name, at, byte, cut):
    raw = _SAMPLES[name]
    at %= len(raw)
    damaged = raw[:at] if cut else raw[:at] + bytes([byte]) + raw[at + 1:]
    try:
        table = read_table(damaged, name=name)
    except StudioError as exc:
        assert exc.message.strip() and exc.message.endswith((".", "?"))
        return
    assert all(len(row) == len(table.columns) for row in table.rows)
    data_summary(table)


# --- named cases -------------------------------------------------------------------------------

def test_a_gzip_bomb_is_capped_by_its_unpacked_size_not_its_upload_size():
    bomb = gzip.compress(b"text,label\n" + b"a" * 50_000_000)  # ~50 KB that unpacks to 50 MB
    assert len(bomb) < 100_000
    hosted = HostingSettings.from_env({"BERTSTUDIO_HOSTED": "1"})
    with pytest.raises(StudioError, match="unpacks to more than 10 MB"):
        read_table(bomb, name="bomb.csv.gz", max_bytes=hosted.max_upload_bytes)


def test_a_cell_up_to_the_text_limit_loads_whole():
    big = "word " * (MAX_TEXT_CHARS // 5)  # 1,000,000 characters, far past the csv module's cell limit
    raw = f'text,label\n"{big}",pos\nshort,neg\nother,pos\nmore,neg\n'.encode()
    table = read_table(raw, name="long.csv")
    assert table.rows[0][0] == big and table.rows[1] == ["short", "neg"] and len(table.rows) == 4
    unquoted = read_table(f"text,label\n{big},pos\nshort,neg\n".encode(), name="long.csv")
    assert unquoted.rows[0][0] == big


def test_a_huge_cell_is_refused_by_row_column_and_limit_before_anything_tokenizes_it():
    # A 9.8 MB cell in an accepted upload once took the app from 389 MB to 2.1 GB.
    huge = "word " * 1_960_000
    raw = f"text,label\nshort,neg\n{huge},pos\nother,neg\n".encode()
    with pytest.raises(StudioError, match=r"^Row 2 of 'huge.csv', column 'text', is 9,800,000 characters long, "
                                          r"more than the 1,000,000 one text may have here; shorten it"):
        read_table(raw, name="huge.csv")
    hosted = HostingSettings.from_env({"BERTSTUDIO_HOSTED": "1", "BERTSTUDIO_MAX_TEXT_CHARS": "500"})
    with pytest.raises(StudioError, match="Row 1 of 'a.csv', column 'text', is 600 characters long, more than the 500"):
        read_table(b"text,label\n" + b"w" * 600 + b",pos\nx,neg\n", name="a.csv", max_text_chars=hosted.text_limit)


def test_a_long_text_previews_in_one_pass_and_one_past_the_limit_is_refused():
    from bertstudio.models import load_tokenizer
    from bertstudio.text.token_preview import SHOWN_TOKENS, preview

    tokenizer = load_tokenizer("bundled")
    text = "word " * (MAX_TEXT_CHARS // 5)  # at the limit: 400,000 tokens with the bundled vocabulary
    result = preview(tokenizer, text, max_length=512, truncation="head_tail")
    assert result.length > 200_000 and len(result.tokens) <= SHOWN_TOKENS + 512
    assert result.hidden_count == result.length - len(result.tokens) and len(result.input_ids) == 512
    with pytest.raises(StudioError, match="The text is 1,000,001 characters long"):
        preview(tokenizer, text + "!")


def test_many_rows_are_refused_while_reading_not_after(tmp_path):
    import tracemalloc

    # 9.6 MB, 2.4 million rows: parsing it all cost +286 MB before the row limit refused it.
    raw = b"text,label\n" + b"a,0\n" * 2_400_000
    hosted = HostingSettings.from_env({"BERTSTUDIO_HOSTED": "1"})
    tracemalloc.start()
    try:
        with pytest.raises(StudioError, match="'rows.csv' has more than 20,000 rows, the limit here"):
            read_table(raw, name="rows.csv", max_bytes=hosted.max_upload_bytes, max_rows=hosted.max_rows)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 3 * len(raw)  # the decoded text and one chunk of rows, not 2.4 million rows


@pytest.mark.parametrize("kind", ["device", "fifo", "folder", "link to a device"])
def test_special_files_are_refused_in_one_line_by_the_cli(tmp_path, kind, capsys):
    import os

    from bertstudio.cli import main

    path = {"device": "/dev/zero", "fifo": tmp_path / "pipe.csv", "folder": tmp_path,
            "link to a device": tmp_path / "zero.csv"}[kind]
    if kind == "fifo":
        os.mkfifo(path)
    if kind == "link to a device":
        path.symlink_to("/dev/zero")
    assert main(["inspect", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err
    assert ("is a folder" if kind == "folder" else "is not a regular file") in err


def test_an_unclosed_quote_before_a_big_tail_is_still_refused_plainly():
    raw = b'text,label\n"never closed,pos\n' + b"x,neg\n" * 40_000
    with pytest.raises(StudioError, match="never closed"):
        read_table(raw, name="broken.csv")


@pytest.fixture(scope="module")
def million_rows() -> bytes:
    return b"text,label\n" + b"".join(b"t%d,%d\n" % (i, i % 2) for i in range(1_000_000))


def test_a_million_short_rows_load_and_summarise(million_rows):
    table = read_table(million_rows, name="million.csv")
    assert len(table.rows) == 1_000_000 and table.rows[-1] == ["t999999", "1"]
    summary = data_summary(table)
    assert summary["rows"] == 1_000_000 and summary["label_counts"] == {"0": 500_000, "1": 500_000}


def test_a_million_rows_meet_a_plain_limit_message_in_hosted_mode(million_rows):
    hosted = HostingSettings.from_env({"BERTSTUDIO_HOSTED": "1", "BERTSTUDIO_MAX_UPLOAD_MB": "50"})
    table = read_table(million_rows, name="million.csv", max_bytes=hosted.max_upload_bytes)
    with pytest.raises(StudioError, match="'million.csv' has 1,000,000 rows, more than the 20,000"):
        hosted.check_rows(len(table), table.name)
    strict = HostingSettings.from_env({"BERTSTUDIO_HOSTED": "1", "BERTSTUDIO_MAX_UPLOAD_MB": "5"})
    with pytest.raises(StudioError, match="larger than"):
        read_table(million_rows, name="million.csv", max_bytes=strict.max_upload_bytes)


@pytest.mark.parametrize("text, message", [
    ('{"epochs": "three"}', "'epochs' must be a whole number"),
    ('{"learning_rate": [0.1]}', "'learning_rate' must be a number"),
    ('{"keep_best": 1}', "'keep_best' must be true or false"),
    ('{"epochs": 1e400}', "'epochs' must be a whole number"),
    ('{"learning_rate": NaN}', "must be a finite number"),
    ('{"seed": -1}', "'Seed' is -1"),
    ('{"optimizer": "sgd", "epochs": 2}', "unknown settings: optimizer"),
    ('["epochs", 3]', "must be a JSON object"),
    ('{"epochs": 3', "not valid JSON"),
    ('', "not valid JSON"),
])
def test_a_config_json_with_wrong_types_or_unknown_keys_is_refused_by_name(text, message):
    with pytest.raises(StudioError, match=message):
        TrainConfig.from_json(text)


@settings(max_examples=200, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                 max_size=3), max_leaves=8)
       | st.dictionaries(st.sampled_from(["epochs", "model", "learning_rate", "max_rows", "seed", "truncation",
                                          "keep_best", "text_column", "data"]),
                         st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)))
def test_any_json_value_is_a_config_or_a_plain_studio_error(value):
    try:
        text = json.dumps(value)
    except ValueError:
        return
    try:
        config = TrainConfig.from_json(text)
    except StudioError as exc:
        assert exc.message.strip()
        return
    assert config.validate() is config


# --- corrupt run folders ------------------------------------------------------------------------
# One damaged folder in the runs folder: it is listed as damaged with one sentence naming the
# file, and every list, page handler, the CLI and the clean-up thread keep working for the rest.

from test_runs import DAMAGE, make_run  # noqa: E402 - the corrupt-folder cases of test_runs


@pytest.mark.parametrize("case", sorted(DAMAGE) + ["garbage event line", "cut last line"])
def test_one_corrupt_run_folder_breaks_no_list_no_handler_and_no_clean_up(tmp_path, case, capsys):
    import time

    from bertstudio.cli import main
    from bertstudio.hosting import sweep
    from bertstudio.ui import predict_tab, runs_tab
    from bertstudio.ui.render import md_escape

    runs = tmp_path / "runs"
    make_run(runs, "healthy")
    bad = make_run(runs, "bad")
    if case in DAMAGE:
        name, raw, words = DAMAGE[case]
        bad.file(name).write_bytes(raw)
    else:
        junk = b'{"type": "step", "step": ' if case == "cut last line" else b'\x00{"type": "nope"}\xff\n'
        with open(bad.file("events.jsonl"), "ab") as handle:
            handle.write(junk)
        words = None

    table, picker = runs_tab.refresh(runs, False, None, None)
    rows = {row[-1]: row for row in table["data"]}
    assert set(rows) == {"healthy", "bad"} and rows["healthy"][1] == "finished"
    assert rows["bad"][1] == (f"damaged ({name})" if words else "finished")
    assert [value for _, value in predict_tab.choices(runs, False, None, None)["choices"]] == (
        ["healthy"] if words else ["bad", "healthy"])
    opened = runs_tab.open_run(runs, False, lambda: tmp_path / "downloads", None, "bad")
    assert opened[0]["visible"] is True
    summary = opened[1]
    assert (md_escape(words) in summary and summary.startswith("**Damaged**")) if words else "Finished" in summary

    capsys.readouterr()
    assert main(["runs", "--output-dir", str(runs)]) == 0
    listed = capsys.readouterr().out  # the CLI prints the whole sentence
    assert "healthy\tfinished" in listed and (words in listed if words else "bad\tfinished" in listed)
    if words and "config" in case:  # predicting with it is refused in its sentence, not a traceback
        assert main(["predict", "--model", str(bad.path), "--text", "hi"]) == 2
        assert words in capsys.readouterr().err

    assert sorted(p.name for p in sweep(runs, ttl_seconds=60, now=time.time() + 3600)) == ["bad", "healthy"]


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(["config.json", "data.json", "metrics.json", "events.jsonl", "process.json"]),
       any_bytes | st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6),
                                lambda inner: st.lists(inner, max_size=3)
                                | st.dictionaries(st.sampled_from(["labels", "model", "max_length", "accuracy",
                                                                   "type", "step", "metrics", "pid", "host"]),
                                                  inner, max_size=4),
                                max_leaves=8).map(lambda value: json.dumps(value).encode()))
def test_any_bytes_in_any_run_file_give_a_record_never_an_exception(tmp_path_factory, name, raw):
    from bertstudio.events import read_events
    from bertstudio.runs.folder import list_runs
    from bertstudio.ui.results import history_of, read_results, settings_rows

    runs = tmp_path_factory.mktemp("runs")
    run = make_run(runs, "r", finished=False)
    run.file(name).write_bytes(raw)
    (record,) = list_runs(runs)
    assert record.status in ("finished", "stopped", "failed", "running", "interrupted", "damaged")
    assert record.damage is None or (record.damage.startswith("This run is damaged: ") and name in record.damage)
    read_events(run.file("events.jsonl"))
    read_results(run.path)
    settings_rows(run.path)
    history_of(run.path)


def test_the_sweeper_outlives_a_failing_clean_up_and_one_folder_that_cannot_be_swept(tmp_path):
    import threading
    import time

    from bertstudio.hosting import Sweeper, sweep

    runs = tmp_path / "runs"
    for name in ("a", "b", "c"):
        make_run(runs, name)

    def busy(run_id):
        if run_id == "b":
            raise RuntimeError("this folder cannot be looked at")
        return False

    assert sorted(p.name for p in sweep(runs, ttl_seconds=60, busy=busy, now=time.time() + 3600)) == ["a", "c"]

    calls, second = [], threading.Event()

    def clean():
        calls.append(1)
        if len(calls) == 1:
            raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte")
        second.set()

    sweeper = Sweeper(clean, interval=0.01).start()
    try:
        assert second.wait(timeout=30)
    finally:
        sweeper.stop()
