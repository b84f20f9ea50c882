"""Batches for continued pretraining: rows padded, then BERT's masking drawn for each row.

The masks of a row depend only on (seed, epoch, row index), never on the order rows are drawn in
or on what ran before: every epoch sees fresh masks (dynamic masking, as RoBERTa found better
than masks fixed once), a run resumed mid-epoch masks exactly as one never stopped, every process
of a distributed run agrees, and validation (always epoch 0) hides the same tokens at every
evaluation, so its loss is comparable from one evaluation to the next.
"""

from __future__ import annotations

from typing import Callable

import torch

from bertstudio.tasks.masked_lm import IGNORED
from bertstudio.text.masking import mask_row, word_ids_of
from bertstudio.training.batching import PaddingCollator


def row_generator(seed: int, epoch: int, index: int) -> torch.Generator:
    """The random stream that masks row `index` in `epoch`: one per row, from the three alone."""
    return torch.Generator().manual_seed(((seed * 1_000_003 + epoch) * 10_000_019 + index) % (2**63 - 1))


class MaskingCollator:
    """Rows (input ids without padding) to a padded batch whose `labels` hold the hidden tokens'
    original ids and -100 elsewhere, and whose `input_ids` carry the masks."""

    def __init__(self, tokenizer, *, pad_to: int, probability: float, whole_words: bool, seed: int,
                 epoch_of: Callable[[], int]) -> None:
        if tokenizer.mask_token_id is None:
            from bertstudio.errors import StudioError

            raise StudioError("This model's tokenizer has no [MASK] token, so it cannot be pretrained "
                              "with masked words; pick a BERT-family model.")
        self.tokenizer = tokenizer
        self.pad = PaddingCollator(tokenizer.pad_token_id or 0, pad_to=pad_to)
        self.probability, self.whole_words, self.seed, self.epoch_of = probability, whole_words, seed, epoch_of
        self.special_ids = set(tokenizer.all_special_ids)
        self.vocab_size = len(tokenizer)

    def __call__(self, rows: list[dict]) -> dict[str, torch.Tensor]:
        epoch = self.epoch_of()
        masked_rows, targets = [], []
        for row in rows:
            ids = row["input_ids"]
            special = [token in self.special_ids for token in ids]
            words = word_ids_of(self.tokenizer.convert_ids_to_tokens(ids), special) if self.whole_words else None
            masked, labels = mask_row(ids, special, words, probability=self.probability,
                                      mask_id=self.tokenizer.mask_token_id, vocab_size=self.vocab_size,
                                      generator=row_generator(self.seed, epoch, row["index"]))
            masked_rows.append({**{k: v for k, v in row.items() if k != "labels"}, "input_ids": masked})
            targets.append(labels)
        batch = self.pad(masked_rows)
        labels = torch.full(batch["input_ids"].shape, IGNORED, dtype=torch.long)
        for i, row_labels in enumerate(targets):
            labels[i, :len(row_labels)] = torch.tensor(row_labels, dtype=torch.long)
        batch["labels"] = labels
        return batch
