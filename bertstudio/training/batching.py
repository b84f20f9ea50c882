"""Batches for training and evaluation: length-grouped shuffling and dynamic padding."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator, Sequence

import torch
from torch.utils.data import Dataset, Sampler

from bertstudio.training.widths import Widths


@dataclass
class EncodedExamples(Dataset):
    """Tokenized rows (no padding) plus their encoded targets (class ids, multi-hot rows or values,
    as the task encodes them); item i keeps its index for bookkeeping."""

    input_ids: list[list[int]]
    token_type_ids: list[list[int]]
    labels: list | None = None

    def __len__(self) -> int:
        return len(self.input_ids)

    def __getitem__(self, i: int) -> dict:
        item = {"index": i, "input_ids": self.input_ids[i], "token_type_ids": self.token_type_ids[i]}
        if self.labels is not None:
            item["labels"] = self.labels[i]
        return item

    @property
    def lengths(self) -> list[int]:
        return [len(ids) for ids in self.input_ids]


class LengthGroupedSampler(Sampler[int]):
    """Shuffled indices arranged so each batch holds rows of similar length.

    Rows are shuffled, cut into "mega-batches" of `group_batches` batches, each mega-batch sorted
    by length and split into batches, and the batches shuffled again. Padding falls to a few
    percent while every epoch still sees a different order (the Trainer's group_by_length idea).
    The order depends only on (seed, epoch), so every process of a distributed run agrees on it.
    """

    def __init__(self, lengths: Sequence[int], batch_size: int, seed: int, group_batches: int = 50):
        self.lengths = list(lengths)
        self.batch_size = batch_size
        self.seed = seed
        self.group_batches = group_batches
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.lengths)

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        order = torch.randperm(len(self.lengths), generator=generator).tolist()
        mega = self.batch_size * self.group_batches
        batches: list[list[int]] = []
        for start in range(0, len(order), mega):
            group = sorted(order[start:start + mega], key=lambda i: self.lengths[i], reverse=True)
            batches.extend(group[i:i + self.batch_size] for i in range(0, len(group), self.batch_size))
        # The DataLoader cuts this flat order into runs of batch_size, so the one short batch (the
        # tail of the last group) must stay last: shuffled into the middle, it would shift every
        # later cut across two batches of different lengths (30% padding instead of 5% on SST-2).
        short = [batches.pop()] if batches and len(batches[-1]) < self.batch_size else []
        # Keep the longest batch first: if memory runs out, it does so at step one, not hours in.
        longest = max(range(len(batches)), key=lambda b: self.lengths[batches[b][0]]) if batches else 0
        rest = [b for i, b in enumerate(batches) if i != longest]
        shuffled = [rest[i] for i in torch.randperm(len(rest), generator=generator).tolist()]
        ordered = ([batches[longest]] if batches else []) + shuffled + short
        return iter([i for batch in ordered for i in batch])


def length_sorted_indices(lengths: Sequence[int]) -> list[int]:
    """Longest first: evaluation batches waste no padding and memory peaks at the first batch."""
    return sorted(range(len(lengths)), key=lambda i: lengths[i], reverse=True)


def pad_multiple(device_type: str) -> int:
    """What batch widths are rounded up to: 8 on GPUs, whose tensor cores want it, and 1 on the CPU,
    where every padded token is pure waste (on SST-2 rows, rounding to 8 pads ~23% of all tokens,
    rounding to 1 ~5%)."""
    return 1 if device_type == "cpu" else 8


def padded_width(longest: int, pad_to: int | Widths) -> int:
    """The width a batch whose longest row is `longest` is padded to."""
    if isinstance(pad_to, Widths):
        return pad_to.width_for(longest)
    return int(math.ceil(longest / pad_to) * pad_to) if pad_to > 1 else longest


class PaddingCollator:
    """Pads a list of rows to the longest in the batch, rounded up to a multiple of `pad_to` or,
    given planned `Widths` (widths.py), to the next width of the plan.

    A multiple of 8 lets tensor cores work on every shape under mixed precision and keeps the
    number of distinct shapes small. When no row needed padding, the attention mask is left out
    so the model takes its faster all-ones path.
    """

    def __init__(self, pad_token_id: int, pad_to: int | Widths = 8, label_dtype: torch.dtype | None = None) -> None:
        self.pad_token_id = pad_token_id
        self.pad_to = pad_to
        # The task's target dtype; None: from the values (class ids long, numbers and multi-hot float).
        self.label_dtype = label_dtype

    def __call__(self, rows: list[dict]) -> dict[str, torch.Tensor]:
        longest = max(len(r["input_ids"]) for r in rows)
        width = padded_width(longest, self.pad_to)
        count = len(rows)
        input_ids = torch.full((count, width), self.pad_token_id, dtype=torch.long)
        token_type_ids = torch.zeros((count, width), dtype=torch.long)
        attention_mask = torch.zeros((count, width), dtype=torch.long)
        for i, row in enumerate(rows):
            n = len(row["input_ids"])
            input_ids[i, :n] = torch.tensor(row["input_ids"], dtype=torch.long)
            token_type_ids[i, :n] = torch.tensor(row["token_type_ids"], dtype=torch.long)
            attention_mask[i, :n] = 1
        batch = {"input_ids": input_ids, "token_type_ids": token_type_ids,
                 "index": torch.tensor([r["index"] for r in rows], dtype=torch.long),
                 # A plain int: counting real tokens on the device later would force a sync.
                 "num_tokens": sum(len(r["input_ids"]) for r in rows)}
        if width != longest or any(len(r["input_ids"]) != longest for r in rows):
            batch["attention_mask"] = attention_mask
        if "labels" in rows[0]:
            labels = [r["labels"] for r in rows]
            batch["labels"] = torch.tensor(labels, dtype=self.label_dtype or _dtype_of(labels[0]))
        return batch


def _dtype_of(label) -> torch.dtype:
    """A class id is long; a value or a multi-hot row is float32 (what the losses expect)."""
    return torch.long if isinstance(label, int) and not isinstance(label, bool) else torch.float32
