"""Text made safe to show: Markdown that shows user text literally, and long cells cut short."""

from __future__ import annotations

import html
import re
from typing import Any

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")


def md_escape(text: Any) -> str:
    """Text that Markdown shows literally: HTML escaped, Markdown punctuation backslashed."""
    return _MD_SPECIAL.sub(r"\\\1", html.escape(str(text), quote=False)).replace("\n", " ")


def shorten(text: str, width: int = 160) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"
