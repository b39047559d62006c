"""The splits as each archive format writes them, in both languages: the CSV's and the
workbook's Splits rows (numbers as numbers, words for a hidden group, formula-safe text,
Swedish semicolons), the upvote tables of Markdown and Word, and the JSON's `hidden`."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from functools import lru_cache

import pytest
from docx import Document
from openpyxl import load_workbook

from rooms import archive_formats as formats
from rooms import archive_office as office
from rooms.archive import (
    Archive,
    GroupCount,
    Split,
    SplitGroup,
    UpvoteGroup,
    UpvoteSplit,
)
from rooms.archive_words import Words
from tests.rooms.test_archive import a_note, sample

LANGS = [pytest.param("en", id="en"), pytest.param("sv", id="sv")]
HOSTILE = '=HYPERLINK("https://evil.example")'


@lru_cache(maxsize=2)
def words(lang: str) -> Words:
    from live.templating import Templates

    return Templates(time_zone="Europe/Stockholm").words(lang)


def with_splits() -> Archive:
    """The sample forum: its first poll split by sector (40 shown; 20 hidden to protect the
    2), and two notes whose upvotes are split alike (civil society shown, the public sector
    hidden to protect the two without an answer), one of them with a text that could run."""
    data = sample()
    poll_split = Split(
        "sektor",
        "Sektor",
        (
            SplitGroup("Civilsamhälle", 40, (GroupCount("Mer", 25), GroupCount("Bättre", 15))),
            SplitGroup(
                "Offentlig", None, (GroupCount("Mer", None), GroupCount("Bättre", None)), "protects"
            ),
            SplitGroup(
                "Akademi", None, (GroupCount("Mer", None), GroupCount("Bättre", None)), "small"
            ),
        ),
    )
    polls = (replace(data.polls[0], splits=(poll_split,)), *data.polls[1:])

    def upvoted(civil: int) -> UpvoteSplit:
        return UpvoteSplit(
            "sektor",
            "Sektor",
            (
                UpvoteGroup("Civilsamhälle", civil),
                UpvoteGroup("Offentlig", None, "protects"),
                UpvoteGroup(None, None, "small"),
            ),
        )

    shown, hidden = upvoted(40), upvoted(5)
    board = data.boards[0]
    notes = (
        replace(a_note("s1", "Mentorer i kommunen", 60, None), splits=(shown,)),
        replace(a_note("s2", HOSTILE, 6, None), splits=(hidden,)),
    )
    column = replace(board.columns[0], notes=notes)
    boards = (replace(board, columns=(column, *board.columns[1:])), *data.boards[1:])
    return replace(data, polls=polls, boards=boards)


def split_csv(data: Archive, w: Words) -> list[dict[str, str]]:
    text = formats.csv_bytes(data, "splits", w).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text, newline=""), delimiter=w.csv_delimiter))


@pytest.mark.parametrize("lang", LANGS)
def test_the_splits_csv_and_sheet_hold_numbers_and_words_never_a_hidden_count(lang: str) -> None:
    w = words(lang)
    data = with_splits()
    header = formats.headers_in(formats.SPLIT_HEADER, w)
    key = dict(zip(formats.SPLIT_HEADER, header, strict=True))
    text = formats.csv_bytes(data, "splits", w).decode("utf-8-sig")
    assert text.split("\r\n", 1)[0] == w.csv_delimiter.join(header)
    rows = split_csv(data, w)
    fewer, protects = w(formats.FEWER), w(formats.PROTECTS)
    question = data.polls[0].question
    poll = [r for r in rows if r[key["text"]] == question]
    assert [
        (r[key["group"]], r[key["people"]], r[key["answer"]], r[key["count"]]) for r in poll
    ] == [
        ("Civilsamhälle", "40", "Mer", "25"),
        ("Civilsamhälle", "40", "Bättre", "15"),
        ("Offentlig", protects, "Mer", protects),
        ("Offentlig", protects, "Bättre", protects),
        ("Akademi", fewer, "Mer", fewer),
        ("Akademi", fewer, "Bättre", fewer),
    ]
    assert {r[key["source"]] for r in poll} == {"poll"}
    notes = [r for r in rows if r[key["source"]] == "note"]
    assert [(r[key["text"]], r[key["group"]], r[key["count"]]) for r in notes] == [
        ("Mentorer i kommunen", "Civilsamhälle", "40"),
        ("Mentorer i kommunen", "Offentlig", protects),
        ("Mentorer i kommunen", w("No answer"), fewer),
        ("'" + HOSTILE, "Civilsamhälle", "5"),  # a note that could run: text
        ("'" + HOSTILE, "Offentlig", protects),
        ("'" + HOSTILE, w("No answer"), fewer),
    ]

    book = load_workbook(io.BytesIO(office.xlsx_bytes(data, w)))
    sheet = book[w("Splits")]
    assert w("Splits") in book.sheetnames
    cells = list(sheet.iter_rows(min_row=1))
    assert [c.value for c in cells[0]] == list(header)
    values = [[c.value for c in row] for row in cells[1:]]
    assert values[0][6:] == [40, "Mer", 25]  # numbers as numbers
    assert values[2][6:] == [protects, "Mer", protects]
    hostile = [row for row in cells[1:] if row[3].value == HOSTILE]
    assert hostile and all(row[3].quotePrefix and row[3].data_type == "s" for row in hostile)


def test_a_swedish_csv_of_splits_is_read_by_a_swedish_spreadsheet() -> None:
    sv = words("sv")
    data = with_splits()
    text = formats.csv_bytes(data, "splits", sv).decode("utf-8-sig")
    assert sv.csv_delimiter == ";"
    first = text.split("\r\n")[1].split(";")
    assert first[:2] == ["poll", ""] and first[-3:] == ["40", "Mer", "25"]
    assert "färre än 3" in text  # the catalog's words for a small group


@pytest.mark.parametrize("lang", LANGS)
def test_markdown_and_word_show_a_table_of_upvotes_per_board_and_question(lang: str) -> None:
    w = words(lang)
    data = with_splits()
    fewer, protects, none = w(formats.FEWER), w(formats.PROTECTS), w("No answer")
    md = formats.markdown(data, w)
    at = md.index(f"{w('Upvotes split by')}: Sektor")
    table = md[at:].split("\n\n", 2)[1]
    assert (
        table.split("\n")[0]
        == f"| {w('Note')} | {w('Upvotes')} | Civilsamhälle | Offentlig | {none} |"
    )
    assert f"| Mentorer i kommunen | 60 | 40 | {protects} | {fewer} |" in table
    assert f"| {formats.md_text(HOSTILE)} | 6 | 5 | {protects} | {fewer} |" in table
    rows = [
        [c.text for c in r.cells]
        for t in Document(io.BytesIO(office.docx_bytes(data, w))).tables
        for r in t.rows
    ]
    assert [w("Note"), w("Upvotes"), "Civilsamhälle", "Offentlig", none] in rows
    assert ["Mentorer i kommunen", "60", "40", protects, fewer] in rows
    assert [HOSTILE, "6", "5", protects, fewer] in rows
    assert ["Offentlig", protects, "-", "-"] in rows  # the poll's protecting group


def test_the_json_says_why_a_group_is_hidden_and_carries_no_count_for_it() -> None:
    loaded = json.loads(formats.json_bytes(with_splits()))
    groups = loaded["polls"][0]["splits"][0]["groups"]
    assert [(g["choice"], g["voters"], g["hidden"]) for g in groups] == [
        ("Civilsamhälle", 40, None),
        ("Offentlig", None, "protects"),
        ("Akademi", None, "small"),
    ]
    notes = loaded["boards"][0]["columns"][0]["notes"]
    assert notes[1]["splits"][0]["groups"] == [
        {"choice": "Civilsamhälle", "upvotes": 5, "hidden": None},
        {"choice": "Offentlig", "upvotes": None, "hidden": "protects"},
        {"choice": None, "upvotes": None, "hidden": "small"},
    ]
    assert notes[0]["splits"][0]["groups"][0] == {
        "choice": "Civilsamhälle",
        "upvotes": 40,
        "hidden": None,
    }


def test_a_board_whose_notes_nobody_upvoted_has_no_split_table() -> None:
    data = sample()
    assert all(not b.splits for b in data.boards)
    assert formats.split_rows(data) == []
    assert "Upvotes split by" not in formats.markdown(data)


@pytest.mark.parametrize("lang", LANGS)
def test_a_group_a_notes_split_lacks_is_written_as_small_never_as_absent(lang: str) -> None:
    """Every note of a session lists the same groups; were one to lack a group, no format
    would tell it apart by a dash or a missing row."""
    w = words(lang)
    data = with_splits()
    board = data.boards[0]
    first, second = board.columns[0].notes
    short = UpvoteSplit("sektor", "Sektor", first.splits[0].groups[:2])
    column = replace(board.columns[0], notes=(replace(first, splits=(short,)), second))
    data = replace(data, boards=(replace(board, columns=(column, *board.columns[1:])),))
    fewer, protects = w(formats.FEWER), w(formats.PROTECTS)
    md = formats.markdown(data, w)
    assert f"| Mentorer i kommunen | 60 | 40 | {protects} | {fewer} |" in md
    header = formats.headers_in(formats.SPLIT_HEADER, w)
    key = dict(zip(formats.SPLIT_HEADER, header, strict=True))
    rows = [r for r in split_csv(data, w) if r[key["text"]] == "Mentorer i kommunen"]
    assert [(r[key["group"]], r[key["count"]]) for r in rows] == [
        ("Civilsamhälle", "40"),
        ("Offentlig", protects),
        (w("No answer"), fewer),
    ]
