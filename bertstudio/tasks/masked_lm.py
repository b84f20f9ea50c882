"""Continued pretraining: the texts are their own targets (BERT's masked-language-model task).

A share of each row's tokens is hidden (`text/masking.py`, drawn afresh every epoch by the
collator in `training/masked_batches.py`) and the model learns to guess them. The run's model is
an encoder with its word-guessing head, which `bertstudio train --model runs/<id>` fine-tunes like
any pretrained model. Metrics: the loss over the hidden tokens (the headline: lower is better),
its perplexity and the share guessed right.

What a classifier task does with labels (reading, splitting, counting, predicting) has no
meaning here; those methods say so, or return nothing, so a pretraining run moves through the
same trainer, run folder and studio pages as every other run.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, ClassVar, Sequence

from bertstudio.errors import StudioError
from bertstudio.tasks.base import EvalResult, Prediction, TargetSpace, TorchDtype
from bertstudio.tasks.wording import number

if TYPE_CHECKING:
    import numpy as np
    import torch

IGNORED = -100  # transformers' label for "not a target": tokens left as they were


class MaskedLM:
    """Guess the hidden tokens of the user's own texts."""

    name: ClassVar[str] = "masked_lm"
    title: ClassVar[str] = "Adapt the model to your texts (continued pretraining)"
    metrics: ClassVar[tuple[str, ...]] = ("loss", "perplexity", "accuracy")
    headline: ClassVar[str] = "loss"
    problem_type: ClassVar[str] = "masked_lm"
    split_words: ClassVar[str] = "chosen at random"
    target_dtype = TorchDtype("long")
    reads_targets: ClassVar[bool] = False

    def higher_is_better(self, metric: str) -> bool:
        return metric == "accuracy"

    # --- data: the texts are the targets -------------------------------------------------------
    def read_targets(self, table, columns, separator: str | None = None) -> list[Any]:
        return [None] * len(table.rows)

    def fit(self, values: Sequence[Any], column: str | None = None, *, train: Sequence[int] | None = None,
            weight_rare_labels: bool = False, separator: str | None = None) -> TargetSpace:
        return TargetSpace(names=[])

    def problems(self, values: Sequence[Any], column: str, split: bool, source: str) -> list[str]:
        return []

    def split(self, values: Sequence[Any], share: float, seed: int) -> tuple[list[int], list[int]]:
        import random

        order = list(range(len(values)))
        random.Random(seed).shuffle(order)
        held = max(1, round(len(order) * share)) if len(order) > 1 else 0
        return sorted(order[held:]), sorted(order[:held])

    def balance_note(self, counts: dict[str, int]) -> str | None:
        return None

    def counts(self, values: Sequence[Any], space: TargetSpace) -> dict[str, int]:
        return {}

    def unseen(self, values: Sequence[Any], space: TargetSpace) -> list[str]:
        return []

    # --- model --------------------------------------------------------------------------------
    def head(self, space: TargetSpace) -> dict[str, Any]:
        return {}

    def encode(self, values: Sequence[Any], space: TargetSpace) -> list[Any]:
        return [None] * len(values)  # the collator draws the targets (the hidden tokens)

    def build_model(self, name: str, space: TargetSpace) -> Any:
        from bertstudio.models import load_masked_lm

        return load_masked_lm(name)

    def collator(self, tokenizer, pad_to: int, config, epoch_of=None) -> Any:
        from bertstudio.training.masked_batches import MaskingCollator

        return MaskingCollator(tokenizer, pad_to=pad_to, probability=config.mlm_probability,
                               whole_words=config.whole_word_masking, seed=config.seed,
                               epoch_of=epoch_of or (lambda: 0))

    def loss(self, logits: "torch.Tensor", targets: "torch.Tensor", space: TargetSpace) -> "torch.Tensor":
        """Cross-entropy of each hidden token (`logits` [n, vocab] for the n hidden tokens)."""
        import torch.nn.functional as F

        return F.cross_entropy(logits.float(), targets, reduction="none")

    def train_loss(self, model, inputs: dict, targets: "torch.Tensor", space: TargetSpace) -> "torch.Tensor":
        """The mean loss over the batch's hidden tokens (every token counts the same, as in BERT)."""
        logits, gold, _ = _hidden_token_logits(model, inputs, targets)
        return self.loss(logits, gold, space).mean()

    def eval_outputs(self, model, inputs: dict, targets: "torch.Tensor",
                     space: TargetSpace) -> tuple["torch.Tensor", ...]:
        """Per row: the summed loss of its hidden tokens, how many were hidden, how many guessed
        right. Summed per row on the device: gathering the vocabulary-wide logits of every
        token would move gigabytes."""
        import torch

        logits, gold, rows = _hidden_token_logits(model, inputs, targets)
        losses = self.loss(logits, gold, space)
        count = targets.shape[0]
        loss_sum = torch.zeros(count, device=losses.device).index_add_(0, rows, losses)
        hidden = torch.zeros(count, device=losses.device).index_add_(0, rows, torch.ones_like(losses))
        right = (logits.argmax(-1) == gold).float()
        correct = torch.zeros(count, device=losses.device).index_add_(0, rows, right)
        return loss_sum, hidden, correct

    # --- evaluation ---------------------------------------------------------------------------
    def evaluate(self, loss_sum: "np.ndarray", hidden: "np.ndarray", correct: "np.ndarray",
                 space: TargetSpace) -> EvalResult:
        total = float(hidden.sum())
        loss = float(loss_sum.sum()) / total if total else float("nan")
        metrics = {"loss": loss, "perplexity": math.exp(min(loss, 50.0)) if total else float("nan"),
                   "accuracy": float(correct.sum()) / total if total else 0.0, "masked_tokens": int(total)}
        row_loss = [float(s / h) if h else None for s, h in zip(loss_sum, hidden)]
        return EvalResult(metrics=metrics, predicted=[int(c) for c in correct], confidence=row_loss,
                          gold=[int(h) for h in hidden])

    def finalize(self, model: Any, space: TargetSpace, result: EvalResult | None) -> None:
        model.config.bertstudio_task = self.name

    def learned_nothing(self, result: EvalResult, space: TargetSpace) -> str | None:
        return None  # a masked-LM has no majority class to fall back on; its loss tells

    # --- prediction: this model guesses words, it does not classify ------------------------------
    def predictions(self, logits: "np.ndarray", model_config: Any) -> list[Prediction]:
        raise StudioError(NOT_A_CLASSIFIER)

    def output_columns(self, model_config: Any) -> list[str]:
        raise StudioError(NOT_A_CLASSIFIER)

    def output_cells(self, prediction: Prediction, model_config: Any) -> list[str]:
        raise StudioError(NOT_A_CLASSIFIER)

    def validation_rows(self, result: EvalResult, space: TargetSpace) -> tuple[list[str], list[list[str]]]:
        rows = [[str(hidden), str(right), "" if loss is None else f"{loss:.4f}"]
                for right, loss, hidden in zip(result.predicted, result.confidence, result.gold)]
        return ["hidden_tokens", "guessed_right", "loss"], rows

    def card_intro(self, space: TargetSpace, pairs: bool) -> str:
        return ("It was adapted to the texts of its training file by continued masked-language-model "
                "pretraining; it predicts no labels yet: fine-tune it on a labelled file.")

    def card_section(self, metrics: dict[str, Any], space: TargetSpace) -> list[str]:
        if not metrics:
            return ["No evaluation was completed."]
        lines = ["Measured on held-out texts, with the same tokens hidden at every evaluation.", "",
                 "| metric | value |", "|---|---:|"]
        for key, words in (("loss", "loss on hidden tokens"), ("perplexity", "perplexity"),
                           ("accuracy", "hidden tokens guessed right"), ("masked_tokens", "hidden tokens")):
            if metrics.get(key) is not None:
                lines.append(f"| {words} | {number(metrics[key])} |")
        return lines


