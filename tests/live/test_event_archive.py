"""The event archive from the outside: three sessions full of everything, one report.

The sessions are filled through the public API by the session archive's own `filled`, so
the event archive is checked against everything a session archive is."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from typing import Any

from docx import Document
from openpyxl import load_workbook
from sqlalchemy import update
from sqlmodel import col

from rooms import accounts
from rooms.models import Session
from tests.conftest import ORGANISER_EMAIL, ORGANISER_PASSWORD, Api
from tests.live.test_archive_api import filled, ok

TITLES = ("Forum om samverkan", "Dialogmöte 1: Inleda", "Dialogmöte 2: Utvärdera")


async def event_of_three(api: Api) -> tuple[str, list[dict[str, Any]]]:
    """An event whose programme holds three filled sessions (each made by `filled`, then
    moved into the event and given its own title)."""
    token = await api.organiser_token()
    event = await ok(
        await api.call(
            "POST",
            "/api/v1/events",
            token,
            json={
                "title": "Samverkansforum 2026",
                "starts_at": "2026-03-10T08:00:00Z",
                "ends_at": "2026-05-20T15:00:00Z",
            },
        ),
        201,
    )
    made = [await filled(api) for _ in TITLES]
    async with api.served.samla.store.write() as db:
        for title, one in zip(TITLES, made, strict=True):
            one["session"]["title"] = title
            await db.execute(
                update(Session)
                .where(col(Session.id) == one["session"]["id"])
                .values(conference_id=event["id"], title=title)
            )
    return event["id"], made


def url(eid: str, **params: str) -> str:
    return f"/api/v1/events/{eid}/archive?" + "&".join(f"{k}={v}" for k, v in params.items())


def option_counts(poll: dict[str, Any]) -> dict[str, int]:
    return {o["label"]: o["count"] for o in poll["results"]["options"]}


async def test_the_event_archive_holds_every_session_and_reads_back_the_same_in_every_format(
    api: Api,
) -> None:
    eid, made = await event_of_three(api)
    token = await api.organiser_token()
    r = await api.call("GET", url(eid, format="zip"), token)
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "private, no-store"
    assert 'filename="samla-samverkansforum-2026-' in r.headers["content-disposition"]
    zipped = zipfile.ZipFile(io.BytesIO(r.content))
    names = zipped.namelist()
    assert {n.rsplit(".", 1)[1] for n in names} == {"html", "md", "docx", "xlsx", "json", "csv"}

    def member(suffix: str) -> bytes:
        return zipped.read(next(n for n in names if n.endswith(suffix)))

    body = (await api.call("GET", url(eid, format="json"), token)).json()
    assert body["format"] == "samla-event-archive"
    assert body["event"]["title"] == "Samverkansforum 2026"
    assert body["event"]["starts_at"] == "2026-03-10T08:00:00Z"
    assert body["event"]["partners"] == [ORGANISER_EMAIL]
    assert [s["session"]["title"] for s in body["sessions"]] == list(TITLES)
    notes = {
        n["id"]: n
        for s in body["sessions"]
        for b in s["boards"]
        for c in b["columns"]
        for n in c["notes"]
    }
    questions = {q["id"]: q for s in body["sessions"] for q in s["questions"]}
    polls = {p["id"]: p for s in body["sessions"] for p in s["polls"]}
    for one in made:
        for note in one["notes"]:
            assert notes[note["id"]]["text"] == note["text"]
            assert {f["name"]: f["value"] for f in notes[note["id"]]["card"]} == (
                note["fields"] or {}
            )
        for q in one["questions"]:
            assert questions[q["id"]]["upvotes"] == q["upvotes"]
        for gone in one["hidden"]:
            assert gone["id"] not in notes and gone["id"] not in questions
        for poll in one["polls"]:
            got = polls[poll["id"]]
            assert got["voters"] == poll["results"]["voters"]
            if poll["kind"] in ("single", "multiple", "ranking"):
                assert {o["label"]: o["count"] for o in got["options"]} == option_counts(poll)
            if poll["kind"] == "scale":
                assert got["mean"] == poll["results"]["mean"]
    assert len(notes) == sum(len(m["notes"]) for m in made)
    side = body["polls_side_by_side"]
    assert {p["id"] for p in side} == set(polls)
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

    # CSV: each session's rows, in front of them the session; the same figures as the JSON.
    polls_csv = member("-polls.csv").decode("utf-8-sig")
    delimiter = ";" if ";" in polls_csv.split("\r\n", 1)[0] else ","
    rows = list(csv.reader(io.StringIO(polls_csv), delimiter=delimiter))
    header, rows = rows[0], rows[1:]
    at = {h: i for i, h in enumerate(header)}
    for one, title in zip(made, TITLES, strict=True):
        for poll in one["polls"]:
            if poll["kind"] == "single":
                where = "" if poll["room_id"] is None else room_name(one, poll["room_id"])
                found = {
                    r[at[header[7]]]: int(r[at[header[8]]])
                    for r in rows
                    if r[0] == title and r[1] == poll["question"] and r[2] == where
                }
                assert found == option_counts(poll)
    notes_csv = member("-notes.csv").decode("utf-8-sig")
    assert len(list(csv.reader(io.StringIO(notes_csv), delimiter=delimiter))) == 1 + len(notes)
    questions_csv = member("-questions.csv").decode("utf-8-sig")
    assert len(list(csv.reader(io.StringIO(questions_csv), delimiter=delimiter))) == 1 + len(
        questions
    )

    # XLSX: the same rows, text cells stay text (formula-safe), counts are numbers.
    book = load_workbook(io.BytesIO(member(".xlsx")))
    notes_sheet, polls_sheet = book.worksheets[1], book.worksheets[2]
    texts = {c.value: c for row in notes_sheet.iter_rows(min_row=2) for c in row}
    for one in made:
        for note in one["notes"]:
            assert texts[note["text"]].data_type == "s"
    poll_rows = list(polls_sheet.iter_rows(min_row=2, values_only=True))
    for one, title in zip(made, TITLES, strict=True):
        plenary_single = next(p for p in one["polls"] if p["kind"] == "single" and not p["room_id"])
        got_counts = {
            r[7]: r[8]  # the session in front: label and count one to the right
            for r in poll_rows
            if r[0] == title and r[1] == plenary_single["question"] and not r[2]
        }
        assert got_counts == option_counts(plenary_single)
    assert [r[0] for r in book.worksheets[0].iter_rows(values_only=True)][-3:] == list(TITLES)

    # DOCX: the event's title first, each session a heading one level below it.
    doc = Document(io.BytesIO(member(".docx")))
    headings = [
        (p.style.name, p.text)
        for p in doc.paragraphs
        if p.style is not None and p.style.name.startswith(("Heading", "Title"))
    ]
    assert headings[0] == ("Title", "Samverkansforum 2026")
    for title in TITLES:
        assert ("Heading 1", title) in headings
    assert doc.core_properties.title == "Samverkansforum 2026"
    cells = {c.text for t in doc.tables for row in t.rows for c in row.cells}
    assert set(TITLES) <= cells  # the side-by-side table names each poll's session

    # Markdown: every session, board and poll by name.
    markdown = member(".md").decode()
    assert markdown.startswith("# Samverkansforum 2026")
    for title in TITLES:
        assert f"\n## {title}\n" in markdown
    for one in made:
        for poll in one["polls"]:
            assert poll["question"] in markdown
        sid, mod = one["session"]["id"], one["session"]["moderator_token"]
        for board in (await api.call("GET", f"/api/v1/sessions/{sid}", mod)).json()["boards"]:
            assert board["title"] in markdown

    nameless = await api.call("GET", url(eid, format="json", names="false"), token)
    assert "Anna Lind" in json.dumps(body, ensure_ascii=False)
    assert "Anna Lind" not in nameless.text and "Eva Ekberg" not in nameless.text

    # HTML: one page, inert, every session in it.
    html = member(".html").decode()
    assert html.count("<h1>") == 1 and "<script>window" not in html
    for title in TITLES:
        assert title in html


def room_name(one: dict[str, Any], room_id: str) -> str:
    return next(r["name"] for r in one["rooms"] if r["id"] == room_id)


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
