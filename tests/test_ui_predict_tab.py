"""Predict tab handlers on a real (tiny) finished run: pick it, classify a text, classify a CSV."""

import csv
import html
import os
import shutil

import pytest

from bertstudio.config import TrainConfig
from bertstudio.hosting import record_owner
from bertstudio.training.trainer import train
from bertstudio.ui import predict_tab
from bertstudio.ui.session import SessionObjects


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory, tiny_model_dir):
    folder = tmp_path_factory.mktemp("predict")
    data = folder / "train.csv"
    with open(data, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["message", "label"])
        for i in range(30):
            writer.writerow([f"{'lovely great' if i % 2 else 'awful broken'} {i}", "pos" if i % 2 else "neg"])
    result = train(TrainConfig(data=str(data), model=str(tiny_model_dir), output_dir=str(folder / "runs"),
                               epochs=1, batch_size=8, max_length=16))
    assert result.status == "finished", result.message
    return folder / "runs"


@pytest.fixture
def objects():
    made = SessionObjects()
    yield made
    made.close()


def run_id(runs_dir):
    return next(p.name for p in runs_dir.iterdir() if p.is_dir() and not p.name.startswith("."))


def said(outputs):
    """predict_text's outputs by name: the three answer views (updates) and the problem box."""
    return dict(zip(["label", "chart", "answer", "problem"], outputs))


def described(outputs):
    """describe's outputs by name."""
    return dict(zip(["about", "pair", "label", "chart", "answer"], outputs))


def test_the_latest_finished_run_is_picked_for_you(runs_dir):
    update = predict_tab.choices(runs_dir, False, {}, None)
    assert update["value"] == run_id(runs_dir) and len(update["choices"]) == 1


def test_on_a_shared_deployment_a_browser_sees_only_its_own_runs(runs_dir):
    record_owner(runs_dir, run_id(runs_dir), "x")
    assert predict_tab.choices(runs_dir, True, {"owner": "y", "runs": [run_id(runs_dir)]}, None)["choices"] == []
    assert predict_tab.choices(runs_dir, True, {"owner": "x"}, None)["value"] == run_id(runs_dir)


def test_on_a_shared_deployment_a_strangers_run_cannot_be_used_even_by_its_id(runs_dir, objects, tmp_path):
    record_owner(runs_dir, run_id(runs_dir), "x")
    stranger = {"owner": "y", "runs": [run_id(runs_dir)]}
    problem = said(predict_tab.predict_text(objects, runs_dir, run_id(runs_dir), "lovely", None, None, True,
                                            stranger))["problem"]
    assert "Pick a run" in problem and objects.predictor is None
    source = tmp_path / "new.csv"
    source.write_text("message\nlovely\n", encoding="utf-8")
    path, _, problem = predict_tab.predict_file(objects, runs_dir, run_id(runs_dir), str(source), None, None, True,
                                                stranger)
    assert path is None and "Pick a run" in problem
    label, _, _, problem = predict_tab.predict_text(objects, runs_dir, run_id(runs_dir), "lovely", None, None,
                                                    True, {"owner": "x"})
    assert problem == "" and set(label["value"]) == {"neg", "pos"}


def test_a_predictions_csv_never_starts_a_cell_with_a_formula(runs_dir, objects, tmp_path):
    source = tmp_path / "hostile.csv"
    with open(source, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["message", "=note"])
        for text in ("=HYPERLINK(\"http://x\")", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\tlead", "plain"):
            writer.writerow([text, "=1+1"])
    path, _, problem = predict_tab.predict_file(objects, runs_dir, run_id(runs_dir), str(source))
    assert 'class="problem"' not in problem
    cells = [cell for row in csv.reader(open(path, encoding="utf-8")) for cell in row]
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "@", "\t", "\r")
                or (cell.startswith("-") and not _number(cell))]


def _number(text):
    try:
        float(text)
        return True
    except ValueError:
        return False


def test_a_file_over_the_row_limit_is_refused_before_predicting(runs_dir, objects, tmp_path):
    source = tmp_path / "big.csv"
    source.write_text("message\n" + "lovely\n" * 30, encoding="utf-8")
    path, _, problem = predict_tab.predict_file(objects, runs_dir, run_id(runs_dir), str(source), max_rows=20)
    # Reading stops at the limit, so the sentence says "more than", not the whole count.
    assert path is None and "more than 20 rows" in html.unescape(problem) and "at most 20" in html.unescape(problem)


