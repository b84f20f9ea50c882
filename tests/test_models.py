"""Tests for bertstudio.models: resolving names, loading offline, and one-line reasons for failures."""

from __future__ import annotations

import csv
import json
import shutil
import socket
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
import torch
from huggingface_hub import errors as hub_errors

from bertstudio.errors import StudioError
from bertstudio.models import (
    BUNDLED_MODEL,
    CURATED_MODELS,
    bundled_model_path,
    explain_load_error,
    is_hub_reachable,
    load_classifier,
    load_tokenizer,
    load_trained,
    resolve_model,
)

LABELS = ["complaint", "praise", "question"]
# A hub id no cache will hold, so the offline path is taken on any machine.
UNCACHED_HUB_ID = "bertstudio-tests/no-such-model-in-any-cache"


def _one_sentence(message: str) -> bool:
    return "\n" not in message and message.count(". ") == 0 and message.endswith((".", ")"))


# --- resolving names ---------------------------------------------------------------------------

def test_bundled_resolves_to_the_assets_folder():
    assert resolve_model(BUNDLED_MODEL) == str(bundled_model_path())
    assert bundled_model_path().parts[-2:] == ("assets", "bundled-bert")


def test_hub_ids_pass_through_unchanged():
    assert resolve_model("bert-base-uncased") == "bert-base-uncased"
    assert resolve_model("google/bert_uncased_L-4_H-256_A-4") == "google/bert_uncased_L-4_H-256_A-4"


def test_existing_relative_folder_resolves_to_its_absolute_path(tmp_path, monkeypatch, tiny_model_dir):
    shutil.copytree(tiny_model_dir, tmp_path / "org" / "model")
    monkeypatch.chdir(tmp_path)
    # "org/model" looks like a hub id, but a folder of that name wins.
    assert resolve_model("org/model") == str((tmp_path / "org" / "model").resolve())


@pytest.mark.parametrize("name", ["./no/such/model", "/no/such/model", "~/no-such-model-folder",
                                  "runs/2024/model"])
def test_missing_local_path_fails_with_plain_message(name):
    with pytest.raises(StudioError, match="There is no folder") as caught:
        resolve_model(name)
    assert _one_sentence(caught.value.message)


def test_folder_without_config_json_is_not_a_model_folder(tmp_path):
    with pytest.raises(StudioError, match="isn't a model folder") as caught:
        load_classifier(str(tmp_path), LABELS)
    assert "config.json" in caught.value.message


def test_empty_name_asks_for_a_model():
    with pytest.raises(StudioError, match="bundled"):
        resolve_model("  ")


def test_curated_list_offers_bundled_first_and_no_duplicates():
    ids = [model_id for model_id, _ in CURATED_MODELS]
    assert ids[0] == BUNDLED_MODEL
    assert len(ids) == len(set(ids)) and "bert-base-uncased" in ids
    assert all(description.strip() for _, description in CURATED_MODELS)


# --- the bundled model -------------------------------------------------------------------------

def test_bundled_model_loads_offline_as_a_lowercasing_tokenizer():
    tokenizer = load_tokenizer(BUNDLED_MODEL)
    assert 3000 <= len(tokenizer) <= 5000
    assert tokenizer.model_max_length == 512
    assert tokenizer.tokenize("The Café DELIVERY") == tokenizer.tokenize("the cafe delivery")
    encoded = tokenizer("The parcel arrived late, so frustrating.")
    assert tokenizer.unk_token_id not in encoded["input_ids"]
    assert encoded["input_ids"][0] == tokenizer.cls_token_id


def test_bundled_model_loads_offline_as_classifier_with_labels():
    model = load_classifier(BUNDLED_MODEL, LABELS)
    tokenizer = load_tokenizer(BUNDLED_MODEL)
    batch = tokenizer(["Love it!", "Do you ship to Norway?"], padding=True, return_tensors="pt")
    with torch.no_grad():
        logits = model(**batch).logits
    assert logits.shape == (2, 3)
    assert model.config.id2label == {0: "complaint", 1: "praise", 2: "question"}
    assert model.config.label2id == {"complaint": 0, "praise": 1, "question": 2}
    assert next(model.parameters()).dtype == torch.float32


