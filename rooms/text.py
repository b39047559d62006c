"""Cleaning what people type: trimmed, normalised, no invisible or direction-changing marks.

The policy follows Unicode's own definitions (UAX #9, UAX #29, UAX #44 and the identifier
guidance of UTS #39) through the `regex` module's properties rather than a list of our own:
- control characters go (they break exports), ordinary newlines and tabs in longer texts stay;
- bidi controls always go: they let one text pose as another (a name that renders as
  someone else's, a note whose words read backwards);
- other default-ignorable code points (zero-width spaces, fillers, joiners, variation
  selectors, tags) go unless they belong to a grapheme cluster with a visible base, where
  they do work: the joiners of an emoji family, the ZWNJ of a Persian word, the tags of the
  flag of England, an emoji's variation selector;
- the result is in NFC, so the same text is always stored the same way.
A name must show something: at least one letter, number or pictographic character that is
not default-ignorable, so a name of only Hangul fillers or blank braille is refused."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from typing import Any

import regex

from rooms.errors import invalid

_CONTROL = re.compile(r"[\u0000-\u0008\u000b-\u001f\u007f-\u009f]")
_BIDI = regex.compile(r"\p{Bidi_Control}")
_GRAPHEME = regex.compile(r"\X")
_IGNORABLE = regex.compile(r"\p{Default_Ignorable_Code_Point}")
# A cluster's base is visible when it is neither blank nor ignorable nor a control.
_INVISIBLE_BASE = regex.compile(r"[\s\p{Default_Ignorable_Code_Point}\p{Cc}]")
# Tag characters spell the subdivision of a flag emoji; after anything else they only hide
# text from the reader (invisible ASCII that a machine still reads).
_TAG = regex.compile(r"[\U000e0000-\U000e007f]")
_PICTOGRAPHIC = regex.compile(r"\p{Extended_Pictographic}")
_JOINERS = regex.compile(r"\p{Join_Control}+$")
_LETTER = regex.compile(r"[\p{L}\p{M}]")
_SHOWS = regex.compile(
    r"[[\p{L}\p{N}\p{Extended_Pictographic}]--\p{Default_Ignorable_Code_Point}]", regex.V1
)
_SPACES = re.compile(r"[^\S\n]+")


def clean(
    value: Any,
    what: str,
    max_len: int,
    *,
    min_len: int = 1,
    multiline: bool = False,
    name: bool = False,
) -> str:
    """The text as Samla stores it, or a refusal that says which limit it broke. A `name`
    must show at least one letter, number or pictographic character."""
    if not isinstance(value, str):
        raise invalid(f"{what} must be text.")
    text = _visible(value.replace("\r\n", "\n").replace("\r", "\n"))
    if multiline:
        lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
        text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    else:
        text = _SPACES.sub(" ", text.replace("\n", " ")).strip()
    if name and value.strip() and not _SHOWS.search(text):
        raise invalid(f"{what} shows nothing: use at least one letter, number or emoji.")
    if len(text) < min_len:
        raise invalid(f"{what} is empty." if min_len == 1 else f"{what} is too short.")
    if len(text) > max_len:
        raise invalid(f"{what} is {len(text)} characters; at most {max_len} are allowed.")
    return text


def optional(value: Any, what: str, max_len: int, *, name: bool = False) -> str | None:
    """Like `clean`, but nothing (or only blanks) means no value rather than a refusal."""
    if value is None:
        return None
    return clean(value, what, max_len, min_len=0, name=name) or None


def _visible(text: str) -> str:
    """The text without controls, bidi controls and default-ignorables that do no work."""
    text = _CONTROL.sub("", text)
    if text.isascii():
        return text  # most of what is typed: nothing else to remove, already NFC
    text = _BIDI.sub("", text)
    clusters: list[str] = _GRAPHEME.findall(text)
    following = [*clusters[1:], ""]
    return unicodedata.normalize("NFC", "".join(map(_cluster, clusters, following)))


def _cluster(cluster: str, following: str) -> str:
    kept: str = cluster
    if _INVISIBLE_BASE.match(cluster):
        kept = _IGNORABLE.sub("", cluster)
        return kept
    if not _PICTOGRAPHIC.match(cluster):
        kept = _TAG.sub("", cluster)
    # A joiner ending a cluster joins it to the next only inside a word (a Persian ZWNJ);
    # before a space or at the end it does nothing. In an emoji sequence it is never last.
    if not _LETTER.match(following):
        kept = _JOINERS.sub("", kept)
    return kept


def moment(value: Any, field: str) -> datetime | None:
    """An ISO 8601 time as stored (in UTC); a time without a zone is UTC."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 40:
        raise invalid(f"{field} must be an ISO 8601 time, such as 2026-03-03T09:00:00Z.")
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise invalid(f"{field} must be an ISO 8601 time, such as 2026-03-03T09:00:00Z.") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).replace(microsecond=0)
