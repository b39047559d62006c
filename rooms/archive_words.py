"""The words and figures of the archive's formats in the organiser's language: a translation,
and how that language writes moments, numbers and shares (`live.templating` makes one per
language; the default is English, moments as stored)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel import Locale
from babel.numbers import get_decimal_symbol

Translate = Callable[[str], str]
# The document language each of Samla's languages writes its office files in (BCP 47).
LANGUAGE_TAGS = {"en": "en-GB", "sv": "sv-SE"}


def unchanged(text: str) -> str:
    return text


def _as_stored(moment: str | None) -> str:
    return moment or ""


def _number(value: float, digits: int | None = None) -> str:
    return str(value) if digits is None else f"{value:.{digits}f}"


@lru_cache(maxsize=8)
def _decimal_sign(language: str) -> str:
    return get_decimal_symbol(Locale.parse(language, sep="-"))


@dataclass(frozen=True)
class Words:
    """What a report's reader reads, in their language: `t` translates a word; `when` writes a
    moment (stored as ISO 8601 in UTC), `number` a figure (at most `digits` decimals), and
    `percent` a share (0..1); `language` is the documents' language (BCP 47) and `time_zone`
    the zone of the moments the spreadsheets hold as dates. The default: English words,
    moments as stored, numbers as Python writes them. A Words is also a `Translate`."""

    t: Translate = unchanged
    when: Callable[[str | None], str] = _as_stored
    number: Callable[..., str] = _number
    percent: Callable[[float], str] = lambda share: f"{round(share * 100)} %"
    language: str = "en-GB"
    time_zone: str = "UTC"

    def __call__(self, message: str) -> str:
        return self.t(message)

    @property
    def decimal_sign(self) -> str:
        """The language's decimal sign ("," in Swedish), from its locale's data."""
        return _decimal_sign(self.language)

    @property
    def csv_delimiter(self) -> str:
        """What a spreadsheet of this language reads between cells: a semicolon where the
        comma is the decimal sign (Excel with Swedish settings), else a comma."""
        return ";" if self.decimal_sign == "," else ","

    def figure(self, value: float) -> str:
        """A decimal figure as data in text (CSV): every digit kept, no grouping, the
        language's decimal sign, so a spreadsheet of that language reads it as a number."""
        return repr(value).replace(".", self.decimal_sign)

    def moment(self, value: str | None) -> datetime | None:
        """A stored moment as a date cell holds it: in `time_zone`, without a zone (Excel and
        LibreOffice know no zones)."""
        if not value:
            return None
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(ZoneInfo(self.time_zone)).replace(tzinfo=None)


def words_of(t: Translate) -> Words:
    return t if isinstance(t, Words) else Words(t)


def count_of(t: Translate, message: str, count: int) -> str:
    """A count with its word ("6 upvotes"), in the reader's language and numbers."""
    return t(message) % {"count": words_of(t).number(count)}
