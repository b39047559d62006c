"""The shared minutes in the archive: every room's minutes and the plenary's, written in the
store as people write them, come out whole in every format of the session's archive and the
event's, as text (never markup, never a formula) and without names."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass

import pytest
from docx import Document
from markdown_it import MarkdownIt
from openpyxl import load_workbook

from live.store import Store
from live.templating import Templates
from rooms import archive_formats as formats
from rooms import archive_office as office
from rooms import breakout, lifecycle, minutes, sessions
from rooms.archive import Archive, Minutes, Participation, SessionInfo
from rooms.archive_minutes import XLSX_CELL_MAX, cell_sized
from rooms.archive_parts import build_archive
from rooms.archive_words import Words
from rooms.events import archive_formats as event_formats
from rooms.events.archive import EventArchive, EventInfo

PLENARY_TEXT = "Alla grupper har rapporterat.\nTack till sekreterarna!\n\nVi ses i vår."
ROOM_A_TEXT = (
    "<script>alert(1)</script> Goda exempel:\nIOP med föreningar\n\n"
    "- Nästa steg: träffas igen i maj\n# inte en rubrik"
)
ROOM_B_TEXT = "=1+1\nSamverkan kräver tid & förtroende"
ROOMS = ["Rum A", "Rum B", "Rum C"]  # Rum C wrote nothing
# The texts in the order every format lists them: the plenary's first, then room by room.
WRITTEN = [("Plenary", PLENARY_TEXT), ("Rum A", ROOM_A_TEXT), ("Rum B", ROOM_B_TEXT)]


@dataclass
class Written:
    session_id: str
    room_ids: list[str]


async def write_minutes(store: Store) -> Written:
    """A session with three rooms: two wrote minutes, one did not; the plenary wrote too."""
    async with store.write() as db:
        made = await sessions.create_session(db, title="Samverkansforum 2026", organiser_id=None)
        session = made.value.session
        for name in ("Anna", "Bo", "Cecilia"):
            await lifecycle.join(db, code=session.code, name=name)
        opened = await breakout.open_rooms(db, session.id, count=3, names=ROOMS)
        room_ids = [r["id"] for r in opened.value.rooms]
    for room_id, text in zip(room_ids, (ROOM_A_TEXT, ROOM_B_TEXT), strict=False):
        async with store.write() as db:
            target, _ = await minutes.room_target(db, room_id)
            assert (await minutes.append_text(db, target, text)).refusals == [None]
    async with store.write() as db:
        await minutes.switch_plenary(db, session.id, True)
        plenary, _ = await minutes.plenary_target(db, session.id)
        assert (await minutes.append_text(db, plenary, PLENARY_TEXT)).refusals == [None]
    return Written(session.id, room_ids)


async def archived(store: Store, names: bool = True) -> tuple[Archive, Written]:
    written = await write_minutes(store)
    async with store.read() as db:
        return await build_archive(db, written.session_id, names=names), written


@pytest.fixture(scope="module")
def sv() -> Words:
    return Templates().words("sv")


def event_of(archive: Archive) -> EventArchive:
    return EventArchive(
        event=EventInfo("e1", "Forum för samverkan", "", None, None, ()),
        made_at=archive.made_at,
        names=archive.names,
        edited=None,
        sessions=(archive,),
        top_notes=(),
        polls=(),
    )


# -- what the archive holds -------------------------------------------------------------------


async def test_the_archive_holds_every_rooms_minutes_and_the_plenarys_without_names(
    store: Store,
) -> None:
    data, written = await archived(store)
    a, b, _ = written.room_ids
    assert data.minutes == (
        Minutes(None, PLENARY_TEXT),
        Minutes(a, ROOM_A_TEXT),
        Minutes(b, ROOM_B_TEXT),
    )
    assert [formats.room_label(data, m.room_id) for m in data.minutes] == [r for r, _ in WRITTEN]
    assert data.minutes[0].paragraphs == (
        "Alla grupper har rapporterat.\nTack till sekreterarna!",
        "Vi ses i vår.",
    )
    async with store.read() as db:
        nameless = await build_archive(db, written.session_id, names=False)
    assert nameless.minutes == data.minutes


async def test_json_lists_the_minutes_with_their_rooms(store: Store) -> None:
    data, written = await archived(store)
    a, b, _ = written.room_ids
    loaded = json.loads(formats.json_bytes(data))
    assert loaded["minutes"] == [
        {"room_id": None, "room": None, "text": PLENARY_TEXT},
        {"room_id": a, "room": "Rum A", "text": ROOM_A_TEXT},
        {"room_id": b, "room": "Rum B", "text": ROOM_B_TEXT},
    ]


# -- the reports ------------------------------------------------------------------------------


async def test_markdown_has_a_minutes_section_after_the_rooms_that_reads_as_typed(
    store: Store, sv: Words
) -> None:
    data, _ = await archived(store)
    md = formats.markdown(data)
    assert md.index("## Rum C") < md.index("## Minutes") < md.index("## Across rooms")
    section = md[md.index("## Minutes") : md.index("## Across rooms")]
    assert [line for line in section.split("\n") if line.startswith("###")] == [
        "### Plenary",
        "### Rum A",
        "### Rum B",
    ]
    # Rendered, it is the text as typed: no tag, no list, no heading, no formula.
    html = MarkdownIt("commonmark").render(section)
    assert "<script" not in html and "<ul>" not in html and "<h1>" not in html
    assert (
        "<p>&lt;script&gt;alert(1)&lt;/script&gt; Goda exempel:<br />\nIOP med föreningar</p>"
        in html
    )
    assert "<p>- Nästa steg: träffas igen i maj<br />\n# inte en rubrik</p>" in html
    assert "<p>=1+1<br />\nSamverkan kräver tid &amp; förtroende</p>" in html
    assert "<p>Alla grupper har rapporterat.<br />\nTack till sekreterarna!</p>" in html
    assert "## Minnesanteckningar\n\n### Storgrupp\n" in formats.markdown(data, sv)


def docx_minutes(data: bytes, title: str, after: str) -> dict[str, list[str]]:
    """The Word document's minutes section: each heading under it, with its paragraphs."""
    paragraphs = Document(io.BytesIO(data)).paragraphs
    texts = [p.text for p in paragraphs]
    start, end = texts.index(title), texts.index(after)
    assert paragraphs[start].style.name.startswith("Heading")
    out: dict[str, list[str]] = {}
    current = ""
    for p in paragraphs[start + 1 : end]:
        if p.style.name.startswith("Heading"):
            current = p.text
            out[current] = []
        else:
            out[current].append(p.text)
    return out