def test_a_text_gets_a_probability_for_every_label(runs_dir, objects):
    out = said(predict_tab.predict_text(objects, runs_dir, run_id(runs_dir), "lovely great", None))
    probabilities = out["label"]["value"]
    assert out["problem"] == "" and set(probabilities) == {"neg", "pos"}
    assert sum(probabilities.values()) == pytest.approx(1.0)
    # one label per row: the Label shows the answer; the multi-label bars and the value stay hidden
    assert out["label"]["visible"] is True and out["chart"]["visible"] is False and out["answer"]["visible"] is False


def test_the_model_is_described_and_loaded_once(runs_dir, objects):
    about, pair, *_ = predict_tab.describe(objects, runs_dir, run_id(runs_dir))
    assert "neg, pos" in about and "message" in about and pair["visible"] is False
    loaded = objects.predictor
    predict_tab.predict_text(objects, runs_dir, run_id(runs_dir), "hi", None)
    assert objects.predictor is loaded


def test_an_empty_text_or_no_run_is_explained(runs_dir, objects):
    assert "Type a text" in predict_tab.predict_text(objects, runs_dir, run_id(runs_dir), "  ", None)[-1]
    assert "train one" in predict_tab.predict_text(objects, runs_dir, None, "hello", None)[-1]
    assert "Pick a run" in predict_tab.predict_text(objects, runs_dir, "../etc", "hello", None)[-1]


def test_a_csv_comes_back_with_predictions_added(runs_dir, objects, tmp_path):
    source = tmp_path / "new.csv"
    source.write_text("message,id\nlovely great,1\n=awful broken,2\n", encoding="utf-8")
    path, preview, problem = predict_tab.predict_file(objects, runs_dir, run_id(runs_dir), str(source))
    assert 'class="problem"' not in problem and path.endswith("new-predictions.csv")
    rows = list(csv.reader(open(path, encoding="utf-8")))
    assert rows[0] == ["message", "id", "predicted_label", "prob_neg", "prob_pos"]
    assert rows[2][0] == "'=awful broken"  # spreadsheet formulas are neutralised
    assert preview["headers"] == rows[0] and len(preview["data"]) == 2


def test_a_csv_without_the_trained_column_asks_for_the_column(runs_dir, objects, tmp_path):
    source = tmp_path / "other.csv"
    source.write_text("body,id\nlovely,1\nawful,2\n", encoding="utf-8")
    picker, button, problem = predict_tab.file_columns(objects, runs_dir, run_id(runs_dir), str(source))
    assert picker["choices"] == ["body", "id"] and picker["value"] is None and button["visible"] is True
    assert "no column 'message'" in html.unescape(problem)
    path, _, problem = predict_tab.predict_file(objects, runs_dir, run_id(runs_dir), str(source), "body")
    assert 'class="problem"' not in problem and list(csv.reader(open(path, encoding="utf-8")))[0][-3] == "predicted_label"


def test_a_csv_with_the_trained_column_has_it_preselected(runs_dir, objects, tmp_path):
    source = tmp_path / "same.csv"
    source.write_text("id,message\n1,lovely\n", encoding="utf-8")
    picker, *_ = predict_tab.file_columns(objects, runs_dir, run_id(runs_dir), str(source))
    assert picker["value"] == "message"


def test_a_predictions_csv_keeps_the_files_own_header_blank_and_repeated_names_included(runs_dir, objects,
                                                                                         tmp_path):
    source = tmp_path / "blanks.csv"
    source.write_text("message,, Note ,message\nlovely,a,b,c\nawful,d,e,f\n", encoding="utf-8")
    path, preview, problem = predict_tab.predict_file(objects, runs_dir, run_id(runs_dir), str(source), "message")
    assert 'class="problem"' not in problem
    header = next(csv.reader(open(path, encoding="utf-8")))
    assert header == ["message", "", " Note ", "message", "predicted_label", "prob_neg", "prob_pos"]
    assert preview["headers"][:4] == ["message", "", " Note ", "message"]


class _Recorder:
    """Stands where gr.Progress stands: remembers every (done, total) it is told."""

    def __init__(self):
        self.calls = []

    def __call__(self, value, desc=None, total=None, unit="steps"):
        self.calls.append((value, desc, unit))


