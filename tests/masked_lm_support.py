"""A tiny BERT saved with its masked-LM head (as a pretraining run saves its model), for fill-mask tests."""

from __future__ import annotations

import shutil
from pathlib import Path

from conftest import BUNDLED, TOKENIZER_FILES


def save_tiny_masked_lm(folder: Path, favourite: str | None = None) -> Path:
    """A 1-layer BertForMaskedLM with the bundled tokenizer in `folder`. With `favourite`, the head's
    output bias makes that token every [MASK]'s first guess by far, so the guesses can be checked."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForMaskedLM

    folder.mkdir(parents=True, exist_ok=True)
    for name in TOKENIZER_FILES:
        if (BUNDLED / name).is_file():
            shutil.copy(BUNDLED / name, folder / name)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=512, pad_token_id=0)
    torch.manual_seed(0)
    model = BertForMaskedLM(config)
    if favourite is not None:
        with torch.no_grad():
            model.cls.predictions.bias[tokenizer.convert_tokens_to_ids(favourite)] = 50.0
    model.save_pretrained(folder, safe_serialization=True)
    return folder
