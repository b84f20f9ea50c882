"""One pass over the validation data: logits, targets and row losses gathered across processes, scored by the task."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from bertstudio.tasks.base import EvalResult, TargetSpace

if TYPE_CHECKING:
    from bertstudio.tasks.base import Task

__all__ = ["EvalResult", "evaluate"]  # EvalResult lives in tasks/base.py; callers still find it here


@torch.no_grad()
def evaluate(model, loader, accelerator, task: "Task", space: TargetSpace) -> EvalResult:
    """Evaluate on every validation row exactly once; the task turns the outputs into metrics.

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
        targets = batch.pop("labels")
        outputs = task.eval_outputs(model, batch, targets, space)
        parts.append(tuple(t.cpu() for t in accelerator.gather_for_metrics((index, *outputs))))
    if was_training:
        model.train()
    index, *outputs = (torch.cat([p[i] for p in parts]) for i in range(len(parts[0])))
    order = torch.argsort(index)
    return task.evaluate(*(output[order].numpy() for output in outputs), space)
