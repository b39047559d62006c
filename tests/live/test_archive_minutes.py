"""The shared minutes in the archive downloads, from the outside: a session whose rooms and
plenary wrote minutes, its archive and its event's in every format, each text whole, as
text (escaped, never a formula), in English and Swedish."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from dataclasses import dataclass
from typing import Any

import httpx
from docx import Document
from markupsafe import escape
from openpyxl import load_workbook
from sqlalchemy import update
from sqlmodel import col

from rooms import breakout, minutes
from rooms.models import Session
from tests.conftest import Api

PLENARY_TEXT = "Alla grupper har rapporterat.\nTack till sekreterarna!\n\nVi ses i vår."
ROOM_A_TEXT = (
    "<script>window.pwned=1</script> Goda exempel:\nIOP med föreningar\n\n"
    '<img src=x onerror="alert(1)"> & mer'
)
ROOM_B_TEXT = "=1+1\nSamverkan kräver tid"
WRITTEN = [("Plenary", PLENARY_TEXT), ("Rum A", ROOM_A_TEXT), ("Rum B", ROOM_B_TEXT)]


@dataclass
class Forum:
    api: Api
    session_id: str
    event_id: str
    token: str  # the organiser's
    room_ids: list[str]

    async def session_archive(self, language: str = "en", **params: str) -> httpx.Response:
        return await self._get(f"/api/v1/sessions/{self.session_id}/archive", language, params)

    async def event_archive(self, language: str = "en", **params: str) -> httpx.Response:
        return await self._get(f"/api/v1/events/{self.event_id}/archive", language, params)

    async def _get(self, path: str, language: str, params: dict[str, str]) -> httpx.Response:
        r = await self.api.client.get(
            path,
            params=params,
            headers={"Authorization": f"Bearer {self.token}", "Accept-Language": language},
            timeout=120,
        )
        assert r.status_code == 200, r.text
        return r


async def forum(api: Api) -> Forum:
    """An event with one session: two of its three rooms wrote minutes, and the plenary."""
    token = await api.organiser_token()
    r = await api.call("POST", "/api/v1/events", token, json={"title": "Forum för samverkan"})
    assert r.status_code == 201, r.text
    eid = r.json()["id"]
    session = await api.make_session("Samverkansforum 2026")
    for name in ("Anna Lind", "Bo Ekström", None):
        await api.join(session, name)
    sid = session["id"]
    room_ids: list[str] = []

    async def write() -> None:
        async with api.served.samla.store.write() as db:
            opened = await breakout.open_rooms(db, sid, count=3, names=["Rum A", "Rum B", "Rum C"])
            room_ids.extend(r["id"] for r in opened.value.rooms)
            for room_id, text in zip(room_ids, (ROOM_A_TEXT, ROOM_B_TEXT), strict=False):
                target, _ = await minutes.room_target(db, room_id)
                await minutes.append_text(db, target, text)
            await minutes.switch_plenary(db, sid, True)
            plenary, _ = await minutes.plenary_target(db, sid)
            await minutes.append_text(db, plenary, PLENARY_TEXT)
            await db.execute(
                update(Session).where(col(Session.id) == sid).values(conference_id=eid)
            )

    await api.served.run(write)
    return Forum(api, sid, eid, token, room_ids)


def html_paragraphs(text: str) -> list[str]:
    """How the report writes a text's paragraphs: escaped, line breaks kept (pre-line)."""
    return [f'<p class="note-text">{escape(p)}</p>' for p in text.split("\n\n")]


def assert_minutes_in_html(page: str, prefix: str = "") -> None:
    assert "<script>window.pwned" not in page and "<img src=x" not in page
    start = page.index(f'id="{prefix}minutes"')
    assert page.index(f'id="{prefix}room-') < start < page.index(f'id="{prefix}questions"')
    for room, text in WRITTEN:
        at = page.index(f">{room}</h", start)
        for paragraph in html_paragraphs(text):
            assert page.index(paragraph, at) > at
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt; Goda exempel:\nIOP med föreningar" in page


def csv_rows(data: bytes, delimiter: str = ",") -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=delimiter))


def docx_texts(data: bytes) -> list[str]:
    return [p.text for p in Document(io.BytesIO(data)).paragraphs]


