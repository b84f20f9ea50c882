"""`bertstudio export` writes a run's model as ONNX that answers as the PyTorch model does (parity on
the run's validation rows, for fp32 and int8), `predict --backend onnx` serves it through the same
task post-processing for every task, and the model card's snippet serves it without torch."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

from bertstudio.cli import main  # noqa: E402
from bertstudio.config import TrainConfig  # noqa: E402
from bertstudio.errors import StudioError  # noqa: E402
from bertstudio.export.onnx_export import export_run  # noqa: E402
from bertstudio.predict import Predictor  # noqa: E402
from bertstudio.training.trainer import train  # noqa: E402
from conftest import LEARNABLE_SETTINGS  # noqa: E402

QUICK = {**LEARNABLE_SETTINGS, "epochs": 3}
TEXTS = ["excellent, the service was", "awful, my order felt", "ordinary, this shop is", "good good good",
         "pizza and guitar overall it was", "x"]


def _train(folder: Path, name: str, rows: list[list[str]], model: Path, **settings) -> Path:
    data = folder / f"{name}.csv"
    with data.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)
    result = train(TrainConfig(data=str(data), model=str(model), output_dir=str(folder / "runs"),
                               seed=7, logging_steps=50, **{**QUICK, **settings}))
    assert result.status == "finished", result.message
    return Path(result.run_dir)


@pytest.fixture(scope="module")
def single_run(tmp_path_factory, tiny_model_dir, learnable_rows) -> Path:
    folder = tmp_path_factory.mktemp("onnx-single")
    return _train(folder, "reviews", [["text", "label"], *learnable_rows[:150]], tiny_model_dir)


@pytest.fixture(scope="module")
def exported_single(single_run) -> tuple[Path, str]:
    """The single-label run exported through the CLI with --int8; what it printed."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["export", str(single_run), "--int8"]) == 0
    return single_run, out.getvalue()


def _tag_rows(n: int) -> list[list[str]]:
    words = {"food": "pizza", "music": "guitar"}
    rows = [["text", "topics"]]
    for i in range(n):
        tags = [tag for j, tag in enumerate(words) if (i >> j) & 1]
        rows.append([" ".join(words[t] for t in tags) + f" overall it was {i % 7}", "|".join(tags)])
    return rows


def _count_rows(n: int) -> list[list[str]]:
    return [["text", "score"]] + [[" ".join(["good"] * (i % 4) + ["the", "shop"]), str(i % 4)] for i in range(n)]


@pytest.fixture(scope="module", params=["multi_label", "regression"])
def other_task_run(request, tmp_path_factory, tiny_model_dir) -> Path:
    folder = tmp_path_factory.mktemp(f"onnx-{request.param}")
    if request.param == "multi_label":
        run = _train(folder, "tags", _tag_rows(80), tiny_model_dir, task="multi_label")
    else:
        run = _train(folder, "counts", _count_rows(80), tiny_model_dir, task="regression",
                     metric_for_best="pearson")
    export_run(run)
    return run


def test_export_writes_a_folder_that_serves_on_its_own(exported_single):
    run, printed = exported_single
    onnx = run / "onnx"
    for name in ("model.onnx", "model.int8.onnx", "config.json", "tokenizer.json", "export.json", "parity.json"):
        assert (onnx / name).is_file(), name
    record = json.loads((onnx / "export.json").read_text())
    assert record["int8"] == "model.int8.onnx" and record["settings"]["max_length"] == 32
    assert json.loads((onnx / "config.json").read_text())["id2label"] == {"0": "negative", "1": "neutral",
                                                                          "2": "positive"}
    assert printed.strip().splitlines()[-1] == str(onnx)
    assert "same answer on" in printed


def test_parity_report_shows_tiny_logit_differences_and_agreeing_labels(exported_single):
    run, _ = exported_single
    parity = json.loads((run / "onnx" / "parity.json").read_text())
    assert parity["rows"] == 15  # the run's own validation rows (10% of 150), split again
    assert "split again from reviews.csv" in parity["source"]
    assert parity["fp32"]["max_abs_logit_diff"] < 1e-4
    assert parity["fp32"]["agreement"] == 1.0
    assert parity["int8"]["agreement"] >= 0.8
    assert parity["int8"]["max_abs_logit_diff"] < 1.0


