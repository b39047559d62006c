"""The archive's model and formats: what a report holds, in every format, with the same figures."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

import pytest
from docx import Document
from openpyxl import load_workbook
from sqlalchemy.ext.asyncio import AsyncSession

from live.store import Store
from rooms import archive as archive_module
from rooms import archive_formats as formats
from rooms import archive_office as office
from rooms import lifecycle, sessions
from rooms.archive import (
    Archive,
    Board,
    CardField,
    Column,
    Note,
    OptionResult,
    Participation,
    Poll,
    Question,
    Room,
    SessionInfo,
    WordCount,
)
from rooms.archive_parts import build_archive
from rooms.archive_words import Words

FORMULAS = ['=HYPERLINK("http://x","y")', "+1+1", "-2+3", "@SUM(A1)", "\tTab", "\rCR"]
SCRIPT = "<script>alert(1)</script> Bra exempel"


def a_note(
    nid: str, text: str, upvotes: int, author: str | None = None, from_room_id: str | None = None
) -> Note:
    return Note(nid, text, upvotes, author, from_room_id)


def sample() -> Archive:
    """A small forum: a plenary with collected notes, two rooms, a poll of every kind."""
    rooms = (Room("r1", "Rum 1", 3), Room("r2", "Rum 2", 2))
    polls = (
        Poll(
            "p1",
            "Ska vi samverka mer eller bättre?",
            "single",
            "closed",
            5,
            options=(OptionResult("Mer", 2), OptionResult("Bättre", 3)),
        ),
        Poll(
            "p2",
            "Vad behövs?",
            "multiple",
            "closed",
            4,
            room_id="r1",
            options=(OptionResult("Tid", 3), OptionResult("Pengar", 2)),
        ),
        Poll(
            "p3",
            "Hur väl fungerar samverkan?",
            "scale",
            "closed",
            4,
            mean=3.5,
            min_label="Dåligt",
            max_label="Bra",
            options=tuple(
                OptionResult(str(v), c) for v, c in ((1, 0), (2, 1), (3, 1), (4, 1), (5, 1))
            ),
        ),
        Poll(
            "p4",
            "Ett ord för god samverkan",
            "wordcloud",
            "closed",
            3,
            words=(WordCount("tillit", 3), WordCount("dialog", 2)),
        ),
        Poll(
            "p5",
            "Vad tar du med dig?",
            "open",
            "open",
            2,
            room_id="r2",
            answers=("Mer dialog", FORMULAS[0]),
        ),
        Poll(
            "p6",
            "Vad är viktigast?",
            "ranking",
            "closed",
            3,
            options=(
                OptionResult("Roller", 3, 4),
                OptionResult("Finansiering", 3, 7),
                OptionResult("Mandat", 3, 1),
            ),
        ),
    )
    boards = (
        Board(
            "b1",
            "Rum 1: Inleda",
            (
                Column(
                    "c1",
                    "Goda exempel",
                    (a_note("n1", "En väg in för föreningar", 4, "Anna"), a_note("n2", SCRIPT, 1)),
                ),
                Column("c2", "Idéer", tuple(a_note(f"f{i}", f, i) for i, f in enumerate(FORMULAS))),
            ),
            room_id="r1",
        ),
        Board(
            "b2",
            "Rum 2: Inleda",
            (
                Column(
                    "c3",
                    "Goda exempel",
                    (
                        replace(
                            a_note("n3", "IOP ger långsiktighet", 6),
                            card=(CardField("who", "Region Skåne"), CardField("effect", "Tre år")),
                        ),
                    ),
                ),
            ),
            room_id="r2",
        ),
        Board(
            "b0",
            "Lyft till storgruppen",
            (
                Column(
                    "c0",
                    "Goda exempel",
                    (a_note("n4", "Börja med något praktiskt", 9, "Bo", from_room_id="r2"),),
                ),
            ),
        ),
    )
    questions = (
        Question("q1", "Hur säkrar vi finansieringen?", 5, True, "Cecilia"),
        Question("q2", "=1+1", 2, False),
    )
    return Archive(
        session=SessionInfo(
            "s1",
            "Samverkansforum 2026",
            "123456",
            "closed",
            "2026-11-23T09:00:00Z",
            "2026-11-23T12:00:00Z",
        ),
        participation=Participation(5, 3),
        made_at="2026-11-23T12:30:00Z",
        names=True,
        rooms=rooms,
        polls=polls,
        boards=boards,
        questions=questions,
    )


@pytest.fixture
def parts_of() -> archive_module.Parts:
    """The sample's parts, as the features would supply them."""
    data = sample()

    def part(values: Sequence[Any]) -> archive_module.Part[Any]:
        async def supply(db: AsyncSession, session_id: str, names: bool) -> Sequence[Any]:
            return values

        return supply

    # Boards and questions given out of order, to show the archive orders them.
    return archive_module.Parts(
        rooms=part(data.rooms),
        polls=part(data.polls),
        boards=part(tuple(reversed(data.boards))),
        questions=part(tuple(reversed(data.questions))),
    )