async def test_the_session_archive_holds_every_rooms_minutes_in_every_format(api: Api) -> None:
    made = await forum(api)
    a, b, _ = made.room_ids

    page = (await made.session_archive(format="html")).text
    assert_minutes_in_html(page)
    assert '<a href="#minutes">Minutes</a>' in page
    swedish = (await made.session_archive("sv", format="html")).text
    assert ">Minnesanteckningar</h2>" in swedish and ">Storgrupp</h3>" in swedish

    loaded = (await made.session_archive(format="json")).json()
    assert loaded["minutes"] == [
        {"room_id": None, "room": None, "text": PLENARY_TEXT},
        {"room_id": a, "room": "Rum A", "text": ROOM_A_TEXT},
        {"room_id": b, "room": "Rum B", "text": ROOM_B_TEXT},
    ]
    md = (await made.session_archive(format="md")).text
    assert "## Minutes\n\n### Plenary\n\nAlla grupper har rapporterat.\\\n" in md
    assert "\\<script\\>window.pwned=1\\</script\\>" in md and "\\=1+1\\\n" in md

    english = csv_rows((await made.session_archive(format="csv", kind="minutes")).content)
    assert english == [
        ["room", "text"],
        ["Plenary", PLENARY_TEXT],
        ["Rum A", ROOM_A_TEXT],
        ["Rum B", "'" + ROOM_B_TEXT],  # a spreadsheet reads it as text, never runs it
    ]
    sv = csv_rows((await made.session_archive("sv", format="csv", kind="minutes")).content, ";")
    assert sv[0] == ["Grupprum", "Text"] and sv[1] == ["Storgrupp", PLENARY_TEXT]

    texts = docx_texts((await made.session_archive(format="docx")).content)
    start = texts.index("Minutes")
    assert texts[start + 1 : start + 9] == [
        "Plenary",
        *PLENARY_TEXT.split("\n\n"),
        "Rum A",
        *ROOM_A_TEXT.split("\n\n"),
        "Rum B",
        ROOM_B_TEXT,
    ]
    book = load_workbook(io.BytesIO((await made.session_archive(format="xlsx")).content))
    sheet = book["Minutes"]
    assert [list(r) for r in sheet.iter_rows(values_only=True)][1:] == [list(w) for w in WRITTEN]
    assert sheet["B4"].data_type == "s" and sheet["B4"].quotePrefix
    assert sheet["B3"].alignment.wrap_text

    with zipfile.ZipFile(io.BytesIO((await made.session_archive(format="zip")).content)) as z:
        found = [n for n in z.namelist() if n.endswith("-minutes.csv")]
        assert len(found) == 1 and csv_rows(z.read(found[0])) == english


async def test_the_event_archive_holds_each_sessions_minutes_in_every_format(api: Api) -> None:
    made = await forum(api)
    title = "Samverkansforum 2026"

    page = (await made.event_archive(format="html")).text
    assert_minutes_in_html(page, prefix="s1-")
    assert '<h3 id="s1-minutes">Minutes</h3>' in page

    loaded: dict[str, Any] = (await made.event_archive(format="json")).json()
    (session,) = loaded["sessions"]
    assert [(m["room"], m["text"]) for m in session["minutes"]] == [
        (None, PLENARY_TEXT),
        ("Rum A", ROOM_A_TEXT),
        ("Rum B", ROOM_B_TEXT),
    ]
    md = (await made.event_archive(format="md")).text
    assert "### Minutes\n\n#### Plenary\n\nAlla grupper har rapporterat.\\\n" in md

    english = csv_rows((await made.event_archive(format="csv", kind="minutes")).content)
    assert english[0] == ["session", "room", "text"]
    assert [row[1:] for row in english[1:]] == [
        ["Plenary", PLENARY_TEXT],
        ["Rum A", ROOM_A_TEXT],
        ["Rum B", "'" + ROOM_B_TEXT],
    ]
    assert {row[0] for row in english[1:]} == {title}
    sv = csv_rows((await made.event_archive("sv", format="csv", kind="minutes")).content, ";")
    assert sv[0] == ["programpunkt", "Grupprum", "Text"] and sv[1][1] == "Storgrupp"

    texts = docx_texts((await made.event_archive(format="docx")).content)
    start = texts.index("Minutes")
    assert texts[start + 1 : start + 4] == ["Plenary", *PLENARY_TEXT.split("\n\n")]
    assert ROOM_A_TEXT.split("\n\n")[1] in texts

    book = load_workbook(io.BytesIO((await made.event_archive(format="xlsx")).content))
    sheet = book["Minutes"]
    assert [list(r) for r in sheet.iter_rows(values_only=True)][1:] == [
        [title, room, text] for room, text in WRITTEN
    ]
    assert sheet["C4"].data_type == "s" and sheet["C4"].quotePrefix
    assert sheet["C2"].alignment.wrap_text

    with zipfile.ZipFile(io.BytesIO((await made.event_archive(format="zip")).content)) as z:
        assert any(n.endswith("-minutes.csv") for n in z.namelist())
        assert (
            json.loads(next(z.read(n) for n in z.namelist() if n.endswith(".json")))["sessions"][0][
                "minutes"
            ]
            == session["minutes"]
        )
