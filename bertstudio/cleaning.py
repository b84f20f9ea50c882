"""Optional text cleaning applied to every text cell: trimming always, the rest only when asked."""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # only for the annotation; cleaning needs nothing from the config at runtime
    from bertstudio.config import TrainConfig

# Tags that separate words when a browser renders them; removing them without a space would glue
# "line one<br>line two" into "line oneline two". Inline tags (<b>, <a>) are removed without one.
_BREAKING_TAG = re.compile(
    r"</?(?:br|p|div|li|ul|ol|tr|td|th|h[1-6]|hr|table|blockquote|section|article)\b[^<>]*>",
    re.IGNORECASE)
# Only things shaped like tags (a letter right after "<", as browsers require): "a < b and c > d"
# in plain text must survive.
_ANY_TAG = re.compile(r"<!--.*?-->|</?[A-Za-z][A-Za-z0-9:-]*(?:\s[^<>]*)?/?\s*>", re.DOTALL)
# A URL ends before whitespace, and trailing punctuation belongs to the sentence, not the address.
_URL = re.compile(r"(?:\b(?:https?|ftp)://|\bwww\.)[^\s<>\"]*[^\s<>\"'.,;:!?)\]}]", re.IGNORECASE)
_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class CleaningOptions:
    """Which cleaning steps run. Trimming is on by default: edge spaces never carry meaning."""

    trim: bool = True
    collapse_whitespace: bool = False
    strip_html: bool = False
    replace_urls: bool = False
    nfkc: bool = False

    @classmethod
    def from_config(cls, config: "TrainConfig") -> "CleaningOptions":
        return cls(
            collapse_whitespace=config.clean_collapse_whitespace,
            strip_html=config.clean_strip_html,
            replace_urls=config.clean_replace_urls,
            nfkc=config.clean_nfkc,
        )

    @property
    def only_trim(self) -> bool:
        """True when nothing but trimming runs, so callers can take the fast `str.strip` path."""
        return not (self.collapse_whitespace or self.strip_html or self.replace_urls or self.nfkc)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def strip_html(text: str) -> str:
    """Remove tags (breaking tags become a space) and then decode entities such as &amp;."""
    text = _BREAKING_TAG.sub(" ", text)
    text = _ANY_TAG.sub("", text)
    # Unescape last: "&lt;b&gt;" is text that shows a tag, not a tag to remove.
    return html.unescape(text)


def replace_urls(text: str, replacement: str = "URL") -> str:
    return _URL.sub(replacement, text)


def clean_text(text: str, options: CleaningOptions) -> str:
    """One text through the chosen steps, in an order where no step undoes another."""
    if options.strip_html:
        text = strip_html(text)
    if options.nfkc:
        # After HTML so entities like &#65313; are normalised too; before URLs so full-width
        # "ｈｔｔｐ://" is recognised.
        text = unicodedata.normalize("NFKC", text)
    if options.replace_urls:
        text = replace_urls(text)
    if options.collapse_whitespace:
        text = _WHITESPACE.sub(" ", text)
    if options.trim:
        text = text.strip()
    return text


def clean_texts(texts: list[str], options: CleaningOptions) -> list[str]:
    """Many texts at once; plain trimming skips the per-text function call (200k rows add up)."""
    if options.only_trim:
        return [t.strip() for t in texts] if options.trim else list(texts)
    return [clean_text(t, options) for t in texts]
