"""The "augmented" condition of technique_quality.py: contextual augmentation with the model's own
masked LM (Kobayashi 2018's idea, no word lists or translation models), to decide whether the studio
should offer it.

    augmented[:K]   the "adapted" condition, plus K new copies of every TRAINING row (default 1) in
                    which a share of the word pieces is replaced by the adapted model's own samples

The model first adapts to the file's texts (the same continued pretraining as "adapted", whose
word-guessing head is what makes the samples: MiniLM was saved without one). Only the engine's
training rows are copied, under the engine's own split of the same file with the same seed: the
validation rows are written to their own file unchanged, so no copy of a validation row is ever
trained on and the validation metric stays honest. Fine-tuning then starts from the adapted model.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bertstudio.config import TrainConfig

REPLACED_SHARE = 0.15  # of each text's word pieces, as many as BERT's pretraining masks


def augmented_settings(base: "TrainConfig", settings: dict[str, Any], copies: int, workdir: Path) -> dict[str, Any]:
    """TrainConfig changes for the augmented condition: `settings` (the adapted condition's, with
    `adapt_epochs`) applied, the adaptation run here instead of inside the fine-tuning run, and the
    training file swapped for its rows plus `copies` sampled copies of each."""
    from bertstudio.data.dataset import prepare_data
    from bertstudio.training.adaptation import adaptation_config
    from bertstudio.training.trainer import train

    config = base.replace(**settings)
    prepared = prepare_data(config)
    adapted = train(adaptation_config(config.replace(output_dir=str(workdir / "adapt"))))
    if adapted.status != "finished":
        raise RuntimeError(f"the adaptation run ended {adapted.status}: {adapted.message}")
    names = prepared.labels
    train_rows = [(t, names[y]) for t, y in zip(prepared.train.texts, prepared.train.labels)]
    validation_rows = [(t, names[y]) for t, y in zip(prepared.validation.texts, prepared.validation.labels)]
    rng = random.Random(config.seed)
    sampled = sample_copies(adapted.run_dir, [t for t, _ in train_rows], copies, config.max_length, rng)
    train_csv, validation_csv = workdir / "train_augmented.csv", workdir / "validation.csv"
    _write(train_csv, train_rows + [(text, label) for (_, label), texts in zip(train_rows, sampled) for text in texts])
    _write(validation_csv, validation_rows)
    return {**settings, "adapt_epochs": 0, "model": adapted.run_dir, "data": str(train_csv),
            "validation_data": str(validation_csv)}


def sample_copies(model_dir: str, texts: list[str], copies: int, max_length: int,
                  rng: random.Random) -> list[list[str]]:
    """For each text, `copies` versions with REPLACED_SHARE of its word pieces (never the special
    tokens) hidden and filled by one sample each from the masked LM's distribution at that place."""
    import torch

    from bertstudio.models import load_masked_lm, load_tokenizer, resolve_model

    tokenizer = load_tokenizer(resolve_model(model_dir))
    model = load_masked_lm(model_dir).eval()
    generator = torch.Generator().manual_seed(rng.randrange(2**31))
    banned = torch.tensor(tokenizer.all_special_ids)
    out: list[list[str]] = []
    for text in texts:
        ids = tokenizer(text, truncation=True, max_length=max_length)["input_ids"]
        inner = list(range(1, len(ids) - 1))  # between [CLS] and [SEP]
        versions = []
        for _ in range(copies):
            chosen = rng.sample(inner, max(1, round(REPLACED_SHARE * len(inner)))) if inner else []
            masked = list(ids)
            for at in chosen:
                masked[at] = tokenizer.mask_token_id
            with torch.no_grad():
                logits = model(input_ids=torch.tensor([masked])).logits[0]
            logits[:, banned] = float("-inf")  # a sample is a word piece, never [CLS]/[SEP]/[MASK]
            for at in chosen:
                masked[at] = int(torch.multinomial(torch.softmax(logits[at], -1), 1, generator=generator))
            versions.append(tokenizer.decode(masked, skip_special_tokens=True))
        out.append(versions)
    return out


def _write(path: Path, rows: list[tuple[str, str]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        writer.writerows(rows)
