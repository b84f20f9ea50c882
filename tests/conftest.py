"""Shared fixtures: offline environment, repository paths, a tiny BERT for speed, CSV writers."""

from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path
from typing import Callable, Sequence

import pytest

# Tests never touch the network: the hub calls fail at once instead of timing out, and the
# tokenizers library stays single-threaded so forked test workers don't deadlock.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
# Test workers split the cores between them (`-n 2` on two cores: one thread each), and so do the
# apps and runs they start: torch threads beyond the free cores spin waiting on each other at
# every operation, which made a run in a browser test ten times slower than alone.
if "PYTEST_XDIST_WORKER_COUNT" in os.environ:
    _cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, _cores // int(os.environ["PYTEST_XDIST_WORKER_COUNT"]))))

REPO_ROOT = Path(__file__).resolve().parent.parent
BUNDLED = REPO_ROOT / "assets" / "bundled-bert"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json")


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """../shared beside the checkout (real models and datasets); skips where it is absent."""
    shared = REPO_ROOT.parent / "shared"
    if not shared.is_dir():
        pytest.skip("../shared is not present (a fresh clone has none)")
    return shared


@pytest.fixture(scope="session")
def sample_csv() -> Path:
    return REPO_ROOT / "assets" / "sample_reviews.csv"


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised 2-layer BERT (hidden 64) with the bundled tokenizer, for fast tests."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    folder = tmp_path_factory.mktemp("tiny-bert")
    for name in TOKENIZER_FILES:
        if (BUNDLED / name).is_file():
            shutil.copy(BUNDLED / name, folder / name)
    vocab_size = len(AutoTokenizer.from_pretrained(folder))
    config = BertConfig(vocab_size=vocab_size, hidden_size=64, num_hidden_layers=2,
                        num_attention_heads=4, intermediate_size=128, max_position_embeddings=512,
                        pad_token_id=0)
    torch.manual_seed(0)
    BertModel(config).save_pretrained(folder, safe_serialization=True)
    return folder


Rows = Sequence[dict[str, object]] | Sequence[Sequence[object]]


@pytest.fixture
def make_csv(tmp_path: Path) -> Callable[..., Path]:
    """make_csv(rows, name="data.csv", delimiter=",", encoding="utf-8") -> path of the written file.

    Dicts: the header is their keys in first-seen order. Lists: written as given (include a header
    row yourself if you want one).
    """

    def write(rows: Rows, name: str = "data.csv", *, delimiter: str = ",",
              encoding: str = "utf-8") -> Path:
        path = tmp_path / name
        with path.open("w", encoding=encoding, newline="") as handle:
            if rows and isinstance(rows[0], dict):
                header = list(dict.fromkeys(key for row in rows for key in row))
                writer = csv.DictWriter(handle, fieldnames=header, delimiter=delimiter)
                writer.writeheader()
                writer.writerows(rows)
            else:
                csv.writer(handle, delimiter=delimiter).writerows(rows)
        return path

    return write


# --- a task a tiny random BERT learns in a few epochs -------------------------------------------

LEARNABLE_WORDS = {
    "positive": ["wonderful", "great", "excellent", "lovely", "superb", "delightful"],
    "negative": ["terrible", "awful", "dreadful", "horrible", "poor", "broken"],
    "neutral": ["ordinary", "average", "standard", "typical", "plain", "usual"],
}
FILLERS = ["the service was", "honestly the product seemed", "my order felt", "this shop is",
           "the delivery looked", "overall it was"]
# Settings under which tiny_model_dir reaches 100 % on learnable_csv in six epochs (checked for
# seeds 3, 7, 11 and 42; higher learning rates made some seeds diverge).
LEARNABLE_SETTINGS = dict(epochs=6, batch_size=16, learning_rate=1e-3, warmup_ratio=0.1, max_length=32)


@pytest.fixture(scope="session")
def learnable_rows() -> list[list[str]]:
    """300 rows, three balanced classes, each keyed on one of six words followed by shared filler.

    The keyword comes first: a randomly initialised 2-layer model then learns the task in a few
    epochs, so tests stay quick while still checking that training really learns."""
    import random

    rng = random.Random(0)
    rows = []
    for i in range(300):
        label = ["positive", "negative", "neutral"][i % 3]
        text = f"{rng.choice(LEARNABLE_WORDS[label])}, {rng.choice(FILLERS)} {rng.choice(FILLERS)}"
        rows.append([text, label])
    return rows


@pytest.fixture
def learnable_csv(tmp_path: Path, learnable_rows: list[list[str]]) -> Path:
    path = tmp_path / "learnable.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([["text", "label"], *learnable_rows])
    return path