NOT_A_CLASSIFIER = ("This model was adapted to your texts (continued pretraining) and predicts no labels; "
                    "fine-tune it first: train with it as the model, then predict with that run.")


def _hidden_token_logits(model, inputs: dict, targets: "torch.Tensor"
                         ) -> tuple["torch.Tensor", "torch.Tensor", "torch.Tensor"]:
    """(logits of the hidden tokens [n, vocab] in fp32, their original ids [n], their rows [n]).

    The word-guessing head is as large as the encoder (a 384 x 30,522 matrix per token for
    MiniLM), so it runs on the ~15 % of tokens that were hidden, not on all of them. That needs
    the encoder and head called apart, which a model wrapped for several processes (DDP) must
    not be (its gradient sync hooks its forward); such a model runs whole and is indexed after.
    """
    chosen = targets != IGNORED
    rows = chosen.nonzero()[:, 0]
    head = _head_of(model)
    if head is None:
        logits = model(**inputs).logits[chosen]
    else:
        hidden = model.base_model(**inputs, return_dict=True).last_hidden_state
        logits = head(hidden[chosen])
    return logits.float(), targets[chosen], rows


def _head_of(model):
    """The masked-LM head module of an unwrapped BERT-style (`cls`) or RoBERTa-style (`lm_head`)
    model; None when the model is wrapped (DDP) or of another layout."""
    for attribute in ("cls", "lm_head"):
        head = getattr(model, attribute, None)
        if head is not None and hasattr(model, "base_model") and model.base_model is not model:
            return head
    return None
