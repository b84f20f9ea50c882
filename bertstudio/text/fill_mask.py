"""The masking preview: one text masked as pretraining masks it, and a model's top guesses for each [MASK].

Separate from `masking.py` (which training imports) because it loads a second kind of model, the
masked-LM, and must say plainly when that model cannot guess: a checkpoint saved as a bare encoder
(the bundled model, MiniLM) gets a randomly made head when loaded for masked-LM, and its guesses
are noise until continued pretraining has trained one.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bertstudio.limits import MAX_TEXT_CHARS
from bertstudio.text.masking import MASK, MaskedRow, mask_row, word_ids_of

TOP_K = 5              # guesses shown per [MASK]
CACHED_MODELS = 2      # masked-LMs kept loaded: the model picked, and the one picked before it
NO_HEAD = ("This model was saved without its word-guessing head, so its guesses mean nothing until it "
           "is adapted to your texts (Hyperparameters → Adapt…, or `bertstudio pretrain`); after that "
           "run, pick it as the model.")


@dataclass(frozen=True)
class MaskedLM:
    """A model loaded for fill-mask, on the CPU in eval mode."""

    name: str
    model: Any
    has_head: bool        # False: the head was made up at load time, so its guesses are noise
    missing: tuple[str, ...]  # the head's weights the checkpoint lacked


@dataclass(frozen=True)
class Guess:
    token: str
    probability: float


@dataclass(frozen=True)
class MaskGuesses:
    """The model's top guesses for the [MASK] at `position`, and the token it hides."""

    position: int
    answer: str
    guesses: list[Guess]

    @property
    def rank(self) -> int | None:
        """1 when the top guess is the hidden token; None when it is not among the guesses."""
        return next((i + 1 for i, guess in enumerate(self.guesses) if guess.token == self.answer), None)


@dataclass(frozen=True)
class MaskingPreview:
    """One text's kept tokens (the model's input) before and after masking."""

    tokens: list[str]            # the kept tokens, as the model reads them unmasked
    shown: list[str]             # the same after masking: [MASK], a random token, or as it was
    special: list[bool]          # told by the tokenizer's special ids, as the collator tells them
    row: MaskedRow
    word_ids: list[int]
    token_type_ids: list[int]
    probability: float
    whole_words: bool
    encoded: Any                 # the TokenPreview of the text, for drawing it on the tab's chips


def mask_text(tokenizer: Any, text: str, pair: str | None = None, *, probability: float, whole_words: bool,
              seed: int, max_length: int = 128, truncation: str = "start",
              max_chars: int = MAX_TEXT_CHARS) -> MaskingPreview:
    """Mask one text (or pair) as the pretraining collator masks a row: the same tokens it keeps,
    special tokens told by the tokenizer's special ids, and `mask_row` with a generator from `seed`."""
    import torch

    from bertstudio.errors import StudioError
    from bertstudio.text.token_preview import preview

    if tokenizer.mask_token_id is None:
        raise StudioError("This model's tokenizer has no [MASK] token, so it cannot guess hidden words; "
                          "pick a BERT-family model.")
    encoded = preview(tokenizer, text, pair, max_length=max_length, truncation=truncation, max_chars=max_chars)
    ids = encoded.input_ids
    special_ids = set(tokenizer.all_special_ids)
    special = [token in special_ids for token in ids]
    tokens = tokenizer.convert_ids_to_tokens(ids)
    words = word_ids_of(tokens, special)
    masked, labels = mask_row(ids, special, words if whole_words else None, probability=probability,
                              mask_id=tokenizer.mask_token_id, vocab_size=len(tokenizer),
                              generator=torch.Generator().manual_seed(int(seed)))
    row = MaskedRow.of(ids, masked, labels, tokenizer.mask_token_id)
    return MaskingPreview(tokens=tokens, shown=tokenizer.convert_ids_to_tokens(masked), special=special, row=row,
                          word_ids=words, token_type_ids=encoded.token_type_ids, probability=probability,
                          whole_words=whole_words, encoded=encoded)


def load_masked_lm(name: str) -> MaskedLM:
    """The model `name` with its masked-LM head, loaded once per folder version (an LRU of
    CACHED_MODELS), so another row or another mask draw is quick."""
    from bertstudio.models import resolve_model

    source = resolve_model(name)
    return _load_cached(name, source, _stamp(source))


def _stamp(source: str) -> tuple[tuple[str, int], ...]:
    """A folder's weights and config with their change times: a run folder written anew (a
    pretraining run resumed) is loaded anew. A hub id: nothing, its cache does not change under us."""
    folder = Path(source)
    if not folder.is_dir():
        return ()
    files = [folder / "config.json", *sorted(folder.glob("*.safetensors"))]
    return tuple((file.name, file.stat().st_mtime_ns) for file in files if file.is_file())


@functools.lru_cache(maxsize=CACHED_MODELS)
def _load_cached(name: str, source: str, stamp: tuple[tuple[str, int], ...]) -> MaskedLM:
    import torch
    from transformers import AutoModelForMaskedLM

    from bertstudio.models import _load

    options: dict[str, Any] = dict(use_safetensors=True, trust_remote_code=False, dtype=torch.float32,
                                   output_loading_info=True)
    model, info = _load(name, source, lambda path, **kw: AutoModelForMaskedLM.from_pretrained(
        path, **options, **kw), weights=True)
    # The head is what lies outside the encoder (`bert.` for BERT; `cls.predictions.` is its
    # head): any of it missing means transformers made it up, whatever the family calls it.
    prefix = f"{model.base_model_prefix}."
    missing = tuple(key for key in info.get("missing_keys", ()) if not key.startswith(prefix))
    return MaskedLM(name=name, model=model.eval(), has_head=not missing, missing=missing)


def top_guesses(mlm: MaskedLM, tokenizer: Any, preview: MaskingPreview, *, top_k: int = TOP_K
                ) -> list[MaskGuesses]:
    """The model's `top_k` guesses, with probabilities, for every [MASK] of the masked row."""
    import torch

    positions = [i for i, fate in enumerate(preview.row.fates) if fate == MASK]
    if not positions:
        return []
    inputs = {"input_ids": torch.tensor([preview.row.masked]),
              "attention_mask": torch.ones(1, len(preview.row.masked), dtype=torch.long),
              "token_type_ids": torch.tensor([preview.token_type_ids])}
    with torch.no_grad():
        logits = mlm.model(**inputs).logits[0, positions]
    top = logits.softmax(dim=-1).topk(min(top_k, logits.shape[-1]), dim=-1)
    found = []
    for row, position in enumerate(positions):
        words = tokenizer.convert_ids_to_tokens(top.indices[row].tolist())
        found.append(MaskGuesses(position=position, answer=preview.tokens[position],
                                 guesses=[Guess(word, float(p)) for word, p in zip(words, top.values[row].tolist())]))
    return found
