"""One pass over the validation data: loss, metrics, and each row's prediction, gathered across processes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import torch
import torch.nn.functional as F

from bertstudio.tasks.metrics import classification_metrics


@dataclass
class EvalResult:
    metrics: dict[str, Any]
    # One entry per validation row, in the validation set's own order.
    predicted: list[int]
    confidence: list[float]
    gold: list[int]


@torch.no_grad()
def evaluate(model, loader, accelerator, labels: Sequence[str]) -> EvalResult:
    """Evaluate on every validation row exactly once.

    `gather_for_metrics` drops the rows a distributed sampler repeats to even out the shards,
    so the metrics are those of the real validation set on any number of processes. Rows come
    back in length order; the `index` carried by each row puts them back in file order.
    """
    was_training = model.training
    model.eval()
    parts: list[tuple[torch.Tensor, ...]] = []
    for batch in loader:
        index = batch.pop("index")
        batch.pop("num_tokens", None)
        gold = batch.pop("labels")
        logits = model(**batch).logits.float()
        losses = F.cross_entropy(logits, gold, reduction="none")
        parts.append(tuple(t.cpu() for t in accelerator.gather_for_metrics((index, gold, logits, losses))))
    if was_training:
        model.train()
    index, gold, logits, losses = (torch.cat([p[i] for p in parts]) for i in range(4))
    order = torch.argsort(index)
    probs = torch.softmax(logits[order], dim=-1)
    confidence, predicted = probs.max(dim=-1)
    gold_sorted = gold[order].tolist()
    metrics = classification_metrics(gold_sorted, predicted.tolist(), labels,
                                     loss=float(losses.mean()) if len(losses) else None)
    return EvalResult(metrics=metrics, predicted=predicted.tolist(),
                      confidence=confidence.tolist(), gold=gold_sorted)
