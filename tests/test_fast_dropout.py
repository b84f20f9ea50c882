"""The CPU dropout: same distribution and scaling as nn.Dropout, reproducible, swapped out cleanly."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from bertstudio.training.fast_dropout import ATTENTION_NAME, FastDropout, drop, fast_dropout


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_keeps_one_minus_p_of_the_elements_and_scales_them(p):
    torch.manual_seed(0)
    x = torch.ones(400_000)
    out = drop(x, p)
    kept = out != 0
    assert kept.float().mean().item() == pytest.approx(1 - p, abs=0.005)
    assert torch.allclose(out[kept], torch.full_like(out[kept], 1 / (1 - p)))
    assert out.mean().item() == pytest.approx(1.0, abs=0.02)  # the expectation is unchanged


def test_odd_shapes_and_low_precision_keep_their_shape_and_dtype():
    for shape, dtype in (((3, 5, 7), torch.float32), ((1,), torch.float32), ((2, 3), torch.bfloat16)):
        x = torch.randn(shape, dtype=dtype)
        out = drop(x, 0.1)
        assert out.shape == x.shape and out.dtype == dtype


def test_the_edges_p_zero_and_p_one():
    x = torch.randn(10)
    assert drop(x, 0.0) is x
    assert torch.equal(drop(x, 1.0), torch.zeros(10))


def test_masks_follow_the_torch_seed_and_differ_between_calls():
    torch.manual_seed(7)
    a, b = drop(torch.ones(1000), 0.5), drop(torch.ones(1000), 0.5)
    torch.manual_seed(7)
    assert torch.equal(a, drop(torch.ones(1000), 0.5))
    assert not torch.equal(a, b)


def test_gradient_flows_through_kept_elements_only_with_the_same_scale():
    torch.manual_seed(1)
    x = torch.ones(1000, requires_grad=True)
    out = drop(x, 0.3)
    out.sum().backward()
    assert torch.equal(x.grad, (out != 0).float() / 0.7)


def test_the_module_is_identity_in_eval_mode():
    module = FastDropout(0.5).eval()
    x = torch.randn(100)
    assert module(x) is x and "p=0.5" in repr(module)


def _model(tiny_model_dir):
    from transformers import AutoModelForSequenceClassification

    return AutoModelForSequenceClassification.from_pretrained(tiny_model_dir, num_labels=2)


def _inputs():
    ids = torch.randint(5, 90, (4, 9), generator=torch.Generator().manual_seed(3))  # leaves the global RNG be
    mask = torch.ones_like(ids)
    mask[0, 6:] = 0  # a padded row: the attention mask must still hold
    return {"input_ids": ids, "attention_mask": mask, "labels": torch.tensor([0, 1, 1, 0])}


def test_evaluation_logits_are_unchanged_and_everything_is_put_back(tiny_model_dir, tmp_path):
    model = _model(tiny_model_dir).eval()
    before = model(**_inputs()).logits
    dropouts = sum(type(m) is nn.Dropout for m in model.modules())
    with fast_dropout(model):
        assert model.config._attn_implementation == ATTENTION_NAME
        assert sum(type(m) is FastDropout for m in model.modules()) == dropouts > 0
        assert torch.allclose(model(**_inputs()).logits, before, atol=1e-5)
        model.save_pretrained(tmp_path)  # saving mid-run writes an ordinary model
    assert "_attn_implementation" not in json.loads((tmp_path / "config.json").read_text())
    assert model.config._attn_implementation == "sdpa"
    assert sum(type(m) is nn.Dropout for m in model.modules()) == dropouts
    assert not any(type(m) is FastDropout for m in model.modules())


def test_training_with_it_is_reproducible_and_a_padded_row_ignores_its_padding(tiny_model_dir):
    model = _model(tiny_model_dir).train()
    with fast_dropout(model):
        torch.manual_seed(11)
        first = model(**_inputs()).loss
        first.backward()
        torch.manual_seed(11)
        assert model(**_inputs()).loss.item() == first.item()
        # Dropout on: two draws differ, so the attention really drops weights.
        assert model(**_inputs()).loss.item() != first.item()
        model.eval()
        padded = _inputs()
        trimmed = {"input_ids": padded["input_ids"][:1, :6], "attention_mask": padded["attention_mask"][:1, :6]}
        assert torch.allclose(model(**padded).logits[:1], model(**trimmed).logits, atol=1e-5)


def test_everything_is_put_back_after_an_error(tiny_model_dir):
    model = _model(tiny_model_dir)
    with pytest.raises(RuntimeError), fast_dropout(model):
        raise RuntimeError("boom")
    assert model.config._attn_implementation == "sdpa"
    assert not any(type(m) is FastDropout for m in model.modules())
