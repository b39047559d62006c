"""The event archive from the outside: three sessions full of everything, one report.

The sessions are filled through the public API by the session archive's own `filled` (rooms,
polls of every kind, boards, questions), each with a board of good-example cards carrying
links and kinds, and the event is run by organisers of two organisations and one without.
The event is built once for the module: every format is checked against what the API
accepted, figure by figure."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import shutil
import subprocess
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from docx import Document
from docx.table import Table
from docx.text.paragraph import Paragraph
from openpyxl import load_workbook
from sqlalchemy import update
from sqlmodel import col

from rooms import accounts
from rooms.models import Session
from tests.conftest import (
    ORGANISER_EMAIL,
    ORGANISER_PASSWORD,
    Api,
    Served,
    free_port,
    make_settings,
)
from tests.live.test_archive_api import filled, ok
from tests.live.test_organisation import NAMED, PARTNER, WITHOUT, organised_by_three
from tests.rooms.test_archive_office import A4_POINTS, MEDIA_BOX, PAGE, PDF_OBJECT

TITLES = ("Forum om samverkan", "Dialogmöte 1: Inleda", "Dialogmöte 2: Utvärdera")
# The creator's organisation first, each once; a co-organiser without one by the domain.
PARTNERS = NAMED.split(", ")
KINDS = ["Lästips", "Plattformar och nätverk"]
LINKED = (
    ("Handbok om idéburet offentligt partnerskap", "Lästips", "https://natverket.se/iop"),
    ("Volontärbyrån", "Plattformar och nätverk", "https://www.volontarbyran.org/uppdrag"),
)
Key = tuple[str, str, str]  # a poll's session, question and room name ("" for the plenary)


@dataclass
class Three:
    served: Served
    eid: str
    made: list[dict[str, Any]]
    token: str

    async def get(self, language: str = "en", **params: str) -> httpx.Response:
        query = "&".join(f"{k}={v}" for k, v in params.items())
        headers = {"Authorization": f"Bearer {self.token}", "Accept-Language": language}
        async with httpx.AsyncClient(base_url=self.served.base, timeout=120) as client:
            r = await client.get(f"/api/v1/events/{self.eid}/archive?{query}", headers=headers)
        assert r.status_code == 200, r.text
        return r


async def cards_with_links(api: Api, one: dict[str, Any], n: int) -> dict[str, Any]:
    """A board in the session's first room whose card column offers kinds, with a card of
    each kind carrying a link, the first upvoted."""
    session, room = one["session"], one["rooms"][0]
    inside = [p for p in one["people"] if p["participant_id"] in room["participant_ids"]]
    assert len(inside) >= 2
    board = await ok(
        await api.call(
            "POST",
            f"/api/v1/sessions/{session['id']}/boards",
            session["moderator_token"],
            json={
                "title": f"Länktips {n}",
                "columns": [{"title": "Goda exempel", "card": True, "kinds": KINDS}],
                "room_id": room["id"],
            },
        ),
        201,
    )
    column, path = board["columns"][0]["id"], f"/api/v1/boards/{board['id']}/notes"
    cards = [
        await ok(
            await api.call(
                "POST",
                path,
                inside[i]["token"],
                json={"column": column, "fields": {"what": f"{what} ({n})", "kind": k, "link": u}},
            ),
            201,
        )
        for i, (what, k, u) in enumerate(LINKED)
    ]
    await ok(await api.call("POST", f"/api/v1/notes/{cards[0]['id']}/upvote", inside[1]["token"]))
    cards[0]["upvotes"] = 1
    for card in cards:
        assert card["fields"]["link"] and card["fields"]["kind"] in KINDS
    return {"board": board, "cards": cards}


async def event_of_three(served: Served) -> Three:
    """An event whose programme holds three filled sessions (each made by `filled`, then
    moved into the event and given its own title), run by three organisers."""
    async with httpx.AsyncClient(base_url=served.base, timeout=60) as client:
        api = Api(served, client)
        token = await api.organiser_token()
        # Forum för Samverkan's, with Länsstyrelsen Exempel and someone at kommun.se.
        eid = await organised_by_three(
            api, starts_at="2026-03-10T08:00:00Z", ends_at="2026-05-20T15:00:00Z"
        )
        made = [await filled(api) for _ in TITLES]
        for n, one in enumerate(made, start=1):
            linked = await cards_with_links(api, one, n)
            one["notes"] += linked["cards"]
            one["cards"] = linked["cards"]

        async def into_the_event() -> None:
            async with served.samla.store.write() as db:
                for title, one in zip(TITLES, made, strict=True):
                    one["session"]["title"] = title
                    await db.execute(
                        update(Session)
                        .where(col(Session.id) == one["session"]["id"])
                        .values(conference_id=eid, title=title)
                    )

        await served.run(into_the_event)
        return Three(served, eid, made, token)


@pytest.fixture(scope="module")
def three(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Three]:
    served = Served(make_settings(tmp_path_factory.mktemp("three")), free_port())
    served.start()
    try:
        yield asyncio.run(event_of_three(served))
    finally:
        served.stop()


@pytest.fixture(scope="module")
def zipped(three: Three) -> dict[str, bytes]:
    """Every format of the event's archive, as the zip download holds them (English)."""
    r = asyncio.run(three.get(format="zip"))
    assert r.headers["cache-control"] == "private, no-store"
    assert 'filename="samla-samverkansforum-2026-' in r.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(r.content)) as z:
        return {name.split("samverkansforum-2026", 1)[1]: z.read(name) for name in z.namelist()}


