"""Data tab handlers: files through the engine, suggested columns, problems beside the right control."""

import pytest

from bertstudio.ui import data_tab
from bertstudio.ui.form import NO_COLUMN
from ui_support import page_form, values, write

LOAD = ["loaded", "facts", "preview", "text", "pair", "label", "task", "separator", "label_columns", "sheet",
        "file_problem"]
PREPARE = ["prepared", "report", "chart", "per_row_chart", "column_problem", "validation_problem", "task_note",
           "separator", "label_columns"]


@pytest.fixture(scope="module")
def form(tmp_path_factory):
    return page_form(tmp_path_factory.mktemp("runs"))


def test_a_latin1_file_loads_with_columns_suggested_and_accents_intact(tmp_path):
    rows = "id;avis;classe\n" + "".join(f"{i};Très bon café numéro {i};{'ab'[i % 2]}\n" for i in range(12))
    out = dict(zip(LOAD, data_tab.load_training_file(write(tmp_path, "avis.csv", rows, "cp1252"))))
    assert out["file_problem"] == "" and "cp1252" in out["facts"] and "semicolon" in out["facts"]
    assert out["text"]["value"] == "avis" and out["label"]["value"] == "classe"
    assert out["pair"]["value"] == NO_COLUMN and NO_COLUMN in out["pair"]["choices"]
    assert out["preview"]["headers"] == ["id", "avis", "classe"]
    assert "Très bon café" in out["preview"]["data"][0][1]


def test_a_file_that_is_not_a_table_is_explained_beside_the_upload(tmp_path):
    path = tmp_path / "photo.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    out = dict(zip(LOAD, data_tab.load_training_file(str(path))))
    assert out["loaded"] is None and "PNG image" in out["file_problem"]


def test_prepare_gives_the_report_and_the_label_chart(form, tmp_path):
    rows = "text,label\n" + "".join(f"text {i},{'xyz'[i % 3]}\n" for i in range(30)) + ",x\n"
    loaded = data_tab.load_training_file(write(tmp_path, "d.csv", rows))[0]
    out = dict(zip(PREPARE, data_tab.prepare(form, loaded, *values(form, text_column="text", label_column="label"))))
    assert out["prepared"].labels == ["x", "y", "z"] and out["column_problem"] == ""
    assert "1 row with empty text" in out["report"]
    assert list(out["chart"].data[0].y) == [10, 10, 10]


def test_a_label_column_with_one_value_is_explained_beside_the_column_pickers(form, tmp_path):
    rows = "text,label,lang\n" + "".join(f"text {i},{'ab'[i % 2]},en\n" for i in range(10))
    loaded = data_tab.load_training_file(write(tmp_path, "d.csv", rows))[0]
    out = dict(zip(PREPARE, data_tab.prepare(form, loaded, *values(form, text_column="text", label_column="lang"))))
    assert out["prepared"] is None and "only one label" in out["column_problem"]
    assert out["validation_problem"] == ""
    assert list(out["chart"].data[0].x) == ["en"]  # still shows what the column holds


def test_a_validation_file_with_new_labels_is_explained_beside_the_validation_choice(form, tmp_path):
    train = "text,label\n" + "".join(f"text {i},{'ab'[i % 2]}\n" for i in range(10))
    loaded = data_tab.load_training_file(write(tmp_path, "t.csv", train))[0]
    loaded, problem = data_tab.load_validation_file(loaded, write(tmp_path, "v.csv", "text,label\nhello,c\n"))
    assert problem == "" and loaded.validation_table is not None
    out = dict(zip(PREPARE, data_tab.prepare(form, loaded, *values(form, text_column="text", label_column="label"))))
    assert "labels that the training data does not have" in out["validation_problem"]
    assert out["column_problem"] == ""


def test_going_back_to_a_split_forgets_the_validation_file(form, tmp_path):
    train = "text,label\n" + "".join(f"text {i},{'ab'[i % 2]}\n" for i in range(10))
    loaded = data_tab.load_training_file(write(tmp_path, "t.csv", train))[0]
    loaded, _ = data_tab.load_validation_file(loaded, write(tmp_path, "v.csv", "text,label\nhello,a\nbye,b\n"))
    loaded, upload, split = data_tab.switch_validation_mode(loaded, data_tab.SPLIT)
    assert loaded.validation_path is None and upload["visible"] is False and split["visible"] is True


