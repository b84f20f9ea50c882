import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bertstudio.cli import main

REPO = Path(__file__).resolve().parents[1]


def run_cli(*args, cwd=None):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "bertstudio", *map(str, args)], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=300)


def test_inspect_json_reports_rows_columns_and_labels(capsys, sample_csv):
    assert main(["inspect", str(sample_csv), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["text_column"] == "text" and summary["label_column"] == "label"
    assert summary["rows"] > 300 and "text" in summary["columns"]
    assert set(summary["labels"]) == {"complaint", "praise", "question"}


def test_inspect_refuses_a_file_with_one_class_with_exit_2_and_one_error_line(capsys, tmp_path):
    path = tmp_path / "one.csv"
    path.write_text("text,label\na,x\nb,x\nc,x\n", encoding="utf-8")
    assert main(["inspect", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:")


def test_inspect_warns_about_a_messy_file_naming_the_flag_that_fixes_each_problem(capsys, tmp_path):
    path = tmp_path / "messy.csv"
    rows = [f"{'ab'[i % 2]},win å£{i} now &amp; more" for i in range(6)] + ["a,win å£1 now &amp; more"]
    path.write_text("label,text\n" + "\n".join(rows) + "\n", encoding="utf-8")
    assert main(["inspect", str(path)]) == 0
    warnings = [line for line in capsys.readouterr().out.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 3
    assert {"--clean-fix-mojibake", "--clean-strip-html", "--remove-duplicates"} == {
        flag for flag in ("--clean-fix-mojibake", "--clean-strip-html", "--remove-duplicates")
        if any(flag in line for line in warnings)}


def test_unknown_column_lists_the_columns_that_exist(capsys, sample_csv):
    assert main(["inspect", str(sample_csv), "--label-column", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "text" in err and "label" in err


def test_missing_file_and_bad_flags_are_one_error_line_not_a_traceback(capsys, tmp_path):
    assert main(["inspect", str(tmp_path / "missing.csv")]) == 2
    assert capsys.readouterr().err.startswith("error:")
    with pytest.raises(SystemExit) as caught:
        main(["train", "--epochs", "lots"])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "Traceback" not in err


def test_tokenize_shows_pieces_and_what_truncation_drops(capsys):
    assert main(["tokenize", "--model", "bundled", "--text", "one two three four five six seven eight nine ten",
                 "--max-length", "8", "--json"]) == 0
    preview = json.loads(capsys.readouterr().out)
    kept = [t for t in preview["tokens"] if t["kept"]]
    assert len(kept) == 8 and kept[0]["text"] == "[CLS]" and kept[-1]["text"] == "[SEP]"
    assert any(not t["kept"] for t in preview["tokens"])


def test_hub_model_offline_fails_fast_with_a_hint(capsys):
    assert main(["tokenize", "--model", "bert-base-uncased", "--text", "hi"]) == 2
    assert "bundled" in capsys.readouterr().err


def test_train_then_predict_end_to_end_through_the_command_line(tmp_path, tiny_model_dir, learnable_csv,
                                                                learnable_rows):
    out = run_cli("train", "--data", learnable_csv, "--model", tiny_model_dir, "--epochs", 6, "--batch-size", 16,
                  "--learning-rate", 1e-3, "--max-length", 32, "--output-dir", tmp_path / "runs", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    run_dir = Path(out.stdout.strip().splitlines()[-1])
    assert (run_dir / "model" / "config.json").exists()
    assert "step" in out.stderr and "evaluation" in out.stderr

    (text, label), = learnable_rows[:1]
    predicted = run_cli("predict", "--model", run_dir, "--text", text, "--json")
    assert predicted.returncode == 0, predicted.stderr
    assert json.loads(predicted.stdout)[0]["label"] == label

    rerun = run_cli("train", "--config", run_dir / "config.json", cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr
    again = json.loads((Path(rerun.stdout.strip().splitlines()[-1]) / "metrics.json").read_text())
    first = json.loads((run_dir / "metrics.json").read_text())
    assert again["accuracy"] == first["accuracy"] and again["loss"] == first["loss"]


def test_train_with_bad_data_fails_as_a_run_with_one_error_line_and_exits_2_like_any_mistake(tmp_path):
    out = run_cli("train", "--data", tmp_path / "nothing.csv", "--model", "bundled", "--output-dir", tmp_path / "runs")
    assert out.returncode == 2
    assert out.stderr.strip().startswith("error:") and "Traceback" not in out.stderr
    run_dir = Path(out.stdout.strip().splitlines()[-1])
    assert json.loads((run_dir / "events.jsonl").read_text().splitlines()[-1])["type"] == "failed"


# --- hostile paths and damaged runs: one line and exit 2, never a traceback ---------------------

def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "Traceback" not in err[0], err
    return err[0]


@pytest.fixture(scope="module")
def tiny_run(tiny_model_dir, tmp_path_factory) -> Path:
    """A folder whose model/ holds a tiny saved classifier (labels no/yes), as a finished run's does."""
    import shutil

    from transformers import BertConfig, BertForSequenceClassification

    run = tmp_path_factory.mktemp("tiny-run")
    (run / "model").mkdir()
    for file in tiny_model_dir.iterdir():
        if file.name not in ("config.json", "model.safetensors"):
            shutil.copy(file, run / "model" / file.name)
    config = BertConfig.from_pretrained(tiny_model_dir, num_labels=2, id2label={0: "no", 1: "yes"},
                                        label2id={"no": 0, "yes": 1})
    BertForSequenceClassification(config).save_pretrained(run / "model")
    return run


@pytest.fixture
def texts_csv(tmp_path) -> Path:
    path = tmp_path / "texts.csv"
    path.write_text("text\nwhere is my parcel\nlovely mug\n", encoding="utf-8")
    return path


def _two_sheet_book(path: Path) -> Path:
    """'notes' first, then 'reviews' with texts and labels."""
    from openpyxl import Workbook

    book = Workbook()
    book.active.title = "notes"
    book.active.append(["written by hand"])
    sheet = book.create_sheet("reviews")
    for row in [["text", "label"]] + [[f"{w} mug {i}", w] for i in range(6) for w in ("good", "bad")]:
        sheet.append(row)
    book.save(path)
    return path


def test_inspect_predict_and_train_take_the_sheet_to_read(capsys, tiny_run, tmp_path):
    from bertstudio.cli.flags import build_parser, config_from_args

    book = _two_sheet_book(tmp_path / "book.xlsx")
    assert main(["inspect", str(book), "--sheet", "reviews", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["rows"] == 12 and summary["labels"] == {"bad": 6, "good": 6}
    target = tmp_path / "out.csv"
    assert main(["predict", "--model", str(tiny_run), "--data", str(book), "--sheet", "reviews",
                 "--text-column", "text", "--output", str(target)]) == 0
    assert len(target.read_text(encoding="utf-8").splitlines()) == 13
    args = build_parser().parse_args(["train", "--data", str(book), "--sheet", "reviews"])
    assert config_from_args(args).sheet == "reviews"


def test_inspect_names_a_workbooks_format_and_sheet_instead_of_a_delimiter(capsys, tmp_path):
    book = _two_sheet_book(tmp_path / "book.xlsx")
    assert main(["inspect", str(book), "--sheet", "reviews"]) == 0
    out = capsys.readouterr().out
    assert "format:     Excel    sheet: reviews" in out and "delimiter" not in out


def test_a_sheet_the_workbook_lacks_is_one_sentence_naming_its_sheets(capsys, tiny_run, tmp_path):
    book = _two_sheet_book(tmp_path / "book.xlsx")
    assert main(["inspect", str(book), "--sheet", "Reviews"]) == 2
    assert "its sheets are" in (line := one_error_line(capsys)) and "notes" in line and "reviews" in line
    assert main(["predict", "--model", str(tiny_run), "--text", "hi", "--sheet", "reviews"]) == 2
    assert "--sheet" in one_error_line(capsys)


def test_predict_output_naming_a_folder_is_one_sentence(capsys, tiny_run, texts_csv, tmp_path):
    assert main(["predict", "--model", str(tiny_run), "--data", str(texts_csv), "--output", str(tmp_path)]) == 2
    assert "folder" in one_error_line(capsys)


def test_predict_output_in_a_missing_folder_is_refused_not_created(capsys, tiny_run, texts_csv, tmp_path):
    target = tmp_path / "nope" / "dir" / "x.csv"
    assert main(["predict", "--model", str(tiny_run), "--data", str(texts_csv), "--output", str(target)]) == 2
    line = one_error_line(capsys)
    assert "does not exist" in line and "create it" in line
    assert not (tmp_path / "nope").exists()


@pytest.mark.parametrize("where", ["under_a_file", "proc"])
def test_predict_output_in_an_unwritable_place_is_one_sentence(capsys, tiny_run, texts_csv, tmp_path, where):
    # Tests may run as root, whom file permissions do not stop: a "folder" that is a file and
    # /proc (which refuses new files to everyone) are unwritable for anybody.
    (tmp_path / "notes.txt").write_text("a file\n")
    target = tmp_path / "notes.txt" / "x.csv" if where == "under_a_file" else Path("/proc/bertstudio-x.csv")
    assert main(["predict", "--model", str(tiny_run), "--data", str(texts_csv), "--output", str(target)]) == 2
    assert str(target.parent) in one_error_line(capsys)


def test_predict_output_in_an_existing_folder_is_written(capsys, tiny_run, texts_csv, tmp_path):
    target = tmp_path / "out.csv"
    assert main(["predict", "--model", str(tiny_run), "--data", str(texts_csv), "--output", str(target)]) == 0
    assert target.read_text(encoding="utf-8").splitlines()[0].startswith("text,predicted_label")


@pytest.mark.parametrize("kind", ["missing", "file"])
def test_runs_over_a_missing_folder_or_a_file_exits_2(capsys, tmp_path, kind):
    target = tmp_path / "runs"
    if kind == "file":
        target.write_text("not a folder\n")
    assert main(["runs", "--output-dir", str(target)]) == 2
    assert str(target) in one_error_line(capsys)


def test_runs_before_anything_was_trained_here_says_so_and_exits_0(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no runs/ folder: the default, not named by the user
    assert main(["runs"]) == 0
    assert "no runs" in capsys.readouterr().out


def test_runs_over_an_empty_folder_says_so_and_exits_0(capsys, tmp_path):
    assert main(["runs", "--output-dir", str(tmp_path)]) == 0
    assert "no runs" in capsys.readouterr().out


def test_tokenize_max_length_takes_the_training_bound(capsys):
    from bertstudio.config import field_specs

    top = next(spec for spec in field_specs() if spec.name == "max_length").metadata["max"]
    assert main(["tokenize", "--model", "bundled", "--text", "hi", "--max-length", "100000"]) == 2
    assert f"{top:g}" in one_error_line(capsys)
    assert main(["tokenize", "--model", "bundled", "--text", "hi", "--max-length", str(int(top))]) == 0


def damaged_run(tiny_run: Path, folder: Path, **config) -> Path:
    """A copy of tiny_run with a config.json in which `config` overrides the defaults (wrong types)."""
    import shutil

    from bertstudio.config import TrainConfig

    run = folder / "runs" / "20260101-000000-damaged"
    shutil.copytree(tiny_run, run)
    (run / "config.json").write_text(json.dumps({**TrainConfig(data="d.csv", model="bundled").to_dict(), **config}))
    (run / "events.jsonl").write_text("")
    return run


def test_a_run_whose_config_has_a_wrong_type_is_one_sentence_everywhere(capsys, tiny_run, tmp_path):
    run = damaged_run(tiny_run, tmp_path, epochs="three")
    assert main(["predict", "--model", str(run), "--text", "hello"]) == 2
    assert "epochs" in one_error_line(capsys)
    assert main(["train", "--config", str(run / "config.json")]) == 2
    assert "epochs" in one_error_line(capsys)
    assert main(["train", "--resume", str(run)]) == 2
    assert "epochs" in one_error_line(capsys)
    assert main(["runs", "--output-dir", str(run.parent)]) == 0  # the listing shows it as damaged
    out = capsys.readouterr()
    assert "damaged" in out.out and "epochs" in out.out and "Traceback" not in out.err


def test_runs_over_a_folder_with_a_binary_events_file_lists_it_as_damaged(capsys, tiny_run, tmp_path):
    run = damaged_run(tiny_run, tmp_path)
    (run / "events.jsonl").write_bytes(bytes(range(256)) * 20)
    assert main(["runs", "--output-dir", str(run.parent)]) == 0
    out = capsys.readouterr()
    assert "damaged" in out.out and "events.jsonl" in out.out and "Traceback" not in out.err
    assert main(["runs", "--output-dir", str(run.parent), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["status"] == "damaged"


@pytest.fixture(scope="module")
def interrupted_run(tiny_model_dir, tmp_path_factory) -> Path:
    """A run cut off right after its first checkpoint, as by a restart (it keeps no end event)."""
    import csv

    from bertstudio.config import TrainConfig
    from bertstudio.events import CallbackSink
    from bertstudio.training.trainer import train

    folder = tmp_path_factory.mktemp("interrupted")
    data = folder / "data.csv"
    with data.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([["text", "label"]] + [[f"{w} item {i}", w] for i in range(20)
                                                             for w in ("good", "bad")])

    def cut_off(event):
        if event.type == "checkpoint":
            raise KeyboardInterrupt  # the process goes, as under a restart; no end event is written

    config = TrainConfig(data=str(data), model=str(tiny_model_dir), output_dir=str(folder / "runs"), epochs=2,
                         batch_size=8, max_length=16, eval_strategy="steps", eval_steps=2)
    with pytest.raises(KeyboardInterrupt):
        train(config, sink=CallbackSink(cut_off))
    run, = (folder / "runs").iterdir()
    assert (run / "checkpoint" / "trainer_state.json").is_file()
    return run


@pytest.mark.parametrize("state", ["{not json", "[1, 2]", '{"step": "two", "epoch": 0}',
                                   '{"step": 2, "epoch": 0, "batches_done_in_epoch": "x"}',
                                   '{"step": 2, "epoch": 0, "batches_done_in_epoch": 2, "samples_seen": [], '
                                   '"best_eval": "none", "train_seconds": "a while"}'])
def test_resuming_from_a_corrupt_trainer_state_is_one_sentence(capsys, interrupted_run, tmp_path, state):
    import shutil

    run = tmp_path / interrupted_run.name
    shutil.copytree(interrupted_run, run)
    (run / "checkpoint" / "trainer_state.json").write_text(state)
    assert main(["train", "--resume", str(run)]) == 2
    line = one_error_line(capsys)
    assert "trainer_state.json" in line and "unexpectedly" not in line


def test_resume_with_a_config_file_as_well_is_refused_before_anything_runs(capsys, interrupted_run, tmp_path):
    import shutil

    run = tmp_path / interrupted_run.name
    shutil.copytree(interrupted_run, run)
    before = (run / "events.jsonl").read_bytes()
    assert main(["train", "--resume", str(run), "--config", str(run / "config.json")]) == 2
    assert "takes no --config" in one_error_line(capsys)
    assert (run / "events.jsonl").read_bytes() == before  # the run was not carried on


def test_an_interrupted_run_resumes_from_the_command_line_with_its_own_settings(capsys, interrupted_run, tmp_path):
    import shutil

    from bertstudio.runs.folder import read_run

    run = tmp_path / interrupted_run.name
    shutil.copytree(interrupted_run, run)
    assert main(["train", "--resume", str(run)]) == 0
    assert Path(capsys.readouterr().out.strip().splitlines()[-1]).resolve() == run.resolve()
    record = read_run(run)
    assert record.status == "finished" and record.config.epochs == 2 and record.config.eval_steps == 2


def test_the_base_settings_come_from_the_typed_record_and_flags_still_override_them():
    from bertstudio.cli.flags import build_parser, config_from_args
    from bertstudio.config import TrainConfig

    base = TrainConfig(data="reviews.csv", model="bundled", seed=7, epochs=2)
    config = config_from_args(build_parser().parse_args(["train", "--epochs", "5"]), base)
    assert (config.data, config.model, config.seed, config.epochs) == ("reviews.csv", "bundled", 7, 5)


# --- tasks: --task, --label-separator, --label-columns ------------------------------------------


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


TAGGED = "".join(f"comment number {i}\t{c}\tid{i:03d}x\n" for i, c in
                 enumerate(["3,27", "27", "0", "1,11", "", "0,1,11", "3", "11"] * 4))


def test_inspect_json_names_the_detected_multi_label_task_its_tags_and_tags_per_row(capsys, tmp_path):
    path = _write(tmp_path, "tags.tsv", TAGGED)  # no header, like GoEmotions
    assert main(["inspect", str(path), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["task"], summary["label_column"], summary["separator"]) == ("multi_label", "column_2", ",")
    assert "separated by ','; 5 distinct labels" in summary["task_reason"]
    assert summary["labels"] == {"0": 8, "1": 8, "3": 8, "11": 12, "27": 8}
    assert summary["labels_per_row"] == {"0": 4, "1": 16, "2": 8, "3": 4}
    assert summary["rows_without_labels"] == 4


def test_inspect_prints_the_task_and_its_reason_in_one_line_and_the_tags_per_row(capsys, tmp_path):
    assert main(["inspect", str(_write(tmp_path, "tags.tsv", TAGGED))]) == 0
    out = capsys.readouterr().out
    [line] = [line for line in out.splitlines() if line.startswith("task:")]
    assert "multi_label (" in line and "5 distinct labels" in line
    assert "labels per row:" in out and "0: 4  (none of the labels)" in out


def test_inspect_of_scores_gives_regression_with_min_max_and_mean(capsys, tmp_path):
    rows = "".join(f"sentence {i}\tother {i}\t{i * 0.25:.3f}\n" for i in range(21))
    path = _write(tmp_path, "sts.tsv", "sentence1\tsentence2\tscore\n" + rows)
    assert main(["inspect", str(path), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["task"], summary["label_column"], summary["text_pair_column"]) == ("regression", "score", "sentence2")
    assert (summary["min"], summary["max"], summary["mean"]) == (0.0, 5.0, 2.5)
    assert main(["inspect", str(path)]) == 0
    assert "values:     min 0    max 5    mean 2.5" in capsys.readouterr().out


def test_inspect_task_flag_overrides_detection(capsys, tmp_path):
    rows = "".join(f"review {i},{1 + i % 5}\n" for i in range(30))
    path = _write(tmp_path, "stars.csv", "text,stars\n" + rows)
    assert main(["inspect", str(path), "--json"]) == 0
    auto = json.loads(capsys.readouterr().out)
    assert auto["task"] == "single_label" and auto["task_alternatives"] == ["regression"]
    assert main(["inspect", str(path), "--json", "--task", "regression"]) == 0
    assert json.loads(capsys.readouterr().out)["task"] == "regression"


def test_inspect_label_columns_parses_the_comma_list_into_yes_no_tag_columns(capsys, tmp_path):
    rows = "".join(f"text {i},{i % 2},{(i // 2) % 2},0\n" for i in range(12))
    path = _write(tmp_path, "flags.csv", "text,joy,anger,fear\n" + rows)
    assert main(["inspect", str(path), "--json", "--label-columns", "joy, anger,fear"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["task"] == "multi_label" and summary["label_columns"] == ["joy", "anger", "fear"]
    assert summary["task_reason"] == "3 yes/no columns picked as labels"
    assert summary["labels"] == {"anger": 6, "joy": 6}


def test_inspect_label_separator_is_used(capsys, tmp_path):
    rows = "".join(f"text {i},{c}\n" for i, c in enumerate(["a|b", "b", "a", "c|a", "b|c"] * 4))
    path = _write(tmp_path, "pipes.csv", "text,label\n" + rows)
    assert main(["inspect", str(path), "--json", "--label-separator", "|"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["task"] == "multi_label" and summary["separator"] == "|"


@pytest.mark.parametrize("flags", [["--task", "ranking"], ["--label-separator", " "],
                                   ["--label-columns", " , "], ["--label-columns", "joy,nope"],
                                   ["--label-columns", "joy,anger", "--task", "regression"]])
def test_bad_task_flags_are_one_error_line_and_exit_2(capsys, tmp_path, flags):
    rows = "".join(f"text {i},{i % 2},{(i // 2) % 2}\n" for i in range(12))
    path = _write(tmp_path, "flags.csv", "text,joy,anger\n" + rows)
    with pytest.raises(SystemExit) if flags[1] == "ranking" else _no_exit() as caught:
        code = main(["inspect", str(path), *flags])
    assert (caught.value.code if flags[1] == "ranking" else code) == 2
    one_error_line(capsys)


class _no_exit:
    value = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_train_has_the_task_flags_with_their_names_and_builds_the_config():
    from bertstudio.cli.flags import build_parser, config_from_args

    args = build_parser().parse_args(["train", "--data", "x.tsv", "--task", "multi_label",
                                      "--label-separator", "|", "--label-columns", "joy,anger"])
    config = config_from_args(args)
    assert (config.task, config.label_separator, config.label_columns) == ("multi_label", "|", "joy,anger")
    assert config.label_column_names() == ("joy", "anger")
    assert config_from_args(build_parser().parse_args(["train", "--data", "x.tsv"])).task == "auto"


@pytest.mark.parametrize("suffix", [".tsv", ".jsonl"])
def test_predict_writes_the_format_the_output_name_asks_for(capsys, tiny_run, texts_csv, tmp_path, suffix):
    target = tmp_path / f"out{suffix}"
    assert main(["predict", "--model", str(tiny_run), "--data", str(texts_csv), "--output", str(target)]) == 0
    text = target.read_text(encoding="utf-8")
    if suffix == ".tsv":
        assert text.splitlines()[0].split("\t")[:2] == ["text", "predicted_label"]
    else:
        first = json.loads(text.splitlines()[0])
        assert first["text"] == "where is my parcel" and first["predicted_label"] in ("no", "yes")


def test_predict_prints_a_regression_value(capsys, tiny_model_dir, tmp_path):
    import shutil

    from transformers import BertConfig, BertForSequenceClassification

    (tmp_path / "model").mkdir()
    for file in tiny_model_dir.iterdir():
        if file.name not in ("config.json", "model.safetensors"):
            shutil.copy(file, tmp_path / "model" / file.name)
    config = BertConfig.from_pretrained(tiny_model_dir, num_labels=1, id2label={0: "score"},
                                        label2id={"score": 0}, problem_type="regression")
    config.bertstudio_task = "regression"
    BertForSequenceClassification(config).save_pretrained(tmp_path / "model")
    assert main(["predict", "--model", str(tmp_path), "--text", "hello there"]) == 0
    value, text = capsys.readouterr().out.strip().split("\t")
    assert text == "hello there" and float(value) == float(value)


def test_runs_names_each_runs_task_and_its_headline_metric(capsys, tiny_run, tmp_path):
    run = damaged_run(tiny_run, tmp_path)  # a readable config: not damaged
    (run / "data.json").write_text(json.dumps({"task": "regression", "file_name": "s.tsv", "labels": ["score"]}))
    (run / "metrics.json").write_text(json.dumps({"pearson": 0.8312, "rmse": 0.7, "loss": 0.4}))
    assert main(["runs", "--output-dir", str(run.parent), "--json"]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert (listed["task"], listed["headline"], listed["headline_value"]) == ("regression", "pearson", 0.8312)
    assert main(["runs", "--output-dir", str(run.parent)]) == 0
    assert "regression\tpearson 0.8312" in capsys.readouterr().out


def test_a_tag_file_trains_multi_label_with_no_task_flags_and_predict_writes_its_columns(tmp_path, tiny_model_dir):
    words = {"red": "warm", "blue": "cold", "green": "calm"}
    lines = []
    for i in range(60):
        chosen = [w for j, w in enumerate(words) if (i >> j) & 1] or ["grey"]
        tags = ",".join(words[w] for w in chosen if w in words)
        lines.append(f"the {' and '.join(chosen)} one {i}\t{tags}")
    data = _write(tmp_path, "tags.tsv", "text\ttags\n" + "\n".join(lines) + "\n")
    out = run_cli("train", "--data", data, "--model", tiny_model_dir, "--epochs", 2, "--batch-size", 16,
                  "--max-length", 16, "--output-dir", tmp_path / "runs", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    run_dir = Path(out.stdout.strip().splitlines()[-1])
    model_config = json.loads((run_dir / "model" / "config.json").read_text())
    assert model_config["bertstudio_task"] == "multi_label"
    texts = _write(tmp_path, "texts.tsv", "text\nthe red one\nthe blue and green one\n")
    predicted = run_cli("predict", "--model", run_dir, "--data", texts, "--output", tmp_path / "out.tsv")
    assert predicted.returncode == 0, predicted.stderr
    header = (tmp_path / "out.tsv").read_text(encoding="utf-8").splitlines()[0].split("\t")
    assert header[:2] == ["text", "predicted_labels"]
    assert sorted(header[2:]) == ["prob_calm", "prob_cold", "prob_warm"]
    printed = run_cli("predict", "--model", run_dir, "--text", "the red one")
    assert printed.returncode == 0, printed.stderr
    tags, text, probabilities = printed.stdout.strip().split("\t")
    assert text == "the red one" and all(f"{tag} " in probabilities for tag in ("calm", "cold", "warm"))


def _finished(run: Path, warning: str | None = None) -> None:
    (run / "events.jsonl").write_text(json.dumps({"type": "finished", "time": 1.0, "run_dir": str(run),
                                                  "metrics": {}, "steps": 2, "elapsed_seconds": 1.0,
                                                  "stopped_early": False, "best_step": 2,
                                                  "warning": warning}) + "\n")


def test_runs_marks_a_model_that_learned_nothing_and_shows_a_pretraining_runs_perplexity(capsys, tiny_run,
                                                                                        tmp_path):
    run = damaged_run(tiny_run, tmp_path)
    _finished(run)
    (run / "data.json").write_text(json.dumps({"task": "masked_lm", "file_name": "notes.csv", "labels": []}))
    (run / "metrics.json").write_text(json.dumps({"loss": 2.5, "perplexity": 12.1825, "accuracy": 0.4}))
    assert main(["runs", "--output-dir", str(run.parent)]) == 0
    line = capsys.readouterr().out.strip()
    assert line.endswith("masked_lm\tperplexity 12.18") and "learned nothing" not in line
    assert main(["runs", "--output-dir", str(run.parent), "--json"]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert listed["perplexity"] == 12.1825 and listed["learned_nothing"] is False

    (run / "data.json").write_text(json.dumps({"task": "single_label", "file_name": "s.csv", "labels": ["a", "b"]}))
    said = "The model predicts 'a' for every validation row; train for more epochs."
    (run / "metrics.json").write_text(json.dumps({"accuracy": 0.5, "macro_f1": 0.33, "warning": said}))
    _finished(run, said)
    assert main(["runs", "--output-dir", str(run.parent)]) == 0
    assert capsys.readouterr().out.strip().endswith("accuracy 0.5000\t(!) learned nothing")
    assert main(["runs", "--output-dir", str(run.parent), "--json"]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert listed["learned_nothing"] is True and "perplexity" not in listed
