"""Best-model tracking and early stopping, judged on validation metrics and restored from a checkpoint."""

import torch

from bertstudio.runs.checkpoint_state import LoopState
from bertstudio.training.best import BestModel
from bertstudio.training.evaluation import EvalResult


def _result(**metrics) -> EvalResult:
    return EvalResult(metrics=metrics, predicted=[0], confidence=[0.9], gold=[0])


def test_a_higher_f1_is_an_improvement_and_a_lower_one_counts_towards_patience():
    best = BestModel("macro_f1", keep=False, patience=2)
    assert best.observe(_result(macro_f1=0.5), step=10)
    assert not best.observe(_result(macro_f1=0.4), step=20)
    assert (best.best_metric, best.best_step, best.evals_without_improvement) == (0.5, 10, 1)
    assert not best.enough
    assert not best.observe(_result(macro_f1=0.5), step=30)  # a tie is not an improvement
    assert best.enough


def test_for_the_loss_lower_is_better():
    best = BestModel("loss", keep=False, patience=0)
    best.observe(_result(loss=0.7), step=1)
    assert best.observe(_result(loss=0.3), step=2) and best.best_step == 2
    assert not best.observe(_result(loss=0.9), step=3)
    assert not best.enough  # patience 0 never stops early, however long it goes without improving


def test_kept_weights_are_a_cpu_copy_taken_at_the_best_evaluation():
    weight = torch.ones(2)
    best = BestModel("macro_f1", keep=True, patience=0)
    best.observe(_result(macro_f1=0.6), step=5, weights=lambda: {"w": weight})
    weight.add_(1.0)  # training carries on changing the live weights
    best.observe(_result(macro_f1=0.1), step=6, weights=lambda: {"w": weight})
    assert torch.equal(best.best_state["w"], torch.ones(2))
    assert best.best_eval.metrics == {"macro_f1": 0.6}


def test_without_keep_no_weights_are_copied():
    best = BestModel("macro_f1", keep=False, patience=0)
    best.observe(_result(macro_f1=0.6), step=5, weights=lambda: {"w": torch.ones(2)})
    assert best.best_state is None and best.best_eval is None


def test_a_resumed_tracker_judges_as_if_never_stopped():
    first = BestModel("macro_f1", keep=True, patience=3)
    first.observe(_result(macro_f1=0.8), step=10, weights=lambda: {"w": torch.zeros(1)})
    first.observe(_result(macro_f1=0.2), step=20)
    state = LoopState(step=20, epoch=1, batches_done_in_epoch=0, **first.loop_fields())
    resumed = BestModel("macro_f1", keep=True, patience=3, state=state, weights=first.best_state)
    assert (resumed.best_metric, resumed.best_step, resumed.evals_without_improvement) == (0.8, 10, 1)
    assert resumed.best_eval == first.best_eval
    assert not resumed.observe(_result(macro_f1=0.7), step=30)
    assert not resumed.observe(_result(macro_f1=0.7), step=40)
    assert resumed.enough
