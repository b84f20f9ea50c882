"""Recommended training settings for a file of N labelled rows and a model of P parameters, each with its reason.

The rules come only from bench/technique_quality.py: every run trained with the engine on a
stratified sample of N rows and was scored on 1,000 held-out rows it never saw; settings were
chosen on the validation share, never on those test rows. The tables are
bench/results/technique_quality_minilm.md (MiniLM, 6 layers x 384, 22.7 M parameters, TREC and
AG News) and bench/results/technique_quality_bundled.md (the bundled model, 4 x 128, 1.3 M, TREC).
Plain Python: nothing heavy is imported, so the UI and the CLI can call it on every change.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bertstudio.config import TrainConfig

# Below this a model is "small" (the bundled 1.3 M-parameter BERT); above it, BERT-sized models
# from MiniLM (22.7 M) up. Nothing was measured in between, so the line sits between the two sizes.
SMALL_MODEL_PARAMETERS = 5_000_000
# Files up to this many rows get the long schedule with early stopping (see `recommend`).
SMALL_FILE_ROWS = 2_000


@dataclass(frozen=True)
class Recommendation:
    """Settings to start from, and for each one a sentence a non-programmer can read."""

    learning_rate: float
    epochs: int
    early_stopping_patience: int
    keep_best: bool
    reasons: dict[str, str]  # setting name -> why

    def settings(self) -> dict[str, Any]:
        """The TrainConfig changes: `TrainConfig(...).replace(**rec.settings())`."""
        return {"learning_rate": self.learning_rate, "epochs": self.epochs,
                "early_stopping_patience": self.early_stopping_patience, "keep_best": self.keep_best}

    def explain(self) -> list[str]:
        """One line per setting, in the order the Hyperparameters tab shows them."""
        return [self.reasons[name] for name in ("learning_rate", "epochs", "early_stopping_patience")]


def recommend(rows: int, model_parameters: int | None = None) -> Recommendation:
    """Settings for a training file of `rows` labelled rows (before the engine holds out its
    validation share) and a model of `model_parameters` parameters (None: unknown, treated as a
    BERT-sized model, which is what every hub model in the picker is but the bundled one)."""
    if rows < 1:
        raise ValueError(f"rows must be at least 1, not {rows}")
    size = f"{rows:,} rows"
    if model_parameters is not None and model_parameters < SMALL_MODEL_PARAMETERS:
        # bench/results/technique_quality_bundled.md, TREC: defaults test macro-F1 0.141 (200 rows)
        # and 0.166 (1,000); 5e-4 x 6 epochs 0.265 / 0.573; 1e-3 x 10 epochs, patience 2: 0.312 /
        # 0.692, best on validation at both sizes. Not measured above 1,000 rows, but the defaults
        # were near chance at every size, so the small-model rule holds for any file.
        millions = f"{model_parameters / 1e6:.1f} M parameters"
        return Recommendation(1e-3, 10, 2, True, {
            "learning_rate": f"Learning rate 1e-3: a small model ({millions}) barely moves at 5e-5; "
                             "measured on TREC with the bundled model, see README.",
            "epochs": f"{size}: 10 epochs with early stopping: the small model needs many passes "
                      "(TREC, 200 and 1,000 rows).",
            "early_stopping_patience": "Early stopping after 2 evaluations without improvement, "
                                       "keeping the best model, so extra epochs cost nothing in quality."})
    if rows <= SMALL_FILE_ROWS:
        # bench/results/technique_quality_minilm.md, MiniLM 22.7 M, test macro-F1 defaults ->
        # 1e-4 x 10 epochs, patience 2: TREC 200 0.143 -> 0.661, 1,000 0.695 -> 0.881, 2,000
        # 0.764 -> 0.855; AG News 200 0.681 -> 0.811, 1,000 0.862 -> 0.873. Best (or tied best)
        # on validation in every cell; 1e-4 for 3 epochs or 10 epochs at 5e-5 alone do less.
        return Recommendation(1e-4, 10, 2, True, {
            "learning_rate": "Learning rate 1e-4: with a file this size 5e-5 learns too slowly "
                             "(TREC and AG News, 200 to 2,000 rows, see README).",
            "epochs": f"{size}: 10 epochs with early stopping: small files need more passes; "
                      "measured on TREC/AG News, see README.",
            "early_stopping_patience": "Early stopping after 2 evaluations without improvement, "
                                       "keeping the best model: training stops once it stops helping."})
    # Nothing was measured above 2,000 rows: today's defaults stand, and say so.
    return Recommendation(5e-5, 3, 0, True, {
        "learning_rate": "Learning rate 5e-5: BERT's usual value; larger files were not measured.",
        "epochs": f"{size}: 3 epochs: a large file gives enough passes in few epochs (more than "
                  "2,000 rows was not measured).",
        "early_stopping_patience": "No early stopping: with 3 epochs every one is needed."})


# --- the CLI's starting point ----------------------------------------------------------------------

RECOMMENDED_SETTINGS = ("learning_rate", "epochs", "early_stopping_patience", "keep_best")


def with_recommendation(config: "TrainConfig", given: set[str]) -> "tuple[TrainConfig, Recommendation | None]":
    """`config` with the recommended settings for its file and model in place of those the user did
    not give (`given`: the setting names chosen explicitly). Unchanged, with None, when every one was
    given, for continued pretraining, or when the file cannot be read: the run then says why itself."""
    from bertstudio.data.dataset import prepare_data
    from bertstudio.errors import StudioError
    from bertstudio.tasks.base import PRETRAINING_TASK

    free = [name for name in RECOMMENDED_SETTINGS if name not in given]
    if not free or config.task == PRETRAINING_TASK:
        return config, None
    try:
        report = prepare_data(config).report
    except StudioError:
        return config, None
    advice = recommend(report.train_size + report.validation_size, count_parameters(config.model))
    settings = advice.settings()
    return config.replace(**{name: settings[name] for name in free}), advice


# --- a model's size, from its config.json alone ----------------------------------------------------

def count_parameters(model: str) -> int | None:
    """Parameters of a BERT-family encoder (embeddings, layers, pooler; not the new classifier
    head), computed from its config.json without loading any weights. `model` is what TrainConfig
    takes: 'bundled', a model folder, a run folder, or a hub id (read only from the local cache;
    never downloaded). None when the config cannot be found or is not a shape this knows."""
    config = read_model_config(model)
    return parameters_from_config(config) if config is not None else None


def parameters_from_config(config: dict[str, Any]) -> int | None:
    """The count for a parsed config.json: BERT-style keys (BERT, RoBERTa, ELECTRA, MiniLM...) or
    DistilBERT's; None for anything else."""
    try:
        if "dim" in config and "n_layers" in config:  # DistilBERT: no token types, no pooler
            h, layers, inner = int(config["dim"]), int(config["n_layers"]), int(config["hidden_dim"])
            embeddings = (int(config["vocab_size"]) + int(config["max_position_embeddings"])) * h + 2 * h
            return embeddings + layers * _layer(h, inner)
        h, layers = int(config["hidden_size"]), int(config["num_hidden_layers"])
        inner, vocab = int(config["intermediate_size"]), int(config["vocab_size"])
        positions, types = int(config.get("max_position_embeddings", 512)), int(config.get("type_vocab_size", 2))
    except (KeyError, TypeError, ValueError):
        return None
    width = int(config.get("embedding_size") or h)  # ELECTRA-small embeds narrower, then projects up
    embeddings = (vocab + positions + types) * width + 2 * width + (width * h + h if width != h else 0)
    pooler = h * h + h
    return embeddings + layers * _layer(h, inner) + pooler


