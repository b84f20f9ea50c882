"""A visitor's choices across a reload: remembered whole, restored only through the upload checks."""

import os

import gradio as gr
import pytest

from bertstudio.hosting import HostingSettings
from bertstudio.data.tabular import read_table
from bertstudio.ui import choices, data_tab
from bertstudio.ui.data_tab import LoadedData
from bertstudio.ui.history import FollowedRun
from ui_support import page_form, values

PAGE = ["loaded", "facts", "preview", "file_problem", "upload", "validation_mode", "validation_upload",
        "validation_problem", "preset"]


@pytest.fixture(scope="module")
def form(tmp_path_factory):
    return page_form(tmp_path_factory.mktemp("runs"))


def upload_path(tmp_path, name):
    """Where gradio would have put an upload of `name`: <root>/<hash>/<name>; returns root and path."""
    root = tmp_path / "uploads"
    (root / "3f2a").mkdir(parents=True)
    return root, root / "3f2a" / name


def restored(form, outputs):
    return dict(zip(PAGE + [control.name for control in form.controls], outputs))


@pytest.fixture
def upload(tmp_path):
    """A file where gradio would have put an upload."""
    root, path = upload_path(tmp_path, "orders.csv")
    path.write_text("id,message,note,category\n" + "".join(
        f"{i},{'great' if i % 2 else 'broken'} order {i},remark {i},{'praise' if i % 2 else 'complaint'}\n"
        for i in range(20)), encoding="utf-8")
    return root, path


def remembered(form, path, **chosen):
    loaded = LoadedData(path=str(path), table=read_table(path))
    return choices.remember(form, loaded, data_tab.SPLIT, None, *values(form, **chosen))


def restore(form, value, root, tmp_path, hosting=None, uploads_dir=None, example=None):
    return restored(form, choices.restore(form, value, roots=[root], example=example, hosting=hosting,
                                          uploads_dir=uploads_dir, downloads=lambda: tmp_path / "downloads"))


def test_a_reload_puts_back_the_file_its_columns_the_model_and_the_max_length(form, upload, tmp_path):
    root, path = upload
    value = remembered(form, path, text_column="note", label_column="category", model="bert-base-uncased",
                       max_length=24, epochs=4)
    out = restore(form, value, root, tmp_path)
    assert isinstance(out["loaded"], LoadedData) and out["loaded"].table.columns == ["id", "message", "note",
                                                                                       "category"]
    assert "orders\\.csv" in out["facts"] and out["upload"] == str(path.resolve())
    assert out["text_column"]["value"] == "note" and "message" in out["text_column"]["choices"]
    assert out["label_column"]["value"] == "category"
    assert out["model"] == "bert-base-uncased" and out["max_length"] == 24 and out["epochs"] == 4
    assert out["preset"] is None  # the restored model must not re-apply the default preset over them


def test_a_remembered_column_the_file_lacks_falls_back_to_the_suggestion(form, upload, tmp_path):
    root, path = upload
    out = restore(form, remembered(form, path, text_column="gone", label_column="category"), root, tmp_path)
    assert out["text_column"]["value"] == "message"  # what a fresh upload suggests


@pytest.mark.parametrize("where", ["system file", "dot-dot", "link out", "the folder itself", "nul"])
def test_a_remembered_path_the_server_never_gave_out_is_never_read(form, upload, tmp_path, where):
    root, path = upload
    outside = tmp_path / "secret.csv"
    outside.write_text("text,label\nsecret,a\nsecret,b\n", encoding="utf-8")
    (root / "3f2a" / "link.csv").symlink_to(outside)
    wanted = {"system file": "/etc/passwd", "dot-dot": str(root / "3f2a" / ".." / ".." / "secret.csv"),
              "link out": str(root / "3f2a" / "link.csv"), "the folder itself": str(root / "3f2a"),
              "nul": str(path) + "\x00"}[where]
    value = {**remembered(form, path), "data": wanted}
    out = restore(form, value, root, tmp_path)
    assert out["loaded"] is None and "choose it again" in out["file_problem"]
    assert out["facts"] == gr.skip() and out["upload"] == gr.skip()


def test_a_restored_file_meets_the_same_limits_as_an_upload(form, upload, tmp_path):
    root, path = upload
    hosting = HostingSettings(hosted=True, max_rows=5)
    out = restore(form, remembered(form, path), root, tmp_path, hosting=hosting, uploads_dir=root)
    assert out["loaded"] is None and "rows" in out["file_problem"]


def test_remembered_settings_that_break_the_config_or_the_hosted_limits_are_not_shown(form, upload, tmp_path):
    root, path = upload
    broken = {**remembered(form, path), "settings": {"epochs": 10_000}}
    assert all(restore(form, broken, root, tmp_path)[name] == gr.skip() for name in ("epochs", "model"))
    hosting = HostingSettings(hosted=True, max_epochs=3)
    out = restore(form, remembered(form, path, epochs=4), root, tmp_path, hosting=hosting, uploads_dir=root)
    assert out["epochs"] == gr.skip() and isinstance(out["loaded"], LoadedData)


def test_a_hosted_restore_shows_the_upload_box_a_copy_in_the_visitors_own_folder(form, upload, tmp_path):
    root, path = upload
    out = restore(form, remembered(form, path), root, tmp_path, hosting=HostingSettings(hosted=True),
                  uploads_dir=root)
    shown = out["upload"]
    assert shown.startswith(str(tmp_path / "downloads")) and open(shown).read() == path.read_text()
    assert out["loaded"].path.startswith(str(root))  # training reads the kept upload, which outlives the copy


