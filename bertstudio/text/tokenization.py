"""Batched encoding with start / end / head_tail truncation, and length statistics (one text's
token-by-token preview: `token_preview.py`).

Every function takes an already loaded *fast* (Rust-backed) tokenizer; none loads one.

Truncation. `max_length` counts the special tokens ([CLS] text [SEP]), so a single text keeps
`max_length - 2` tokens of its own (the "budget"):
    start      keep the first `budget` tokens (the tokenizer's own truncation)
    end        keep the last `budget` tokens
    head_tail  keep round(budget * 0.25) tokens from the start and the rest from the end
               (Sun et al. 2019 kept 128 + 382 of 510 on long reviews)
Sentence pairs ignore the strategy and always use the tokenizer's `longest_first` truncation:
tokens come off the end of the longer text first until both fit (when both pass half the budget,
each keeps half). This matches what `tokenizer(a, b, truncation=True)` gives everywhere else.
"""

from __future__ import annotations

from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

import numpy as np

from bertstudio.config import TRUNCATION_CHOICES
from bertstudio.errors import StudioError
from bertstudio.limits import MAX_TEXT_CHARS, check_text_length

TRUNCATION_STRATEGIES = TRUNCATION_CHOICES
HEAD_SHARE = 0.25          # head_tail: share of the budget taken from the start (128 of 510)
COVERAGE = 0.95            # suggested_max_length covers this share of rows
LONG_TEXT_SHARE = 0.05     # rows cut at the model's limit past this share: suggest head_tail
HTML_SHARE = 0.05          # rows with tags or entities past this share: suggest "Strip HTML tags"
UNK_WORDS_SHOWN = 20
_FALLBACK_MODEL_MAX = 512  # BERT's position embeddings, when the tokenizer does not say
_SANE_MODEL_MAX = 100_000  # above this, model_max_length is transformers' "unset" sentinel


# --- shared checks and helpers -------------------------------------------------------------------

def _check_strategy(truncation: str) -> None:
    if truncation not in TRUNCATION_STRATEGIES:
        raise StudioError(f"Truncation '{truncation}' is not known; choose one of: "
                          f"{', '.join(TRUNCATION_STRATEGIES)}.")


def _budget(tokenizer: Any, max_length: int, pair: bool) -> int:
    """Tokens left for the text(s) after the special tokens; refuses a max_length with no room."""
    specials = tokenizer.num_special_tokens_to_add(pair=pair)
    if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < specials + 1:
        raise StudioError(f"Max length {max_length} leaves no room for text after the {specials} "
                          f"special tokens; choose a max length of at least {specials + 1}.")
    return max_length - specials


def _check_texts(texts: Sequence[Any], pairs: Sequence[Any] | None,
                 max_chars: int = MAX_TEXT_CHARS) -> None:
    for name, column in (("text", texts), ("second text", pairs)):
        if column is None:
            continue
        for row, value in enumerate(column):
            if not isinstance(value, str):
                raise StudioError(f"Row {row + 1} of the {name} column is {type(value).__name__}, "
                                  "not text; clean the data so every row holds a string.")
            if len(value) > max_chars:
                what = f"The {name}" if len(column) == 1 else f"Row {row + 1} of the {name} column"
                check_text_length(value, max_chars, what)
    if pairs is not None and len(pairs) != len(texts):
        raise StudioError(f"There are {len(texts)} texts but {len(pairs)} second texts; every row "
                          "needs both.")


def _chunks(n: int, batch_size: int) -> Iterator[slice]:
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    for start in range(0, n, batch_size):
        yield slice(start, min(n, start + batch_size))


@contextmanager
def _right_truncation(tokenizer: Any) -> Iterator[None]:
    """"start" means keep the start, whatever `truncation_side` the loaded tokenizer came with."""
    side = getattr(tokenizer, "truncation_side", "right")
    if side == "right":
        yield
        return
    tokenizer.truncation_side = "right"
    try:
        yield
    finally:
        tokenizer.truncation_side = side


def _keep_ranges(n: int, budget: int, truncation: str) -> list[tuple[int, int]]:
    """Half-open ranges of content positions a single text keeps; the one place the strategies live."""
    if n <= budget:
        return [(0, n)]
    if truncation == "start":
        return [(0, budget)]
    if truncation == "end":
        return [(n - budget, n)]
    head = round(budget * HEAD_SHARE)
    tail = budget - head
    return [r for r in ((0, head), (n - tail, n)) if r[1] > r[0]]


@dataclass(frozen=True)
class _Template:
    """The special tokens around a single text, read off the tokenizer rather than assumed."""

    prefix_ids: list[int]
    prefix_types: list[int]
    suffix_ids: list[int]
    suffix_types: list[int]
    content_type: int


