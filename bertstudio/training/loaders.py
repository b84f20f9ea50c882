"""From prepared rows to the two DataLoaders the loop iterates: encoding, datasets, samplers, collator."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.utils.data import DataLoader

from bertstudio.config import TrainConfig
from bertstudio.training.batching import EncodedExamples, LengthGroupedSampler, length_sorted_indices, pad_multiple
from bertstudio.training.precision import resolve_precision
from bertstudio.training.widths import Widths, batch_widths, plan_widths


@dataclass
class Loaders:
    train: DataLoader
    validation: DataLoader

    @property
    def train_size(self) -> int:
        return len(self.train.dataset)

    @property
    def validation_size(self) -> int:
        return len(self.validation.dataset)


def build_loaders(config: TrainConfig, data, tokenizer, device_type: str, task=None) -> Loaders:
    """Encode the training and validation rows and batch them: training rows grouped by length
    (little padding, still shuffled), validation rows in length order (they are put back in file
    order after evaluation), padded to a multiple the device multiplies fast."""
    from bertstudio.text.tokenization import encode_examples

    encode = dict(max_length=config.max_length, truncation=config.truncation)
    train_enc = encode_examples(tokenizer, data.train.texts, data.train.pairs, **encode)
    val_enc = encode_examples(tokenizer, data.validation.texts, data.validation.pairs, **encode)
    train_set = EncodedExamples(train_enc["input_ids"], train_enc["token_type_ids"], data.train.labels)
    val_set = EncodedExamples(val_enc["input_ids"], val_enc["token_type_ids"], data.validation.labels)
    if task is None:
        from bertstudio.tasks.registry import get_task

        task = get_task(data.task)
    sampler = LengthGroupedSampler(train_set.lengths, config.batch_size, config.seed)
    val_order = length_sorted_indices(val_set.lengths)
    val_batch_size = config.batch_size * 2  # no gradients kept: twice the rows fit
    train_pad = val_pad = pad_multiple(device_type)
    if device_type == "cpu" and resolve_precision(config.precision) == "bf16":  # oneDNN: widths.py
        train_pad = _planned(train_set.lengths, sampler, config.batch_size, config.epochs)
        val_pad = _planned(val_set.lengths, val_order, val_batch_size, config.epochs)
    # The training batches may depend on the epoch (fresh masks each epoch): the sampler, which
    # Accelerate tells the epoch, says which one is being batched; validation is always epoch 0.
    train_collate = task.collator(tokenizer, train_pad, config, epoch_of=lambda: sampler.epoch)
    val_collate = task.collator(tokenizer, val_pad, config, epoch_of=lambda: 0)
    # Each loader gets a generator of its own: starting an iterator then draws nothing from the
    # global RNG, so a run resumed mid-epoch sees the same dropout masks as one never stopped.
    train_loader = DataLoader(train_set, batch_size=config.batch_size, collate_fn=train_collate,
                              sampler=sampler, generator=torch.Generator().manual_seed(config.seed))
    val_loader = DataLoader(val_set, batch_size=val_batch_size, collate_fn=val_collate,
                            sampler=val_order,
                            generator=torch.Generator().manual_seed(config.seed))
    return Loaders(train_loader, val_loader)


def _planned(lengths: list[int], order, batch_size: int, epochs: int) -> Widths:
    """The widths for batches cut from `order` (the sampler's first epoch; later epochs have the
    same lengths, grouped alike), each padded width paid again every epoch."""
    return plan_widths(batch_widths(lengths, order, batch_size), rows_per_batch=batch_size, repeats=epochs)
