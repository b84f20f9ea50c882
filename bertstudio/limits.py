"""The longest text BERT Studio takes in, wherever a text comes from (typed, a pair, a file's cell).

A BERT model reads at most a few hundred words of a text, so a text far longer than any real row
is a mistake or an attack; refusing it where it enters keeps tokenizing it (about 160 bytes of
memory per character at the peak) from taking the machine's memory.
"""

from __future__ import annotations

from bertstudio.errors import StudioError

# 1,000,000 characters: about 250,000 tokens, 70 times IMDB's longest review (~14,000 characters),
# longer than any document in the usual long-text sets (ECtHR cases, arXiv papers, Hyperpartisan
# articles); tokenizing one peaks near 160 MB. A shared deployment sets its own, smaller limit
# (BERTSTUDIO_MAX_TEXT_CHARS in hosting.py).
MAX_TEXT_CHARS = 1_000_000


def too_long(length: int, limit: int, what: str) -> StudioError:
    """The one sentence for a text over the limit; `what` names it ("The text", "Row 3 of 'a.csv'...")."""
    return StudioError(f"{what} is {length:,} characters long, more than the {limit:,} one text may "
                       "have here; shorten it (a BERT model reads only the first few hundred words) "
                       "and try again.")


def check_text_length(text: str, limit: int = MAX_TEXT_CHARS, what: str = "The text") -> None:
    if len(text) > limit:
        raise too_long(len(text), limit, what)
