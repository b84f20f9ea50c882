"""The Tokenizer tab's masking preview as HTML: the masked row on the tab's WordPiece chips, and the
model's guesses for each [MASK]. Pure functions of the engine's MaskingPreview, testable without gradio."""

from __future__ import annotations

import dataclasses
import html
import re
from typing import TYPE_CHECKING

from bertstudio.text.masking import KEPT, MASK, RANDOM
from bertstudio.ui import render

if TYPE_CHECKING:
    from bertstudio.text.fill_mask import MaskGuesses, MaskingPreview

# Scoped to the preview's own components (gr.HTML css_template), so the tab's chips stay as they are.
CSS = """
.tok-mask { background: #4f46e5; border-color: #4338ca; color: #fff; font-weight: 700; }
.tok-random { background: #fce7f3; border: 2px solid #db2777; color: #9d174d; }
.tok-kept { border: 2px dashed #4f46e5; }
.mask-facts { margin: 0.2em 0 0.6em; }
.fm-table { border-collapse: collapse; font-size: 14px; }
.fm-table td, .fm-table th { padding: 4px 8px; border-bottom: 1px solid #e5e7eb; text-align: left; vertical-align: top; }
.fm-guess { display: inline-block; margin: 0 6px 4px 0; padding: 2px 6px; border-radius: 6px; background: #f1f5f9;
            font-family: ui-monospace, Consolas, monospace; font-size: 13px; }
.fm-guess b { font-family: system-ui, sans-serif; font-weight: 600; color: #475569; }
.fm-hit { background: #dcfce7; border: 1px solid #16a34a; }
"""

_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")

_LEGEND = ('<div class="tok-legend"><span class="tok tok-mask">[MASK]¹</span> hidden, for the model to guess '
           '<span class="tok tok-random">word</span> swapped for a random token '
           '<span class="tok tok-kept">word</span> chosen but left as it is (the model must still say what '
           'it is)</div>')


def mask_number(n: int) -> str:
    return f"[MASK]{str(n).translate(_SUPERSCRIPT)}"


def mask_numbers(preview: "MaskingPreview") -> dict[int, int]:
    """Row position -> 1, 2, … for each [MASK], in reading order: the chips and the guesses share them."""
    positions = [i for i, fate in enumerate(preview.row.fates) if fate == MASK]
    return {position: n for n, position in enumerate(positions, start=1)}


def masked_chips(preview: "MaskingPreview") -> str:
    """The kept tokens on the tab's chips, each chosen one restyled as what it became."""
    encoded = preview.encoded
    kept = [piece for piece in encoded.tokens if piece.kept]
    numbers = mask_numbers(preview)
    marks: dict[int, tuple[str, str, str]] = {}
    for index, piece in enumerate(kept):
        fate, original = preview.row.fates[index], preview.tokens[index]
        if fate == MASK:
            marks[piece.position] = ("tok-mask", mask_number(numbers[index]), f"hidden: it was '{original}'")
        elif fate == RANDOM:
            marks[piece.position] = ("tok-random", preview.shown[index],
                                     f"swapped for a random token: it was '{original}'")
        elif fate == KEPT:
            marks[piece.position] = ("tok-kept", original, "chosen but left as it is; the model must still say it")
    # What the model reads is the kept tokens; a long text's dropped stretch shows as a gap mark.
    only_kept = dataclasses.replace(encoded, tokens=kept, hidden_count=0)
    return render.token_chips(only_kept, marks) + _LEGEND


def masking_facts(preview: "MaskingPreview") -> str:
    row = preview.row
    chosen = len(row.chosen)
    words = " (whole words)" if preview.whole_words else ""
    return (f'<div class="mask-facts">Pretraining hides {preview.probability:.0%} of the tokens{words}: here '
            f'<b>{chosen}</b> of {preview.special.count(False)} — {row.count(MASK)} became '
            f'[MASK], {row.count(RANDOM)} a random token, {row.count(KEPT)} stayed as they were. The model '
            f'learns by giving back the original of all {chosen}.</div>')


def guesses_table(preview: "MaskingPreview", guesses: "list[MaskGuesses]") -> str:
    """One row per [MASK]: the hidden token and the model's top guesses with their probabilities,
    the right one marked; above it, how often the model got it."""
    if not guesses:
        return render.notice("No token became [MASK] this time (the chosen ones were swapped or kept); "
                             "press Mask again.")
    numbers = mask_numbers(preview)
    rows = []
    for found in guesses:
        cells = "".join(
            f'<span class="fm-guess{" fm-hit" if guess.token == found.answer else ""}">'
            f'{html.escape(guess.token)} <b>{guess.probability:.0%}</b></span>' for guess in found.guesses)
        rows.append(f"<tr><td>{mask_number(numbers[found.position])}</td><td><code>{html.escape(found.answer)}"
                    f"</code></td><td>{cells}</td></tr>")
    top = sum(found.rank == 1 for found in guesses)
    among = sum(found.rank is not None for found in guesses)
    k = max(len(found.guesses) for found in guesses)
    summary = (f"The model's first guess is right for <b>{top}</b> of {len(guesses)} hidden tokens; the right one "
               f"is among its top {k} for <b>{among}</b>.")
    return (f'<div class="mask-facts">{summary}</div><div class="table-wrap"><table class="fm-table">'
            f"<tr><th></th><th>Hidden token</th><th>The model's top guesses</th></tr>{''.join(rows)}</table></div>")


def warning(message: str) -> str:
    """A problem box for an engine sentence whose `backticks` name a command."""
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(message))
    return f'<div class="problem" role="alert">⚠️ {text}</div>'