def test_predicting_a_file_reports_progress_per_batch_of_rows(runs_dir, objects, tmp_path):
    source = tmp_path / "many.csv"
    source.write_text("message\n" + "".join(f"lovely great {i}\n" for i in range(150)), encoding="utf-8")
    predict_tab.describe(objects, runs_dir, run_id(runs_dir))  # the model is loaded: no loading step below
    progress = _Recorder()
    path, _, problem = predict_tab.predict_file(objects, runs_dir, run_id(runs_dir), str(source), None, progress)
    assert 'class="problem"' not in problem and path
    rows_done = [value for value, _, unit in progress.calls if unit == "rows"]
    assert rows_done[0] == (0, 150) and rows_done[-1] == (150, 150)
    assert len(rows_done) >= 4  # 150 rows in batches of 64: 0, 64, 128, 150
    assert [done for done, _ in rows_done] == sorted(done for done, _ in rows_done)


def _two_runs(runs_dir, tmp_path):
    """Two copies of the finished run: "old" made an hour before "new"."""
    two = tmp_path / "two-runs"
    for name in ("old", "new"):
        shutil.copytree(runs_dir / run_id(runs_dir), two / name)
    config = two / "old" / "config.json"
    os.utime(config, (config.stat().st_mtime - 3600, config.stat().st_mtime - 3600))
    return two


def test_refresh_list_chooses_the_latest_run_as_the_label_says_whatever_was_shown(runs_dir, tmp_path):
    two = _two_runs(runs_dir, tmp_path)
    update, pinned = predict_tab.refresh_list(two, False, {})
    assert update["value"] == "new" and pinned is None
    assert [value for _, value in update["choices"]] == ["new", "old"]


def test_a_run_the_visitor_picked_themselves_stays_picked_when_the_tab_is_opened_again(runs_dir, tmp_path):
    two = _two_runs(runs_dir, tmp_path)
    assert predict_tab.choices(two, False, {}, predict_tab.pin("old"))["value"] == "old"
    assert predict_tab.choices(two, False, {}, None)["value"] == "new"
    assert predict_tab.choices(two, False, {}, "deleted-since")["value"] == "new"


def test_picking_another_model_clears_what_the_previous_one_said(runs_dir, objects):
    label = described(predict_tab.describe(objects, runs_dir, run_id(runs_dir)))["label"]
    assert label["value"] is None
    label_value, chart, answer, problem, result_file, preview, file_problem, explanation = predict_tab.clear_answers()
    assert label_value is None and chart is None and answer == ""
    assert result_file is None and preview is None and problem == file_problem == explanation == ""


