"""Optional text cleaning applied to every text cell: trimming always, the rest only when asked."""

from __future__ import annotations

import functools
import html
import re
import unicodedata
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Mapping

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
    fix_mojibake: bool = False

    @classmethod
    def from_config(cls, config: "TrainConfig") -> "CleaningOptions":
        return cls.from_settings(config.to_dict())

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any] | None) -> "CleaningOptions":
        """From a config's settings as a mapping (a run folder's config.json): each optional step
        is the `clean_<step>` setting; a setting an older run did not record is off."""
        settings = settings or {}
        return cls(**{name: bool(settings.get(f"clean_{name}", False)) for name in _OPTIONAL_STEPS})

    @property
    def only_trim(self) -> bool:
        """True when nothing but trimming runs, so callers can take the fast `str.strip` path."""
        return not any(getattr(self, name) for name in _OPTIONAL_STEPS)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_OPTIONAL_STEPS = ("collapse_whitespace", "strip_html", "replace_urls", "nfkc", "fix_mojibake")


def _as_cp1252(byte: int) -> str:
    """One byte as a cp1252 reader shows it (the five bytes cp1252 leaves out read as latin-1)."""
    try:
        return bytes([byte]).decode("cp1252")
    except UnicodeDecodeError:
        return chr(byte)


def _through_mac_roman(char: str) -> str:
    """A character after the Mac Roman round trip `fix_mojibake` undoes ("Â" comes back as "å")."""
    try:
        return char.encode("mac_roman").decode("cp1252")
    except UnicodeError:
        return ""


def _suspect_pattern() -> re.Pattern[str]:
    """What mojibake always contains: a UTF-8 lead byte followed by a continuation byte, as read
    directly or through the Mac Roman layer; or a C1 control (cp1252 punctuation read as latin-1).
    A cheap test that spares ftfy's slower checks on the many texts with neither."""
    leads = [_as_cp1252(b) for b in range(0xC2, 0xF5)]
    continuations = [_as_cp1252(b) for b in range(0x80, 0xC0)]
    sets = [(leads, continuations),
            ([_through_mac_roman(c) for c in leads], [_through_mac_roman(c) for c in continuations])]
    pairs = "|".join(f"[{re.escape(''.join(a))}][{re.escape(''.join(b))}]" for a, b in sets)
    return re.compile(f"{pairs}|[\x80-\x9f]")


_MOJIBAKE_SUSPECT = _suspect_pattern()


def fix_mojibake(text: str) -> str:
    """Repair text decoded with the wrong encoding ("cafÃ©" for "café"), with ftfy.

    One more layer is undone on top of ftfy's: UTF-8 read as cp1252 and then saved as Mac Roman,
    as an old Mac spreadsheet does, so that it reads back as "å£" for "£" (the Kaggle SMS spam
    file). That route is taken only when ftfy finds UTF-8 mojibake under the Mac Roman reading
    (which shortens the text: several characters become one) and the result is no more garbled
    by ftfy's own measure than its plain repair, so correct accents ("Åre", "naïve") stay.
    """
    if text.isascii() or not _MOJIBAKE_SUSPECT.search(text):
        return text
    return _remembered_repair(text) if len(text) <= _REMEMBER_CHARS else _repair(text)


# ftfy takes about 0.5 ms a suspect text; the Data tab prepares the same file again on every
# change of a setting, and the report scans what the cleaning repairs, so short texts' answers
# are remembered (bounded: at most 10,000 texts of 2,000 characters).
_REMEMBER_CHARS = 2_000


def _repair(text: str) -> str:
    import ftfy
    from ftfy.badness import badness

    fixed = ftfy.fix_encoding(text)
    try:
        layered = text.encode("cp1252").decode("mac_roman")
    except UnicodeError:
        return fixed
    unlayered = ftfy.fix_encoding(layered)
    if len(unlayered) < len(text) and badness(unlayered) <= badness(fixed):
        return unlayered
    return fixed


_remembered_repair = functools.lru_cache(maxsize=10_000)(_repair)


def strip_html(text: str) -> str:
    """Remove tags (breaking tags become a space) and then decode entities such as &amp;."""
    text = _BREAKING_TAG.sub(" ", text)
    text = _ANY_TAG.sub("", text)
    # Unescape last: "&lt;b&gt;" is text that shows a tag, not a tag to remove.
    return html.unescape(text)


_ENTITY = re.compile(r"&(?:[A-Za-z][A-Za-z0-9]{1,7}|#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6});")


def find_html(text: str) -> re.Match[str] | None:
    """The first tag or entity in a text ("<br />", "&amp;"), or None: what `strip_html` acts on."""
    if "<" not in text and "&" not in text:
        return None
    return _ANY_TAG.search(text) or _ENTITY.search(text)


def replace_urls(text: str, replacement: str = "URL") -> str:
    return _URL.sub(replacement, text)


def clean_text(text: str, options: CleaningOptions) -> str:
    """One text through the chosen steps, in an order where no step undoes another."""
    if options.fix_mojibake:
        # First: the repair works on the characters as mis-decoded, before anything is removed.
        text = fix_mojibake(text)
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