async def a_session(store: Store) -> str:
    async with store.write() as db:
        made = await sessions.create_session(
            db,
            title="Samverkansforum 2026",
            organiser_id=None,
            attributes=[
                {
                    "key": "sektor",
                    "label": "Sektor",
                    "choices": ["Civilsamhälle", "Offentlig sektor"],
                }
            ],
        )
    code = made.value.session.code
    for name, sektor in (("Anna", "Civilsamhälle"), (None, "Offentlig sektor"), ("Bo", None)):
        async with store.write() as db:
            await lifecycle.join(
                db, code=code, name=name, attributes={"sektor": sektor} if sektor else None
            )
    return made.session_id


# -- building ---------------------------------------------------------------------------------


async def test_the_archive_orders_parts_plenary_first_and_counts_participation(
    store: Store, parts_of: archive_module.Parts
) -> None:
    sid = await a_session(store)
    async with store.read() as db:
        built = await archive_module.build_archive(db, sid, parts_of)
    assert built.session.title == "Samverkansforum 2026"
    assert built.participation.participants == 3 and built.participation.named == 2
    sektor = built.participation.attributes[0]
    assert [(c.choice, c.count) for c in sektor.counts] == [
        ("Civilsamhälle", 1),
        ("Offentlig sektor", 1),
    ]
    assert sektor.unanswered == 1
    assert [b.id for b in built.boards] == ["b0", "b1", "b2"]  # collected notes lead
    assert [q.id for q in built.questions] == ["q1", "q2"]  # most upvoted first
    sections = built.sections()
    assert [s.room.name if s.room else None for s in sections] == [None, "Rum 1", "Rum 2"]
    assert [p.id for p in sections[0].polls] == ["p1", "p3", "p4", "p6"]
    assert [b.id for b in sections[1].boards] == ["b1"]


async def test_names_false_removes_every_name_whatever_the_parts_gave(
    store: Store, parts_of: archive_module.Parts
) -> None:
    sid = await a_session(store)
    async with store.read() as db:
        named = await archive_module.build_archive(db, sid, parts_of)
        nameless = await archive_module.build_archive(db, sid, parts_of, names=False)
    assert "Anna" in json.dumps(formats.archive_json(named))
    text = json.dumps(formats.archive_json(nameless), ensure_ascii=False)
    for name in ("Anna", "Bo", "Cecilia"):
        assert f'"{name}"' not in text
    assert all(n.author is None for n in nameless.notes)
    assert all(q.author is None for q in nameless.questions)
    assert nameless.names is False


async def test_an_unknown_session_is_not_found(store: Store) -> None:
    from rooms.errors import Refused

    async with store.read() as db:
        with pytest.raises(Refused) as refused:
            await build_archive(db, "nope")
    assert refused.value.code == "not_found"