def member(zipped: dict[str, bytes], suffix: str) -> bytes:
    found = [data for name, data in zipped.items() if name.endswith(suffix)]
    assert len(found) == 1, (suffix, list(zipped))
    return found[0]


def url(eid: str, **params: str) -> str:
    return f"/api/v1/events/{eid}/archive?" + "&".join(f"{k}={v}" for k, v in params.items())


def room_name(one: dict[str, Any], room_id: str | None) -> str:
    return "" if room_id is None else next(r["name"] for r in one["rooms"] if r["id"] == room_id)


# -- what the API accepted, and what a format says, as the same figures ------------------------


def figures_of(kind: str, voters: int, options: Any, mean: Any, words: Any, answers: Any) -> Any:
    """A poll's figures, as the API's results and the archive's JSON both give them."""
    figures: dict[str, Any] = {"kind": kind, "voters": voters}
    if kind in ("single", "multiple", "ranking", "scale"):
        figures["counts"] = {o["label"]: o["count"] for o in options}
    if kind == "ranking":
        figures["scores"] = {o["label"]: o["score"] for o in options}
    if kind == "scale":
        figures["mean"] = mean
    if kind == "wordcloud":
        figures["counts"] = {w["word"]: w["count"] for w in words}
    if kind == "open":
        figures["answers"] = sorted(answers)
    return figures


def accepted(three: Three) -> dict[Key, dict[str, Any]]:
    """Each poll's exact results as the API gave them when it closed."""
    out: dict[Key, dict[str, Any]] = {}
    for one, title in zip(three.made, TITLES, strict=True):
        for poll in one["polls"]:
            r = poll["results"]
            shown = [a["text"] for a in r.get("answers", []) if not a["hidden"]]
            key = (title, poll["question"], room_name(one, poll["room_id"]))
            assert key not in out  # each poll told apart by its session, question and room
            out[key] = figures_of(
                poll["kind"], r["voters"], r["options"], r.get("mean"), r.get("words"), shown
            )
    kinds = {"single", "multiple", "scale", "wordcloud", "open", "ranking"}
    assert {f["kind"] for f in out.values()} == kinds
    return out


def from_json(body: dict[str, Any]) -> dict[Key, dict[str, Any]]:
    out: dict[Key, dict[str, Any]] = {}
    for s in body["sessions"]:
        rooms = {r["id"]: r["name"] for r in s["rooms"]}
        for p in s["polls"]:
            key = (s["session"]["title"], p["question"], rooms.get(p["room_id"], ""))
            out[key] = figures_of(
                p["kind"], p["voters"], p["options"], p["mean"], p["words"], p["answers"]
            )
    return out


