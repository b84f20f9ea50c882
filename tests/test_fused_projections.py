"""One product for an attention layer's Q, K and V while training (training/fused_projections.py)."""

from __future__ import annotations

import contextlib
import copy

import pytest
import torch
import torch.nn.functional as F
from transformers import BertConfig, BertForSequenceClassification

from bertstudio.training.fused_projections import fused_qkv


def _model() -> BertForSequenceClassification:
    torch.manual_seed(0)
    return BertForSequenceClassification(BertConfig(
        vocab_size=50, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0))


@pytest.mark.parametrize("autocast", [False, True])
def test_fused_gives_the_same_loss_and_gradients_as_three_products(autocast):
    plain, fused = _model(), _model()
    ids, labels = torch.randint(0, 50, (3, 9)), torch.tensor([0, 1, 1])
    losses = []
    for model, context in ((plain, None), (fused, fused_qkv)):
        with (context(model) if context else contextlib.nullcontext()) as layers, \
                torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            if context:
                assert layers == 2
            loss = model(input_ids=ids, labels=labels).loss
        loss.backward()
        losses.append(loss.detach())
    torch.testing.assert_close(losses[0], losses[1])
    for a, b in zip(plain.parameters(), fused.parameters()):
        torch.testing.assert_close(a.grad, b.grad, atol=1e-5 if not autocast else 2e-3, rtol=1e-3)


def test_everything_is_put_back_and_nothing_saved_changes():
    model = _model()
    keys = list(model.state_dict())
    with fused_qkv(model):
        query = model.bert.encoder.layer[0].attention.self.query
        assert "forward" in query.__dict__
    assert "forward" not in query.__dict__
    assert list(model.state_dict()) == keys


def test_a_projection_called_with_another_input_computes_its_own_product():
    model = _model()
    attention = model.bert.encoder.layer[0].attention.self
    x, other = torch.randn(2, 5, 32), torch.randn(2, 5, 32)
    with fused_qkv(copy.deepcopy(model)), fused_qkv(model):
        q = attention.query(x)
        k = attention.key(other)  # not the input query saw: no shared product
        v = attention.value(x)
    torch.testing.assert_close(q, F.linear(x, attention.query.weight, attention.query.bias))
    torch.testing.assert_close(k, F.linear(other, attention.key.weight, attention.key.bias))
    torch.testing.assert_close(v, F.linear(x, attention.value.weight, attention.value.bias))
