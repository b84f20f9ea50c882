"""One text (or pair) through the tokenizer, token by token: the WordPiece pieces, specials, [UNK]s,
and which pieces truncation keeps, for the Tokenizer tab and `bertstudio tokenize`.

Apart from `tokenization.py` (batched encoding for training, length statistics) because it owns a
different question, "what does the model see of this one text", and must stay linear in the text:
a visitor can paste a very long one.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass
from typing import Any

from bertstudio.limits import MAX_TEXT_CHARS
from bertstudio.text.tokenization import _budget, _check_strategy, _check_texts, _keep_ranges, _right_truncation

SHOWN_TOKENS = 2_000       # a preview lists this many pieces of a long text (plus the kept ones)


@dataclass
class TokenPiece:
    """One token of the full (untruncated) encoding, as the preview shows it."""

    text: str                 # the token as in the vocabulary, e.g. "##ing" or "[CLS]"
    id: int
    is_special: bool          # added by the template ([CLS], [SEP]) or a special token in the text
    is_continuation: bool     # a word piece that continues the previous one ("##ing")
    is_unknown: bool          # [UNK]: the vocabulary has no pieces for this word
    segment: int              # token_type_id: 0 for the text, 1 for the second text of a pair
    kept: bool                # False when truncation drops it
    sequence: int | None      # 0 text, 1 second text, None for tokens the template adds
    word_index: int | None    # groups pieces of one word; counts on across both texts; None for specials
    char_start: int | None    # offsets into the text named by `sequence`; None for template tokens
    char_end: int | None
    position: int = 0         # index in the full encoding (pieces past SHOWN_TOKENS leave gaps)


@dataclass
class TokenPreview:
    """A text (or pair) through the tokenizer: which tokens survive, and what the model sees.

    `tokens` holds the first SHOWN_TOKENS pieces plus every kept piece after them (so the end that
    head_tail or end truncation keeps is always there); `hidden_count` says how many were left out.
    Everything else (lengths, ids, dropped text, [UNK] count) covers the whole text.
    """

    tokens: list[TokenPiece]
    input_ids: list[int]          # the kept encoding, exactly as encode_examples produces it
    token_type_ids: list[int]
    attention_mask: list[int]
    length: int                   # full length, special tokens included
    kept_length: int
    dropped_count: int
    truncated: bool
    dropped_text: list[str]       # each dropped stretch of the original text(s), in order
    max_length: int
    truncation: str
    hidden_count: int = 0         # pieces of the full encoding not in `tokens` (all of them dropped)
    unknown_count: int = 0        # [UNK] pieces in the whole text, shown or not

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def preview(tokenizer: Any, text: str, pair: str | None = None, *, max_length: int = 128,
            truncation: str = "start", max_chars: int = MAX_TEXT_CHARS) -> TokenPreview:
    """Show how one row is tokenized and truncated; the kept ids equal encode_examples' row.

    Linear in the text: the encoding's per-token lists are read once (each attribute access of a
    tokenizers `Encoding` builds its whole list anew), and only the pieces shown become objects.
    """
    _check_strategy(truncation)
    _check_texts([text], None if pair is None else [pair], max_chars)
    budget = _budget(tokenizer, max_length, pair=pair is not None)
    # Lists, not bare strings: a bare empty `pair` would be taken for "no pair" by transformers.
    pairs = None if pair is None else [pair]
    full = _Lists.of(tokenizer([text], pairs, return_offsets_mapping=True, verbose=False).encodings[0])
    ids, sequence_ids = full.ids, full.sequence_ids
    positions: dict[int, list[int]] = {0: [], 1: []}
    for i, s in enumerate(sequence_ids):
        if s is not None:
            positions[s].append(i)

    if pair is None:
        ranges = {0: _keep_ranges(len(positions[0]), budget, truncation), 1: []}
    else:
        # Ask the tokenizer itself how longest_first splits the budget, so this cannot drift from it.
        with _right_truncation(tokenizer):
            cut = tokenizer([text], pairs, truncation="longest_first", max_length=max_length,
                            verbose=False).encodings[0]
        counts = Counter(s for s in cut.sequence_ids if s is not None)
        ranges = {0: [(0, counts[0])], 1: [(0, counts[1])]}
    kept = [s is None for s in sequence_ids]
    for seq, seq_ranges in ranges.items():
        for a, b in seq_ranges:
            for i in positions[seq][a:b]:
                kept[i] = True
    kept_positions = [i for i, k in enumerate(kept) if k]
    shown = sorted(set(range(min(len(ids), SHOWN_TOKENS))).union(kept_positions))
    offsets, sources = full.offsets, {0: text, 1: pair or ""}
    tokens = _pieces(tokenizer, full, shown, kept)

    dropped_text = []
    for seq in (0, 1):
        run: list[int] = []
        for i in positions[seq] + [-1]:  # -1 closes the last run
            if i >= 0 and not kept[i]:
                run.append(i)
            elif run:
                dropped_text.append(sources[seq][offsets[run[0]][0]:offsets[run[-1]][1]])
                run = []

    kept_length = len(kept_positions)
    return TokenPreview(
        tokens=tokens, input_ids=[ids[i] for i in kept_positions],
        token_type_ids=[full.type_ids[i] for i in kept_positions],
        attention_mask=[1] * kept_length, length=len(ids), kept_length=kept_length,
        dropped_count=len(ids) - kept_length, truncated=kept_length < len(ids),
        dropped_text=dropped_text, max_length=max_length, truncation=truncation,
        hidden_count=len(ids) - len(shown),
        unknown_count=0 if tokenizer.unk_token_id is None else ids.count(tokenizer.unk_token_id))


@dataclass(frozen=True)
class _Lists:
    """An `Encoding`'s per-token lists, each read once: every attribute access builds the whole
    list anew in the tokenizers library, so reading `enc.offsets[i]` in a loop is quadratic."""

    ids: list[int]
    tokens: list[str]
    sequence_ids: list[int | None]
    word_ids: list[int | None]
    type_ids: list[int]
    offsets: list[tuple[int, int]]

    @classmethod
    def of(cls, enc: Any) -> "_Lists":
        return cls(enc.ids, enc.tokens, enc.sequence_ids, enc.word_ids, enc.type_ids, enc.offsets)


def _pieces(tokenizer: Any, full: _Lists, shown: list[int], kept: list[bool]) -> list[TokenPiece]:
    """The preview's pieces at the `shown` positions of the full encoding."""
    prefix = getattr(tokenizer.backend_tokenizer.model, "continuing_subword_prefix", None) or "##"
    special_ids = set(tokenizer.all_special_ids)
    unk_id = tokenizer.unk_token_id
    ids, texts, word_ids, type_ids = full.ids, full.tokens, full.word_ids, full.type_ids
    sequence_ids, offsets = full.sequence_ids, full.offsets
    words_in_first = max((w for w, s in zip(word_ids, sequence_ids) if s == 0 and w is not None),
                         default=-1) + 1
    tokens: list[TokenPiece] = []
    for i in shown:
        tok, tid, seq, word = texts[i], ids[i], sequence_ids[i], word_ids[i]
        special = seq is None or tid in special_ids
        start, end = offsets[i] if seq is not None else (None, None)
        tokens.append(TokenPiece(
            text=tok, id=tid, is_special=special,
            is_continuation=not special and tok.startswith(prefix),
            is_unknown=tid == unk_id, segment=type_ids[i], kept=kept[i], sequence=seq,
            word_index=None if special or word is None else word + (words_in_first if seq == 1 else 0),
            char_start=start, char_end=end, position=i))
    return tokens