def number(value: Any) -> float | int | None:
    """A figure as a CSV (either language) or a workbook writes it."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return value
    found = float(str(value).replace("\u00a0", "").replace(",", "."))
    return int(found) if found.is_integer() else found


def from_rows(rows: list[list[Any]]) -> dict[Key, dict[str, Any]]:
    """The polls' rows of the event's CSV or workbook (the session in front of each session
    row: session, poll, room, kind, status, voters, item, label, count, score, mean)."""
    out: dict[Key, dict[str, Any]] = {}
    for row in rows:
        session, question, room, kind, _, voters, item, label, count, score, mean = row[:11]
        figures = out.setdefault(
            (str(session), str(question), str(room or "")),
            {"kind": kind, "voters": number(voters)},
        )
        if item in ("option", "value", "word"):
            figures.setdefault("counts", {})[str(label)] = number(count)
        if kind == "ranking":
            figures.setdefault("scores", {})[str(label)] = number(score)
        if kind == "scale":
            figures["mean"] = number(mean)
        if item == "answer":
            figures.setdefault("answers", []).append(str(label))
        elif kind == "open":
            figures.setdefault("answers", [])
    for figures in out.values():
        if "answers" in figures:
            figures["answers"] = sorted(figures["answers"])
    return out


def csv_rows(data: bytes, delimiter: str) -> tuple[list[str], list[list[str]]]:
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=delimiter))
    return rows[0], rows[1:]


def notes_of(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        n["id"]: n
        for s in body["sessions"]
        for b in s["boards"]
        for c in b["columns"]
        for n in c["notes"]
    }


# -- the JSON ------------------------------------------------------------------------------------


async def test_the_event_json_holds_every_note_card_question_and_each_polls_exact_results(
    three: Three,
) -> None:
    body = (await three.get(format="json")).json()
    assert body["format"] == "samla-event-archive"
    assert body["event"]["title"] == "Samverkansforum 2026"
    assert body["event"]["starts_at"] == "2026-03-10T08:00:00Z"
    assert [s["session"]["title"] for s in body["sessions"]] == list(TITLES)
    notes = notes_of(body)
    questions = {q["id"]: q for s in body["sessions"] for q in s["questions"]}
    for one in three.made:
        for note in one["notes"]:
            got = notes[note["id"]]
            assert (got["text"], got["upvotes"]) == (note["text"], note["upvotes"])
            assert {f["name"]: f["value"] for f in got["card"]} == (note["fields"] or {})
        for card in one["cards"]:
            fields = {f["name"]: f["value"] for f in notes[card["id"]]["card"]}
            assert (fields["link"], fields["kind"]) == (
                card["fields"]["link"],
                card["fields"]["kind"],
            )
        for q in one["questions"]:
            got = questions[q["id"]]
            assert (got["text"], got["upvotes"], got["answered"]) == (
                q["text"],
                q["upvotes"],
                q.get("answered", False),
            )
        for gone in one["hidden"]:
            assert gone["id"] not in notes and gone["id"] not in questions
    assert len(notes) == sum(len(m["notes"]) for m in three.made)
    assert len(questions) == sum(len(m["questions"]) for m in three.made)
    assert from_json(body) == accepted(three)
    side = body["polls_side_by_side"]
    assert {p["id"] for p in side} == {p["id"] for m in three.made for p in m["polls"]}
    assert {p["session_title"] for p in side} == set(TITLES)
    # Per column, every session's most upvoted notes, the most upvoted first.
    assert [t["column"] for t in body["top_notes"]] == ["Goda exempel", "Idéer"]
    assert body["top_notes"][0]["notes"][0]["note"]["upvotes"] > 0
    for leaders in body["top_notes"]:
        each = {
            (n["note"]["id"], s["session"]["id"])
            for s in body["sessions"]
            for t in s["top_notes"]
            if t["column"] == leaders["column"]
            for n in t["notes"]
        }
        assert {(n["note"]["id"], n["session_id"]) for n in leaders["notes"]} == each
        upvotes = [n["note"]["upvotes"] for n in leaders["notes"]]
        assert upvotes == sorted(upvotes, reverse=True)
        assert {n["session_title"] for n in leaders["notes"]} == set(TITLES)
    nameless = await three.get(format="json", names="false")
    assert "Anna Lind" in json.dumps(body, ensure_ascii=False)
    assert "Anna Lind" not in nameless.text and "Eva Ekberg" not in nameless.text


# -- "in cooperation with" ------------------------------------------------------------------------


async def test_every_format_names_the_organisations_and_only_the_json_the_organisers_emails(
    three: Three, zipped: dict[str, bytes]
) -> None:
    body = json.loads(member(zipped, ".json"))
    assert body["event"]["partners"] == PARTNERS  # the creator's first, each once
    assert body["event"]["organisers"] == [ORGANISER_EMAIL, PARTNER[0], WITHOUT]
    line = f"In cooperation with: {', '.join(PARTNERS)}"
    markdown = member(zipped, ".md").decode()
    assert f"\n- {line}\n" in markdown
    html = member(zipped, ".html").decode()
    assert line in html
    doc = Document(io.BytesIO(member(zipped, ".docx")))
    assert line in [p.text for p in doc.paragraphs]
    assert doc.core_properties.author == ", ".join(PARTNERS)
    about = load_workbook(io.BytesIO(member(zipped, ".xlsx"))).worksheets[0]
    assert ("In cooperation with", ", ".join(PARTNERS)) in [
        tuple(r[:2]) for r in about.iter_rows(values_only=True)
    ]
    everywhere = [markdown, html, "\n".join(p.text for p in doc.paragraphs)]
    everywhere.append(json.dumps([list(r) for r in about.iter_rows(values_only=True)]))
    for text in everywhere:
        for email in (ORGANISER_EMAIL, *PARTNER[:1], WITHOUT):
            assert email not in text
    swedish = (await three.get("sv", format="md")).text
    assert f"- I samarbete med: {', '.join(PARTNERS)}\n" in swedish


# -- CSV, XLSX and DOCX read back --------------------------------------------------------------


async def test_the_csv_the_workbook_and_the_word_document_read_back_the_jsons_figures(
    three: Three, zipped: dict[str, bytes]
) -> None:
    body = json.loads(member(zipped, ".json"))
    figures = from_json(body)
    header, rows = csv_rows(member(zipped, "-polls.csv"), ",")
    assert header[:2] == ["session", "poll"]
    assert from_rows(rows) == figures
    notes = notes_of(body)
    header, rows = csv_rows(member(zipped, "-notes.csv"), ",")
    at = {h: i for i, h in enumerate(header)}
    assert len(rows) == len(notes)
    assert sorted(int(r[at["upvotes"]]) for r in rows) == sorted(
        n["upvotes"] for n in notes.values()
    )
    links = {(r[at["link"]], r[at["kind"]]) for r in rows if r[at["link"]]}
    cards = [c for m in three.made for c in m["cards"]]
    assert links == {(c["fields"]["link"], c["fields"]["kind"]) for c in cards}
    header, rows = csv_rows(member(zipped, "-questions.csv"), ",")
    questions = [q for s in body["sessions"] for q in s["questions"]]
    assert sorted(int(r[header.index("upvotes")]) for r in rows) == sorted(
        q["upvotes"] for q in questions
    )

    book = load_workbook(io.BytesIO(member(zipped, ".xlsx")))
    sheets = {s.title: s for s in book.worksheets}
    polls_sheet, notes_sheet = sheets["Polls"], sheets["Notes"]
    poll_rows = [list(r) for r in polls_sheet.iter_rows(min_row=2, values_only=True)]
    assert from_rows(poll_rows) == figures
    for row in poll_rows:  # counts are numbers, never text
        assert row[8] is None or isinstance(row[8], int)
    texts = {c.value: c for row in notes_sheet.iter_rows(min_row=2) for c in row}
    for one in three.made:
        for note in one["notes"]:
            assert texts[note["text"]].data_type == "s"  # formula-safe
    assert notes_sheet.max_row - 1 == len(notes)
    event_rows = list(sheets["Event"].iter_rows(values_only=True))
    assert [r[0] for r in event_rows][-3:] == list(TITLES)
    for row, s in zip(event_rows[-3:], body["sessions"], strict=True):
        assert row[2:] == (
            sum(len(c["notes"]) for b in s["boards"] for c in b["columns"]),
            len(s["polls"]),
            len(s["questions"]),
        )

    doc = Document(io.BytesIO(member(zipped, ".docx")))
    headings = [
        (p.style.name, p.text)
        for p in doc.paragraphs
        if p.style is not None and p.style.name.startswith(("Heading", "Title"))
    ]
    assert headings[0] == ("Title", "Samverkansforum 2026")
    for title in TITLES:
        assert ("Heading 1", title) in headings
    assert doc.core_properties.title == "Samverkansforum 2026"
    tabled = {
        key: {k: v for k, v in f.items() if k in ("counts", "scores")}
        for key, f in figures.items()
        if "counts" in f  # every kind but open answers, which are listed as text
    }
    found = docx_figures(doc)
    assert {key: found.get(key) for key in tabled} == tabled
    side = next(
        t for t in doc.tables if [c.text for c in t.rows[0].cells][:2] == ["Session", "Poll"]
    )
    voters = {
        (r[0], r[1], "" if r[2] == "Plenary" else r[2]): int(r[4])
        for r in ([c.text for c in row.cells] for row in side.rows[1:])
    }
    assert voters == {key: f["voters"] for key, f in figures.items()}
    text = "\n".join(p.text for p in doc.paragraphs)
    for card in cards:
        assert f"Link: {card['fields']['link']}" in text
    # The kinds Samla offers by default read in the reader's language, as the links' lists.
    assert {"Reading tips", "Platforms and networks"} <= {text for _, text in headings}


def docx_figures(doc: Any) -> dict[Key, dict[str, Any]]:
    """Each poll's results table in the Word document: under the session's heading (1), its
    plenary or room (2), the poll's (3), the first table (answer, count, share or score)."""
    session = section = poll = ""
    out: dict[Key, dict[str, Any]] = {}
    for block in doc.iter_inner_content():
        if isinstance(block, Paragraph):
            style = block.style.name if block.style is not None else ""
            if style == "Heading 1":
                session, section, poll = block.text, "", ""
            elif style == "Heading 2":
                section, poll = block.text, ""
            elif style == "Heading 3":
                poll = block.text.removeprefix("Poll: ") if block.text.startswith("Poll: ") else ""
            continue
        assert isinstance(block, Table)
        if not poll or session not in TITLES:
            continue
        key = (session, poll, "" if section == "Plenary" else section)
        if key in out:
            continue  # a split's table, after the results'
        rows = [[c.text for c in row.cells] for row in block.rows]
        figures: dict[str, Any] = {"counts": {r[0]: number(r[1]) for r in rows[1:]}}
        if rows[0][2] == "Score":
            figures["scores"] = {r[0]: number(r[2]) for r in rows[1:]}
        out[key] = figures
    return out


