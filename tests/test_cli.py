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
    from bertstudio.training.events import CallbackSink
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
