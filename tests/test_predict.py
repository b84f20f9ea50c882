import csv

import pytest

from bertstudio.config import TrainConfig
from bertstudio.errors import StudioError
from bertstudio.predict import Predictor
from bertstudio.training.trainer import train
from conftest import LEARNABLE_SETTINGS


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, tiny_model_dir, learnable_rows):
    folder = tmp_path_factory.mktemp("predict")
    data = folder / "train.csv"
    with open(data, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([["text", "label"], *learnable_rows])
    result = train(TrainConfig(data=str(data), model=str(tiny_model_dir), output_dir=str(folder / "runs"),
                               **LEARNABLE_SETTINGS))
    assert result.status == "finished"
    return result.run_dir


def test_predictions_carry_the_users_own_labels_and_probabilities(trained_run, learnable_rows):
    predictor = Predictor.load(trained_run)
    rows = learnable_rows[:30]
    results = predictor.predict([text for text, _ in rows])
    correct = sum(r.label == label for r, (_, label) in zip(results, rows))
    assert correct >= 27  # a model that learned the task, speaking in the user's label names
    for r in results:
        assert set(r.probabilities) == {"negative", "neutral", "positive"}
        assert sum(r.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
        assert r.confidence == max(r.probabilities.values())


def test_a_bare_saved_model_folder_predicts_like_its_run(trained_run, tmp_path):
    import shutil
    from pathlib import Path

    bare = shutil.copytree(Path(trained_run) / "model", tmp_path / "downloaded-model")  # no run around it
    texts = ["lovely, the staff were", "broken"]
    assert [p.label for p in Predictor.load(bare).predict(texts)] == [
        p.label for p in Predictor.load(trained_run).predict(texts)]


def test_batched_predictions_equal_one_by_one_predictions(trained_run):
    predictor = Predictor.load(trained_run)
    texts = ["lovely, the staff were", "broken", "usual, the parcel was plain and the delivery looked " * 3]
    together = predictor.predict(texts, batch_size=2)
    alone = [predictor.predict([t])[0] for t in texts]
    for a, b in zip(together, alone):
        assert a.label == b.label and a.confidence == pytest.approx(b.confidence, abs=1e-5)


def test_transformers_pipeline_answers_with_the_users_label_names(trained_run, learnable_rows):
    from transformers import pipeline

    classifier = pipeline("text-classification", model=f"{trained_run}/model")
    rows = learnable_rows[:30]
    answers = classifier([text for text, _ in rows])
    assert {a["label"] for a in answers} <= {"negative", "neutral", "positive"}
    predictor = Predictor.load(trained_run)
    assert [a["label"] for a in answers] == [p.label for p in predictor.predict([text for text, _ in rows])]


def test_csv_in_csv_out_adds_label_and_probability_columns_with_formulas_neutralised(trained_run, tmp_path,
                                                                                   learnable_rows):
    source = tmp_path / "new.csv"
    (first, _), (second, _) = learnable_rows[0], learnable_rows[1]
    with open(source, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([["id", "text"], ["=1+1", first], ["2", second]])
    output = Predictor.load(trained_run).predict_csv(source, tmp_path / "out.csv")
    rows = list(csv.reader(open(output, encoding="utf-8")))
    assert rows[0] == ["id", "text", "predicted_label", "prob_negative", "prob_neutral", "prob_positive"]
    expected = [p.label for p in Predictor.load(trained_run).predict([first, second])]
    assert rows[1][0] == "'=1+1" and [rows[1][2], rows[2][2]] == expected
    assert abs(sum(float(x) for x in rows[1][3:]) - 1.0) < 1e-4


def test_csv_without_the_trained_text_column_names_the_columns_it_has(trained_run, tmp_path):
    source = tmp_path / "other.csv"
    source.write_text("id,body\n1,hello\n2,bye\n", encoding="utf-8")
    with pytest.raises(StudioError, match="id, body"):
        Predictor.load(trained_run).predict_csv(source, tmp_path / "out.csv")
    assert Predictor.load(trained_run).predict_csv(source, tmp_path / "out.csv", text_column="body").exists()


def test_missing_model_folder_is_a_plain_error(tmp_path):
    with pytest.raises(StudioError, match="no model"):
        Predictor.load(tmp_path / "nowhere")


def test_a_text_past_the_size_limit_is_refused_before_it_is_cleaned_or_tokenized(trained_run):
    from bertstudio.limits import MAX_TEXT_CHARS

    predictor = Predictor.load(trained_run)
    with pytest.raises(StudioError, match=r"The text is 41 characters long, more than the 40 one text may have"):
        predictor.predict(["lovely, the staff were kind and the tea hot"[:41]], max_text_chars=40)
    with pytest.raises(StudioError, match=r"Row 2's text is 41 characters long"):
        predictor.predict(["fine", "x" * 41], max_text_chars=40)
    with pytest.raises(StudioError, match="The second text is"):
        predictor.predict(["fine"], ["x" * 41], max_text_chars=40)
    with pytest.raises(StudioError, match=f"more than the {MAX_TEXT_CHARS:,}"):  # the default limit
        predictor.predict(["word " * (MAX_TEXT_CHARS // 5 + 1)])
    assert len(predictor.predict(["x" * 40], max_text_chars=40)) == 1


def test_a_csv_with_a_cell_past_the_size_limit_is_refused_naming_the_row(trained_run, tmp_path):
    from bertstudio.limits import MAX_TEXT_CHARS

    source = tmp_path / "in.csv"
    source.write_text("text\nfine\n" + "word " * (MAX_TEXT_CHARS // 5 + 1) + "\n", encoding="utf-8")
    with pytest.raises(StudioError, match="Row 2 of 'in.csv', column 'text', is"):
        Predictor.load(trained_run).predict_csv(source, tmp_path / "out.csv")


# --- the file comes back in the format its name asks for ------------------------------------------


def test_a_predicted_file_comes_back_in_the_format_the_output_name_asks_for(trained_run, tmp_path):
    import json

    import pyarrow.parquet as pq
    from openpyxl import load_workbook

    source = tmp_path / "new.csv"
    source.write_text("id,text\n1,lovely staff\n2,broken\n", encoding="utf-8")
    predictor = Predictor.load(trained_run)
    records = [json.loads(line) for line in predictor.predict_csv(source, tmp_path / "out.jsonl").read_text().splitlines()]
    assert [r["id"] for r in records] == [1, 2] and isinstance(records[0]["prob_positive"], float)
    assert [r["predicted_label"] for r in records] == [p.label for p in predictor.predict(["lovely staff", "broken"])]
    sheet = load_workbook(predictor.predict_csv(source, tmp_path / "out.xlsx")).active
    assert [c.value for c in sheet[1]][:3] == ["id", "text", "predicted_label"]
    assert pq.read_table(predictor.predict_csv(source, tmp_path / "out.parquet")).column_names[2] == "predicted_label"
    # A name of no known format gets CSV, as the command line always wrote.
    assert predictor.predict_csv(source, tmp_path / "out.txt").read_text().startswith("id,text,predicted_label,")


@pytest.fixture
def multi_label_model(tiny_model_dir, tmp_path) -> str:
    """A saved multi-label model (untrained) whose thresholds of 0 predict every tag, '|' between tags."""
    import shutil

    from transformers import BertConfig, BertForSequenceClassification

    folder = tmp_path / "tags-model"
    folder.mkdir()
    for file in tiny_model_dir.iterdir():
        if file.name not in ("config.json", "model.safetensors"):
            shutil.copy(file, folder / file.name)
    config = BertConfig.from_pretrained(tiny_model_dir, num_labels=2, id2label={0: "food", 1: "sport"},
                                        label2id={"food": 0, "sport": 1},
                                        problem_type="multi_label_classification")
    config.bertstudio_task = "multi_label"
    config.bertstudio_thresholds = {"food": 0.0, "sport": 0.0}
    config.bertstudio_label_separator = "|"
    BertForSequenceClassification(config).save_pretrained(folder)
    return str(folder)


def test_multi_label_tags_are_lists_in_json_and_parquet_and_joined_in_csv(multi_label_model, tmp_path):
    import json

    import pyarrow.parquet as pq

    source = tmp_path / "new.csv"
    source.write_text("text\npizza and football\n", encoding="utf-8")
    predictor = Predictor.load(multi_label_model)
    [record] = json.loads(predictor.predict_csv(source, tmp_path / "out.json").read_text())
    assert record["predicted_labels"] == ["food", "sport"]
    assert pq.read_table(predictor.predict_csv(source, tmp_path / "out.parquet")).column("predicted_labels").to_pylist() == [
        ["food", "sport"]]
    rows = list(csv.DictReader(open(predictor.predict_csv(source, tmp_path / "out.csv"), encoding="utf-8")))
    assert rows[0]["predicted_labels"] == "food|sport"