# -- Markdown and HTML ------------------------------------------------------------------------


async def test_the_markdown_names_every_session_board_and_poll_and_the_html_is_one_inert_page(
    three: Three, zipped: dict[str, bytes]
) -> None:
    markdown = member(zipped, ".md").decode()
    assert markdown.startswith("# Samverkansforum 2026")
    async with httpx.AsyncClient(base_url=three.served.base, timeout=30) as client:
        for one, title in zip(three.made, TITLES, strict=True):
            assert f"\n## {title}\n" in markdown
            for poll in one["polls"]:
                assert poll["question"] in markdown
            sid, mod = one["session"]["id"], one["session"]["moderator_token"]
            r = await client.get(
                f"/api/v1/sessions/{sid}", headers={"Authorization": f"Bearer {mod}"}
            )
            boards = r.json()["boards"]
            assert len(boards) == 4  # the plenary's, one a room, the cards'
            for board in boards:
                assert board["title"] in markdown
    html = member(zipped, ".html").decode()
    assert html.count("<h1>") == 1 and "<script>window" not in html
    for title in TITLES:
        assert title in html


# -- Swedish -------------------------------------------------------------------------------------


async def test_a_swedish_csv_read_with_semicolons_gives_the_jsons_figures(three: Three) -> None:
    figures = from_json((await three.get(format="json")).json())
    polls = (await three.get("sv", format="csv", kind="polls")).content
    header, rows = csv_rows(polls, ";")
    assert header[0] == "programpunkt" and "," not in ";".join(header)
    # Kinds and items stay data in every language; figures are written the Swedish way.
    assert any("," in r[10] for r in rows if r[3] == "scale")
    assert from_rows(rows) == figures
    notes = (await three.get("sv", format="csv", kind="notes")).content
    header, rows = csv_rows(notes, ";")
    at = {h: i for i, h in enumerate(header)}
    body = (await three.get(format="json")).json()
    assert sorted(int(r[at["Gillningar"]]) for r in rows) == sorted(
        n["upvotes"] for n in notes_of(body).values()
    )
    assert {r[at["Länk"]] for r in rows if r[at["Länk"]]} == {
        c["fields"]["link"] for m in three.made for c in m["cards"]
    }


