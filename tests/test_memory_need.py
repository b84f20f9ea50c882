"""The memory a run needs before it starts: the model's shape read from its config, every part
growing with what it should, and the verdict against free memory with advice that really fits."""

import pytest

from bertstudio.config import TrainConfig
from bertstudio.memory_need import (DOES_NOT_FIT, FITS, TIGHT, activation_bytes_per_token, estimate_need, judge,
                                    model_shape, shape_from_config)
from bertstudio.memory_need import KNOWN_SHAPES

GIB = 1024 ** 3


def test_the_bundled_model_and_a_folder_are_read_from_their_config(tiny_model_dir):
    tiny = model_shape(str(tiny_model_dir))
    assert (tiny.hidden, tiny.layers, tiny.heads, tiny.intermediate) == (64, 2, 4, 128) and not tiny.assumed
    assert not model_shape("bundled").assumed


def test_a_curated_hub_model_not_on_this_machine_has_its_published_shape():
    shape = model_shape("bert-base-uncased")
    assert not shape.assumed and 109_000_000 < shape.parameters < 111_000_000  # BERT-base: 110 M
    assert model_shape("someone/unknown-model").assumed


def test_distilbert_keys_are_understood():
    shape = shape_from_config(KNOWN_SHAPES["distilbert-base-uncased"])
    assert (shape.hidden, shape.layers, shape.heads) == (768, 6, 12)


def test_korthikantis_count_per_token_with_16_bit_activations():
    shape = model_shape("bert-base-uncased")
    h, a, s = 768, 12, 128
    kept = activation_bytes_per_token(shape, s, sixteen=True, scores_kept=True)
    fused = activation_bytes_per_token(shape, s, sixteen=True, scores_kept=False)
    embeddings = 9 * h
    assert fused == 12 * 34 * h + embeddings  # 34·h per layer and token in 16 bits with ffn = 4·h
    assert kept - fused == 12 * 5 * a * s  # plus 5·a·s where attention keeps its scores


def test_the_need_grows_with_batch_and_length_and_16_bits_halve_the_activations():
    shape = model_shape("bert-base-uncased")
    base = TrainConfig(model="bert-base-uncased", batch_size=16, max_length=128)
    need = estimate_need(base, shape, gpu=True)
    assert estimate_need(base.replace(batch_size=32), shape, gpu=True).activations == 2 * need.activations
    assert estimate_need(base.replace(max_length=256), shape, gpu=True).activations > 2 * need.activations * 0.99
    fp32 = estimate_need(base.replace(precision="fp32"), shape, gpu=True)
    assert fp32.activations > 1.8 * need.activations and fp32.weights < need.weights  # no 16-bit weight copies
    # AdamW's two moments and the gradients: fixed by the parameters, whatever the batch.
    assert need.optimizer == 8 * shape.parameters and need.gradients == 4 * shape.parameters
    assert estimate_need(base, shape, gpu=True, gpus=4).gradients == 8 * shape.parameters  # DDP's buckets
    assert estimate_need(base.replace(gradient_accumulation_steps=4), shape, gpu=True).total == need.total


def test_adapting_the_model_first_adds_the_word_guessing_heads_logits():
    shape = model_shape("bert-base-uncased")
    plain = TrainConfig(model="bert-base-uncased")
    assert estimate_need(plain.replace(adapt_epochs=1), shape, gpu=True).activations > \
        estimate_need(plain, shape, gpu=True).activations


def test_bert_base_at_32_by_512_is_a_many_gigabyte_run():
    # Published figures put BERT-base fine-tuning at 32 × 512 in mixed precision at roughly 8–14 GB
    # of GPU memory with fused attention; the estimate must land in that range, not at 1 or 100.
    shape = model_shape("bert-base-uncased")
    need = estimate_need(TrainConfig(model="bert-base-uncased", batch_size=32, max_length=512), shape, gpu=True)
    assert 6 * GIB < need.total < 16 * GIB


def test_the_verdict_against_free_memory():
    shape = model_shape("bert-base-uncased")
    config = TrainConfig(model="bert-base-uncased", batch_size=32, max_length=256)
    need = estimate_need(config, shape, gpu=True)
    assert judge(config, shape, 10 * need.total, gpu=True)[1].word == FITS
    assert judge(config, shape, int(need.total / 0.95), gpu=True)[1].word == TIGHT
    assert judge(config, shape, need.total // 2, gpu=True)[1].word == DOES_NOT_FIT
    # Two CPU processes each hold a copy of everything.
    assert judge(config, shape, int(1.5 * need.total), gpu=False, processes=2)[1].word == DOES_NOT_FIT


@pytest.mark.parametrize("batch", [64, 48, 30])
def test_the_advice_names_a_batch_that_fits_and_keeps_the_effective_batch(batch):
    shape = model_shape("bert-base-uncased")
    config = TrainConfig(model="bert-base-uncased", batch_size=batch, max_length=512)
    free = int(estimate_need(config.replace(batch_size=batch // 3), shape, gpu=True).total / 0.85) + 1
    need, verdict = judge(config, shape, free, gpu=True)
    assert verdict.word == DOES_NOT_FIT
    words = verdict.advice.split()
    smaller = int(words[words.index("to") + 1])
    steps = int(words[words.index("accumulation") + 1])
    assert smaller * steps >= batch and smaller <= batch // 3 + 1
    assert judge(config.replace(batch_size=smaller, gradient_accumulation_steps=steps), shape, free,
                 gpu=True)[1].word == FITS
    if batch % steps == 0:
        assert smaller * steps == batch


def test_a_model_too_large_for_any_batch_says_so():
    shape = model_shape("bert-base-uncased")
    config = TrainConfig(model="bert-base-uncased", batch_size=8, max_length=128)
    _, verdict = judge(config, shape, 200 * 1024 ** 2, gpu=True)
    assert "smaller model" in verdict.advice
