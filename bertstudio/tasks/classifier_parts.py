"""What every task with one target per row builds the same way: a head on the encoder, batches
padded with their targets stacked, and an evaluation pass that keeps every row's logits.

Single-label, multi-label and regression inherit these; a task that trains something else (the
masked-LM of continued pretraining, `masked_lm.py`) brings its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    import torch

    from bertstudio.config import TrainConfig
    from bertstudio.tasks.base import TargetSpace


class ClassifierParts:
    """The model, collator and forward passes of a task whose targets come from label columns."""

    reads_targets: ClassVar[bool] = True  # rows need a usable target (a label, tags or a value)

    def build_model(self, name: str, space: "TargetSpace") -> Any:
        """The pretrained encoder `name` with this task's new head."""
        from bertstudio.models import load_classifier

        return load_classifier(name, self.head(space))  # type: ignore[attr-defined]

    def collator(self, tokenizer, pad_to: int, config: "TrainConfig", epoch_of=None) -> Any:
        """Pads rows and stacks their encoded targets in the task's dtype; `epoch_of` is unused
        (a target that depends on the epoch is the masked-LM's)."""
        from bertstudio.training.batching import PaddingCollator

        return PaddingCollator(tokenizer.pad_token_id or 0, pad_to=pad_to,
                               label_dtype=self.target_dtype)  # type: ignore[attr-defined]

    def train_loss(self, model, inputs: dict, targets: "torch.Tensor", space: "TargetSpace") -> "torch.Tensor":
        """The batch's loss: the task's per-row loss, averaged (so multi-label's rare-label
        weights and regression's standardised targets are what is learnt)."""
        logits = model(**inputs).logits.float()  # the loss in fp32 whatever the autocast dtype
        return self.loss(logits, targets, space).mean()  # type: ignore[attr-defined]

    def eval_outputs(self, model, inputs: dict, targets: "torch.Tensor",
                     space: "TargetSpace") -> tuple["torch.Tensor", ...]:
        """Per-row tensors the evaluation gathers and hands to `evaluate` in this order:
        logits, targets, row losses."""
        logits = model(**inputs).logits.float()
        return logits, targets, self.loss(logits, targets, space)  # type: ignore[attr-defined]