async def test_word_has_a_minutes_section_with_each_rooms_paragraphs(
    store: Store, sv: Words
) -> None:
    data, _ = await archived(store)
    found = docx_minutes(office.docx_bytes(data), "Minutes", "Across rooms")
    assert list(found) == [r for r, _ in WRITTEN]
    for room, text in WRITTEN:
        # One Word paragraph per paragraph, its line breaks kept within it.
        assert "\n\n".join(found[room]) == text
    assert len(found["Rum A"]) == 2
    swedish = docx_minutes(
        office.docx_bytes(data, sv), "Minnesanteckningar", "Alla grupprum tillsammans"
    )
    assert list(swedish) == ["Storgrupp", "Rum A", "Rum B"]


# -- the tables -------------------------------------------------------------------------------


async def test_csv_has_a_row_per_rooms_minutes_in_both_languages_formula_safe(
    store: Store, sv: Words
) -> None:
    data, _ = await archived(store)
    en = formats.csv_bytes(data, "minutes")
    assert en.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(en.decode("utf-8-sig"), newline="")))
    assert rows == [
        ["room", "text"],
        ["Plenary", PLENARY_TEXT],
        ["Rum A", ROOM_A_TEXT],
        ["Rum B", "'" + ROOM_B_TEXT],  # a spreadsheet reads it as text, never runs it
    ]
    swedish = formats.csv_bytes(data, "minutes", sv).decode("utf-8-sig")
    assert swedish.startswith("Grupprum;Text\r\n")
    assert list(csv.reader(io.StringIO(swedish, newline=""), delimiter=";"))[1:] == [
        ["Storgrupp", PLENARY_TEXT],
        ["Rum A", ROOM_A_TEXT],
        ["Rum B", "'" + ROOM_B_TEXT],
    ]


async def test_excel_has_a_minutes_sheet_wrapped_as_wide_as_its_lines(
    store: Store, sv: Words
) -> None:
    data, _ = await archived(store)
    book = load_workbook(io.BytesIO(office.xlsx_bytes(data)))
    assert book.sheetnames[-1] == "Minutes"
    sheet = book["Minutes"]
    assert [[c.value for c in row] for row in sheet.iter_rows()] == [
        ["room", "text"],
        *[[room, text] for room, text in WRITTEN],
    ]
    formula = sheet["B4"]
    assert formula.data_type == "s" and formula.quotePrefix  # text, not =1+1 computed
    assert all(sheet[f"B{row}"].alignment.wrap_text for row in (2, 3, 4))
    longest = max(len(line) for _, text in WRITTEN for line in text.split("\n"))
    assert sheet.column_dimensions["B"].width == longest + 2
    assert sheet.column_dimensions["A"].width == len("Plenary") + 2
    swedish = load_workbook(io.BytesIO(office.xlsx_bytes(data, sv)))
    assert swedish.sheetnames[-1] == "Minnesanteckningar"
    rows = list(swedish["Minnesanteckningar"].iter_rows(values_only=True))
    assert rows[:2] == [("Grupprum", "Text"), ("Storgrupp", PLENARY_TEXT)]