def test_the_example_is_restored_from_where_it_ships(form, tmp_path, sample_csv):
    value = remembered(form, sample_csv)
    out = restore(form, value, tmp_path / "no-uploads-here", tmp_path, example=sample_csv)
    assert out["loaded"].path == str(sample_csv.resolve())


def test_a_file_uploaded_before_the_restore_ran_is_kept_not_replaced_by_the_remembered_one(form, upload, tmp_path):
    root, path = upload
    value = remembered(form, path, text_column="note", epochs=4)
    newer = LoadedData(path=str(path), table=read_table(path))  # what the visitor just chose on this page
    out = restored(form, choices.restore(form, value, roots=[root], example=None, hosting=None, uploads_dir=None,
                                         downloads=lambda: tmp_path / "downloads", current=newer))
    assert all(value == gr.skip() for value in out.values())


def test_nothing_remembered_changes_nothing(form, tmp_path):
    out = restore(form, {}, tmp_path, tmp_path)
    assert all(value == gr.skip() for value in out.values())


def test_after_a_reload_the_train_tab_names_the_run_it_follows_instead_of_asking_for_a_dataset(form, upload):
    followed = FollowedRun(run_id="20260101-120000-orders", events_path="/nowhere/events.jsonl")
    plan = choices.plan_after_reload(form, None, None, followed, *values(form))
    assert "follows run **20260101\\-120000\\-orders**" in plan and "Load a dataset" not in plan
    _, path = upload
    loaded = LoadedData(path=str(path), table=read_table(path))
    ready = choices.plan_after_reload(form, loaded, None, followed, *values(form, text_column="message",
                                                                            label_column="category"))
    assert "orders\\.csv" in ready and "Load a dataset" not in ready


def test_the_whole_set_of_choices_is_remembered_not_merged(form, upload):
    _, path = upload
    value = remembered(form, path, max_length=24)
    assert value["data"] == str(path) and value["settings"]["max_length"] == 24
    assert set(value["settings"]) == {control.name for control in form.controls}
    cleared = choices.remember(form, None, data_tab.SPLIT, None, *values(form))
    assert cleared["data"] is None and cleared["settings"]["max_length"] != 24
    assert os.path.basename(str(value["data"])) == "orders.csv"


# --- issue #9: the task and its details survive a reload -------------------------------------------

@pytest.fixture
def flags_upload(tmp_path):
    root, path = upload_path(tmp_path, "flags.csv")
    path.write_text("text,joy,anger,tags\n" + "".join(
        f"text {i},{i % 2},{(i + 1) % 2},\"{'a;b' if i % 2 else 'b'}\"\n" for i in range(20)), encoding="utf-8")
    return root, path


def test_the_task_its_separator_and_picked_label_columns_come_back_after_a_reload(form, flags_upload, tmp_path):
    root, path = flags_upload
    value = remembered(form, path, text_column="text", label_column="tags", task="multi_label",
                       label_separator=";", label_columns=["joy", "anger"], metric_for_best="micro_f1",
                       weight_rare_labels=True)
    assert value["settings"]["label_columns"] == "joy,anger"  # a list kept as the config's text
    out = restore(form, value, root, tmp_path)
    assert out["task"] == "multi_label" and out["label_separator"]["value"] == ";"
    assert out["label_columns"]["value"] == ["joy", "anger"] and out["label_columns"]["choices"] == ["joy", "anger"]
    assert out["weight_rare_labels"] is True
    # A radio refuses a value outside its choices: the restored metric comes with choices that hold it.
    assert out["metric_for_best"]["value"] == "micro_f1"
    assert "micro_f1" in [value for _, value in out["metric_for_best"]["choices"]]


def test_a_new_file_starts_from_detection_with_its_own_yes_no_columns_offered(flags_upload):
    _, path = flags_upload
    out = dict(zip(data_tab.LOAD_FIELDS, data_tab.load_training_file(str(path))))
    assert out["task"] == "auto" and out["label_separator"]["value"] is None
    assert out["label_columns"] == {"__type__": "update", "choices": ["joy", "anger"], "value": []}


def test_the_sheet_of_a_workbook_comes_back_after_a_reload(form, tmp_path):
    from openpyxl import Workbook

    root, path = upload_path(tmp_path, "book.xlsx")
    book = Workbook()
    book.active.title = "Notes"
    book.active.append(["a", "b"])
    book.active.append(["c", "d"])
    reviews = book.create_sheet("Reviews")
    reviews.append(["review", "stars"])
    for i in range(12):
        reviews.append([f"review {i}", 1 + i % 3])
    book.save(path)
    loaded = data_tab.choose_sheet(LoadedData(path=str(path), table=read_table(path)), "Reviews")[0]
    value = choices.remember(form, loaded, data_tab.SPLIT, None,
                             *values(form, sheet="Reviews", text_column="review", label_column="stars"))
    out = restore(form, value, root, tmp_path)
    assert out["loaded"].table.sheet == "Reviews" and out["sheet"]["value"] == "Reviews"
    assert out["text_column"]["value"] == "review" and out["label_column"]["value"] == "stars"
