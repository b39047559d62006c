"""The event archive's values and writers, from session archives made by hand (no store)."""

from __future__ import annotations

import csv
import io
import json

from docx import Document
from openpyxl import load_workbook

from rooms.archive import (
    Archive,
    Board,
    Column,
    ColumnLeaders,
    Note,
    OptionResult,
    Participation,
    Poll,
    SessionInfo,
    TopNote,
)
from rooms.events import archive_formats as writers
from rooms.events.archive import (
    EventArchive,
    EventInfo,
    edited_parts,
    side_by_side,
    top_notes,
)
from rooms.models import Report

MADE = "2026-05-20T16:00:00Z"


def session(n: int, upvotes: int) -> Archive:
    notes = (
        Note(f"n{n}a", f"=Tillit i pass {n}", upvotes, author="Anna Lind"),
        Note(f"n{n}b", f"Mer tid {n}", 0),
    )
    board = Board(f"b{n}", f"Tavla {n}", (Column(f"c{n}", "Inleda", notes),))
    poll = Poll(
        f"p{n}",
        f"Fråga {n}",
        "single",
        "closed",
        3 + n,
        options=(OptionResult("Ja", 1 + n), OptionResult("Nej", 2)),
    )
    return Archive(
        SessionInfo(f"s{n}", f"Pass {n}", f"K{n}", "closed", MADE, MADE),
        Participation(4, 3),
        MADE,
        True,
        polls=(poll,),
        boards=(board,),
        top_notes=(ColumnLeaders("Inleda", tuple(TopNote(x, board.title, None) for x in notes)),),
    )


def event(report: Report | None = None) -> EventArchive:
    sessions = (session(1, 2), session(2, 5))
    return EventArchive(
        EventInfo(
            "e1",
            "Forum",
            "",
            "2026-03-10T08:00:00Z",
            None,
            ("Forum för Samverkan", "y.se"),
            ("a@x.se", "b@y.se"),
        ),
        MADE,
        True,
        None if report is None else edited_parts(report, sessions),
        sessions,
        top_notes(sessions),
        side_by_side(sessions),
    )


def test_the_editors_sections_keep_the_order_the_shortened_wording_and_leave_out_the_omitted() -> (
    None
):
    report = Report(
        conference_id="e1",
        summary="Det här **samlar** idéerna.",
        sections=[
            {
                "id": "inleda",
                "title": "Inleda",
                "items": [
                    {"note_id": "n2b"},
                    {"note_id": "n1a", "text": "Tillit"},
                    {"note_id": "gone"},
                    {"note_id": "n1b"},
                ],
            }
        ],
        omitted=["n1b"],
        with_names=True,
    )
    archive = event(report)
    assert archive.edited is not None
    picked = archive.edited.sections[0].notes
    assert [(n.note_id, n.shown) for n in picked] == [("n2b", "Mer tid 2"), ("n1a", "Tillit")]
    assert picked[1].text == "=Tillit i pass 1"  # the original stays in the data
    data = json.loads(writers.event_json_bytes(archive))
    assert data["report"]["sections"][0]["notes"][1]["text"] == "=Tillit i pass 1"
    assert data["report"]["sections"][0]["notes"][1]["shortened"] == "Tillit"
    markdown = writers.event_markdown(archive)
    assert "- Tillit — Anna Lind" in markdown and "## Summary" in markdown
    # Without names in the edited report, its sections name no one.
    report.with_names = False
    unnamed = event(report)
    assert unnamed.edited is not None
    assert [n.author for n in unnamed.edited.sections[0].notes] == [None, None]


def test_the_views_across_sessions_rank_every_sessions_notes_and_list_every_poll() -> None:
    archive = event()
    leaders = archive.top_notes[0]
    assert [n.note.id for n in leaders.notes][:2] == ["n2a", "n1a"]
    assert [(p.session_title, p.poll.question) for p in archive.polls] == [
        ("Pass 1", "Fråga 1"),
        ("Pass 2", "Fråga 2"),
    ]


def test_csv_and_xlsx_put_the_session_in_front_of_its_rows_and_stay_formula_safe() -> None:
    archive = event()
    text = writers.event_csv_bytes(archive, "polls").decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=";" if ";" in text[:200] else ","))
    assert rows[0][0] == "session"
    assert [(r[0], r[1]) for r in rows[1:]] == [("Pass 1", "Fråga 1")] * 2 + [
        ("Pass 2", "Fråga 2")
    ] * 2
    notes = writers.event_csv_bytes(archive, "notes").decode("utf-8-sig")
    assert "'=Tillit i pass 1" in notes and "\n=Tillit" not in notes
    book = load_workbook(io.BytesIO(writers.event_xlsx_bytes(archive)))
    polls = list(book.worksheets[2].iter_rows(values_only=True))
    assert polls[0][0] == "session" and len(polls) == 5
    assert [(r[7], r[8]) for r in polls[1:3]] == [("Ja", 2), ("Nej", 2)]
    cells = [c for row in book.worksheets[1].iter_rows(min_row=2) for c in row]
    formula = next(c for c in cells if c.value == "=Tillit i pass 1")
    assert formula.data_type == "s"


def test_the_word_document_opens_with_the_event_and_holds_each_session_a_level_down() -> None:
    doc = Document(io.BytesIO(writers.event_docx_bytes(event())))
    headings = [
        (p.style.name, p.text)
        for p in doc.paragraphs
        if p.style is not None and p.style.name.startswith(("Heading", "Title"))
    ]
    assert headings[0] == ("Title", "Forum")
    assert ("Heading 1", "Pass 1") in headings and ("Heading 1", "Pass 2") in headings
    assert sum(1 for name, _ in headings if name == "Title") == 1
    # The organisations, never the organisers' addresses, in its properties and its text.
    assert doc.core_properties.author == "Forum för Samverkan, y.se"
    texts = [p.text for p in doc.paragraphs]
    assert "In cooperation with: Forum för Samverkan, y.se" in texts
    assert not any("@" in t for t in texts)