def test_bundled_folder_is_small_and_complete(repo_root):
    folder = bundled_model_path()
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                 "vocab.txt", "README.md"):
        assert (folder / name).is_file(), name
    assert (folder / "model.safetensors").stat().st_size < 8_000_000
    vocab = (folder / "vocab.txt").read_text(encoding="utf-8").splitlines()
    assert vocab[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    assert len(vocab) == json.loads((folder / "config.json").read_text())["vocab_size"]


def test_sample_reviews_are_three_balanced_classes(sample_csv):
    with sample_csv.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert 300 <= len(rows) <= 450
    counts = Counter(row["label"] for row in rows)
    assert set(counts) == {"praise", "complaint", "question"} and len(set(counts.values())) == 1
    assert all(4 <= len(row["text"].split()) <= 30 for row in rows)
    assert len({row["text"] for row in rows}) == len(rows)


# --- the hub, offline ------------------------------------------------------------------------------

@pytest.mark.parametrize("load", [lambda name: load_classifier(name, LABELS), load_tokenizer])
def test_hub_name_fails_fast_offline_and_names_bundled(load):
    start = time.perf_counter()
    with pytest.raises(StudioError) as caught:
        load(UNCACHED_HUB_ID)
    assert time.perf_counter() - start < 5
    assert "'bundled'" in caught.value.message and UNCACHED_HUB_ID in caught.value.message
    assert _one_sentence(caught.value.message)


def test_invalid_hub_name_is_called_invalid_not_unreachable():
    with pytest.raises(StudioError, match="valid hub model id"):
        load_tokenizer("not a model name")


def test_hub_probe_sees_a_listening_port_and_not_a_closed_one(monkeypatch):
    monkeypatch.delenv("HTTPS_PROXY", raising=False)
    monkeypatch.delenv("https_proxy", raising=False)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert is_hub_reachable(timeout=2, endpoint=f"https://127.0.0.1:{port}")
    start = time.perf_counter()
    assert not is_hub_reachable(timeout=2, endpoint=f"https://127.0.0.1:{port}")
    assert time.perf_counter() - start < 3


def test_hub_probe_goes_through_the_https_proxy_when_one_is_set(monkeypatch):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{server.getsockname()[1]}")
        assert is_hub_reachable(timeout=2, endpoint="https://hub.invalid")


def _hub_error(kind: type, status: int) -> Exception:
    """The hub error wrapped in OSError, as transformers raises it."""
    request = httpx.Request("GET", "https://huggingface.co/api/models/acme/model")
    try:
        try:
            raise kind("Client Error", response=httpx.Response(status, request=request))
        except kind as inner:
            raise OSError("acme/model is not a local folder") from inner
    except OSError as outer:
        return outer


def test_missing_and_gated_hub_repos_read_as_plain_sentences():
    missing = explain_load_error("acme/model", _hub_error(hub_errors.RepositoryNotFoundError, 404))
    gated = explain_load_error("acme/model", _hub_error(hub_errors.GatedRepoError, 403))
    assert missing.message.startswith("No model called 'acme/model' on the Hugging Face Hub")
    assert "hf auth login" in gated.message and "gated" in gated.message
    assert missing.detail and gated.detail


# --- damaged or unsuitable local folders ---------------------------------------------------------

def test_corrupt_config_json_fails_plainly_with_detail(tmp_path, tiny_model_dir):
    folder = tmp_path / "model"
    shutil.copytree(tiny_model_dir, folder)
    (folder / "config.json").write_text("{ this is not json", encoding="utf-8")
    with pytest.raises(StudioError, match="not valid JSON") as caught:
        load_classifier(str(folder), LABELS)
    assert caught.value.detail


def test_truncated_weights_file_reads_as_damaged(tmp_path, tiny_model_dir):
    folder = tmp_path / "model"
    shutil.copytree(tiny_model_dir, folder)
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:200])
    with pytest.raises(StudioError, match="damaged or incomplete") as caught:
        load_classifier(str(folder), LABELS)
    assert caught.value.detail


def test_folder_with_only_pickle_weights_is_refused(tmp_path, tiny_model_dir):
    from safetensors.torch import load_file

    folder = tmp_path / "model"
    shutil.copytree(tiny_model_dir, folder)
    torch.save(load_file(folder / "model.safetensors"), folder / "pytorch_model.bin")
    (folder / "model.safetensors").unlink()
    with pytest.raises(StudioError, match="no safetensors weights"):
        load_classifier(str(folder), LABELS)


