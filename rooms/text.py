"""Cleaning what people type: trimmed, normalised, no invisible or direction-changing marks."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from rooms.errors import invalid

# Bidi controls, zero-width characters and other format characters (category Cf) let one
# text pose as another (a name that renders as someone else's); control characters break
# exports. Ordinary newlines and tabs in longer texts stay.
_INVISIBLE = re.compile(r"[\u0000-\u0008\u000b-\u001f\u007f-\u009f]")
_SPACES = re.compile(r"[^\S\n]+")


def clean(value: Any, what: str, max_len: int, *, min_len: int = 1, multiline: bool = False) -> str:
    """The text as Samla stores it, or a refusal that says which limit it broke."""
    if not isinstance(value, str):
        raise invalid(f"{what} must be text.")
    text = unicodedata.normalize("NFC", value)
    text = "".join(c for c in text if unicodedata.category(c) != "Cf")
    text = _INVISIBLE.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    if multiline:
        lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
        text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    else:
        text = _SPACES.sub(" ", text.replace("\n", " ")).strip()
    if len(text) < min_len:
        raise invalid(f"{what} is empty." if min_len == 1 else f"{what} is too short.")
    if len(text) > max_len:
        raise invalid(f"{what} is {len(text)} characters; at most {max_len} are allowed.")
    return text


def optional(value: Any, what: str, max_len: int) -> str | None:
    """Like `clean`, but nothing (or only blanks) means no value rather than a refusal."""
    if value is None:
        return None
    return clean(value, what, max_len, min_len=0) or None