def test_cross_room_view_lists_the_most_upvoted_notes_of_all_rooms_per_column() -> None:
    data = sample()
    leaders = archive_module._top_notes(data.boards)
    good = next(c for c in leaders if c.column == "Goda exempel")
    # The plenary's collected copy (n4) is not counted again: only the rooms' boards are.
    assert [t.note.id for t in good.notes] == ["n3", "n1", "n2"]
    assert {t.room_id for t in good.notes} == {"r1", "r2"}
    ideas = next(c for c in leaders if c.column == "Idéer")
    assert len(ideas.notes) == archive_module.TOP_NOTES


# -- formats ----------------------------------------------------------------------------------


def read_csv(data: bytes) -> list[dict[str, str]]:
    assert data.startswith(b"\xef\xbb\xbf"), "UTF-8 with a byte order mark"
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_csv_reads_back_to_the_same_figures() -> None:
    data = sample()
    notes = read_csv(formats.csv_bytes(data, "notes"))
    assert len(notes) == len(data.notes)
    by_text = {r["text"]: r for r in notes}
    assert by_text["IOP ger långsiktighet"]["upvotes"] == "6"
    assert list(notes[0])[4:6] == ["who", "effect"]  # card fields apart, after the text
    assert by_text["IOP ger långsiktighet"]["who"] == "Region Skåne"
    assert by_text["En väg in för föreningar"]["who"] == ""
    assert by_text["Börja med något praktiskt"]["collected_from"] == "Rum 2"
    polls = read_csv(formats.csv_bytes(data, "polls"))
    ranking = {r["label"]: r for r in polls if r["poll"] == "Vad är viktigast?"}
    assert ranking["Finansiering"]["score"] == "7" and ranking["Roller"]["count"] == "3"
    scale = [r for r in polls if r["kind"] == "scale"]
    assert {r["mean"] for r in scale} == {"3.5"} and sum(int(r["count"]) for r in scale) == 4
    assert {r["label"]: r["count"] for r in polls if r["kind"] == "wordcloud"} == {
        "tillit": "3",
        "dialog": "2",
    }
    questions = read_csv(formats.csv_bytes(data, "questions"))
    assert [(q["upvotes"], q["answered"]) for q in questions] == [("5", "yes"), ("2", "no")]


def test_no_csv_cell_starts_like_a_formula() -> None:
    data = sample()
    for kind in formats.CSV_KINDS:
        for row in csv.reader(
            io.StringIO(formats.csv_bytes(data, kind).decode("utf-8-sig"), newline="")
        ):
            for cell in row:
                assert not cell.startswith(formats.FORMULA_STARTS), (kind, cell)
    notes = read_csv(formats.csv_bytes(data, "notes"))
    texts = {r["text"] for r in notes}
    for formula in FORMULAS:
        assert "'" + formula in texts


def test_xlsx_has_a_sheet_per_kind_with_the_same_figures_and_formulas_as_text() -> None:
    data = sample()
    book = load_workbook(io.BytesIO(office.xlsx_bytes(data)))
    assert {"Notes", "Polls", "Questions"} <= set(book.sheetnames)
    notes = list(book["Notes"].iter_rows(values_only=True))
    assert notes[0] == formats.note_header(data) and len(notes) - 1 == len(data.notes)
    cells = {c.value: c for row in book["Notes"].iter_rows() for c in row}
    for formula in FORMULAS:
        cell = cells[formula]
        assert cell.data_type == "s", formula  # text, not a formula
        assert cell.quotePrefix
    assert cells["IOP ger långsiktighet"].row == next(
        c.row for c in book["Notes"]["D"] if c.value == "IOP ger långsiktighet"
    )
    polls = {(r[0], r[6]): r for r in book["Polls"].iter_rows(min_row=2, values_only=True)}
    assert polls[("Vad är viktigast?", "Finansiering")][8] == 7
    assert polls[("Ska vi samverka mer eller bättre?", "Bättre")][7] == 3
    questions = list(book["Questions"].iter_rows(min_row=2, values_only=True))
    assert questions[1][0] == "=1+1" and book["Questions"]["A3"].data_type == "s"