def _layer(h: int, inner: int) -> int:
    """One transformer layer: query, key, value and output projections, the feed-forward pair,
    two LayerNorms (weight and bias each)."""
    return 4 * (h * h + h) + (h * inner + inner) + (inner * h + h) + 2 * 2 * h


def read_model_config(model: str) -> dict[str, Any] | None:
    """A model's parsed config.json, found as `count_parameters` finds it (never downloaded); None
    where there is none. The memory estimate reads the model's shape from it too."""
    from bertstudio.models import BUNDLED_MODEL, bundled_model_path

    name = (model or "").strip()
    if not name:
        return None
    folder = bundled_model_path() if name == BUNDLED_MODEL else Path(name).expanduser()
    for candidate in (folder / "model" / "config.json", folder / "config.json"):  # a run folder keeps model/
        if candidate.is_file():
            return _parse(candidate)
    if folder.exists() or name.count("/") > 1:
        return None  # a folder without a config, or a path that is no hub id
    try:  # a hub id: its config.json only if already in the local cache; no network, ever
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(name, "config.json")
    except Exception:  # an id the hub library refuses (bad characters) is simply unknown here
        return None
    return _parse(Path(cached)) if isinstance(cached, str) else None


def _parse(path: Path) -> dict[str, Any] | None:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return raw if isinstance(raw, dict) else None
