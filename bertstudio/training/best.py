"""Which evaluation was the best so far, the weights it had, and when early stopping says enough."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Callable, Mapping

import torch

from bertstudio.runs.checkpoint_state import LoopState
from bertstudio.tasks.metrics import is_improvement
from bertstudio.training.evaluation import EvalResult


class BestModel:
    """Tracks the validation metric the run is judged by (`metric_for_best`, validation rows
    only, never the training loss). With `keep` it also holds a CPU copy of the best weights, so
    restoring them at the end needs no disk round-trip. `patience` 0 never stops early."""

    def __init__(self, metric: str, *, keep: bool, patience: int, state: LoopState | None = None,
                 weights: dict[str, torch.Tensor] | None = None, higher_is_better: bool | None = None) -> None:
        self.metric, self.keep, self.patience = metric, keep, patience
        self.higher_is_better = higher_is_better  # the task's word on `metric`; None: by its name
        state = state or LoopState(step=0, epoch=0, batches_done_in_epoch=0)
        # Restored from the checkpoint when resuming, so a resumed run judges as one never stopped.
        self.best_metric: float | None = state.best_metric
        self.best_step: int | None = state.best_step
        self.best_eval: EvalResult | None = EvalResult(**state.best_eval) if state.best_eval else None
        self.best_state: dict[str, torch.Tensor] | None = weights
        self.evals_without_improvement: int = state.evals_without_improvement

    def observe(self, result: EvalResult, step: int,
                weights: Callable[[], Mapping[str, torch.Tensor]] | None = None) -> bool:
        """Record one evaluation; True when it beats every earlier one. `weights` gives the model's
        state dict at this evaluation; it is copied only when kept."""
        value = result.metrics[self.metric]
        if not is_improvement(self.metric, value, self.best_metric, self.higher_is_better):
            self.evals_without_improvement += 1
            return False
        self.best_metric, self.best_step, self.evals_without_improvement = value, step, 0
        if self.keep:
            if weights is not None:
                self.best_state = {k: v.detach().to("cpu", copy=True) for k, v in weights().items()}
            self.best_eval = result
        return True

    @property
    def enough(self) -> bool:
        """Early stopping: `patience` evaluations in a row without improvement."""
        return 0 < self.patience <= self.evals_without_improvement

    def loop_fields(self) -> dict[str, Any]:
        """The part of a checkpoint's LoopState this tracker owns."""
        return dict(best_metric=self.best_metric, best_step=self.best_step,
                    evals_without_improvement=self.evals_without_improvement,
                    best_eval=asdict(self.best_eval) if self.best_eval else None)
