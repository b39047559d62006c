"""The words and figures of the archive's formats in the organiser's language: a translation,
and how that language writes moments, numbers and shares (`live.templating` makes one per
language; the default is English, moments as stored)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

Translate = Callable[[str], str]


def _same(text: str) -> str:
    return text


def _as_stored(moment: str | None) -> str:
    return moment or ""


def _number(value: float, digits: int | None = None) -> str:
    return str(value) if digits is None else f"{value:.{digits}f}"


@dataclass(frozen=True)
class Words:
    """What a report's reader reads, in their language: `t` translates a word; `when` writes a
    moment (stored as ISO 8601 in UTC), `number` a figure (at most `digits` decimals), and
    `percent` a share (0..1). The default: English words, moments as stored, numbers as Python
    writes them. A Words is also a `Translate`."""

    t: Translate = _same
    when: Callable[[str | None], str] = _as_stored
    number: Callable[..., str] = _number
    percent: Callable[[float], str] = lambda share: f"{round(share * 100)} %"

    def __call__(self, message: str) -> str:
        return self.t(message)


def words_of(t: Translate) -> Words:
    return t if isinstance(t, Words) else Words(t)


def count_of(t: Translate, message: str, count: int) -> str:
    """A count with its word ("6 upvotes"), in the reader's language and numbers."""
    return t(message) % {"count": words_of(t).number(count)}
