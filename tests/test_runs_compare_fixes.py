"""What the real page showed needed: the differing settings on top of the side-by-side table,
the same file uploaded again recognised by its bytes, and a run's name left out of Train again."""

import csv
import html
import shutil
from pathlib import Path

import gradio as gr
import pytest

from bertstudio.config import TrainConfig
from bertstudio.data.tabular import read_table
from bertstudio.training.trainer import train
from bertstudio.ui import compare, train_again
from bertstudio.ui.data_view import LoadedData
from bertstudio.ui.history import TrainHistory

from ui_support import page_form, values


def _run(run_id, **settings):
    config = TrainConfig(data="/uploads/a/train.csv", model="bundled", **settings).to_dict()
    return compare.ComparedRun(run_id=run_id, name=run_id, task="single_label", headline="macro_f1",
                               history=TrainHistory(), config=config, metrics={}, status="finished")


def test_the_settings_that_differ_come_first_in_the_form_order_then_the_shared_ones():
    table = compare.settings_table([_run("a", learning_rate=1e-4, epochs=10, seed=1),
                                    _run("b", learning_rate=5e-5, epochs=3, seed=1)])
    styled = [bool(style[0]) for style in table["metadata"]["styling"]]
    assert [row[0] for row in table["data"][:2]] == ["Learning rate", "Epochs"]
    assert styled[:2] == [True, True] and not any(styled[2:])
    assert table["metadata"]["display_value"] == table["data"]
    assert len(table["data"]) == len(compare.settings_table([_run("a"), _run("b")])["data"])  # nothing lost


def test_the_highlight_sets_its_own_dark_text_so_a_dark_theme_stays_readable():
    assert "background-color" in compare.HIGHLIGHT and "color: #1f2937" in compare.HIGHLIGHT


@pytest.fixture(scope="module")
def named_run(tmp_path_factory, tiny_model_dir):
    folder = tmp_path_factory.mktemp("again")
    data = folder / "train.csv"
    with open(data, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        for i in range(24):
            writer.writerow([f"{'good' if i % 2 else 'bad'} {i}", "pos" if i % 2 else "neg"])
    result = train(TrainConfig(data=str(data), model=str(tiny_model_dir), output_dir=str(folder / "runs"),
                               epochs=1, batch_size=8, max_length=16, learning_rate=3e-4, run_name="first-try"))
    assert result.status == "finished", result.message
    return result.run_dir, data


def test_the_same_file_uploaded_again_counts_as_the_runs_file(named_run, tmp_path):
    run_dir, data = named_run
    run_dir = Path(run_dir)
    upload = tmp_path / "upload-7f3a" / data.name  # where the Data tab keeps an uploaded copy
    upload.parent.mkdir()
    shutil.copy(data, upload)
    form = page_form(tmp_path / "runs")
    out = train_again.fill_from_run(form, run_dir, LoadedData(path=str(upload), table=read_table(upload)),
                                    values(form))
    assert "train.csv, is the one loaded on the Data tab" in html.unescape(out[-1])


def test_another_file_of_the_same_name_is_not_taken_for_the_runs_file(named_run, tmp_path):
    run_dir, data = named_run
    run_dir = Path(run_dir)
    other = tmp_path / "train.csv"
    other.write_text("text,label\nsomething else,pos\nand more,neg\n", encoding="utf-8")
    form = page_form(tmp_path / "runs")
    out = train_again.fill_from_run(form, run_dir, LoadedData(path=str(other), table=read_table(other)),
                                    values(form))
    assert "is still there, but the Data tab has train.csv loaded" in html.unescape(out[-1])


def test_train_again_leaves_the_name_for_the_new_run(named_run, tmp_path):
    run_dir, data = named_run
    run_dir = Path(run_dir)
    form = page_form(tmp_path / "runs")
    out = train_again.fill_from_run(form, run_dir, LoadedData(path=str(data), table=read_table(data)),
                                    values(form))
    filled = dict(zip([c.name for c in form.controls], out[:len(form.controls)]))
    assert filled["run_name"] == gr.skip() and filled["learning_rate"] != gr.skip()
    assert "first-try" not in out[-1] and "lr 3e-4" in out[-1]
