"""Predict tab handlers on a real (tiny) finished run: pick it, classify a text, classify a CSV."""

import csv
import html

import pytest

from bertstudio.config import TrainConfig
from bertstudio.trainer import train
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
    return next(p.name for p in runs_dir.iterdir() if p.is_dir())


def test_the_latest_finished_run_is_picked_for_you(runs_dir):
    update = predict_tab.choices(runs_dir, False, {}, None)
    assert update["value"] == run_id(runs_dir) and len(update["choices"]) == 1


def test_on_a_shared_deployment_a_browser_sees_only_its_own_runs(runs_dir):
    assert predict_tab.choices(runs_dir, True, {"owner": "x", "runs": []}, None)["choices"] == []
    mine = {"owner": "x", "runs": [run_id(runs_dir)]}
    assert predict_tab.choices(runs_dir, True, mine, None)["value"] == run_id(runs_dir)


def test_a_text_gets_a_probability_for_every_label(runs_dir, objects):
    probabilities, problem = predict_tab.predict_text(objects, runs_dir, run_id(runs_dir), "lovely great", None)
    assert problem == "" and set(probabilities) == {"neg", "pos"}
    assert sum(probabilities.values()) == pytest.approx(1.0)


def test_the_model_is_described_and_loaded_once(runs_dir, objects):
    about, pair = predict_tab.describe(objects, runs_dir, run_id(runs_dir))
    assert "neg, pos" in about and "message" in about and pair["visible"] is False
    loaded = objects.predictor
    predict_tab.predict_text(objects, runs_dir, run_id(runs_dir), "hi", None)
    assert objects.predictor is loaded


def test_an_empty_text_or_no_run_is_explained(runs_dir, objects):
    assert "Type a text" in predict_tab.predict_text(objects, runs_dir, run_id(runs_dir), "  ", None)[1]
    assert "train one" in predict_tab.predict_text(objects, runs_dir, None, "hello", None)[1]
    assert "Pick a run" in predict_tab.predict_text(objects, runs_dir, "../etc", "hello", None)[1]


def test_a_csv_comes_back_with_predictions_added(runs_dir, objects, tmp_path):
    source = tmp_path / "new.csv"
    source.write_text("message,id\nlovely great,1\n=awful broken,2\n", encoding="utf-8")
    path, preview, problem = predict_tab.predict_file(objects, runs_dir, run_id(runs_dir), str(source))
    assert problem == "" and path.endswith("new-predictions.csv")
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
    assert problem == "" and list(csv.reader(open(path, encoding="utf-8")))[0][-3] == "predicted_label"


def test_a_csv_with_the_trained_column_has_it_preselected(runs_dir, objects, tmp_path):
    source = tmp_path / "same.csv"
    source.write_text("id,message\n1,lovely\n", encoding="utf-8")
    picker, *_ = predict_tab.file_columns(objects, runs_dir, run_id(runs_dir), str(source))
    assert picker["value"] == "message"
