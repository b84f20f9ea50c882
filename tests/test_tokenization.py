"""Tests for bertstudio.text.tokenization, on a tiny BERT tokenizer built from a vocab.txt in tmp_path."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from transformers import BertTokenizerFast

from bertstudio.config import TRUNCATION_CHOICES
from bertstudio.errors import StudioError
from bertstudio.limits import MAX_TEXT_CHARS
from bertstudio.text.token_preview import SHOWN_TOKENS, preview
from bertstudio.text.tokenization import TRUNCATION_STRATEGIES, encode_examples, length_stats, suggest_max_length

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = ["the", "cat", "sat", "on", "mat", "dog", "ran", "and", "play", "##ing", "##ed", ".", ","]
NUMBERED = [f"w{i}" for i in range(60)]
CLS, SEP, UNK = 2, 3, 1
MINILM = Path(__file__).resolve().parents[1].parent / "shared" / "models" / "minilm-l6-h384-uncased"


@pytest.fixture(scope="module")
def tok(tmp_path_factory):
    vocab = tmp_path_factory.mktemp("tok") / "vocab.txt"
    vocab.write_text("\n".join(SPECIALS + WORDS + NUMBERED) + "\n", encoding="utf-8")
    return BertTokenizerFast(vocab=str(vocab))


def numbered(n: int, start: int = 0) -> str:
    """A text of n words that are n distinct tokens (w0 w1 ...), so positions can be read off ids."""
    return " ".join(f"w{i}" for i in range(start, start + n))


def bare(tok, text: str) -> list[int]:
    return tok([text], add_special_tokens=False)["input_ids"][0]


# --- the three strategies ------------------------------------------------------------------------

def test_start_keeps_the_first_tokens_of_a_long_text(tok):
    ids = bare(tok, numbered(30))
    out = encode_examples(tok, [numbered(30)], max_length=10, truncation="start")
    assert out["input_ids"] == [[CLS] + ids[:8] + [SEP]]
    assert out["token_type_ids"] == [[0] * 10]


def test_end_keeps_the_last_tokens_of_a_long_text(tok):
    ids = bare(tok, numbered(30))
    out = encode_examples(tok, [numbered(30)], max_length=10, truncation="end")
    assert out["input_ids"] == [[CLS] + ids[-8:] + [SEP]]
    assert out["token_type_ids"] == [[0] * 10]


def test_head_tail_keeps_a_quarter_from_the_start_and_the_rest_from_the_end(tok):
    ids = bare(tok, numbered(30))
    # max_length 14 -> budget 12 -> head round(3.0) = 3, tail 9
    out = encode_examples(tok, [numbered(30)], max_length=14, truncation="head_tail")
    assert out["input_ids"] == [[CLS] + ids[:3] + ids[-9:] + [SEP]]


def test_head_tail_at_512_keeps_128_head_and_382_tail_like_sun_et_al(tok):
    text = " ".join(f"w{i % 60}" for i in range(700))
    ids = bare(tok, text)
    out = encode_examples(tok, [text], max_length=512, truncation="head_tail")["input_ids"][0]
    assert len(out) == 512
    assert out == [CLS] + ids[:128] + ids[-382:] + [SEP]


@pytest.mark.parametrize("truncation", TRUNCATION_STRATEGIES)
def test_texts_that_fit_are_identical_to_the_tokenizers_own_encoding(tok, truncation):
    texts = ["the cat sat on the mat.", "playing dog", "", "zzz the"]
    out = encode_examples(tok, texts, max_length=32, truncation=truncation)
    own = tok(texts)
    assert out["input_ids"] == own["input_ids"]
    assert out["token_type_ids"] == own["token_type_ids"]


@pytest.mark.parametrize("truncation", TRUNCATION_STRATEGIES)
def test_pairs_that_fit_are_identical_to_the_tokenizers_own_encoding(tok, truncation):
    texts, pairs = ["the cat sat.", "dog"], ["on the mat", ""]
    out = encode_examples(tok, texts, pairs, max_length=32, truncation=truncation)
    own = tok(texts, pairs)
    assert out["input_ids"] == own["input_ids"]
    assert out["token_type_ids"] == own["token_type_ids"]


@pytest.mark.parametrize("truncation", TRUNCATION_STRATEGIES)
def test_pairs_trim_the_longer_text_first_whatever_the_strategy(tok, truncation):
    long_a, short_b = numbered(20), numbered(3, start=40)
    # max_length 12 -> budget 9: the short text keeps all 3, the long one its first 6
    out = encode_examples(tok, [long_a], [short_b], max_length=12, truncation=truncation)
    assert out["input_ids"][0] == [CLS] + bare(tok, long_a)[:6] + [SEP] + bare(tok, short_b) + [SEP]
    # both long: budget 10 is shared 5 / 5
    out = encode_examples(tok, [long_a], [numbered(20, start=30)], max_length=13, truncation=truncation)
    ids = out["input_ids"][0]
    assert ids == [CLS] + bare(tok, long_a)[:5] + [SEP] + bare(tok, numbered(5, start=30)) + [SEP]


def test_pair_token_type_ids_mark_the_second_text(tok):
    out = encode_examples(tok, ["the cat"], ["sat on the mat"], max_length=32)
    assert out["token_type_ids"] == [[0, 0, 0, 0, 1, 1, 1, 1, 1]]


def test_an_empty_second_text_still_counts_as_a_pair(tok):
    p = preview(tok, "the cat", "", max_length=32)
    assert p.input_ids == [CLS, 5, 6, SEP, SEP]
    assert p.input_ids == encode_examples(tok, ["the cat"], [""], max_length=32)["input_ids"][0]


def test_a_tokenizer_that_truncates_on_the_left_still_keeps_the_start(tok):
    ids = bare(tok, numbered(30))
    tok.truncation_side = "left"
    try:
        out = encode_examples(tok, [numbered(30)], max_length=10, truncation="start")
        assert out["input_ids"] == [[CLS] + ids[:8] + [SEP]]
        assert tok.truncation_side == "left"
    finally:
        tok.truncation_side = "right"


# --- preview -------------------------------------------------------------------------------------

@pytest.mark.parametrize("truncation", TRUNCATION_STRATEGIES)
@pytest.mark.parametrize("pair", [None, "the dog ran and sat on the mat", numbered(25, start=30)])
def test_preview_keeps_exactly_the_tokens_encode_examples_produces(tok, truncation, pair):
    text = "the cat playing " + numbered(25) + " played."
    p = preview(tok, text, pair, max_length=16, truncation=truncation)
    out = encode_examples(tok, [text], None if pair is None else [pair], max_length=16,
                          truncation=truncation)
    assert [t.id for t in p.tokens if t.kept] == p.input_ids == out["input_ids"][0]
    assert p.token_type_ids == out["token_type_ids"][0]
    assert p.attention_mask == [1] * 16
    assert p.kept_length == 16 and p.truncated
    assert p.dropped_count == p.length - 16 == sum(not t.kept for t in p.tokens)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(words=st.lists(st.sampled_from(WORDS[:8] + NUMBERED[:5] + ["playing", "qq"]), max_size=40),
       pair_words=st.none() | st.lists(st.sampled_from(WORDS[:8] + ["xx"]), max_size=30),
       max_length=st.integers(4, 40), truncation=st.sampled_from(TRUNCATION_STRATEGIES))
def test_every_row_fits_and_preview_agrees_with_encoding(tok, words, pair_words, max_length, truncation):
    text = " ".join(words)
    pair = None if pair_words is None else " ".join(pair_words)
    out = encode_examples(tok, [text], None if pair is None else [pair], max_length=max_length,
                          truncation=truncation)
    p = preview(tok, text, pair, max_length=max_length, truncation=truncation)
    assert len(out["input_ids"][0]) <= max_length
    assert p.input_ids == out["input_ids"][0]
    assert p.token_type_ids == out["token_type_ids"][0]
    assert p.truncated == (p.length > max_length)


def test_preview_flags_continuation_pieces_and_groups_them_by_word(tok):
    p = preview(tok, "the cat playing played", max_length=32)
    assert [t.text for t in p.tokens] == ["[CLS]", "the", "cat", "play", "##ing", "play", "##ed",
                                          "[SEP]"]
    assert [t.is_continuation for t in p.tokens] == [False, False, False, False, True, False, True,
                                                     False]
    assert [t.word_index for t in p.tokens] == [None, 0, 1, 2, 2, 3, 3, None]
    assert [(t.char_start, t.char_end) for t in p.tokens][3:5] == [(8, 12), (12, 15)]
    assert p.tokens[0].char_start is None and p.tokens[0].is_special


def test_preview_word_index_counts_on_into_the_second_text(tok):
    p = preview(tok, "the cat", "sat on", max_length=32)
    assert [t.word_index for t in p.tokens] == [None, 0, 1, None, 2, 3, None]
    assert [t.segment for t in p.tokens] == [0, 0, 0, 0, 1, 1, 1]
    assert [t.sequence for t in p.tokens] == [None, 0, 0, None, 1, 1, None]


def test_preview_flags_unknown_words(tok):
    p = preview(tok, "the Zorblax sat", max_length=32)
    unknown = [t for t in p.tokens if t.is_unknown]
    assert [(t.text, t.char_start, t.char_end) for t in unknown] == [("[UNK]", 4, 11)]


def test_truncated_preview_keeps_the_closing_sep_and_reports_the_dropped_text(tok):
    text = "the cat sat on the mat and the dog ran"
    p = preview(tok, text, max_length=6, truncation="start")
    assert [t.text for t in p.tokens if t.kept] == ["[CLS]", "the", "cat", "sat", "on", "[SEP]"]
    assert p.tokens[-1].kept and p.tokens[-1].text == "[SEP]"
    assert p.dropped_text == ["the mat and the dog ran"]
    p = preview(tok, text, max_length=6, truncation="end")
    assert p.dropped_text == ["the cat sat on the mat"]
    p = preview(tok, text, max_length=10, truncation="head_tail")  # budget 8: head 2, tail 6
    assert p.dropped_text == ["sat on"]


def test_preview_of_a_short_text_is_not_truncated(tok):
    p = preview(tok, "the cat", max_length=32)
    assert not p.truncated and p.dropped_count == 0 and p.dropped_text == []
    assert p.length == p.kept_length == 4 and all(t.kept for t in p.tokens)


def test_preview_to_dict_is_json_ready(tok):
    p = preview(tok, "the Zorblax playing", "dog", max_length=5, truncation="end")
    data = json.loads(json.dumps(p.to_dict()))
    assert data["tokens"][1]["text"] == "the" and data["input_ids"] == p.input_ids


class _CountingEncoding:
    """A real tokenizers Encoding that counts how often each per-token list is read."""

    LISTS = ("ids", "tokens", "sequence_ids", "word_ids", "type_ids", "offsets")

    def __init__(self, enc, reads):
        self._enc, self._reads = enc, reads

    def __getattr__(self, name):
        if name in self.LISTS:
            self._reads[name] += 1
        return getattr(self._enc, name)


class _CountingTokenizer:
    """The real tokenizer; only the encodings it returns are wrapped to count list reads."""

    def __init__(self, tok):
        self._tok, self.reads = tok, {name: 0 for name in _CountingEncoding.LISTS}

    def __call__(self, *args, **kwargs):
        batch = self._tok(*args, **kwargs)

        class Batch:
            encodings = [_CountingEncoding(enc, self.reads) for enc in batch.encodings]
        return Batch()

    def __getattr__(self, name):
        return getattr(self._tok, name)


@pytest.mark.parametrize("pair", [None, "the dog ran"])
def test_preview_reads_each_token_list_a_fixed_number_of_times_whatever_the_length(tok, pair):
    # Every read of an Encoding's list builds the whole list anew, so reading one per token made the
    # preview quadratic (16,000 tokens: 73 s). The reads must not grow with the text.
    for words in (50, 3000):
        counting = _CountingTokenizer(tok)
        result = preview(counting, numbered(50) + " the" * words, pair, max_length=16, truncation="head_tail")
        assert result.length > words
        assert max(counting.reads.values()) <= 2, counting.reads


@pytest.mark.parametrize("truncation", TRUNCATION_STRATEGIES)
def test_a_long_texts_preview_lists_its_first_tokens_and_the_kept_ones_and_counts_the_rest(tok, truncation):
    text = numbered(60) + " the cat" * 3000  # 6,060 tokens
    p = preview(tok, text, max_length=32, truncation=truncation)
    out = encode_examples(tok, [text], max_length=32, truncation=truncation)
    assert p.length == 6062 and p.kept_length == 32 and p.input_ids == out["input_ids"][0]
    assert [t.id for t in p.tokens if t.kept] == p.input_ids  # what the model sees is always listed
    positions = [t.position for t in p.tokens]
    assert positions[:SHOWN_TOKENS] == list(range(SHOWN_TOKENS)) and positions == sorted(set(positions))
    assert p.hidden_count == p.length - len(p.tokens) > 0
    assert p.tokens[-1].text == "[SEP]" and p.tokens[-1].position == p.length - 1
    assert p.dropped_count == p.length - 32  # counted over the whole text, not only what is listed


def test_a_short_texts_preview_lists_every_token_and_hides_none(tok):
    p = preview(tok, "the cat sat", max_length=4)
    assert p.hidden_count == 0 and [t.position for t in p.tokens] == list(range(p.length))


def test_preview_counts_unknown_pieces_in_the_whole_text(tok):
    p = preview(tok, "the " * 3000 + "Zorblax", max_length=16)
    assert p.unknown_count == 1 and not any(t.is_unknown for t in p.tokens)


def test_a_text_past_the_character_limit_is_refused_before_tokenizing(tok):
    with pytest.raises(StudioError, match=r"The text is 12 characters long, more than the 10 one text may have"):
        preview(tok, "the cat sat.", max_length=16, max_chars=10)
    with pytest.raises(StudioError, match="The second text is"):
        preview(tok, "the", "the cat sat.", max_length=16, max_chars=10)
    with pytest.raises(StudioError, match=f"more than the {MAX_TEXT_CHARS:,}"):
        preview(tok, "a" * (MAX_TEXT_CHARS + 1))
    assert preview(tok, "the cat", max_length=16, max_chars=7).length == 4  # at the limit is fine


# --- length statistics ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tok20(tmp_path_factory):
    """The same tokenizer for a model that reads at most 20 tokens."""
    vocab = tmp_path_factory.mktemp("tok20") / "vocab.txt"
    vocab.write_text("\n".join(SPECIALS + WORDS + NUMBERED) + "\n", encoding="utf-8")
    return BertTokenizerFast(vocab=str(vocab), model_max_length=20)


def test_length_stats_say_what_stays_cut_at_the_models_limit_and_the_share_of_tokens_lost(tok20):
    texts = [numbered(8), numbered(10), numbered(28), numbered(38)]  # 10, 12, 30, 40 tokens
    stats = length_stats(tok20, texts, max_length=16)
    assert stats.model_max_length == 20 and stats.model_cut_share == 0.5
    assert stats.tokens_lost_share(20) == pytest.approx((10 + 20) / 92)
    assert stats.tokens_lost_share() == pytest.approx((14 + 24) / 92)  # at the stats' own max length
    assert stats.suggests_head_tail
    short = length_stats(tok20, [numbered(3)] * 30 + [numbered(30)], max_length=16)
    assert 0 < short.model_cut_share < 0.05 and not short.suggests_head_tail
    data = json.loads(json.dumps(stats.to_dict()))
    assert data["model_cut_share"] == 0.5 and data["model_tokens_lost_share"] == pytest.approx(30 / 92)


def test_length_stats_count_rows_with_html_tags_or_entities(tok):
    texts = ["the cat<br />sat", "the dog &amp; cat", "a < b and c > d", "the mat"] + ["the"] * 16
    stats = length_stats(tok, texts, max_length=16)
    assert stats.html_rows == 2 and stats.html_share == 0.1 and stats.suggests_strip_html
    paired = length_stats(tok, ["the", "the"], ["sat<br>", "mat"], max_length=16)
    assert paired.html_rows == 1
    assert not length_stats(tok, ["the cat"] * 40 + ["a <b>x</b>"], max_length=16).suggests_strip_html


def test_length_stats_counts_special_tokens_and_does_not_truncate(tok):
    stats = length_stats(tok, ["the cat", numbered(50), ""], max_length=16)
    assert stats.lengths.tolist() == [4, 52, 2]
    assert (stats.count, stats.max, stats.median) == (3, 52, 4.0)
    assert stats.mean == pytest.approx(58 / 3)
    pair_stats = length_stats(tok, ["the cat"], ["sat"], max_length=16)
    assert pair_stats.lengths.tolist() == [6]


def test_truncated_share_is_the_share_of_rows_longer_than_max_length(tok):
    stats = length_stats(tok, [numbered(n) for n in (4, 8, 9, 20)], max_length=10)
    assert stats.lengths.tolist() == [6, 10, 11, 22]
    assert stats.truncated_share() == 0.5
    assert stats.truncated_share(21) == 0.25
    assert stats.to_dict()["truncated_share"] == 0.5


def test_length_stats_counts_unknown_tokens_and_names_the_words_as_written(tok):
    texts = ["the Zorblax sat", "zorblax and Qux", "the cat"]
    stats = length_stats(tok, texts, ["Qux", "x", "dog"])
    assert stats.unk_count == 5  # Zorblax, zorblax, Qux, Qux (pair), x
    assert stats.unk_share == pytest.approx(5 / 11)
    assert dict(stats.unk_words) == {"Qux": 2, "Zorblax": 1, "zorblax": 1, "x": 1}
    assert stats.unk_words[0] == ("Qux", 2)


def test_unknown_words_list_is_capped_at_twenty(tok):
    texts = [f"q{i} " * (i + 1) for i in range(30)]
    stats = length_stats(tok, texts)
    assert len(stats.unk_words) == 20
    assert stats.unk_words[0] == ("q29", 30)


def test_suggested_max_length_is_the_smallest_multiple_of_8_covering_95_percent(tok):
    # 19 rows of 22 tokens and one of 62: 95% of 20 rows is 19, so 22 -> 24
    texts = [numbered(20)] * 19 + [numbered(60)]
    stats = length_stats(tok, texts)
    assert stats.suggested_max_length == 24
    # one more long row: now 19 of 21 rows (90%) fit in 24, so the long rows decide
    stats = length_stats(tok, texts + [numbered(60)])
    assert stats.suggested_max_length == 64


@given(st.lists(st.integers(1, 2000), min_size=1, max_size=200), st.integers(16, 1024))
def test_suggestion_covers_95_percent_and_no_smaller_multiple_of_8_does(lengths, model_max):
    arr = np.array(lengths)
    s = suggest_max_length(arr, model_max)
    assert s % 8 == 0 and 16 <= s <= max(16, model_max)
    if s < model_max // 8 * 8:
        assert (arr <= s).mean() >= 0.95
        assert s == 16 or (arr <= s - 8).mean() < 0.95


def test_suggestion_is_capped_at_the_model_limit_and_at_least_16(tok):
    assert length_stats(tok, [numbered(5)]).suggested_max_length == 16
    tok.model_max_length = 64
    try:
        assert length_stats(tok, [numbered(100)]).suggested_max_length == 64
    finally:
        tok.model_max_length = int(1e30)
    # the unset sentinel (1e30) falls back to BERT's 512
    assert length_stats(tok, [" ".join(["the"] * 900)]).suggested_max_length == 512


def test_rows_by_length_lists_the_longest_rows_first(tok):
    stats = length_stats(tok, ["the", numbered(9), "the cat", numbered(9, start=20)])
    assert stats.rows_by_length() == [1, 3, 2, 0]
    assert stats.rows_by_length(limit=2) == [1, 3]


def test_histogram_counts_every_row(tok):
    stats = length_stats(tok, [numbered(n) for n in range(1, 21)])
    edges, counts = stats.histogram(5)
    assert len(edges) == 6 and sum(counts) == 20
    assert edges[0] == 3 and edges[-1] == 22


def test_length_stats_to_dict_is_json_ready(tok):
    data = json.loads(json.dumps(length_stats(tok, ["the Zorblax", "cat"]).to_dict()))
    assert data["count"] == 2 and data["unk_words"] == [["Zorblax", 1]]
    assert "lengths" not in data


def test_length_stats_of_no_rows_is_all_zeros(tok):
    stats = length_stats(tok, [])
    assert stats.count == 0 and stats.mean == 0.0 and stats.truncated_share() == 0.0
    assert stats.suggested_max_length == 16 and stats.rows_by_length() == []


# --- mistakes ------------------------------------------------------------------------------------

def test_strategies_are_the_configs_choices():
    assert TRUNCATION_STRATEGIES == TRUNCATION_CHOICES == ("start", "end", "head_tail")


def test_unknown_strategy_is_refused_in_plain_words(tok):
    with pytest.raises(StudioError, match="Truncation 'middle' is not known"):
        encode_examples(tok, ["the cat"], truncation="middle")
    with pytest.raises(StudioError):
        preview(tok, "the cat", truncation="middle")


def test_max_length_without_room_for_text_is_refused(tok):
    with pytest.raises(StudioError, match="at least 3"):
        encode_examples(tok, ["the cat"], max_length=2)
    assert encode_examples(tok, ["the cat"], max_length=3)["input_ids"] == [[CLS, 5, SEP]]
    with pytest.raises(StudioError, match="at least 4"):
        preview(tok, "the cat", "sat", max_length=3)
    with pytest.raises(StudioError):
        length_stats(tok, ["the cat"], max_length=1)


def test_pairs_of_the_wrong_length_are_refused(tok):
    with pytest.raises(StudioError, match="2 texts but 1 second texts"):
        encode_examples(tok, ["the", "cat"], ["sat"])


def test_a_row_that_is_not_text_is_refused_with_its_number(tok):
    with pytest.raises(StudioError, match="Row 2 of the text column is NoneType"):
        encode_examples(tok, ["the", None])


def test_no_rows_encode_to_nothing(tok):
    assert encode_examples(tok, [], truncation="end") == {"input_ids": [], "token_type_ids": []}


def test_encode_examples_handles_twenty_thousand_short_rows(tok):
    texts = [f"the cat w{i % 60} sat on the mat playing" for i in range(20_000)]
    for truncation in TRUNCATION_STRATEGIES:
        out = encode_examples(tok, texts, max_length=8, truncation=truncation, batch_size=3000)
        assert len(out["input_ids"]) == 20_000
        assert {len(ids) for ids in out["input_ids"]} == {8}
    assert out["input_ids"][61] == [CLS, 5, 6] + bare(tok, "the mat playing") + [SEP]


# --- the real bert-base-uncased vocabulary (optional) ----------------------------------------------

@pytest.fixture(scope="module")
def minilm():
    if not MINILM.is_dir():
        pytest.skip("shared MiniLM model folder not present")
    return BertTokenizerFast.from_pretrained(str(MINILM))


def test_real_vocab_short_texts_match_the_tokenizer_and_long_ones_fit(minilm):
    texts = ["Hello, world!", "The film's pacing was unbearable; I walked out.",
             "Résumé naïve café — ☃ snowman " * 80]
    for truncation in TRUNCATION_STRATEGIES:
        out = encode_examples(minilm, texts, max_length=512, truncation=truncation)
        assert out["input_ids"][:2] == minilm(texts[:2])["input_ids"]
        assert len(out["input_ids"][2]) == 512
        p = preview(minilm, texts[2], max_length=512, truncation=truncation)
        assert p.input_ids == out["input_ids"][2]


def test_real_vocab_reports_the_snowman_as_unknown(minilm):
    stats = length_stats(minilm, ["a ☃ in the snow", "another ☃", "fine"])
    assert stats.unk_words == [("☃", 2)]
    assert stats.model_max_length == 512
