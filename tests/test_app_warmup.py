"""A freshly started app answers many first predictions at once: imports are warmed before serving.

The race is on first import, so each check runs in a fresh interpreter: many threads, released
together by a barrier, make the first model loads and predictions of that process, as the first
visitors of a new app do.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
THREADS = 24
FRESH_PROCESSES = 3

# argv: run folder, "warm" (call warm_imports first) or "cold". Prints one JSON list of the errors the threads met.
FIRST_LOADS = r"""
import json, sys, threading
model, warm = sys.argv[1], sys.argv[2] == "warm"
if warm:
    from bertstudio.warmup import warm_imports
    warm_imports()
barrier = threading.Barrier(%(threads)d)
errors = []

def visitor(index):
    barrier.wait()
    try:
        if index %% 2:
            from bertstudio.predict import Predictor
            Predictor.load(model).predict(["where is my parcel?"])
        else:
            from bertstudio.models import load_tokenizer
            from bertstudio.text.token_preview import preview
            preview(load_tokenizer(model + "/model"), "where is my parcel?", None, max_length=16, truncation="start")
    except BaseException as error:
        errors.append(f"{type(error).__name__}: {error}")

threads = [threading.Thread(target=visitor, args=(i,)) for i in range(%(threads)d)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(json.dumps(errors))
""" % {"threads": THREADS}


@pytest.fixture(scope="module")
def classifier_dir(tiny_model_dir, tmp_path_factory) -> Path:
    """A folder whose model/ holds a tiny saved sequence classifier with the bundled tokenizer, as a
    finished run's does."""
    import shutil

    from transformers import BertConfig, BertForSequenceClassification

    root = tmp_path_factory.mktemp("tiny-classifier")
    folder = root / "model"
    folder.mkdir()
    for file in tiny_model_dir.iterdir():
        if file.name not in ("config.json", "model.safetensors"):
            shutil.copy(file, folder / file.name)
    config = BertConfig.from_pretrained(tiny_model_dir, num_labels=2, id2label={0: "no", 1: "yes"},
                                        label2id={"no": 0, "yes": 1})
    BertForSequenceClassification(config).save_pretrained(folder)
    return root


def first_loads(model: Path, processes: int) -> list[str]:
    """The errors met in `processes` fresh interpreters (started side by side), each warmed as
    app.py warms before serving, then loading and predicting from THREADS threads at once."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TQDM_DISABLE": "1", "PYTHONPATH": str(REPO)}
    started = [subprocess.Popen([sys.executable, "-c", FIRST_LOADS, str(model), "warm"], cwd=REPO, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for _ in range(processes)]
    errors = []
    for process in started:
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err[-3000:]
        errors += json.loads(out.strip().splitlines()[-1])
    return errors


def test_many_first_loads_at_once_after_warm_imports_all_succeed(classifier_dir):
    # Without warm_imports most fresh processes see "cannot import name 'AutoConfig'" (or
    # 'AutoTokenizer') in some of their threads.
    assert first_loads(classifier_dir, FRESH_PROCESSES) == []
