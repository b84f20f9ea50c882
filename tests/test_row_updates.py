"""Word embeddings updated in the rows a batch uses (training/row_updates.py): lazy AdamW beside
torch's fused AdamW, clipping inside the step, and where the engine turns it on."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from bertstudio.config import TrainConfig
from bertstudio.training.row_updates import (RowSparseAdamW, rows_used_applies, rows_used_gradients,
                                             sparse_embedding)


class Tiny(nn.Module):
    """An embedding, a layer and a head: the shape of a classifier, small enough to compare by hand."""

    def __init__(self, sparse: bool) -> None:
        super().__init__()
        self.embedding = nn.Embedding(20, 4, sparse=sparse)
        self.layer = nn.Linear(4, 3)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.layer(self.embedding(ids).mean(1)).pow(2).sum()


def _pair(lr: float = 0.1, weight_decay: float = 0.01):
    torch.manual_seed(0)
    dense = Tiny(sparse=False)
    lazy = Tiny(sparse=True)
    lazy.load_state_dict(dense.state_dict())
    kwargs = dict(lr=lr, weight_decay=weight_decay, fused=True)
    return dense, torch.optim.AdamW(dense.parameters(), **kwargs), lazy, RowSparseAdamW(lazy.parameters(), **kwargs)


def test_rows_a_batch_used_move_exactly_as_dense_adamw_and_the_others_stay_put():
    dense, dense_opt, lazy, lazy_opt = _pair()
    ids = torch.tensor([[1, 2, 2, 5]])  # row 2 twice: its two gradients must be summed
    for model in (dense, lazy):
        model(ids).backward()
    assert lazy.embedding.weight.grad.is_sparse
    before = lazy.embedding.weight.detach().clone()
    dense_opt.step()
    lazy_opt.step()
    used = torch.tensor([1, 2, 5])
    torch.testing.assert_close(lazy.embedding.weight[used], dense.embedding.weight[used])
    torch.testing.assert_close(lazy.layer.weight, dense.layer.weight)
    others = torch.tensor([i for i in range(20) if i not in (1, 2, 5)])
    assert torch.equal(lazy.embedding.weight[others], before[others])  # not even weight decay
    assert not torch.equal(dense.embedding.weight[others], before[others])  # dense AdamW decays them


def test_clipping_counts_the_sparse_gradient_and_scales_inside_the_step():
    dense, dense_opt, lazy, lazy_opt = _pair(lr=0.01)
    ids = torch.tensor([[1, 2, 3, 3]])
    for model in (dense, lazy):
        (model(ids) * 50).backward()  # far past the limit: clipping must act
    dense_norm = torch.nn.utils.clip_grad_norm_(dense.parameters(), 1.0)
    lazy_norm = lazy_opt.clip_grad_norm_(1.0)
    torch.testing.assert_close(lazy_norm, dense_norm)
    assert dense_norm > 1.0
    unclipped = lazy.layer.weight.grad.clone()
    dense_opt.step()
    lazy_opt.step()
    torch.testing.assert_close(lazy.layer.weight, dense.layer.weight)
    used = torch.tensor([1, 2, 3])
    torch.testing.assert_close(lazy.embedding.weight[used], dense.embedding.weight[used])
    # Adam's first step hardly depends on the scale, so check the second moment took the clipped
    # gradient: (1 - beta2) * g^2, with g the gradient times max_norm / norm.
    scale = 1.0 / (float(dense_norm) + 1e-6)
    torch.testing.assert_close(lazy_opt.state[lazy.layer.weight]["exp_avg_sq"],
                               0.001 * (unclipped * scale) ** 2)


def test_gradients_within_the_limit_are_left_as_they_are():
    _, _, lazy, lazy_opt = _pair()
    lazy(torch.tensor([[1, 2]])).backward()
    before = lazy.layer.weight.grad.clone()
    norm = lazy_opt.clip_grad_norm_(1e6)
    assert torch.equal(lazy.layer.weight.grad, before) and norm > 0


def test_state_dict_round_trip_carries_on_as_if_never_interrupted():
    _, _, lazy, opt = _pair()
    twin = copy.deepcopy(lazy)
    twin_opt = RowSparseAdamW(twin.parameters(), lr=0.1, weight_decay=0.01, fused=True)
    batches = [torch.tensor([[1, 2, 3]]), torch.tensor([[3, 4, 4]]), torch.tensor([[1, 9, 2]])]
    for ids in batches[:2]:
        for model, o in ((lazy, opt), (twin, twin_opt)):
            model(ids).backward()
            o.step()
            o.zero_grad(set_to_none=True)
    resumed = copy.deepcopy(twin)
    resumed_opt = RowSparseAdamW(resumed.parameters(), lr=0.1, weight_decay=0.01, fused=True)
    resumed_opt.load_state_dict(copy.deepcopy(twin_opt.state_dict()))
    for model, o in ((lazy, opt), (resumed, resumed_opt)):
        model(batches[2]).backward()
        o.step()
    for a, b in zip(lazy.parameters(), resumed.parameters()):
        torch.testing.assert_close(a, b)


def test_auto_means_the_cpu_in_one_process_and_several_processes_always_update_every_row():
    assert rows_used_applies("auto", device_type="cpu", num_processes=1)
    assert not rows_used_applies("auto", device_type="cuda", num_processes=1)
    assert rows_used_applies("rows_used", device_type="cuda", num_processes=1)
    assert not rows_used_applies("rows_used", device_type="cpu", num_processes=2)
    assert not rows_used_applies("all_rows", device_type="cpu", num_processes=1)
    with pytest.raises(Exception, match="not one of"):
        TrainConfig(embedding_updates="some").validate()


def test_a_tied_output_layer_keeps_dense_updates(tiny_model_dir):
    from transformers import BertForMaskedLM, BertForSequenceClassification

    classifier = BertForSequenceClassification.from_pretrained(tiny_model_dir, num_labels=2)
    assert sparse_embedding(classifier) is classifier.get_input_embeddings()
    masked_lm = BertForMaskedLM.from_pretrained(tiny_model_dir)  # its decoder reads every row
    assert sparse_embedding(masked_lm) is None
    embedding = classifier.get_input_embeddings()
    with rows_used_gradients(embedding):
        assert embedding.sparse
    assert not embedding.sparse


def test_the_engine_trains_either_way_to_nearly_the_same_word_table(tiny_model_dir, learnable_csv, tmp_path):
    from conftest import LEARNABLE_SETTINGS
    from safetensors.torch import load_file

    from bertstudio.training.trainer import train

    key = "bert.embeddings.word_embeddings.weight"
    before = load_file(tiny_model_dir / "model.safetensors")["embeddings.word_embeddings.weight"]
    tables = {}
    for choice in ("rows_used", "all_rows"):
        config = TrainConfig(data=str(learnable_csv), model=str(tiny_model_dir), precision="fp32",
                             output_dir=str(tmp_path / choice), embedding_updates=choice, seed=7,
                             **LEARNABLE_SETTINGS)
        result = train(config)
        assert result.status == "finished", result.message
        assert result.metrics["accuracy"] > 0.9  # it learned the task either way
        tables[choice] = load_file(f"{result.run_dir}/model/model.safetensors")[key]
    moved = (tables["all_rows"] - before).abs().sum()
    apart = (tables["rows_used"] - tables["all_rows"]).abs().sum()
    # Unread rows were brought up to date before saving: the tables differ by a small share of
    # how far training moved them (plain lazy Adam would leave most of the movement out).
    assert moved > 0 and apart < 0.1 * moved


def test_rows_read_now_and_then_follow_dense_adamw_through_a_decaying_schedule():
    """Missed steps are caught up before a row is read again and at the end, so lazy updates land
    where dense AdamW does (eps, folded in at the first missed step, is the one approximation)."""
    torch.manual_seed(0)
    dense, lazy = nn.Embedding(200, 8), nn.Embedding(200, 8, sparse=True)
    lazy.load_state_dict(dense.state_dict())
    start = dense.weight.detach().clone()
    heads = [nn.Linear(8, 1), None]
    heads[1] = copy.deepcopy(heads[0])
    dense_opt = torch.optim.AdamW([*dense.parameters(), *heads[0].parameters()], lr=1e-2, fused=True)
    lazy_opt = RowSparseAdamW([*lazy.parameters(), *heads[1].parameters()], lr=1e-2, fused=True)
    schedules = [torch.optim.lr_scheduler.LambdaLR(o, lambda s: 1 - s / 400) for o in (dense_opt, lazy_opt)]
    ids = torch.Generator().manual_seed(1)
    with lazy_opt.watching(lazy):
        for _ in range(300):
            batch = torch.randint(0, 200, (1, 6), generator=ids)
            for table, head, opt, schedule in zip((dense, lazy), heads, (dense_opt, lazy_opt), schedules):
                head(table(batch)).pow(2).sum().backward()
                opt.step()
                opt.zero_grad(set_to_none=True)
                schedule.step()
    lazy_opt.bring_rows_up_to_date()
    moved = (dense.weight - start).abs().max()
    assert (lazy.weight - dense.weight).abs().max() < 0.02 * moved
    torch.testing.assert_close(heads[1].weight, heads[0].weight)