def _single_template(tokenizer: Any) -> _Template:
    enc = tokenizer(["a"], verbose=False).encodings[0]
    content = [i for i, s in enumerate(enc.sequence_ids) if s is not None]
    if not content:
        raise StudioError("This tokenizer turns the letter 'a' into no tokens at all; pick a "
                          "different model.")
    first, last = content[0], content[-1]
    return _Template(enc.ids[:first], enc.type_ids[:first], enc.ids[last + 1:],
                     enc.type_ids[last + 1:], enc.type_ids[first])


# --- encoding ------------------------------------------------------------------------------------

def encode_examples(tokenizer: Any, texts: Sequence[str], pairs: Sequence[str] | None = None, *,
                    max_length: int = 128, truncation: str = "start",
                    batch_size: int = 1000) -> dict[str, list[list[int]]]:
    """Encode rows for training: `input_ids` and `token_type_ids`, truncated, special tokens added.

    No padding (the collator pads each batch to its own longest row) and no attention mask (all ones
    before padding). Rows that fit come out exactly as `tokenizer(text)["input_ids"]`.
    """
    _check_strategy(truncation)
    _check_texts(texts, pairs)
    budget = _budget(tokenizer, max_length, pair=pairs is not None)
    input_ids: list[list[int]] = []
    type_ids: list[list[int]] = []
    if pairs is not None or truncation == "start":
        with _right_truncation(tokenizer):
            for part in _chunks(len(texts), batch_size):
                batch = tokenizer(list(texts[part]), None if pairs is None else list(pairs[part]),
                                  truncation="longest_first", max_length=max_length,
                                  return_token_type_ids=True, return_attention_mask=False)
                input_ids.extend(batch["input_ids"])
                type_ids.extend(batch["token_type_ids"])
        return {"input_ids": input_ids, "token_type_ids": type_ids}

    # end / head_tail: the tokenizer cannot cut from both ends, so tokenize bare, slice, then wrap
    # in the same special tokens the tokenizer would add.
    t = _single_template(tokenizer)
    for part in _chunks(len(texts), batch_size):
        batch = tokenizer(list(texts[part]), add_special_tokens=False, return_token_type_ids=False,
                          return_attention_mask=False, verbose=False)
        for ids in batch["input_ids"]:
            kept = [i for a, b in _keep_ranges(len(ids), budget, truncation) for i in ids[a:b]]
            input_ids.append(t.prefix_ids + kept + t.suffix_ids)
            type_ids.append(t.prefix_types + [t.content_type] * len(kept) + t.suffix_types)
    return {"input_ids": input_ids, "token_type_ids": type_ids}


# --- length statistics ---------------------------------------------------------------------------

@dataclass
class LengthStats:
    """Token lengths of a whole dataset (special tokens counted, nothing truncated) and [UNK] use."""

    lengths: np.ndarray = field(repr=False)  # one per row, int64
    max_length: int                # the max length the stats were asked about
    model_max_length: int          # the longest input the model takes (512 when the tokenizer won't say)
    unk_count: int                 # [UNK] tokens in all rows
    unk_share: float               # [UNK] tokens / all tokens of the texts (special tokens left out)
    unk_words: list[tuple[str, int]]  # the words that became [UNK], most frequent first, as written
    suggested_max_length: int      # smallest multiple of 8 covering 95% of rows, 16..model max
    html_rows: int = 0             # rows whose text (or second text) holds an HTML tag or entity

    @property
    def count(self) -> int:
        return int(self.lengths.size)

    @property
    def mean(self) -> float:
        return float(self.lengths.mean()) if self.count else 0.0

    @property
    def median(self) -> float:
        return float(np.median(self.lengths)) if self.count else 0.0

    @property
    def p95(self) -> float:
        return float(np.percentile(self.lengths, 95)) if self.count else 0.0

    @property
    def max(self) -> int:
        return int(self.lengths.max()) if self.count else 0

    def truncated_share(self, max_length: int | None = None) -> float:
        """Share of rows longer than `max_length` (default: the one the stats were made for)."""
        limit = self.max_length if max_length is None else max_length
        return float((self.lengths > limit).mean()) if self.count else 0.0

    def tokens_lost_share(self, max_length: int | None = None) -> float:
        """Share of all tokens (special tokens counted) that truncation at `max_length` drops."""
        limit = self.max_length if max_length is None else max_length
        total = int(self.lengths.sum()) if self.count else 0
        return float(np.clip(self.lengths - limit, 0, None).sum() / total) if total else 0.0

    @property
    def model_cut_share(self) -> float:
        """Share of rows cut even at the model's own limit: what no max length can save."""
        return self.truncated_share(self.model_max_length)

    @property
    def html_share(self) -> float:
        return self.html_rows / self.count if self.count else 0.0

    @property
    def suggests_head_tail(self) -> bool:
        """Many rows stay cut at the model's limit: keeping the start and the end loses less."""
        return self.model_cut_share > LONG_TEXT_SHARE

    @property
    def suggests_strip_html(self) -> bool:
        return self.html_share > HTML_SHARE

    def histogram(self, bins: int | Sequence[float] = 30) -> tuple[list[float], list[int]]:
        """(edges, counts) for a length chart; len(edges) == len(counts) + 1."""
        if not self.count:
            return [], []
        counts, edges = np.histogram(self.lengths, bins=bins)
        return edges.tolist(), counts.tolist()

    def rows_by_length(self, limit: int | None = None) -> list[int]:
        """Row indices, longest first (ties keep file order), for browsing rows through the tokenizer."""
        order = np.argsort(-self.lengths, kind="stable")
        return order[:limit].tolist()

    def to_dict(self) -> dict[str, Any]:
        """The summary, JSON-ready; the per-row lengths stay out (use `histogram`)."""
        return {
            "count": self.count, "mean": self.mean, "median": self.median, "p95": self.p95,
            "max": self.max, "max_length": self.max_length,
            "truncated_share": self.truncated_share(), "model_max_length": self.model_max_length,
            "unk_count": self.unk_count, "unk_share": self.unk_share,
            "unk_words": [[w, c] for w, c in self.unk_words],
            "suggested_max_length": self.suggested_max_length,
            "model_cut_share": self.model_cut_share,
            "model_tokens_lost_share": self.tokens_lost_share(self.model_max_length),
            "html_share": self.html_share,
        }