def test_the_example_dataset_ships_with_the_app():
    assert data_tab.example_path().is_file()


# --- a shared deployment ----------------------------------------------------------------------------

def _hosted(**limits):
    from bertstudio.hosting import HostingSettings

    return HostingSettings.from_env({"BERTSTUDIO_HOSTED": "1", **limits})


def test_a_hosted_upload_over_the_size_limit_is_refused_plainly(tmp_path):
    import gzip
    import html

    hosting = _hosted(BERTSTUDIO_MAX_UPLOAD_MB="0.01")
    rows = "text,label\n" + "".join(f"some words {i},{'ab'[i % 2]}\n" for i in range(2000))
    out = dict(zip(LOAD, data_tab.load_training_file(write(tmp_path, "big.csv", rows), hosting=hosting)))
    assert out["loaded"] is None and "'big.csv' is larger than" in html.unescape(out["file_problem"])
    packed = tmp_path / "big.csv.gz"
    packed.write_bytes(gzip.compress(rows.encode()))
    assert packed.stat().st_size < 10_000  # small as uploaded, too big once unpacked
    out = dict(zip(LOAD, data_tab.load_training_file(str(packed), hosting=hosting)))
    assert out["loaded"] is None and "unpacks to more than" in out["file_problem"]


def test_a_hosted_upload_over_the_row_limit_is_refused_plainly(tmp_path):
    import html

    rows = "text,label\n" + "".join(f"w{i},{'ab'[i % 2]}\n" for i in range(30))
    out = dict(zip(LOAD, data_tab.load_training_file(write(tmp_path, "rows.csv", rows),
                                                     hosting=_hosted(BERTSTUDIO_MAX_ROWS="20"))))
    assert out["loaded"] is None and "'rows.csv' has more than 20 rows" in html.unescape(out["file_problem"])


def test_a_hosted_upload_is_kept_outside_gradios_cache_so_a_resumed_run_finds_it(tmp_path):
    rows = "text,label\n" + "".join(f"w{i},{'ab'[i % 2]}\n" for i in range(12))
    source = write(tmp_path, "mine.csv", rows)
    out = dict(zip(LOAD, data_tab.load_training_file(source, hosting=_hosted(), uploads_dir=tmp_path / "kept")))
    kept = out["loaded"].path
    assert kept != source and kept.startswith(str(tmp_path / "kept")) and open(kept).read() == rows


# --- issue #8: too few rows (item 18) and a messy file's report (item 23) ---------------------

def test_a_one_row_file_gets_one_sentence_about_its_rows_and_the_train_tab_is_not_ready(form, tmp_path):
    from bertstudio.ui import train_tab

    out = dict(zip(LOAD, data_tab.load_training_file(write(tmp_path, "one.csv", "text,label\nhello there,pos\n"))))
    assert out["file_problem"] == "" and out["label"]["value"] == "label"
    chosen = values(form, text_column="text", label_column="label")
    prepared = dict(zip(PREPARE, data_tab.prepare(form, out["loaded"], *chosen)))
    assert prepared["prepared"] is None
    assert "has only 1 usable row" in prepared["column_problem"] and "add rows" in prepared["column_problem"]
    plan = train_tab.plan_text(form, out["loaded"], None, *chosen)
    assert "Ready" not in plan and "has only 1 usable row" in plan


def test_a_label_the_engine_cannot_suggest_is_explained_once_and_replaced_when_one_is_picked(form, tmp_path):
    rows = "index,text,kind\n" + "".join(f"{i},text number {i},{'abcdefgh'[i % 8]}\n" for i in range(12))
    out = dict(zip(LOAD, data_tab.load_training_file(write(tmp_path, "d.csv", rows))))
    assert out["file_problem"] == ""  # said once, beside the column pickers, by prepare
    assert out["text"]["value"] == "text" and out["label"]["value"] is None  # not the index column
    first = dict(zip(PREPARE, data_tab.prepare(form, out["loaded"], *values(form, text_column="text"))))
    assert "looks like labels" in first["column_problem"]
    picked = dict(zip(PREPARE, data_tab.prepare(form, out["loaded"],
                                                 *values(form, text_column="text", label_column="kind"))))
    assert "looks like labels" not in picked["column_problem"] + picked["validation_problem"]
    # about the labels of the chosen column, so beside the pickers, though a validation file is one way out
    assert "only 1 row" in picked["column_problem"] and picked["validation_problem"] == ""


