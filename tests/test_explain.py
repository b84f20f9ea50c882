"""Why this label: integrated-gradients attributions find the one word that decides a synthetic
task, add up to the output's change, sum per word, and cover every task; the CLI's --explain; the
missing-Captum sentence; a plain prediction never loads Captum."""

from __future__ import annotations

import csv
import json
import os
import random
import subprocess
import sys

import pytest

from bertstudio.config import TrainConfig
from bertstudio.errors import StudioError
from bertstudio.training.trainer import train

pytest.importorskip("captum", reason="the explain extra: pip install -e '.[explain]'")

FILLER = ("the a box was slow fast order shop day good bad time item blue red green small big new old "
          "price store phone call week car home door table").split()
DECIDER = "zebra"  # four WordPiece pieces in the bundled vocabulary: z ##e ##br ##a
SETTINGS = dict(epochs=8, batch_size=16, learning_rate=1e-3, warmup_ratio=0.1, max_length=16, seed=3)


def _texts(rng: random.Random, n: int, extra: str | None = None) -> list[tuple[str, bool, bool]]:
    """n texts of filler words; half hold DECIDER, and (with `extra`) half hold `extra`, each at a
    random place. Returns (text, has DECIDER, has extra). A text without them gets as many more
    filler pieces instead: with the length alone telling the label, a model learned the length
    (IG then rightly gave every word ~0, the output moving with the [PAD] baseline's length)."""
    rows = []
    for i in range(n):
        has_decider, has_extra = i % 2 == 0, extra is not None and (i // 2) % 2 == 0
        pieces = rng.randint(4, 7) + (0 if has_decider else 4) + (1 if extra is not None and not has_extra else 0)
        words = [rng.choice(FILLER) for _ in range(pieces)]
        for word, present in ((DECIDER, has_decider), (extra, has_extra)):
            if present:
                words.insert(rng.randint(0, len(words)), word)
        rows.append((" ".join(words), has_decider, has_extra))
    return rows


def _run(tmp_path_factory, tiny_model_dir, name: str, header: list[str], rows: list[list], **config):
    from bertstudio.predict import Predictor

    folder = tmp_path_factory.mktemp(name)
    data = folder / "data.csv"
    with data.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([header, *rows])
    result = train(TrainConfig(data=str(data), model=str(tiny_model_dir), output_dir=str(folder / "runs"),
                               **{**SETTINGS, **config}))
    assert result.status == "finished", result.message
    return Predictor.load(result.run_dir), result.run_dir


@pytest.fixture(scope="module")
def zebra(tmp_path_factory, tiny_model_dir):
    """A single-label run that learned: 'zebra' anywhere in the text => yes, else no."""
    rows = [[text, "yes" if has else "no"] for text, has, _ in _texts(random.Random(0), 240)]
    predictor, run_dir = _run(tmp_path_factory, tiny_model_dir, "zebra", ["text", "label"], rows)
    assert predictor.predict(["red box zebra was slow"])[0].label == "yes"
    assert predictor.predict(["red box was slow"])[0].label == "no"
    return predictor, run_dir


def test_the_word_that_decides_the_label_gets_the_largest_share(zebra):
    from bertstudio.explain import explain

    predictor, _ = zebra
    explanation = explain(predictor, "the phone was slow and zebra table red")
    assert explanation.target == "yes" and explanation.target_kind == "class"
    top = explanation.top_words(1)[0]
    assert top.text == DECIDER and top.share > 0
    assert max(abs(w.share) for w in explanation.words if w.text != DECIDER) < top.share
    largest_piece = max(explanation.pieces, key=lambda p: abs(p.share))
    assert largest_piece.position in top.positions  # one of z ##e ##br ##a
    assert len(top.positions) == 4


def test_attributions_add_up_to_the_change_from_the_pad_baseline(zebra):
    from bertstudio.explain import explain

    predictor, _ = zebra
    explanation = explain(predictor, "zebra near the green door", steps=32)
    total = sum(p.score for p in explanation.pieces)
    change = explanation.output - explanation.baseline_output
    assert explanation.delta == pytest.approx(total - change, abs=1e-5)
    assert abs(explanation.delta) < 0.01 * max(abs(change), 1e-3)
    assert explanation.output == pytest.approx(explanation.prediction.confidence, abs=1e-4)
    assert sum(abs(p.share) for p in explanation.pieces) == pytest.approx(1.0)
    assert all(p.score == 0 for p in explanation.pieces if p.is_special)  # kept as they are in the baseline


def test_each_word_is_the_sum_of_its_pieces_and_spelled_as_written(zebra):
    from bertstudio.explain import explain

    predictor, _ = zebra
    explanation = explain(predictor, "Zebra, the BLUE car")
    by_position = {p.position: p for p in explanation.pieces}
    for word in explanation.words:
        assert word.score == pytest.approx(sum(by_position[i].score for i in word.positions))
        assert word.share == pytest.approx(sum(by_position[i].share for i in word.positions))
    assert [w.text for w in explanation.words] == ["Zebra", ",", "the", "BLUE", "car"]
    assert sum(len(w.positions) for w in explanation.words) == len(explanation.pieces) - 2  # all but [CLS] [SEP]


def test_another_class_can_be_explained_and_an_unknown_one_is_named(zebra):
    from bertstudio.explain import explain

    predictor, _ = zebra
    against = explain(predictor, "zebra on the table", target="no")
    assert against.target == "no" and against.top_words(1)[0].text == DECIDER
    assert against.top_words(1)[0].share < 0  # zebra pushes away from 'no'
    with pytest.raises(StudioError, match="no class 'maybe'; its classes are: no, yes"):
        explain(predictor, "zebra", target="maybe")


def test_a_multi_label_run_explains_its_surest_predicted_tag(tmp_path_factory, tiny_model_dir):
    from bertstudio.explain import explain

    rows = []
    for text, has_zebra, has_pizza in _texts(random.Random(1), 240, extra="pizza"):
        tags = [tag for tag, on in (("animal", has_zebra), ("food", has_pizza)) if on] or ["other"]
        rows.append([text, ",".join(tags)])
    predictor, _ = _run(tmp_path_factory, tiny_model_dir, "tags", ["text", "tags"], rows, task="multi_label",
                        epochs=14)
    explanation = explain(predictor, "the pizza was a red table old door green")
    assert explanation.target_kind == "tag" and explanation.target == "food"
    assert explanation.top_words(1)[0].text == "pizza"
    assert explanation.output == pytest.approx(explanation.prediction.probabilities["food"], abs=1e-4)
    change = explanation.output - explanation.baseline_output
    assert abs(explanation.delta) < 0.05 * abs(change)  # 32 steps left 6% here: doubled until under 5%
    assert explanation.steps in (32, 64, 128)


def test_a_regression_run_is_explained_toward_a_higher_value(tmp_path_factory, tiny_model_dir):
    from bertstudio.explain import explain

    rng = random.Random(2)
    rows = [[text, f"{(5.0 if has else 1.0) + rng.uniform(-0.2, 0.2):.2f}"]
            for text, has, _ in _texts(random.Random(2), 240)]
    predictor, _ = _run(tmp_path_factory, tiny_model_dir, "score", ["text", "score"], rows, task="regression")
    with_zebra, without = explain(predictor, "blue zebra in the old store"), explain(predictor, "blue in the old store")
    for explanation in (with_zebra, without):
        change = explanation.output - explanation.baseline_output
        assert explanation.target_kind == "value" and explanation.toward == "toward a higher value"
        assert explanation.output == pytest.approx(explanation.prediction.value, abs=1e-3)
        assert sum(w.score for w in explanation.words) == pytest.approx(change + explanation.delta, abs=1e-4)
        assert abs(explanation.delta) < 0.05 * max(abs(change), 0.1)
    # No word at all is neither 1 nor 5: the all-[PAD] baseline lands near one end (which one
    # varies with the training), and the text at the other end is the one its words moved.
    far = max((with_zebra, without), key=lambda e: abs(e.output - e.baseline_output))
    assert abs(far.output - far.baseline_output) > 2
    if far is with_zebra:
        assert with_zebra.top_words(1)[0].text == DECIDER and with_zebra.top_words(1)[0].share > 0
    else:
        assert sum(w.share for w in without.words) < -0.5  # the filler words pull it down
    with pytest.raises(StudioError, match="one output"):
        explain(predictor, "zebra", target="score")


def test_predict_explain_prints_the_words_with_signed_shares_and_in_json(zebra, capsys):
    from bertstudio.cli import main

    _, run_dir = zebra
    assert main(["predict", "--model", run_dir, "--text", "slow zebra box", "--text", "red door", "--explain"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("yes\t") and lines[2].startswith("no\t")
    assert lines[1].startswith("  why, toward 'yes' (the probability of 'yes': ")
    assert lines[1].split("): ")[1].startswith("zebra +")
    assert main(["predict", "--model", run_dir, "--text", "slow zebra box", "--explain", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["label"] == "yes" and row["explanation"]["target"] == "yes"
    words = row["explanation"]["words"]
    assert max(words, key=lambda w: abs(w["share"]))["text"] == DECIDER
    assert {"text", "id", "score", "share"} <= set(row["explanation"]["pieces"][0])


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("error: "), err
    return err


def test_explain_with_a_file_or_an_explain_label_alone_is_one_line(zebra, tmp_path, capsys):
    from bertstudio.cli import main

    _, run_dir = zebra
    assert main(["predict", "--model", run_dir, "--data", str(tmp_path / "x.csv"), "--output",
                 str(tmp_path / "o.csv"), "--explain"]) == 2
    assert "--explain explains --text predictions" in _one_error_line(capsys)
    assert main(["predict", "--model", run_dir, "--text", "zebra", "--explain-label", "no"]) == 2
    assert "add --explain" in _one_error_line(capsys)


def test_a_plain_prediction_never_imports_captum_or_the_explainer(zebra):
    _, run_dir = zebra
    code = ("import sys\nfrom bertstudio.cli import main\n"
            f"code = main(['predict', '--model', {str(run_dir)!r}, '--text', 'zebra'])\n"
            "loaded = [m for m in sys.modules if m.split('.')[0] == 'captum' or m == 'bertstudio.explain']\n"
            "print('LOADED', loaded, code)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert "LOADED [] 0" in done.stdout, done.stdout + done.stderr


def test_without_captum_the_error_names_the_extra(zebra, monkeypatch):
    from bertstudio import explain as module

    monkeypatch.setitem(sys.modules, "captum", None)  # `import captum` now raises ImportError
    monkeypatch.setitem(sys.modules, "captum.attr", None)
    with pytest.raises(StudioError) as caught:
        module.explain(zebra[0], "zebra")
    assert caught.value.message == 'Explanations need Captum; install it with: pip install -e ".[explain]"'


def test_without_captum_the_cli_says_so_in_one_line_before_loading_the_model(tmp_path, capsys, monkeypatch):
    from bertstudio.cli import main

    monkeypatch.setitem(sys.modules, "captum", None)
    monkeypatch.setitem(sys.modules, "captum.attr", None)
    assert main(["predict", "--model", str(tmp_path / "missing"), "--text", "x", "--explain"]) == 2
    assert _one_error_line(capsys) == 'error: Explanations need Captum; install it with: pip install -e ".[explain]"'