@pytest.fixture(scope="module")
def pair_runs_dir(tmp_path_factory, tiny_model_dir):
    """A finished sentence-pair run whose labels are bare 0/1, like MRPC's Quality column."""
    folder = tmp_path_factory.mktemp("pair")
    data = folder / "pairs.csv"
    with open(data, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Quality", "first", "second"])
        for i in range(24):
            writer.writerow([i % 2, f"the cat sat {i}", f"{'the cat sat' if i % 2 else 'a dog ran'} {i}"])
    result = train(TrainConfig(data=str(data), model=str(tiny_model_dir), output_dir=str(folder / "runs"),
                               text_column="first", text_pair_column="second", label_column="Quality",
                               epochs=1, batch_size=8, max_length=16))
    assert result.status == "finished", result.message
    return folder / "runs"


def test_a_pair_run_with_bare_numeric_labels_says_which_column_of_which_file_they_come_from(pair_runs_dir,
                                                                                             objects):
    about, pair, label, *_ = predict_tab.describe(objects, pair_runs_dir, run_id(pair_runs_dir))
    assert pair["visible"] is True
    assert "values of column **Quality** of pairs\\.csv" in about and "1 means what it meant there" in about
    assert label["label"] == "Prediction: the value of column 'Quality'"


def test_named_labels_say_their_column_without_a_warning(runs_dir, objects):
    about, _, label, *_ = predict_tab.describe(objects, runs_dir, run_id(runs_dir))
    assert "Classes: neg, pos (from column **label**" in about and "meant" not in about
    assert label["label"] == "Prediction: the value of column 'label'"


def test_a_file_with_its_column_preselected_keeps_the_button_unavailable_while_it_runs(runs_dir, objects,
                                                                                       tmp_path):
    source = tmp_path / "auto.csv"
    source.write_text("message\nlovely\n", encoding="utf-8")
    _, button, _ = predict_tab.file_columns(objects, runs_dir, run_id(runs_dir), str(source))
    assert button["interactive"] is False  # the upload predicts it at once; a click would run it twice
    other = tmp_path / "other.csv"
    other.write_text("body,id\nlovely,1\n", encoding="utf-8")
    _, button, _ = predict_tab.file_columns(objects, runs_dir, run_id(runs_dir), str(other))
    assert button["interactive"] is True  # nothing runs until the visitor picks the column and clicks


@pytest.mark.parametrize("name, content, suffix", [
    ("new.tsv", "message\tid\nlovely great\t1\nawful\t2\n", ".tsv"),
    ("new.jsonl", '{"message": "lovely great", "id": 1}\n{"message": "awful", "id": 2}\n', ".jsonl"),
])
def test_a_file_comes_back_in_its_own_format_with_the_predicted_columns(runs_dir, objects, tmp_path, name, content,
                                                                        suffix):
    import json

    source = tmp_path / name
    source.write_text(content, encoding="utf-8")
    path, preview, problem = predict_tab.predict_file(objects, runs_dir, run_id(runs_dir), str(source))
    assert 'class="problem"' not in problem and path.endswith(f"new-predictions{suffix}")
    assert preview["headers"][-3:] == ["predicted_label", "prob_neg", "prob_pos"]
    text = open(path, encoding="utf-8").read()
    if suffix == ".jsonl":
        first = json.loads(text.splitlines()[0])
        assert first["id"] == 1 and first["predicted_label"] in ("neg", "pos")  # the file's number stays a number
    else:
        assert text.splitlines()[0] == "message\tid\tpredicted_label\tprob_neg\tprob_pos"


def test_the_upload_accepts_every_format_the_engine_reads():
    assert set(predict_tab.FILE_TYPES) == {".csv", ".tsv", ".txt", ".gz", ".xlsx", ".json", ".jsonl", ".parquet"}


def test_the_file_preview_names_its_columns_before_any_file_instead_of_numbering_them():
    import gradio as gr

    with gr.Blocks():
        tab = predict_tab.build()
    empty = tab.result_preview.postprocess(None)  # what the page shows at first and after another model is picked
    assert empty.headers == predict_tab.PREVIEW_HEADERS and empty.data == []


@pytest.fixture(scope="module")
def task_runs(tmp_path_factory, tiny_model_dir):
    """A finished multi-label run and a finished regression run, each in its own runs folder."""
    folder = tmp_path_factory.mktemp("tasks")
    tagged, scored = folder / "tickets.csv", folder / "scores.csv"
    with open(tagged, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["message", "tags"])
        for i in range(40):
            tags = [name for j, name in enumerate(("billing", "bug", "urgent")) if (i >> j) & 1]
            writer.writerow([" ".join(tags) + f" ticket {i}", ",".join(tags)])
    with open(scored, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["message", "score"])
        for i in range(40):
            writer.writerow([" ".join(["good"] * (i % 6)) + f" item {i}", f"{i % 6 + 0.5:.1f}"])
    runs = {}
    for name, data, label in (("multi", tagged, "tags"), ("regression", scored, "score")):
        result = train(TrainConfig(data=str(data), model=str(tiny_model_dir), output_dir=str(folder / name),
                                   label_column=label, epochs=1, batch_size=8, max_length=16))
        assert result.status == "finished", result.message
        runs[name] = folder / name
    return runs


def test_a_multi_label_model_answers_with_bars_thresholds_and_the_predicted_set(task_runs, objects):
    runs = task_runs["multi"]
    shown = described(predict_tab.describe(objects, runs, run_id(runs)))
    assert "any number per text" in shown["about"] and "billing, bug, urgent" in shown["about"]
    assert shown["label"]["visible"] is False and shown["chart"]["visible"] is True
    out = said(predict_tab.predict_text(objects, runs, run_id(runs), "billing bug ticket", None))
    assert out["problem"] == "" and out["label"]["visible"] is False and out["chart"]["visible"] is True
    bars, marks = out["chart"]["value"].data
    assert list(bars.y) == ["billing", "bug", "urgent"] and all(0.0 <= p <= 1.0 for p in bars.x)
    thresholds = objects.predictor.model.config.bertstudio_thresholds
    assert list(marks.x) == [thresholds[tag] for tag in ("billing", "bug", "urgent")]
    passed = [tag for tag, p, t in zip(bars.y, bars.x, marks.x) if p >= t]
    assert out["answer"]["value"].startswith("### Predicted labels")
    assert all(f"**{tag}**" in out["answer"]["value"] for tag in passed)


def test_a_regression_model_answers_with_its_value_and_the_training_range(task_runs, objects):
    runs = task_runs["regression"]
    shown = described(predict_tab.describe(objects, runs, run_id(runs)))
    assert "Predicts a number: the value of column **score** (from 0.5 to 5.5" in shown["about"]
    out = said(predict_tab.predict_text(objects, runs, run_id(runs), "good good item", None))
    assert out["label"]["visible"] is False and out["chart"]["visible"] is False
    assert out["answer"]["visible"] is True and "### Predicted value:" in out["answer"]["value"]
    assert "The training values ran from 0.5 to 5.5" in out["answer"]["value"]


def test_a_multi_label_file_gets_the_predicted_labels_and_a_probability_per_label(task_runs, objects, tmp_path):
    runs = task_runs["multi"]
    source = tmp_path / "more.csv"
    source.write_text("message\nbilling ticket\nurgent bug\n", encoding="utf-8")
    path, preview, problem = predict_tab.predict_file(objects, runs, run_id(runs), str(source))
    assert 'class="problem"' not in problem and preview["headers"] == ["message", "predicted_labels", "prob_billing", "prob_bug",
                                                    "prob_urgent"]


def test_explain_shows_the_texts_chips_shaded_by_share_with_the_text_escaped(runs_dir, objects):
    pytest.importorskip("captum")
    shown = predict_tab.explain_text(objects, runs_dir, run_id(runs_dir), "lovely <script>x</script> great", None)
    assert 'class="why-line"' in shown and "Pushed most toward &#x27;" in shown
    assert "tok-why-pos-" in shown or "tok-why-neg-" in shown
    assert "<script>" not in shown and "&lt;" in shown
    assert predict_tab.explain_text(objects, runs_dir, run_id(runs_dir), "  ", None).startswith('<div')
    assert predict_tab.offer_explanation()[1] == ""


def test_a_file_through_the_fast_cpu_model_is_exported_once_and_agrees_with_the_model(tmp_path, tiny_model_dir):
    """The Predict tab's "Fast CPU model": the run's int8 ONNX export is made on first use, the
    file's predictions come through ONNX Runtime, and the line under the file says how fast."""
    pytest.importorskip("onnxruntime", reason="needs the onnx extra")
    data = tmp_path / "train.csv"
    with open(data, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["message", "label"])
        for i in range(40):
            writer.writerow([f"{'lovely great' if i % 2 else 'awful broken'} {i}", "pos" if i % 2 else "neg"])
    result = train(TrainConfig(data=str(data), model=str(tiny_model_dir), output_dir=str(tmp_path / "runs"),
                               epochs=3, batch_size=8, max_length=16, learning_rate=1e-3))
    runs_dir, run = tmp_path / "runs", os.path.basename(result.run_dir)
    source = tmp_path / "new.csv"
    source.write_text("message\n" + "".join(f"{'lovely great' if i % 2 else 'awful broken'} x{i}\n"
                                            for i in range(30)), encoding="utf-8")
    objects = SessionObjects()
    rows = []
    try:
        path, _, said_plain = predict_tab.predict_file(objects, runs_dir, run, str(source))
        rows.append(list(csv.DictReader(open(path, encoding="utf-8"))))
        path, _, said_fast = predict_tab.predict_file(objects, runs_dir, run, str(source), fast=True)
        rows.append(list(csv.DictReader(open(path, encoding="utf-8"))))
    finally:
        objects.close()
    assert (runs_dir / run / "onnx" / "model.int8.onnx").is_file()  # made on first use
    assert "30 rows predicted in" in html.unescape(said_plain) and "the model as trained" in said_plain
    assert "rows/s, fast CPU model" in said_fast
    agree = sum(a["predicted_label"] == b["predicted_label"] for a, b in zip(*rows))
    assert agree >= 27, agree


def test_the_speed_line_reads_as_a_person_would_say_it():
    assert predict_tab.speed_sentence(100_000, 250.0, True) == \
        "100,000 rows predicted in 250.0 s (400 rows/s, fast CPU model)."
    assert predict_tab.speed_sentence(1, 0.5, False) == "1 row predicted in 0.5 s (2 rows/s, the model as trained)."
