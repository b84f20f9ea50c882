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
    assert main(["tokenize", "--model", "bundled", "--text", "one two three four five six seven", "--max-length",
                 "6", "--json"]) == 0
    preview = json.loads(capsys.readouterr().out)
    kept = [t for t in preview["tokens"] if t["kept"]]
    assert len(kept) == 6 and kept[0]["text"] == "[CLS]" and kept[-1]["text"] == "[SEP]"
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


def test_train_with_bad_data_fails_as_a_run_with_one_error_line_like_any_failed_run(tmp_path):
    out = run_cli("train", "--data", tmp_path / "nothing.csv", "--model", "bundled", "--output-dir", tmp_path / "runs")
    assert out.returncode == 1
    assert out.stderr.strip().startswith("error:") and "Traceback" not in out.stderr
    run_dir = Path(out.stdout.strip().splitlines()[-1])
    assert json.loads((run_dir / "events.jsonl").read_text().splitlines()[-1])["type"] == "failed"
