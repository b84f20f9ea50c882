"""The last encoder layer computed for the first token only, where the head reads nothing else.

A sequence classifier of the BERT family (BERT, RoBERTa, ELECTRA, DistilBERT and their kin) reads
its last layer's output at one position, the first ([CLS] / <s>): the pooler or the classification
head takes `hidden[:, 0]`. The last layer's attention needs every position (its first row attends to
all of them), but after it, the output projection, the feed-forward block, both layer norms and
their dropouts work row by row, and every row but the first is thrown away. Here they get the
first row only. The loss, the logits and every gradient are those of the full computation (the
rows dropped never reached the loss); only the dropout masks drawn for those rows are not drawn.
On MiniLM (6 layers) that is about an eighth of a training step's matrix products.

`first_token_only(model)` swaps the last layer's forward for one that does this when the model is
a head known to read the first token and its last layer has a known layout; otherwise it changes
nothing and yields False. Everything is put back on exit: the module, its parameters and its saved
weights are untouched, and `last_hidden_state` is then a single row, which nothing in training reads.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch
from torch import nn

# Heads that read the first position of the last hidden state, and nothing else of it.
FIRST_TOKEN_HEADS = frozenset({
    "BertForSequenceClassification", "RobertaForSequenceClassification", "XLMRobertaForSequenceClassification",
    "CamembertForSequenceClassification", "ElectraForSequenceClassification", "DistilBertForSequenceClassification",
})


# Keyword arguments of a padding-free batch (rows packed into one sequence): its first token is only
# the first row's, so such a batch gets the whole layer.
PACKED_BATCH_KEYS = ("cu_seq_lens_q", "cu_seq_lens_k")


def _bert_style_forward(layer: nn.Module):
    """BertLayer and its copies: self-attention, its output block, then intermediate and output."""
    def forward(hidden_states: torch.Tensor, attention_mask: torch.Tensor | None = None, *args, **kwargs):
        if any(key in kwargs for key in PACKED_BATCH_KEYS):
            return type(layer).forward(layer, hidden_states, attention_mask, *args, **kwargs)
        kwargs.pop("encoder_attention_mask", None)
        kwargs.pop("cache", None)
        attended, _ = layer.attention.self(hidden_states, attention_mask=attention_mask, **kwargs)
        first = layer.attention.output(attended[:, :1], hidden_states[:, :1])
        return layer.output(layer.intermediate(first), first)

    return forward


def _distilbert_forward(layer: nn.Module):
    """DistilBERT's TransformerBlock: attention (with its output projection), norm, FFN, norm."""
    def forward(hidden_states: torch.Tensor, attention_mask: torch.Tensor | None = None, **kwargs):
        if any(key in kwargs for key in PACKED_BATCH_KEYS):
            return type(layer).forward(layer, hidden_states, attention_mask, **kwargs)
        attended, _ = layer.attention(hidden_states, attention_mask=attention_mask, **kwargs)
        first = layer.sa_layer_norm(attended[:, :1] + hidden_states[:, :1])
        return layer.output_layer_norm(layer.ffn(first) + first)

    return forward


def _last_layer_forward(model: nn.Module):
    """(the last layer, its first-row forward), or (None, None) where this does not apply."""
    if type(model).__name__ not in FIRST_TOKEN_HEADS:
        return None, None
    base = model.base_model
    layers = getattr(getattr(base, "encoder", None), "layer", None)
    if layers is not None:
        last = layers[-1]
        plain = (all(hasattr(last, name) for name in ("attention", "intermediate", "output"))
                 and hasattr(last.attention, "self") and hasattr(last.attention, "output")
                 and not getattr(last, "is_decoder", True) and not getattr(last, "add_cross_attention", False)
                 and not getattr(last, "chunk_size_feed_forward", 0))
        return (last, _bert_style_forward(last)) if plain else (None, None)
    layers = getattr(getattr(base, "transformer", None), "layer", None)
    if layers is not None:
        last = layers[-1]
        plain = (all(hasattr(last, name) for name in ("attention", "sa_layer_norm", "ffn", "output_layer_norm"))
                 and not getattr(last.ffn, "chunk_size_feed_forward", 0))
        return (last, _distilbert_forward(last)) if plain else (None, None)
    return None, None


@contextlib.contextmanager
def first_token_only(model: nn.Module) -> Iterator[bool]:
    """Compute `model`'s last layer for the first token only while inside; yields whether it applies."""
    layer, forward = _last_layer_forward(model)
    if layer is None:
        yield False
        return
    # An instance attribute shadows the class's forward for this layer only (hooks still run).
    layer.forward = forward
    try:
        yield True
    finally:
        layer.__dict__.pop("forward", None)
