"""BERT's masking of one row for masked-LM pretraining, and a description of a masked row for display.

Devlin et al. 2019: a share of the tokens (15 %) is chosen; of those 80 % become [MASK], 10 % a
random token and 10 % stay as they are, and the model predicts the original of every chosen one.
Whole-word masking (the later BERT release) chooses every piece of a word together, so "play ##ing"
cannot be guessed from its own other half. The pretraining collator and the Tokenizer tab's preview
both call `mask_row`, so what a person sees is what the model is trained on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Collection

if TYPE_CHECKING:
    import torch

IGNORED = -100             # the label of a token the loss skips (PyTorch's cross-entropy default)
MASK_SHARE = 0.8           # of the chosen: this share becomes [MASK] ...
RANDOM_SHARE = 0.1         # ... this share a random token, the rest stay as they were
RANDOM_TRIES = 10          # redraws of a random token that landed on a special id
CONTINUATION = "##"        # WordPiece's mark of a piece that continues the previous one

MASK, RANDOM, KEPT = "mask", "random", "kept"


def word_ids_of(tokens: list[str], special: list[bool]) -> list[int]:
    """The word each token belongs to, counting from 0; -1 for special tokens. WordPiece: a token starting with
    '##' continues the previous word. (Tokenizers without '##' continuations: every token its own word.)"""
    if len(tokens) != len(special):
        raise ValueError(f"{len(tokens)} tokens but {len(special)} special flags")
    words: list[int] = []
    word = -1
    after_word = False  # a '##' piece right after a special token starts a word of its own
    for token, is_special in zip(tokens, special):
        if is_special:
            words.append(-1)
            after_word = False
            continue
        if not (after_word and token.startswith(CONTINUATION)):
            word += 1
        words.append(word)
        after_word = True
    return words


def mask_row(input_ids: list[int], special: list[bool], word_ids: list[int] | None, *, probability: float,
             mask_id: int, vocab_size: int, generator: "torch.Generator",
             avoid_ids: Collection[int] | None = None) -> tuple[list[int], list[int]]:
    """BERT's masking of one row: choose `probability` of the non-special tokens (whole words when word_ids is given:
    every piece of a chosen word together, words chosen until about `probability` of tokens are covered), replace 80%
    of the chosen by mask_id, 10% by a random token id (not a special id ideally; from [0, vocab_size)), keep 10%.
    Returns (masked_ids, labels) where labels[i] = original id for chosen tokens, -100 elsewhere. At least one token is
    chosen in any row with a non-special token (so every row contributes to the loss). Deterministic given the generator.

    A random replacement is never `mask_id`, an id at one of the row's special positions, or one of
    `avoid_ids` (pass the tokenizer's `all_special_ids` to keep every special token out)."""
    import torch

    if len(special) != len(input_ids) or (word_ids is not None and len(word_ids) != len(input_ids)):
        raise ValueError("input_ids, special and word_ids must be equally long")
    if not 0.0 < probability <= 1.0:
        raise ValueError(f"probability must be in (0, 1], not {probability}")
    masked, labels = list(input_ids), [IGNORED] * len(input_ids)
    units = _units(special, word_ids)
    if not units:
        return masked, labels
    chosen = _choose(units, probability, generator)
    # Both draws for every chosen token at once, in position order: the same generator state
    # always gives the same row.
    fates = torch.rand(len(chosen), generator=generator).tolist()
    replacements = torch.randint(vocab_size, (len(chosen),), generator=generator).tolist()
    avoid = {mask_id, *(input_ids[i] for i, s in enumerate(special) if s), *(avoid_ids or ())}
    for position, fate, replacement in zip(chosen, fates, replacements):
        labels[position] = input_ids[position]
        if fate < MASK_SHARE:
            masked[position] = mask_id
        elif fate < MASK_SHARE + RANDOM_SHARE:
            masked[position] = _random_id(replacement, avoid, vocab_size, generator)
    return masked, labels


def _units(special: list[bool], word_ids: list[int] | None) -> list[list[int]]:
    """What is chosen together: each non-special position alone, or the positions of one word."""
    if word_ids is None:
        return [[i] for i, s in enumerate(special) if not s]
    words: dict[int, list[int]] = {}
    for i, (s, word) in enumerate(zip(special, word_ids)):
        if not s:
            # A non-special token without a word (-1) is a word of its own.
            words.setdefault(word if word >= 0 else -1 - i, []).append(i)
    return list(words.values())


def _choose(units: list[list[int]], probability: float, generator: "torch.Generator") -> list[int]:
    """The chosen positions, sorted. The target count is `probability` of the tokens, rounded up or
    down at random in proportion (so short rows are not pushed above the share by rounding), and at
    least one. Units are taken in a random order when taking one brings the count at least as close
    to the target: a long word far past the target is passed over for a shorter one."""
    import torch

    total = sum(len(unit) for unit in units)
    target = total * probability
    count = int(target)
    if torch.rand(1, generator=generator).item() < target - count:
        count += 1
    count = max(1, count)
    order = torch.randperm(len(units), generator=generator).tolist()
    chosen: list[int] = []
    for index in order:
        if len(chosen) >= count:
            break
        unit = units[index]
        if len(unit) <= 2 * (count - len(chosen)):
            chosen.extend(unit)
    if not chosen:  # every word is longer than twice the target: the first in the order, whole
        chosen = list(units[order[0]])
    return sorted(chosen)


def _random_id(drawn: int, avoid: set[int], vocab_size: int, generator: "torch.Generator") -> int:
    import torch

    for _ in range(RANDOM_TRIES):
        if drawn not in avoid:
            return drawn
        drawn = int(torch.randint(vocab_size, (1,), generator=generator).item())
    return drawn  # a vocabulary of (nearly) only special tokens: nothing better to draw


@dataclass(frozen=True)
class MaskedRow:
    """A row before and after masking, for display: which positions were chosen and what each became."""

    original: list[int]
    masked: list[int]
    labels: list[int]
    fates: list[str | None]   # MASK, RANDOM or KEPT for a chosen position, None elsewhere

    @classmethod
    def of(cls, original: list[int], masked: list[int], labels: list[int], mask_id: int) -> "MaskedRow":
        """Read the fates off the ids: a random draw can land on the original id, which then reads
        as kept, as it is for the model."""
        fates: list[str | None] = []
        for before, after, label in zip(original, masked, labels):
            if label == IGNORED:
                fates.append(None)
            elif after == mask_id:
                fates.append(MASK)
            elif after != before:
                fates.append(RANDOM)
            else:
                fates.append(KEPT)
        return cls(list(original), list(masked), list(labels), fates)

    @property
    def chosen(self) -> list[int]:
        return [i for i, fate in enumerate(self.fates) if fate is not None]

    def count(self, fate: str) -> int:
        return self.fates.count(fate)
