"""Importing, once and in one thread, what the app's handlers would otherwise import on first use.

Why it exists: the handlers import torch, transformers and the engine lazily (nothing at import
time), so on a freshly started app the first visitors' requests import them from many threads at
once. Python's import locks then give one of those threads a half-initialised module (their
deadlock check hands it out rather than wait in a cycle), and transformers' lazy
`from transformers import AutoConfig` fails with "ImportError: cannot import name 'AutoConfig'".
`app.py` calls `warm_imports()` before serving, so every import has finished before the first
request; the CLI is single-threaded and does not need it.
"""

from __future__ import annotations

import importlib
from typing import Sequence

# What the handlers and the training worker import inside functions.
ENGINE_MODULES = ("bertstudio.models", "bertstudio.text.tokenization", "bertstudio.text.token_preview",
                  "bertstudio.training.batching", "bertstudio.predict", "bertstudio.data.tabular",
                  "bertstudio.data.dataset", "bertstudio.data.summary", "bertstudio.data.cleaning",
                  "bertstudio.data.csvsafe", "bertstudio.data.writers", "bertstudio.tasks.metrics",
                  # The registry imports each task on first use, from whichever thread asks first.
                  "bertstudio.tasks.single_label", "bertstudio.tasks.multi_label", "bertstudio.tasks.regression",
                  "bertstudio.tasks.detect", "bertstudio.training.evaluation", "bertstudio.training.checkpoints",
                  "bertstudio.training.trainer")
# The families of models.CURATED_MODELS (MiniLM and TinyBERT are "bert" too): transformers imports
# each family's modules lazily, on the first model of that family.
STUDIO_MODEL_TYPES = ("bert", "distilbert")


def warm_imports(model_types: Sequence[str] = STUDIO_MODEL_TYPES) -> None:
    """Import the engine, torch and transformers' auto classes with each family's config, model and
    tokenizer classes; then load the bundled tokenizer and run its model once, which imports the
    last few modules transformers only reaches on a real load and forward pass."""
    for name in ENGINE_MODULES:
        importlib.import_module(name)
    import torch
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer  # noqa: F401
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING
    from transformers.models.auto.modeling_auto import MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING
    from transformers.models.auto.tokenization_auto import TOKENIZER_MAPPING

    for model_type in model_types:
        config_class = CONFIG_MAPPING[model_type]
        MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING[config_class]  # noqa: B018 - the lookup imports it
        TOKENIZER_MAPPING[config_class]  # noqa: B018
    _first_load()
    del torch


def _first_load() -> None:
    """The bundled tokenizer and a classifier of its shape (random weights: nothing is read but the
    config) through one forward pass; skipped where the bundled model is missing."""
    import torch
    from transformers import AutoConfig, AutoModelForSequenceClassification

    from bertstudio.errors import StudioError
    from bertstudio.models import BUNDLED_MODEL, load_tokenizer, resolve_model

    try:
        folder = resolve_model(BUNDLED_MODEL)
        tokenizer = load_tokenizer(BUNDLED_MODEL)
    except StudioError:
        return
    model = AutoModelForSequenceClassification.from_config(AutoConfig.from_pretrained(folder, num_labels=2))
    encoded = tokenizer(["warm up"], return_tensors="pt")
    with torch.no_grad():
        model.eval()(**encoded)