def test_model_kind_that_cannot_classify_text_is_refused(tmp_path):
    from transformers import ViTConfig

    ViTConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2).save_pretrained(tmp_path)
    with pytest.raises(StudioError, match="can classify text"):
        load_classifier(str(tmp_path), LABELS)


def test_folder_without_tokenizer_files_is_refused(tmp_path, tiny_model_dir):
    shutil.copy(tiny_model_dir / "config.json", tmp_path / "config.json")
    with pytest.raises(StudioError, match="no tokenizer files"):
        load_tokenizer(str(tmp_path))


def test_classifier_needs_two_different_labels(tiny_model_dir):
    with pytest.raises(StudioError, match="at least two different labels"):
        load_classifier(str(tiny_model_dir), ["only"])


# --- trained classifiers ------------------------------------------------------------------------

def test_saved_classifier_loads_back_with_its_labels_in_eval_mode(tmp_path, tiny_model_dir):
    load_classifier(str(tiny_model_dir), LABELS).save_pretrained(tmp_path / "run")
    model = load_trained(tmp_path / "run")
    assert [model.config.id2label[i] for i in range(3)] == LABELS
    assert not model.training


def test_classifier_trained_for_other_labels_gets_a_fresh_head(tmp_path, tiny_model_dir):
    load_classifier(str(tiny_model_dir), ["no", "yes"]).save_pretrained(tmp_path / "binary")
    model = load_classifier(str(tmp_path / "binary"), LABELS)
    assert model.classifier.out_features == 3
    assert model.config.id2label == dict(enumerate(LABELS))


def test_base_model_is_not_taken_for_a_trained_classifier(tiny_model_dir):
    with pytest.raises(StudioError, match="base model, not a trained classifier"):
        load_trained(tiny_model_dir)


def test_missing_run_folder_fails_plainly(tmp_path):
    with pytest.raises(StudioError, match="There is no folder"):
        load_trained(tmp_path / "nope")


def test_real_pretrained_bert_from_shared_loads_as_classifier(shared_dir):
    folder = shared_dir / "models" / "minilm-l6-h384-uncased"
    if not folder.is_dir():
        pytest.skip("the shared MiniLM model is absent")
    model = load_classifier(str(folder), LABELS)
    assert model.config.id2label == dict(enumerate(LABELS))
    assert len(load_tokenizer(str(folder))) == 30522


# --- hostile model folders: no pickles, no code of their own --------------------------------------

class _Trap:
    """Unpickling this writes a file: proof that a pickle was loaded."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def test_a_trained_model_with_only_pickle_weights_is_refused_without_unpickling(tmp_path, tiny_model_dir):
    import pickle

    folder = tmp_path / "run-model"
    load_classifier(str(tiny_model_dir), LABELS).save_pretrained(folder)
    (folder / "model.safetensors").unlink()
    marker = tmp_path / "unpickled"
    (folder / "pytorch_model.bin").write_bytes(pickle.dumps(_Trap(marker)))
    with pytest.raises(StudioError):
        load_trained(folder)
    assert not marker.exists()


def test_a_model_folder_that_brings_its_own_code_is_refused_and_the_code_never_runs(tmp_path, tiny_model_dir):
    import json

    folder = tmp_path / "remote-code"
    shutil.copytree(tiny_model_dir, folder)
    marker = tmp_path / "code-ran"
    (folder / "evil.py").write_text(f"from pathlib import Path\nPath({str(marker)!r}).touch()\n"
                                    "from transformers import BertConfig as EvilConfig, "
                                    "BertForSequenceClassification as EvilModel\n")
    config = json.loads((folder / "config.json").read_text())
    config["auto_map"] = {"AutoConfig": "evil.EvilConfig", "AutoModelForSequenceClassification": "evil.EvilModel",
                          "AutoModel": "evil.EvilModel"}
    (folder / "config.json").write_text(json.dumps(config))
    for load in (lambda: load_classifier(str(folder), LABELS), lambda: load_trained(folder)):
        try:
            load()
        except StudioError:
            pass
    assert not marker.exists()