def test_docx_has_real_headings_lists_and_tables_with_the_same_figures() -> None:
    data = sample()
    doc = Document(io.BytesIO(office.docx_bytes(data)))
    headings = [
        p.text
        for p in doc.paragraphs
        if p.style is not None and p.style.name.startswith(("Heading", "Title"))
    ]
    assert headings[0] == "Samverkansforum 2026"
    for board in data.boards:
        assert f"Board: {board.title}" in headings
    for poll in data.polls:
        assert f"Poll: {poll.question}" in headings
    bullets = [
        p.text for p in doc.paragraphs if p.style is not None and p.style.name == "List Bullet"
    ]
    assert any(b.startswith("IOP ger långsiktighet (6 upvotes") for b in bullets)
    rows = [[c.text for c in r.cells] for t in doc.tables for r in t.rows]
    assert ["Finansiering", "3", "7"] in rows
    assert ["Bättre", "3", "60 %"] in rows
    assert ["Hur säkrar vi finansieringen?", "Cecilia", "5", "yes"] in rows


def test_markdown_names_every_board_and_poll_and_keeps_user_text_plain() -> None:
    data = sample()
    text = formats.markdown(data)
    for board in data.boards:
        assert board.title in text
    for poll in data.polls:
        assert formats.md_text(poll.question) in text
    assert "<script>" not in text and "\\<script\\>" in text
    assert "  - Who: Region Skåne" in text
    assert text.index("Lyft till storgruppen") < text.index("Rum 1: Inleda")
    assert text.index("## Rum 2") < text.index("## Across rooms") < text.index("## Questions")


def test_json_holds_every_note_question_and_exact_poll_results() -> None:
    data = sample()
    loaded = json.loads(formats.json_bytes(data))
    assert loaded["format"] == "samla-archive" and loaded["version"] == 1
    notes = [n for b in loaded["boards"] for c in b["columns"] for n in c["notes"]]
    assert sorted(n["id"] for n in notes) == sorted(n.id for n in data.notes)
    assert [q["text"] for q in loaded["questions"]] == [q.text for q in data.questions]
    polls = {p["id"]: p for p in loaded["polls"]}
    assert polls["p6"]["options"][1] == {"label": "Finansiering", "count": 3, "score": 7}
    assert polls["p3"]["mean"] == 3.5 and polls["p4"]["words"][0] == {"word": "tillit", "count": 3}
    assert len(loaded["polls_side_by_side"]) == 6


def test_zip_holds_every_format() -> None:
    data = sample()
    made = zipfile.ZipFile(io.BytesIO(office.zip_bytes(data, "samla-x", "<html></html>")))
    assert sorted(made.namelist()) == sorted(
        [
            "samla-x.html",
            "samla-x.md",
            "samla-x.docx",
            "samla-x.xlsx",
            "samla-x.json",
            "samla-x-notes.csv",
            "samla-x-polls.csv",
            "samla-x-questions.csv",
            "samla-x-splits.csv",
            "samla-x-minutes.csv",
        ]
    )
    assert made.testzip() is None


# -- the organiser's language -----------------------------------------------------------------


def _swedish() -> Words:
    from live.templating import Templates

    return Templates(time_zone="Europe/Stockholm").words("sv")