def test_minutes_longer_than_a_cell_go_on_in_the_next_rows() -> None:
    line = "Vi pratade länge om samverkan mellan föreningar och kommunen.\n"
    text = line * (2 * XLSX_CELL_MAX // len(line) + 10)
    rows = cell_sized([("Rum A", text)])
    assert len(rows) == 3 and all(len(str(t)) <= XLSX_CELL_MAX for _, t in rows)
    assert "".join(str(t) for _, t in rows) == text
    assert all(str(t).endswith("\n") for _, t in rows[:-1])  # parted after a line
    long_one = Archive(
        session=SessionInfo("s1", "Lång", "123456", "closed", None, None),
        participation=Participation(0, 0),
        made_at="2026-11-23T12:30:00Z",
        names=True,
        minutes=(Minutes(None, text),),
    )
    assert formats.table_of(long_one, "minutes")[1] == [("Plenary", text)]  # CSV: whole
    sheet = load_workbook(io.BytesIO(office.xlsx_bytes(long_one)))["Minutes"]
    cells = [row[1] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert len(cells) == 3 and "".join(str(c) for c in cells) == text


async def test_control_characters_in_minutes_never_break_a_file(store: Store) -> None:
    written = await write_minutes(store)
    async with store.write() as db:
        target, _ = await minutes.room_target(db, written.room_ids[2])
        await minutes.append_text(db, target, "Rad ett\x0b\x00\rRad två\r\nslut\x1f")
    async with store.read() as db:
        data = await build_archive(db, written.session_id)
    assert data.minutes[-1].text == "Rad ett\nRad två\nslut"
    assert Document(io.BytesIO(office.docx_bytes(data))).paragraphs
    sheet = load_workbook(io.BytesIO(office.xlsx_bytes(data)))["Minutes"]
    assert sheet["B5"].value == "Rad ett\nRad två\nslut"


async def test_the_zip_holds_the_minutes_csv(store: Store) -> None:
    import zipfile

    data, _ = await archived(store)
    made = zipfile.ZipFile(io.BytesIO(office.zip_bytes(data, "samla-x", "<html></html>")))
    assert made.read("samla-x-minutes.csv") == formats.csv_bytes(data, "minutes")


# -- the event's archive ----------------------------------------------------------------------


async def test_the_event_archive_holds_each_sessions_minutes_in_every_format(
    store: Store, sv: Words
) -> None:
    data, _ = await archived(store)
    event = event_of(data)
    loaded = json.loads(event_formats.event_json_bytes(event))
    assert [m["text"] for m in loaded["sessions"][0]["minutes"]] == [t for _, t in WRITTEN]
    md = event_formats.event_markdown(event)
    assert md.index("### Rum C") < md.index("### Minutes") < md.index("### Across rooms")
    assert "#### Rum A\n\n\\<script\\>alert(1)\\</script\\> Goda exempel:\\\n" in md
    found = docx_minutes(event_formats.event_docx_bytes(event), "Minutes", "Across rooms")
    assert {room: "\n\n".join(texts) for room, texts in found.items()} == dict(WRITTEN)
    rows = list(
        csv.reader(
            io.StringIO(
                event_formats.event_csv_bytes(event, "minutes", sv).decode("utf-8-sig"),
                newline="",
            ),
            delimiter=";",
        )
    )
    title = data.session.title
    assert rows == [
        ["programpunkt", "Grupprum", "Text"],
        [title, "Storgrupp", PLENARY_TEXT],
        [title, "Rum A", ROOM_A_TEXT],
        [title, "Rum B", "'" + ROOM_B_TEXT],
    ]
    book = load_workbook(io.BytesIO(event_formats.event_xlsx_bytes(event)))
    sheet = book["Minutes"]
    assert [[c.value for c in row] for row in sheet.iter_rows()][1:] == [
        [title, room, text] for room, text in WRITTEN
    ]
    assert sheet["C4"].quotePrefix and sheet["C4"].data_type == "s"
    assert all(sheet[f"C{row}"].alignment.wrap_text for row in (2, 3, 4))