def model_max_length(tokenizer: Any) -> int:
    """The tokenizer's model_max_length when it is a real limit, else BERT's 512."""
    value = getattr(tokenizer, "model_max_length", None)
    if isinstance(value, int) and 0 < value <= _SANE_MODEL_MAX:
        return value
    return _FALLBACK_MODEL_MAX


def suggest_max_length(lengths: np.ndarray, model_max: int) -> int:
    """Smallest multiple of 8 that covers 95% of rows, at least 16, at most the model's limit."""
    # The cap is rounded down to a multiple of 8 so the suggestion always sits on the UI's slider.
    cap = max(16, model_max // 8 * 8)
    if lengths.size == 0:
        return 16
    covered = (95 * lengths.size + 99) // 100  # ceil(0.95 n) in integers: no float surprises
    needed = int(np.partition(lengths, covered - 1)[covered - 1])
    return int(min(cap, max(16, -(-needed // 8) * 8)))


def length_stats(tokenizer: Any, texts: Sequence[str], pairs: Sequence[str] | None = None, *,
                 max_length: int = 128, batch_size: int = 1000) -> LengthStats:
    """Measure every row's full token length and the words the vocabulary cannot spell."""
    _check_texts(texts, pairs)
    _budget(tokenizer, max_length, pair=pairs is not None)
    specials = tokenizer.num_special_tokens_to_add(pair=pairs is not None)
    unk_id = tokenizer.unk_token_id
    lengths = np.zeros(len(texts), dtype=np.int64)
    unk_count = 0
    unk_words: Counter[str] = Counter()
    for part in _chunks(len(texts), batch_size):
        batch = tokenizer(list(texts[part]), None if pairs is None else list(pairs[part]),
                          add_special_tokens=False, return_token_type_ids=False,
                          return_attention_mask=False, verbose=False)
        ids_list = batch["input_ids"]
        lengths[part] = [len(ids) for ids in ids_list]
        if unk_id is None:
            continue
        for j, ids in enumerate(ids_list):
            n_unk = ids.count(unk_id)
            if n_unk:  # rare: only these rows pay for mapping tokens back to words
                unk_count += n_unk
                row = part.start + j
                sources = (texts[row], pairs[row] if pairs is not None else "")
                unk_words.update(_unknown_words(batch.encodings[j], unk_id, sources))
    content = int(lengths.sum())
    lengths += specials
    model_max = model_max_length(tokenizer)
    return LengthStats(
        lengths=lengths, max_length=max_length, model_max_length=model_max, unk_count=unk_count,
        unk_share=unk_count / content if content else 0.0,
        unk_words=unk_words.most_common(UNK_WORDS_SHOWN),
        suggested_max_length=suggest_max_length(lengths, model_max),
        html_rows=_html_rows(texts, pairs))


def _html_rows(texts: Sequence[str], pairs: Sequence[str] | None) -> int:
    """Rows with a tag or an entity ("<br />", "&amp;"): what the "Strip HTML tags" option removes."""
    from bertstudio.data.cleaning import find_html

    if pairs is None:
        return sum(1 for text in texts if find_html(text))
    return sum(1 for text, pair in zip(texts, pairs) if find_html(text) or find_html(pair))


def _unknown_words(enc: Any, unk_id: int, sources: tuple[str, str]) -> list[str]:
    """The words (as written in the text) whose pieces include [UNK], one entry per occurrence."""
    spans: dict[tuple[int, int], list[int]] = {}
    for tid, seq, word, (start, end) in zip(enc.ids, enc.sequence_ids, enc.word_ids, enc.offsets):
        if seq is None or word is None:
            continue
        span = spans.setdefault((seq, word), [start, end, 0])
        span[0], span[1] = min(span[0], start), max(span[1], end)
        span[2] += tid == unk_id
    return [sources[seq][start:end] for (seq, _), (start, end, unk) in spans.items() if unk]
