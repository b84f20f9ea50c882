"""`accelerate launch` with two CPU processes runs the same engine and gathers metrics correctly."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_two_cpu_processes_train_one_run_with_metrics_over_every_validation_row(tmp_path, tiny_model_dir,
                                                                                learnable_csv):
    if shutil.which("accelerate") is None:
        pytest.skip("the accelerate launcher is not on PATH")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    # --multi_gpu is accelerate's torchrun launcher; without a GPU the engine asks for a gloo (CPU) group.
    command = ["accelerate", "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
               "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", "29511",
               "-m", "bertstudio", "train", "--data", str(learnable_csv), "--model", str(tiny_model_dir),
               "--epochs", "3", "--batch-size", "8", "--learning-rate", "1e-3", "--max-length", "32",
               "--output-dir", str(tmp_path / "runs")]
    out = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=400)
    assert out.returncode == 0, out.stderr[-3000:]
    runs = list((tmp_path / "runs").iterdir())
    assert len(runs) == 1, "both processes must share one run folder"
    run = runs[0]
    environment = json.loads((run / "environment.json").read_text())
    assert environment["num_processes"] == 2
    data = json.loads((run / "data.json").read_text())
    metrics = json.loads((run / "metrics.json").read_text())
    # gather_for_metrics must drop the rows repeated to even out the shards: every row once.
    assert metrics["count"] == data["validation_size"]
    assert sum(metrics["per_class"][label]["support"] for label in data["labels"]) == data["validation_size"]
    assert 0.0 <= metrics["accuracy"] <= 1.0
    assert out.stdout.strip().splitlines()[-1] == str(run)
