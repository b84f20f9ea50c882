"""The masking preview's engine: a text masked as training masks it, a headless model told apart,
the guesses read from the head at each [MASK], the loaded model kept per folder version."""

import time

import pytest
import torch
from masked_lm_support import save_tiny_masked_lm
from transformers import AutoTokenizer

from bertstudio.text import fill_mask
from bertstudio.text.masking import MASK, mask_row, word_ids_of

TEXT = "The delivery was unbelievably quick, but the croissants arrived squashed and the film was dull."


@pytest.fixture(scope="module")
def favourite_model(tmp_path_factory):
    """A masked-LM whose every guess is 'film' first (the head's bias says so)."""
    return save_tiny_masked_lm(tmp_path_factory.mktemp("mlm-film"), favourite="film")


@pytest.fixture(scope="module")
def tokenizer(favourite_model):
    return AutoTokenizer.from_pretrained(favourite_model)


def test_the_preview_masks_a_text_exactly_as_training_masks_its_encoded_row(tokenizer):
    from bertstudio.text.tokenization import encode_examples

    preview = fill_mask.mask_text(tokenizer, TEXT, probability=0.3, whole_words=False, seed=5, max_length=12,
                                  truncation="start")
    ids = encode_examples(tokenizer, [TEXT], None, max_length=12, truncation="start")["input_ids"][0]
    special = [token in set(tokenizer.all_special_ids) for token in ids]
    expected = mask_row(ids, special, None, probability=0.3, mask_id=tokenizer.mask_token_id,
                        vocab_size=len(tokenizer), generator=torch.Generator().manual_seed(5))
    assert preview.row.original == ids and len(ids) == 12  # cut to the max length, as training cuts it
    assert (preview.row.masked, preview.row.labels) == expected
    assert preview.shown == tokenizer.convert_ids_to_tokens(preview.row.masked)


def test_whole_word_masking_in_the_preview_hides_every_piece_of_a_word(tokenizer):
    for seed in range(20):
        preview = fill_mask.mask_text(tokenizer, TEXT, probability=0.3, whole_words=True, seed=seed)
        assert preview.word_ids == word_ids_of(preview.tokens, preview.special)
        chosen_words = {word for word, fate in zip(preview.word_ids, preview.row.fates) if fate is not None}
        for word, fate in zip(preview.word_ids, preview.row.fates):
            if word in chosen_words:
                assert fate is not None


def test_a_checkpoint_saved_without_its_head_is_told_apart_from_one_with_it(tiny_model_dir, favourite_model):
    bare = fill_mask.load_masked_lm(str(tiny_model_dir))
    headed = fill_mask.load_masked_lm(str(favourite_model))
    assert not bare.has_head and any(key.startswith("cls.predictions") for key in bare.missing)
    assert headed.has_head and headed.missing == ()
    assert not headed.model.training


def test_the_bundled_model_has_no_word_guessing_head():
    assert not fill_mask.load_masked_lm("bundled").has_head


def test_each_mask_gets_the_heads_top_guesses_with_probabilities(favourite_model, tokenizer):
    mlm = fill_mask.load_masked_lm(str(favourite_model))
    preview = fill_mask.mask_text(tokenizer, TEXT, probability=0.5, whole_words=False, seed=1)
    guesses = fill_mask.top_guesses(mlm, tokenizer, preview)
    masks = [i for i, fate in enumerate(preview.row.fates) if fate == MASK]
    assert masks and [found.position for found in guesses] == masks
    for found in guesses:
        assert found.answer == preview.tokens[found.position]
        assert len(found.guesses) == fill_mask.TOP_K and found.guesses[0].token == "film"
        assert found.guesses[0].probability > 0.99
        probabilities = [guess.probability for guess in found.guesses]
        assert probabilities == sorted(probabilities, reverse=True) and sum(probabilities) <= 1.0 + 1e-6
        assert found.rank == (1 if found.answer == "film" else None)


def test_a_row_with_no_mask_drawn_asks_for_no_guesses(favourite_model, tokenizer):
    mlm = fill_mask.load_masked_lm(str(favourite_model))
    seed = next(s for s in range(200) if fill_mask.mask_text(tokenizer, "film", probability=0.5, whole_words=False,
                                                             seed=s).row.fates[1] != MASK)
    preview = fill_mask.mask_text(tokenizer, "film", probability=0.5, whole_words=False, seed=seed)
    assert fill_mask.top_guesses(mlm, tokenizer, preview) == []


def test_the_model_is_loaded_once_per_folder_and_anew_once_the_folder_is_rewritten(tmp_path):
    folder = save_tiny_masked_lm(tmp_path / "run" / "model")
    first = fill_mask.load_masked_lm(str(folder))
    assert fill_mask.load_masked_lm(str(folder)) is first
    time.sleep(0.01)  # a distinct change time on coarse clocks
    save_tiny_masked_lm(folder, favourite="film")
    again = fill_mask.load_masked_lm(str(folder))
    assert again is not first and again.has_head


def test_a_missing_model_is_a_plain_sentence(tmp_path):
    from bertstudio.errors import StudioError

    with pytest.raises(StudioError, match="There is no folder"):
        fill_mask.load_masked_lm(str(tmp_path / "nowhere" / "model"))