def test_int8_model_is_smaller_and_agrees_on_most_rows(exported_single, learnable_rows):
    run, _ = exported_single
    onnx = run / "onnx"
    assert (onnx / "model.int8.onnx").stat().st_size < 0.5 * (onnx / "model.onnx").stat().st_size
    texts = [text for text, _ in learnable_rows[150:]]
    torch_labels = [p.label for p in Predictor.load(run).predict(texts)]
    int8 = Predictor.load(run, backend="onnx")  # the int8 model, since one was exported
    assert int8.backend.session._model_path.endswith("model.int8.onnx")
    agree = np.mean([p.label == t for p, t in zip(int8.predict(texts), torch_labels)])
    assert agree >= 0.9


def test_onnx_predictor_gives_the_torch_predictors_outputs_for_one_label(exported_single):
    from bertstudio.export.onnx_backend import load_onnx_predictor

    run, _ = exported_single
    torch_side, onnx_side = Predictor.load(run), load_onnx_predictor(run, precision="fp32")
    _assert_same_predictions(torch_side, onnx_side)
    assert onnx_side.labels == torch_side.labels and onnx_side.text_column == torch_side.text_column


def test_onnx_predictor_gives_the_torch_predictors_outputs_for_tags_and_values(other_task_run):
    from bertstudio.export.onnx_backend import load_onnx_predictor

    torch_side = Predictor.load(other_task_run)
    onnx_side = load_onnx_predictor(other_task_run / "onnx")  # the export folder alone serves too
    _assert_same_predictions(torch_side, onnx_side)
    parity = json.loads((other_task_run / "onnx" / "parity.json").read_text())
    assert parity["task"] == torch_side.task.name and parity["fp32"]["max_abs_logit_diff"] < 1e-4
    assert (parity["fp32"]["agreement"] is None) == (torch_side.task.name == "regression")


def _assert_same_predictions(torch_side: Predictor, onnx_side: Predictor) -> None:
    ours, theirs = torch_side.predict(TEXTS, batch_size=4), onnx_side.predict(TEXTS, batch_size=4)
    for a, b in zip(ours, theirs):
        assert (a.label, a.labels, a.thresholds) == (b.label, b.labels, b.thresholds)
        assert a.probabilities.keys() == b.probabilities.keys()
        assert all(abs(a.probabilities[k] - b.probabilities[k]) < 1e-5 for k in a.probabilities)
        assert (a.value is None) == (b.value is None) and abs((a.value or 0) - (b.value or 0)) < 1e-4
    assert torch_side.task.output_columns(torch_side.config) == onnx_side.task.output_columns(onnx_side.config)


def test_cli_predict_with_the_onnx_backend_prints_what_torch_prints(exported_single, tmp_path, capsys):
    run, _ = exported_single
    source = tmp_path / "texts.csv"
    source.write_text("text\n" + "\n".join(TEXTS) + "\n", encoding="utf-8")
    outputs = {}
    for backend in ("torch", "onnx"):
        capsys.readouterr()
        assert main(["predict", "--model", str(run), "--data", str(source), "--output",
                     str(tmp_path / f"{backend}.csv"), "--backend", backend]) == 0
        with (tmp_path / f"{backend}.csv").open(encoding="utf-8") as handle:
            outputs[backend] = list(csv.reader(handle))
    assert outputs["onnx"][0] == outputs["torch"][0] == ["text", "predicted_label", "prob_negative",
                                                        "prob_neutral", "prob_positive"]
    # int8 is served: the answers agree on these keyword texts, the probabilities nearly.
    assert [row[1] for row in outputs["onnx"][1:5]] == [row[1] for row in outputs["torch"][1:5]]


def test_predict_with_the_onnx_backend_before_any_export_says_to_export_first(single_run, tmp_path, capsys):
    unexported = tmp_path / "run"
    shutil.copytree(single_run, unexported, ignore=shutil.ignore_patterns("onnx"))
    code = main(["predict", "--model", str(unexported), "--text", "great", "--backend", "onnx"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and f"run `bertstudio export {unexported}` first" in err


def test_a_missing_onnx_extra_is_one_sentence_naming_it(single_run, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import then raises ImportError
    with pytest.raises(StudioError, match=r'pip install -e "\.\[onnx\]"'):
        export_run(single_run)


def test_model_card_snippet_serves_the_export_without_torch(exported_single, capsys):
    run, _ = exported_single
    card = (run / "README.md").read_text(encoding="utf-8")
    assert "Serve the ONNX export with onnxruntime" in card
    snippet = card.split("```python\n")[2].split("```")[0]
    assert len(snippet.strip().splitlines()) == 10 and "torch" not in snippet.replace("onnxruntime", "")
    capsys.readouterr()
    exec(compile(snippet.replace("Your text here", TEXTS[0]), "card", "exec"), {})
    assert capsys.readouterr().out.strip() == Predictor.load(run).predict([TEXTS[0]])[0].label
