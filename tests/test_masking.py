"""BERT's masking of a row: the chosen share, the 80/10/10 split, specials, whole words, determinism.

The statistical claims are checked over thousands of rows with fixed seeds, so they cannot flake;
the tolerances are several standard errors wide yet far narrower than any real mistake (masking
twice the share, or swapping the 80 and the 10) would need.
"""

import pytest
import torch

from bertstudio.text.masking import IGNORED, KEPT, MASK, RANDOM, MaskedRow, mask_row, word_ids_of

MASK_ID, CLS, SEP, VOCAB = 4, 2, 3, 30_000
SPECIALS = (0, 1, CLS, SEP, MASK_ID)


def make_row(length: int, offset: int = 0) -> tuple[list[int], list[bool]]:
    """[CLS] + `length` ordinary ids + [SEP]."""
    ids = [CLS] + [100 + (offset + i) % 20_000 for i in range(length)] + [SEP]
    return ids, [True] + [False] * length + [True]


def masked_rows(count: int, length: int, probability: float, seed: int = 0, words: bool = False):
    generator = torch.Generator().manual_seed(seed)
    for r in range(count):
        ids, special = make_row(length, offset=r * length)
        word_ids = ([-1] + [i // 3 for i in range(length)] + [-1]) if words else None
        masked, labels = mask_row(ids, special, word_ids, probability=probability, mask_id=MASK_ID,
                                  vocab_size=VOCAB, generator=generator, avoid_ids=SPECIALS)
        yield ids, special, word_ids, masked, labels


def test_the_chosen_share_is_the_probability_over_many_rows():
    chosen = tokens = 0
    for ids, special, _, _, labels in masked_rows(2000, 30, 0.15):
        chosen += sum(label != IGNORED for label in labels)
        tokens += sum(not s for s in special)
    assert abs(chosen / tokens - 0.15) < 0.005  # 60,000 tokens; a standard error of about 0.0015


def test_short_rows_are_not_pushed_past_the_share_by_rounding():
    # 5 tokens at 50 %: 2.5 tokens, so 2 or 3 in equal measure, not always 3.
    counts = [sum(label != IGNORED for label in labels) for *_, labels in masked_rows(2000, 5, 0.5)]
    assert set(counts) == {2, 3} and abs(sum(counts) / len(counts) - 2.5) < 0.05


def test_of_the_chosen_80_percent_become_mask_10_random_and_10_stay():
    fates = {MASK: 0, RANDOM: 0, KEPT: 0}
    for ids, _, _, masked, labels in masked_rows(2000, 30, 0.15):
        for fate in MaskedRow.of(ids, masked, labels, MASK_ID).fates:
            if fate is not None:
                fates[fate] += 1
    total = sum(fates.values())  # about 9,000 chosen tokens
    assert abs(fates[MASK] / total - 0.8) < 0.02
    assert abs(fates[RANDOM] / total - 0.1) < 0.015 and abs(fates[KEPT] / total - 0.1) < 0.015


def test_labels_hold_the_original_exactly_at_the_chosen_positions_and_nothing_else_changes():
    for ids, special, _, masked, labels in masked_rows(300, 20, 0.3):
        for i, (before, after, label) in enumerate(zip(ids, masked, labels)):
            if label == IGNORED:
                assert after == before
            else:
                assert label == before and not special[i]


def test_special_tokens_are_never_chosen_nor_drawn_as_a_random_token():
    for ids, special, _, masked, labels in masked_rows(500, 20, 0.5):
        assert labels[0] == labels[-1] == IGNORED and masked[0] == CLS and masked[-1] == SEP
        for i, (before, after) in enumerate(zip(ids, masked)):
            if after != before and after != MASK_ID:
                assert 0 <= after < VOCAB and after not in SPECIALS


def test_a_random_token_avoids_the_rows_own_specials_and_the_mask_without_a_list():
    # A vocabulary of six ids, four of them in use as specials: draws must land on 4 or 5.
    generator = torch.Generator().manual_seed(1)
    seen = set()
    for _ in range(300):
        ids, special = [0, 4, 5, 1], [True, False, False, True]
        masked, _ = mask_row(ids, special, None, probability=1.0, mask_id=2, vocab_size=6, generator=generator)
        seen.update(after for before, after in zip(ids, masked) if after not in (before, 2))
    assert seen and seen <= {3, 4, 5}


def test_whole_word_masking_never_splits_a_word_and_keeps_the_share():
    chosen = tokens = 0
    for _, special, word_ids, _, labels in masked_rows(2000, 30, 0.15, words=True):
        by_word: dict[int, set[bool]] = {}
        for word, label in zip(word_ids, labels):
            if word >= 0:
                by_word.setdefault(word, set()).add(label != IGNORED)
        assert all(len(states) == 1 for states in by_word.values())  # all pieces chosen, or none
        chosen += sum(label != IGNORED for label in labels)
        tokens += sum(not s for s in special)
    assert abs(chosen / tokens - 0.15) < 0.01


def test_a_word_longer_than_the_target_is_still_chosen_whole_when_it_is_the_only_one():
    ids, special = make_row(10)
    word_ids = [-1] + [0] * 10 + [-1]
    _, labels = mask_row(ids, special, word_ids, probability=0.15, mask_id=MASK_ID, vocab_size=VOCAB,
                         generator=torch.Generator().manual_seed(0))
    assert labels[1:-1] == ids[1:-1]


def test_the_same_seed_masks_the_same_way_and_another_seed_does_not():
    first = [row[3:] for row in masked_rows(50, 20, 0.15, seed=7)]
    again = [row[3:] for row in masked_rows(50, 20, 0.15, seed=7)]
    other = [row[3:] for row in masked_rows(50, 20, 0.15, seed=8)]
    assert first == again and first != other


@pytest.mark.parametrize("ids,special", [([CLS, SEP], [True, True]), ([CLS, 0, 0, SEP], [True] * 4), ([], [])])
def test_a_row_of_only_special_tokens_is_left_alone(ids, special):
    generator = torch.Generator().manual_seed(0)
    for words in (None, [-1] * len(ids)):
        masked, labels = mask_row(ids, special, words, probability=0.5, mask_id=MASK_ID, vocab_size=VOCAB,
                                  generator=generator)
        assert masked == ids and labels == [IGNORED] * len(ids)


def test_every_row_with_a_token_gets_at_least_one_chosen_even_at_a_tiny_share():
    for *_, labels in masked_rows(200, 3, 0.001):
        assert sum(label != IGNORED for label in labels) == 1


def test_probability_one_chooses_every_ordinary_token():
    for ids, special, _, _, labels in masked_rows(20, 12, 1.0):
        assert [label != IGNORED for label in labels] == [not s for s in special]


@pytest.mark.parametrize("probability", [0.0, -0.1, 1.5])
def test_a_probability_outside_zero_to_one_is_refused(probability):
    ids, special = make_row(4)
    with pytest.raises(ValueError, match="probability"):
        mask_row(ids, special, None, probability=probability, mask_id=MASK_ID, vocab_size=VOCAB,
                 generator=torch.Generator())


def test_word_ids_join_wordpiece_continuations_and_skip_specials():
    tokens = ["[CLS]", "the", "play", "##ing", "##s", "end", "[SEP]", "##x", "y", "[SEP]"]
    special = [t.startswith("[") for t in tokens]
    assert word_ids_of(tokens, special) == [-1, 0, 1, 1, 1, 2, -1, 3, 4, -1]
    assert word_ids_of(["a", "b", "c"], [False] * 3) == [0, 1, 2]  # no '##' pieces: a word each


def test_word_ids_agree_with_the_tokenizers_own_words(repo_root):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(repo_root / "assets" / "bundled-bert")
    encoding = tokenizer("The unbelievably quick croissants, squashed!")
    tokens = encoding.tokens()
    assert any(token.startswith("##") for token in tokens)
    special = [word is None for word in encoding.word_ids()]
    assert word_ids_of(tokens, special) == [-1 if word is None else word for word in encoding.word_ids()]


def test_a_masked_row_says_what_each_chosen_token_became():
    row = MaskedRow.of([2, 10, 11, 12, 13, 3], [2, MASK_ID, 99, 12, 13, 3], [-100, 10, 11, 12, -100, -100], MASK_ID)
    assert row.fates == [None, MASK, RANDOM, KEPT, None, None]
    assert row.chosen == [1, 2, 3] and row.count(MASK) == 1