def test_the_report_speaks_the_organisers_language_with_its_numbers_and_times() -> None:
    data = sample()
    sv = _swedish()
    text = formats.markdown(data, sv)
    # Moments in Stockholm time (stored 09:00 UTC), numbers and shares the Swedish way.
    assert "- Skapad: 23 nov. 2026 10:00" in text
    assert "- Dokumentationen skapad: 23 nov. 2026 13:30" in text
    assert "Medelvärde: 3,5 (Dåligt - Bra)" in text and "| Bättre | 3 | 60\xa0% |" in text
    assert "IOP ger långsiktighet (6 gillningar)" in text and "från Rum 2" in text
    assert "Ett val · 5 svarande" in text and "## Alla grupprum tillsammans" in text
    for english in ("upvotes", "voters", "Mean", "Board:", "Poll:", "2026-11-23T", " from "):
        assert english not in text, english
    doc = Document(io.BytesIO(office.docx_bytes(data, sv)))
    paragraphs = [p.text for p in doc.paragraphs]
    assert (
        "Skapad: 23 nov. 2026 10:00" in paragraphs
        and "Medelvärde: 3,5 (Dåligt - Bra)" in paragraphs
    )
    assert any(p.startswith("IOP ger långsiktighet (6 gillningar") for p in paragraphs)
    rows = [[c.text for c in r.cells] for t in doc.tables for r in t.rows]
    assert ["Bättre", "3", "60\xa0%"] in rows
    assert ["Hur säkrar vi finansieringen?", "Cecilia", "5", "ja"] in rows
    assert ["Fråga", "Ställd av", "Gillningar", "Besvarad"] in rows


def test_spreadsheets_speak_the_language_with_figures_and_dates_as_such() -> None:
    # Issue 14 changed this: Swedish headers, semicolons and decimal commas in the CSV, and
    # moments as date cells (in TIME_ZONE) in the workbook; the kinds stay data.
    data = sample()
    sv = _swedish()
    questions = list(
        csv.DictReader(
            io.StringIO(formats.csv_bytes(data, "questions", sv).decode("utf-8-sig")),
            delimiter=";",
        )
    )
    assert [(q["Gillningar"], q["Besvarad"]) for q in questions] == [("5", "ja"), ("2", "nej")]
    polls = list(
        csv.DictReader(
            io.StringIO(formats.csv_bytes(data, "polls", sv).decode("utf-8-sig")), delimiter=";"
        )
    )
    assert {r["Medelvärde"] for r in polls if r["Typ"] == "scale"} == {"3,5"}
    book = load_workbook(io.BytesIO(office.xlsx_bytes(data, sv)))
    assert book.sheetnames == [
        "Programpunkt",
        "Lappar",
        "Frågor",
        "Frågor till panelen",
        "Uppdelning",
        "Minnesanteckningar",
    ]
    facts = dict(book["Programpunkt"].iter_rows(values_only=True))
    assert facts["Skapad"] == datetime(2026, 11, 23, 10, 0) and facts["Status"] == "avslutad"
    header = next(book["Lappar"].iter_rows(values_only=True))
    assert header == formats.headers_in(formats.note_header(data), sv)
    assert header[:4] == ("Tavla", "Grupprum", "Kolumn", "Text")
    # JSON is data: English keys, moments as stored.
    loaded = json.loads(formats.json_bytes(data))
    assert loaded["made_at"] == "2026-11-23T12:30:00Z"


def test_every_word_of_the_archive_has_its_swedish() -> None:
    import ast
    from pathlib import Path

    from babel.messages.pofile import read_po

    root = Path(formats.__file__)
    said: set[str] = set()
    for node in ast.walk(ast.parse(root.read_text())):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
            continue
        args = node.args[1:] if node.func.id == "count_of" else node.args
        if node.func.id in ("t", "w", "count_of") and args and isinstance(args[0], ast.Constant):
            said.add(str(args[0].value))
    said |= set(formats.KIND_LABELS.values()) | set(formats.SHEET_NAMES.values())
    said |= set(formats.HEADER_WORDS.values()) | {formats.FEWER}
    said |= {"open", "closed", "draft", "yes", "no"}
    assert {"%(count)s upvotes", "Most upvoted", "Single choice"} <= said  # the scan read it
    from live import templating

    po = templating.LOCALES / "sv" / "LC_MESSAGES" / "messages.po"
    with po.open("rb") as f:
        catalog = read_po(f, locale="sv")
    swedish = {m.id for m in catalog if m.id and m.string and not m.context}
    assert sorted(said - swedish) == []