def test_the_train_tab_says_ready_only_for_data_the_engine_accepts(form, tmp_path):
    from bertstudio.ui import train_tab

    rows = "text,label\n" + "".join(f"text {i},{'ab'[i % 2]}\n" for i in range(10))
    loaded = data_tab.load_training_file(write(tmp_path, "ok.csv", rows))[0]
    good = values(form, text_column="text", label_column="label")
    prepared = data_tab.prepare(form, loaded, *good)[0]
    assert train_tab.plan_text(form, loaded, prepared, *good).startswith("**Ready:**")
    assert train_tab.plan_text(form, loaded, None, *good).startswith("**Ready:**")  # checked, not assumed


def messy(tmp_path):
    rows = ["label,text,,"] + [f"{'ham' if i % 2 else 'spam'},message å£{i} &amp; more,," for i in range(10)]
    rows += ["spam,message å£1 &amp; more,,", "ham,call now, win a prize,"]
    return data_tab.load_training_file(write(tmp_path, "messy.csv", "\n".join(rows) + "\n"))[0]


def test_a_messy_files_report_names_mojibake_spill_html_and_duplicates(form, tmp_path):
    out = dict(zip(PREPARE, data_tab.prepare(form, messy(tmp_path), *values(form))))
    report = out["report"]
    for words in ("garbled characters", "Repair garbled characters", "column\\_3", "unquoted comma",
                  "Rejoin spilled text", "HTML", "Strip HTML tags", "repeats an earlier text",
                  "Remove duplicate texts"):
        assert words in report, words


def test_the_cleaning_accordion_has_the_repair_and_duplicate_controls_and_they_act(form, tmp_path):
    assert {"clean_fix_mojibake", "remove_duplicates", "rejoin_spilled_text"} <= {c.name for c in form.controls}
    chosen = values(form, remove_duplicates=True, clean_fix_mojibake=True, clean_strip_html=True)
    out = dict(zip(PREPARE, data_tab.prepare(form, messy(tmp_path), *chosen)))
    texts = out["prepared"].train.texts + out["prepared"].validation.texts
    assert "message £1 & more" in texts and len(texts) == len(set(texts))
    assert out["prepared"].report.dropped == {"duplicate text": 1}
    assert "1 row with duplicate text" in out["report"] and "Remove duplicate texts" not in out["report"]


def test_the_upload_accepts_every_format_the_engine_reads():
    for suffix in (".csv", ".tsv", ".txt", ".gz", ".xlsx", ".json", ".jsonl", ".parquet"):
        assert suffix in data_tab.FILE_TYPES


# --- an Excel workbook's sheets -----------------------------------------------------------------

def workbook(tmp_path):
    from openpyxl import Workbook

    book = Workbook()
    notes = book.active
    notes.title = "Notes"
    notes.append(["about", "this", "file"])
    notes.append(["made", "by", "hand"])
    data = book.create_sheet("Reviews")
    data.append(["review", "stars"])
    for i in range(20):
        data.append([f"review number {i}", 1 + i % 5])
    path = tmp_path / "book.xlsx"
    book.save(path)
    return str(path)


def test_a_workbook_of_several_sheets_offers_them_and_another_sheet_is_read_as_a_fresh_table(form, tmp_path):
    out = dict(zip(LOAD, data_tab.load_training_file(workbook(tmp_path))))
    assert out["sheet"] == {"__type__": "update", "choices": ["Notes", "Reviews"], "value": "Notes", "visible": True}
    again = dict(zip(LOAD, data_tab.choose_sheet(out["loaded"], "Reviews")))
    assert again["loaded"].table.columns == ["review", "stars"] and again["sheet"]["value"] == "Reviews"
    assert again["text"]["value"] == "review" and again["label"]["value"] == "stars"
    chosen = values(form, sheet="Reviews", text_column="review", label_column="stars")
    assert form.build_config(again["loaded"].path, None, chosen).sheet == "Reviews"
    assert data_tab.prepare(form, again["loaded"], *chosen)[0] is not None


def test_a_text_file_has_no_sheet_picker(tmp_path):
    out = dict(zip(LOAD, data_tab.load_training_file(write(tmp_path, "d.csv", "text,label\nhi,a\n"))))
    assert out["sheet"]["visible"] is False and out["sheet"]["value"] is None
