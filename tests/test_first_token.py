"""The last layer computed for the first token only gives the full computation's logits, loss and
gradients for every classifier family it knows, and changes nothing where it does not apply."""

from __future__ import annotations

import pytest
import torch
import transformers as tf

from bertstudio.training.fast_dropout import fast_dropout
from bertstudio.training.first_token import first_token_only
from bertstudio.training.fused_projections import fused_qkv

SMALL = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64, vocab_size=100,
             hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)


def _classifier(family: str, num_labels: int = 3, problem_type: str | None = None):
    torch.manual_seed(0)
    head = dict(num_labels=num_labels, problem_type=problem_type)
    if family == "bert":
        return tf.BertForSequenceClassification(tf.BertConfig(**SMALL, **head))
    if family == "roberta":
        return tf.RobertaForSequenceClassification(tf.RobertaConfig(**SMALL, pad_token_id=1, **head))
    if family == "electra":
        return tf.ElectraForSequenceClassification(tf.ElectraConfig(**SMALL, embedding_size=32, **head))
    return tf.DistilBertForSequenceClassification(tf.DistilBertConfig(
        dim=32, n_layers=2, n_heads=4, hidden_dim=64, vocab_size=100, dropout=0.0, attention_dropout=0.0,
        seq_classif_dropout=0.0, **head))


def _batch(labels: torch.Tensor) -> dict:
    torch.manual_seed(1)
    ids = torch.randint(5, 100, (4, 9))
    mask = torch.ones_like(ids)
    mask[1, 5:] = 0  # padded rows: the first row still attends to the real keys only
    mask[3, 2:] = 0
    return dict(input_ids=ids, attention_mask=mask, labels=labels)


def _loss_and_gradients(model, batch) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    model.zero_grad()
    out = model(**batch)
    out.loss.backward()
    return out.logits.detach(), out.loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters()
                                                     if p.grad is not None}


@pytest.mark.parametrize("family", ["bert", "roberta", "electra", "distilbert"])
@pytest.mark.parametrize("task", ["single_label", "multi_label", "regression"])
def test_first_token_training_equals_the_full_computation(family, task):
    labels = {"single_label": torch.tensor([0, 1, 2, 1]),
              "multi_label": torch.tensor([[1, 0, 1], [0, 0, 1], [1, 1, 0], [0, 1, 0]], dtype=torch.float),
              "regression": torch.tensor([[0.5], [1.5], [-1.0], [2.0]])}[task]
    problem = {"single_label": "single_label_classification", "multi_label": "multi_label_classification",
               "regression": "regression"}[task]
    model = _classifier(family, num_labels=labels.shape[-1] if labels.dim() == 2 else 3, problem_type=problem)
    model.train()
    batch = _batch(labels)
    logits, loss, grads = _loss_and_gradients(model, batch)
    # With the CPU training swaps too, as the trainer enters them.
    with first_token_only(model) as applied, fast_dropout(model), fused_qkv(model):
        fast_logits, fast_loss, fast_grads = _loss_and_gradients(model, batch)
    assert applied
    torch.testing.assert_close(fast_logits, logits, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(fast_loss, loss, rtol=1e-5, atol=1e-6)
    assert fast_grads.keys() == grads.keys()  # every weight still learns, the last layer's included
    for name, grad in grads.items():
        torch.testing.assert_close(fast_grads[name], grad, rtol=1e-4, atol=1e-6, msg=name)


def test_evaluation_logits_are_unchanged_and_the_layer_is_put_back():
    model = _classifier("bert").eval()
    batch = _batch(torch.tensor([0, 1, 2, 1]))
    last = model.bert.encoder.layer[-1]
    with torch.no_grad():
        full = model(**batch).logits
        with first_token_only(model):
            assert "forward" in last.__dict__
            assert model.bert(input_ids=batch["input_ids"]).last_hidden_state.shape[1] == 1
            fast = model(**batch).logits
    torch.testing.assert_close(fast, full)
    assert "forward" not in last.__dict__
    with torch.no_grad():
        assert model.bert(input_ids=batch["input_ids"]).last_hidden_state.shape[1] == 9


def test_a_head_that_reads_every_token_is_left_as_it_is():
    torch.manual_seed(0)
    masked_lm = tf.BertForMaskedLM(tf.BertConfig(**SMALL))
    tokens = tf.BertForTokenClassification(tf.BertConfig(**SMALL, num_labels=2))
    for model in (masked_lm, tokens):
        with first_token_only(model) as applied:
            assert not applied
            assert not any("forward" in module.__dict__ for module in model.modules())


def test_a_decoder_layout_is_left_as_it_is():
    torch.manual_seed(0)
    model = tf.BertForSequenceClassification(tf.BertConfig(**SMALL, is_decoder=True))
    with first_token_only(model) as applied:
        assert not applied


def test_a_padding_free_batch_gets_the_whole_last_layer():
    """Rows packed into one sequence (flash attention's varlen keywords): the first token is only the
    first row's, so the layer runs as it always does."""
    model = _classifier("bert").eval()
    last = model.bert.encoder.layer[-1]
    hidden = torch.randn(1, 7, 32)
    with torch.no_grad():
        full = type(last).forward(last, hidden)
        with first_token_only(model):
            packed = last(hidden, None, cu_seq_lens_q=torch.tensor([0, 3, 7]))
    assert packed.shape == full.shape == (1, 7, 32)