# -- LibreOffice ------------------------------------------------------------------------------

NO_SOFFICE = pytest.mark.skipif(
    shutil.which("soffice") is None,
    reason="LibreOffice is not installed (soffice): apt-get install libreoffice-writer-nogui "
    "libreoffice-calc-nogui",
)


def pdf_pages(data: bytes, name: str, tmp_path: Path) -> list[tuple[int, int]]:
    """The file made a PDF by LibreOffice headless, each page's MediaBox (width, height). The
    machine's own paper is US Letter here (libpaper's PAPERSIZE): a page that comes out A4
    was set to A4 by the file itself, as it would be on any reader's machine."""
    (tmp_path / name).write_bytes(data)
    done = subprocess.run(
        [
            "soffice",
            # A profile of its own: another LibreOffice may be running.
            f"-env:UserInstallation=file://{tmp_path / 'profile'}",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(tmp_path / "pdf"),
            str(tmp_path / name),
        ],
        capture_output=True,
        timeout=180,
        check=False,
        env={**os.environ, "PAPERSIZE": "letter"},
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    pdf = (tmp_path / "pdf" / f"{name.rsplit('.', 1)[0]}.pdf").read_bytes()
    return [
        (round(float(m[2]) - float(m[0])), round(float(m[3]) - float(m[1])))
        for page in PDF_OBJECT.findall(pdf)
        if PAGE.search(page)
        for m in MEDIA_BOX.findall(page)
    ]


@NO_SOFFICE
@pytest.mark.parametrize("suffix", [".docx", ".xlsx"])
def test_libreoffice_converts_the_events_office_files_to_a4_pdfs(
    zipped: dict[str, bytes], tmp_path: Path, suffix: str
) -> None:
    pages = pdf_pages(member(zipped, suffix), f"event{suffix}", tmp_path)
    assert pages, "the PDF has no page"
    for box in pages:  # A4, upright or on its side: 595 x 842 points, give or take one
        assert all(abs(x - y) <= 1 for x, y in zip(sorted(box), A4_POINTS, strict=True)), box


# -- who may, and in which language ------------------------------------------------------------


async def test_the_event_archive_is_refused_to_anyone_but_the_events_organisers(
    api: Api,
) -> None:
    token = await api.organiser_token()
    event = await ok(await api.call("POST", "/api/v1/events", token, json={"title": "Forum"}), 201)
    session = await ok(
        await api.call(
            "POST", "/api/v1/sessions", token, json={"title": "Pass", "event_id": event["id"]}
        ),
        201,
    )
    participant = await api.join(session, "Anna")
    async with api.served.samla.store.write() as db:
        await accounts.add_organiser(db, "other@samla.test", ORGANISER_PASSWORD)
    stranger = (
        await api.call(
            "POST",
            "/api/v1/auth/token",
            json={"email": "other@samla.test", "password": ORGANISER_PASSWORD},
        )
    ).json()["token"]
    r = await api.call("GET", url(event["id"], format="json"))
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    for who in (participant["token"], session["moderator_token"], stranger):
        r = await api.call("GET", url(event["id"], format="json"), who)
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden", r.text
        assert "Forum" not in r.text
    assert (await api.call("GET", url("nosuchevent", format="json"), token)).status_code == 404
    for params in (
        {"format": "pdf"},
        {"format": "csv"},
        {"format": "csv", "kind": "votes"},
        {"format": "json", "kind": "notes"},
    ):
        r = await api.call("GET", url(event["id"], **params), token)
        assert r.status_code == 422 and r.json()["error"]["code"] == "invalid", params
    for fmt in ("zip", "json", "md", "html", "docx", "xlsx"):
        r = await api.call("GET", url(event["id"], format=fmt), token)
        assert r.status_code == 200, (fmt, r.text)
    r = await api.call("GET", url(event["id"], format="csv", kind="notes"), token)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")


async def test_the_event_archive_speaks_the_readers_language(api: Api) -> None:
    token = await api.organiser_token()
    event = await ok(
        await api.call(
            "POST",
            "/api/v1/events",
            token,
            json={"title": "Forum", "starts_at": "2026-03-10T08:00:00Z"},
        ),
        201,
    )
    await api.call(
        "POST", "/api/v1/sessions", token, json={"title": "Pass", "event_id": event["id"]}
    )
    swedish = {"Authorization": f"Bearer {token}", "Accept-Language": "sv"}
    r = await api.client.get(url(event["id"], format="md"), headers=swedish)
    assert r.status_code == 200 and "- Börjar: " in r.text and "Programpunkter: Pass" in r.text
    english = await api.call("GET", url(event["id"], format="md"), token)
    assert "- Starts: " in english.text and "Sessions: Pass" in english.text
    # Organisers without an organisation are named by their mail domain, never by address.
    assert "In cooperation with: samla.test" in english.text
    assert ORGANISER_EMAIL not in english.text
