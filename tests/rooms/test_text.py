"""The Unicode policy of what people type: joiners that do work survive, invisible names do not."""

from __future__ import annotations

import pytest

from rooms.errors import Refused
from rooms.text import clean, optional

FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"  # one emoji, four people
ENGLAND = "\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f"
# "می‌خواهم" ("I want"): the ZWNJ keeps the prefix apart, as it is written
PERSIAN = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"


@pytest.mark.parametrize(
    "text",
    [
        FAMILY,
        ENGLAND,
        PERSIAN,
        "\u2764\ufe0f",  # the heart as an emoji, its variation selector kept
        "\U0001f44d\U0001f3fd",  # a skin tone
        "\u0915\u094d\u200d\u0937",  # Devanagari with a ZWJ asking for a half form
    ],
)
def test_joiners_and_selectors_that_do_work_survive(text: str) -> None:
    assert clean(f"Hej {text}!", "The note", 100) == f"Hej {text}!"
    assert clean(text, "The name", 80, name=True) == text


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("evil\u202etxt.exe", "eviltxt.exe"),  # right-to-left override
        ("\u2066Anna\u2069", "Anna"),  # isolates
        ("A\u200fnna", "Anna"),  # a right-to-left mark
        ("An\u200bna", "Anna"),  # a zero-width space
        ("An\x00na", "Anna"),  # NUL, which PostgreSQL cannot store
        ("Anna\u3164", "Anna"),  # a Hangul filler after the name
        ("A\U000e0041\U000e0042nna", "Anna"),  # tags hiding text after a letter
        ("\ufeffAnna", "Anna"),  # a byte-order mark
        ("Cafe\u0301", "Café"),  # NFC
        ("Anna\u200d Bo\u200c", "Anna Bo"),  # joiners that join nothing
        ("\U0001f600\u200d", "\U0001f600"),
    ],
)
def test_invisible_and_direction_changing_marks_are_removed(typed: str, stored: str) -> None:
    assert clean(typed, "The name", 80, name=True) == stored


@pytest.mark.parametrize("blank", ["\u3164", "\u3164\u3164", "\u2800", "\u2800 \u2800", "\u200b"])
def test_a_name_that_shows_nothing_is_refused_and_says_why(blank: str) -> None:
    with pytest.raises(Refused) as refused:
        optional(blank, "The name", 80, name=True)
    assert refused.value.code == "invalid"
    assert "The name shows nothing" in refused.value.message
    with pytest.raises(Refused):
        clean(blank, "The title", 200, name=True)


def test_no_name_at_all_is_still_allowed() -> None:
    assert optional("   ", "The name", 80, name=True) is None
    assert optional(None, "The name", 80, name=True) is None


def test_multiline_text_keeps_its_lines_and_loses_its_controls() -> None:
    assert clean("a\x00b\r\nc\u202e\n\n\n\nd", "The note", 100, multiline=True) == "ab\nc\n\nd"


def test_a_text_of_only_invisible_marks_is_empty() -> None:
    with pytest.raises(Refused) as refused:
        clean("\u200b\u200d\u202e", "The note", 100, multiline=True)
    assert refused.value.message == "The note is empty."
