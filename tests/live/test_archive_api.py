"""The archive download, the organiser page's delete, and retention, from the outside.

The session is filled through the public API with every feature (polls of every kind, rooms,
boards, Q&A) and each test asserts on all of it: a filling that silently skipped a feature
would let the archive lose it unnoticed."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
from docx import Document
from openpyxl import load_workbook
from sqlalchemy import text, update
from sqlmodel import col

from live import retention
from live.store import Store
from rooms import accounts
from rooms.models import Session, digest, utcnow
from tests.conftest import ORGANISER_PASSWORD, Api, eventually

FORMULAS = ['=HYPERLINK("http://x","y")', "+1+1", "-2+3", "@SUM(A1)"]
SCRIPT = "<script>window.pwned=1</script> Bra"
CARD = {
    "what": "En ingång för föreningar",
    "who": "Malmö stad",
    "where": "Malmö",
    "contact": "Eva Ekberg, eva.ekberg@example.se",
    "effect": "Fler ansökningar",
}
MEDIA = {
    "zip": "application/zip",
    "json": "application/json",
    "md": "text/markdown",
    "html": "text/html",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


async def ok(r: httpx.Response, status: int = 200) -> Any:
    assert r.status_code == status, r.text
    return r.json() if r.content else None


async def filled(api: Api) -> dict[str, Any]:
    """A session with participants, rooms, polls of every kind, boards with notes and
    upvotes, and questions; returns what was accepted."""
    session = await api.make_session(
        "Samverkansforum 2026",
        attributes=[
            {"key": "sektor", "label": "Sektor", "choices": ["Civilsamhälle", "Offentlig sektor"]}
        ],
    )
    mod = session["moderator_token"]
    people = [
        await api.join(session, name, {"sektor": sektor})
        for name, sektor in (
            ("Anna Lind", "Civilsamhälle"),
            ("Bo Ekström", "Offentlig sektor"),
            (None, "Civilsamhälle"),
            ("Dara Nilsson", "Offentlig sektor"),
        )
    ]
    made: dict[str, Any] = {
        "session": session,
        "people": people,
        "notes": [],
        "questions": [],
        "polls": [],
        # Names as people chose to show them; a card's contact names someone too.
        "names": ["Anna Lind", "Bo Ekström", "Dara Nilsson", "Eva Ekberg"],
        "rooms": [],
    }
    sid = session["id"]
    # In the plenary, before the rooms open.
    made["polls"] += await polls_of_every_kind(api, session, people)
    plenary = await board_with_notes(api, session, people, "Lyft till storgruppen")
    made["notes"] += plenary
    opened = await ok(
        await api.call(
            "POST",
            f"/api/v1/sessions/{sid}/rooms",
            mod,
            json={"count": 2, "assignment": "balanced", "balance_by": "sektor"},
        ),
        201,
    )
    made["rooms"] = opened["rooms"]
    for room in made["rooms"]:
        inside = [p for p in people if p["participant_id"] in room["participant_ids"]]
        # The same question in every room: side by side in the report.
        made["polls"] += await polls_of_every_kind(
            api, session, inside, room_id=room["id"], kinds=("single",)
        )
        notes = await board_with_notes(
            api, session, inside, f"Inleda ({room['name']})", room_id=room["id"]
        )
        made["notes"] += notes
        # The room's most upvoted note is collected to the plenary board.
        collected = await ok(
            await api.call(
                "POST",
                f"/api/v1/boards/{plenary[0]['board_id']}/collect",
                mod,
                json={"note_ids": [notes[0]["id"]]},
            )
        )
        for copy in collected["notes"]:
            made["notes"].append({**copy, "from_room_id": room["id"]})
    # A note the moderator hid was not accepted: it stays out of the archive.
    hidden = plenary[2]
    await ok(await api.call("POST", f"/api/v1/notes/{hidden['id']}/hide", mod))
    made["notes"].remove(hidden)
    made["hidden"] = [hidden]
    for i, q in enumerate(["Hur säkrar vi finansieringen?", "=1+1", "Avvisad fråga"]):
        made["questions"].append(
            await ok(
                await api.call(
                    "POST",
                    f"/api/v1/sessions/{sid}/questions",
                    people[i]["token"],
                    json={"text": q, "anonymous": i == 1},
                ),
                201,
            )
        )
    first, _, rejected = made["questions"]
    for who in people[1:]:
        await ok(await api.call("POST", f"/api/v1/questions/{first['id']}/upvote", who["token"]))
    first["upvotes"] = len(people) - 1
    await ok(await api.call("POST", f"/api/v1/questions/{first['id']}/answered", mod))
    first["answered"] = True
    await ok(
        await api.call(
            "POST", f"/api/v1/questions/{rejected['id']}/approve", mod, json={"approved": False}
        )
    )
    made["questions"].remove(rejected)
    made["hidden"].append(rejected)
    # Every test below checks the archive against these: none of them may be empty.
    assert len(made["polls"]) == 6 + 2  # every kind in the plenary, one in each room
    assert len(made["rooms"]) == 2
    # 7 on each of three boards, one collected from each room, one hidden.
    assert len(made["notes"]) == 3 * 7 + 2 - 1
    assert len(made["questions"]) == 2
    return made


async def board_with_notes(
    api: Api,
    session: dict[str, Any],
    people: list[dict[str, Any]],
    title: str,
    room_id: str | None = None,
) -> list[dict[str, Any]]:
    """A board with two columns, notes (formula-like and script-like among them) and upvotes."""
    body: dict[str, Any] = {
        "title": title,
        "columns": [{"title": "Goda exempel", "card": True}, "Idéer"],
    }
    if room_id is not None:
        body["room_id"] = room_id
    board = await ok(
        await api.call(
            "POST",
            f"/api/v1/sessions/{session['id']}/boards",
            session["moderator_token"],
            json=body,
        ),
        201,
    )
    good, ideas = (c["id"] for c in board["columns"])
    texts = [f"En väg in för föreningar ({title})", f"{SCRIPT} ({title})", *FORMULAS]
    notes = []
    for i, note_text in enumerate(texts):
        who = people[i % len(people)]
        note = await ok(
            await api.call(
                "POST",
                f"/api/v1/boards/{board['id']}/notes",
                who["token"],
                json={"text": note_text, "column": good if i < 2 else ideas, "anonymous": i == 1},
            ),
            201,
        )
        notes.append(note)
    # A good-example card, its fields kept apart in the archive.
    card = await ok(
        await api.call(
            "POST",
            f"/api/v1/boards/{board['id']}/notes",
            people[0]["token"],
            json={"column": good, "fields": {**CARD, "what": f"{CARD['what']} ({title})"}},
        ),
        201,
    )
    notes.append(card)
    for who in people[1:]:
        await ok(await api.call("POST", f"/api/v1/notes/{notes[0]['id']}/upvote", who["token"]))
    notes[0]["upvotes"] = len(people) - 1
    return notes


async def polls_of_every_kind(
    api: Api,
    session: dict[str, Any],
    people: list[dict[str, Any]],
    room_id: str | None = None,
    kinds: tuple[str, ...] = ("single", "multiple", "scale", "wordcloud", "open", "ranking"),
) -> list[dict[str, Any]]:
    mod, sid = session["moderator_token"], session["id"]
    specs: list[tuple[dict[str, Any], Any]] = [
        (
            {"question": "Mer eller bättre?", "kind": "single", "options": ["Mer", "Bättre"]},
            lambda o, i: {"choices": [o[i % 2]["id"]]},
        ),
        (
            {"question": "Vad behövs?", "kind": "multiple", "options": ["Tid", "Pengar", "Mandat"]},
            lambda o, i: {"choices": [o[0]["id"], o[1 + i % 2]["id"]]},
        ),
        (
            {"question": "Hur väl fungerar det?", "kind": "scale", "scale": {"min": 1, "max": 5}},
            lambda o, i: {"value": 1 + i},
        ),
        (
            {"question": "Ett ord", "kind": "wordcloud"},
            lambda o, i: {"words": ["tillit", "dialog" if i % 2 else "mandat"]},
        ),
        ({"question": "Vad tar du med dig?", "kind": "open"}, lambda o, i: {"text": f"Svar {i}"}),
        (
            {
                "question": "Vad är viktigast?",
                "kind": "ranking",
                "options": ["Roller", "Finansiering", "Mandat"],
            },
            lambda o, i: {"choices": [x["id"] for x in (o[i % 3 :] + o[: i % 3])]},
        ),
    ]
    polls = []
    for spec, vote in specs:
        if spec["kind"] not in kinds:
            continue
        if room_id is not None:
            spec = {**spec, "room_id": room_id}
        poll = await ok(
            await api.call("POST", f"/api/v1/sessions/{sid}/polls", mod, json=spec), 201
        )
        await ok(await api.call("POST", f"/api/v1/polls/{poll['id']}/open", mod))
        for i, who in enumerate(people):
            r = await api.call(
                "POST",
                f"/api/v1/polls/{poll['id']}/votes",
                who["token"],
                json=vote(poll["options"], i),
            )
            assert r.status_code == 201, r.text
        await ok(await api.call("POST", f"/api/v1/polls/{poll['id']}/close", mod))
        poll["results"] = await ok(
            await api.call("GET", f"/api/v1/polls/{poll['id']}/results", mod)
        )
        polls.append(poll)
    return polls


def body_text(body: Any) -> str:
    return json.dumps(body, ensure_ascii=False)


def archive_url(sid: str, **params: str) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"/api/v1/sessions/{sid}/archive?{query}"


async def remnants(store: Store, needles: list[str]) -> list[str]:
    """Every cell of every table that still holds one of the needles."""
    found = []
    async with store.read() as db:
        tables = (
            (
                await db.execute(
                    text(
                        "SELECT name FROM sqlite_master "
                        "WHERE type='table' AND name NOT LIKE 'sqlite_%'"
                    )
                )
            )
            .scalars()
            .all()
        )
        for table in tables:
            for row in (await db.execute(text(f'SELECT * FROM "{table}"'))).all():
                found += [
                    f"{table}: {cell}" for cell in row if any(n in str(cell) for n in needles)
                ]
    return found


def needles_of(made: dict[str, Any]) -> list[str]:
    return [
        made["session"]["id"],
        *(p["participant_id"] for p in made["people"]),
        *(n["id"] for n in made["notes"]),
        *(q["id"] for q in made["questions"]),
        *(p["id"] for p in made["polls"]),
        *(r["id"] for r in made["rooms"]),
        *(h["id"] for h in made.get("hidden", [])),
        digest(made["session"]["moderator_token"]),
        "Samverkansforum 2026",
        "Malmö stad",  # a card field, stored apart from the note's text
    ]


# The API paths `filled` drives; the archive tests stand on every one of them.
FILLED_PATHS = [
    ("post", "/api/v1/sessions/{sid}/polls"),
    ("post", "/api/v1/polls/{pid}/votes"),
    ("post", "/api/v1/sessions/{sid}/boards"),
    ("post", "/api/v1/boards/{bid}/notes"),
    ("post", "/api/v1/boards/{bid}/collect"),
    ("post", "/api/v1/sessions/{sid}/rooms"),
    ("post", "/api/v1/sessions/{sid}/questions"),
    ("get", "/api/v1/sessions/{sid}/archive"),
]


async def test_the_openapi_document_describes_every_path_the_archive_is_filled_through(
    api: Api,
) -> None:
    paths = (await api.call("GET", "/api/v1/openapi.json")).json()["paths"]
    missing = [(m, p) for m, p in FILLED_PATHS if m not in paths.get(p, {})]
    assert missing == []


# -- downloading ------------------------------------------------------------------------------


async def test_every_format_downloads_with_a_filename_for_organiser_and_moderator(
    api: Api,
) -> None:
    made = await filled(api)
    sid = made["session"]["id"]
    for token in (await api.organiser_token(), made["session"]["moderator_token"]):
        for fmt, media in MEDIA.items():
            r = await api.call("GET", archive_url(sid, format=fmt), token)
            assert r.status_code == 200, (fmt, r.text)
            assert r.headers["content-type"].startswith(media)
            disposition = r.headers["content-disposition"]
            assert re.search(
                rf'attachment; filename="samla-samverkansforum-2026-[0-9-]+\.{fmt}"', disposition
            ), disposition
        for kind in ("notes", "polls", "questions"):
            r = await api.call("GET", archive_url(sid, format="csv", kind=kind), token)
            assert r.status_code == 200 and r.content.startswith(b"\xef\xbb\xbf")
            assert f"-{kind}.csv" in r.headers["content-disposition"]


async def test_the_json_archive_holds_everything_accepted_with_exact_results(api: Api) -> None:
    made = await filled(api)
    r = await api.call(
        "GET", archive_url(made["session"]["id"], format="json"), made["session"]["moderator_token"]
    )
    body = r.json()
    assert body["session"]["title"] == "Samverkansforum 2026"
    assert body["participation"]["participants"] == 4 and body["participation"]["named"] == 3
    assert body["participation"]["attributes"][0]["counts"] == [
        {"choice": "Civilsamhälle", "count": 2},
        {"choice": "Offentlig sektor", "count": 2},
    ]
    notes = {n["id"]: n for b in body["boards"] for c in b["columns"] for n in c["notes"]}
    assert set(notes) == {n["id"] for n in made["notes"]}
    for note in made["notes"]:
        assert notes[note["id"]]["text"] == note["text"]
        assert notes[note["id"]]["author"] == (note["author"] or {}).get("name")
        assert notes[note["id"]]["from_room_id"] == note.get("from_room_id")
        card = {f["name"]: f["value"] for f in notes[note["id"]]["card"]}
        assert card == (note["fields"] or {})
    assert notes[made["notes"][0]["id"]]["upvotes"] == 3
    questions = {q["id"]: q for q in body["questions"]}
    assert set(questions) == {q["id"] for q in made["questions"]}
    for q in made["questions"]:
        assert questions[q["id"]]["text"] == q["text"]
        assert questions[q["id"]]["upvotes"] == q["upvotes"]
        assert questions[q["id"]]["answered"] == q["answered"]
        assert questions[q["id"]]["author"] == (q["author"] or {}).get("name")
    for gone in made.get("hidden", []):
        assert gone["id"] not in body_text(body)
    rooms = [(r["id"], r["name"], r["participants"]) for r in body["rooms"]]
    assert rooms == [(r["id"], r["name"], len(r["participant_ids"])) for r in made["rooms"]]
    polls = {p["id"]: p for p in body["polls"]}
    assert set(polls) == {p["id"] for p in made["polls"]}
    for poll in made["polls"]:
        got, results = polls[poll["id"]], poll["results"]
        assert got["kind"] == poll["kind"] and got["voters"] == results["voters"]
        if poll["kind"] in ("single", "multiple", "ranking"):
            assert [(o["label"], o["count"]) for o in got["options"]] == [
                (o["label"], o["count"]) for o in results["options"]
            ]
        if poll["kind"] == "ranking":
            assert [o["score"] for o in got["options"]] == [o["score"] for o in results["options"]]
        if poll["kind"] == "scale":
            assert got["mean"] == results["mean"]
        if poll["kind"] == "wordcloud":
            assert {w["word"]: w["count"] for w in got["words"]} == {
                w["word"]: w["count"] for w in results["words"]
            }
        if poll["kind"] == "open":
            assert sorted(got["answers"]) == sorted(a["text"] for a in results["answers"])
    # No individual vote, nor anything else, can be traced to a participant: no ids of theirs.
    for person in made["people"]:
        assert person["participant_id"] not in body_text(body)


async def test_csv_xlsx_docx_and_markdown_carry_the_same_figures(api: Api) -> None:
    made = await filled(api)
    sid, mod = made["session"]["id"], made["session"]["moderator_token"]
    zipped = zipfile.ZipFile(
        io.BytesIO((await api.call("GET", archive_url(sid, format="zip"), mod)).content)
    )
    names = zipped.namelist()
    assert {n.rsplit(".", 1)[1] for n in names} == {"html", "md", "docx", "xlsx", "json", "csv"}

    def member(suffix: str) -> bytes:
        return zipped.read(next(n for n in names if n.endswith(suffix)))

    notes = list(csv.DictReader(io.StringIO(member("-notes.csv").decode("utf-8-sig"))))
    assert sorted(r["text"].removeprefix("'") for r in notes) == sorted(
        n["text"] for n in made["notes"]
    )
    for row in notes:
        assert not row["text"].startswith(("=", "+", "-", "@"))
    cards = [r for r in notes if r.get("who")]
    assert len(cards) == len([n for n in made["notes"] if n["fields"]])
    assert all(r["contact"] == CARD["contact"] and r["effect"] == CARD["effect"] for r in cards)
    room_names = {r["id"]: r["name"] for r in made["rooms"]}
    polls = list(csv.DictReader(io.StringIO(member("-polls.csv").decode("utf-8-sig"))))
    for poll in made["polls"]:
        where = room_names.get(poll["room_id"] or "", "")
        if poll["kind"] in ("single", "multiple"):
            counts = {
                r["label"]: int(r["count"])
                for r in polls
                if r["poll"] == poll["question"] and r["room"] == where
            }
            assert counts == {o["label"]: o["count"] for o in poll["results"]["options"]}
    book = load_workbook(io.BytesIO(member(".xlsx")))
    cells = {c.value: c for row in book["Notes"].iter_rows(min_row=2) for c in row}
    for note in made["notes"]:
        assert cells[note["text"]].data_type == "s"
    for poll in made["polls"]:
        if poll["kind"] == "single":
            rows = [
                r
                for r in book["Polls"].iter_rows(min_row=2, values_only=True)
                if r[0] == poll["question"]
                and (r[1] or "") == room_names.get(poll["room_id"] or "", "")
            ]
            assert {r[6]: r[7] for r in rows} == {
                o["label"]: o["count"] for o in poll["results"]["options"]
            }
    doc = Document(io.BytesIO(member(".docx")))
    headings = [
        p.text
        for p in doc.paragraphs
        if p.style is not None and p.style.name.startswith(("Heading", "Title"))
    ]
    assert headings[0] == "Samverkansforum 2026"
    cells_text = {c.text for t in doc.tables for r in t.rows for c in r.cells}
    assert {"Civilsamhälle", "Offentlig sektor", "2"} <= cells_text
    markdown = member(".md").decode()
    assert markdown.startswith("# Samverkansforum 2026")
    assert "Participants: 4" in markdown
    for poll in made["polls"]:
        assert poll["question"] in markdown
    for board in (await api.call("GET", f"/api/v1/sessions/{sid}", mod)).json()["boards"]:
        assert board["title"] in markdown


async def test_names_false_removes_every_name(api: Api) -> None:
    made = await filled(api)
    sid, token = made["session"]["id"], await api.organiser_token()
    named = await api.call("GET", archive_url(sid, format="json"), token)
    assert "Anna Lind" in named.text  # she wrote notes under her name
    for fmt in ("json", "md", "html", "zip"):
        r = await api.call("GET", archive_url(sid, format=fmt, names="false"), token)
        assert r.status_code == 200
        payloads = [r.content]
        if fmt == "zip":
            packed = zipfile.ZipFile(io.BytesIO(r.content))
            payloads = [packed.read(n) for n in packed.namelist() if not n.endswith("x")]
        for payload in payloads:
            for name in made["names"]:
                assert name.encode() not in payload, (fmt, name)
    assert (
        "All names removed"
        in (await api.call("GET", archive_url(sid, format="md", names="false"), token)).text
    )


async def test_the_archive_is_refused_to_anyone_but_the_sessions_organiser_and_moderators(
    api: Api,
) -> None:
    made = await filled(api)
    sid = made["session"]["id"]
    other = await api.make_session("Ett annat pass")
    async with api.served.samla.store.write() as db:
        await accounts.add_organiser(db, "other@samla.test", ORGANISER_PASSWORD)
    stranger = (
        await api.call(
            "POST",
            "/api/v1/auth/token",
            json={"email": "other@samla.test", "password": ORGANISER_PASSWORD},
        )
    ).json()["token"]
    r = await api.call("GET", archive_url(sid, format="json"))
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    for token in (made["people"][0]["token"], other["moderator_token"], stranger):
        r = await api.call("GET", archive_url(sid, format="json"), token)
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
        assert "Samverkansforum" not in r.text
    r = await api.call("GET", archive_url("nope", format="json"), other["moderator_token"])
    assert r.status_code == 404
    for params in (
        {"format": "pdf"},
        {"format": "csv"},
        {"format": "csv", "kind": "votes"},
        {"format": "json", "kind": "notes"},
    ):
        r = await api.call("GET", archive_url(sid, **params), made["session"]["moderator_token"])
        assert r.status_code == 422 and r.json()["error"]["code"] == "invalid", params


async def test_the_archive_is_available_while_running_and_after_close(api: Api) -> None:
    made = await filled(api)
    sid, mod = made["session"]["id"], made["session"]["moderator_token"]
    running = (await api.call("GET", archive_url(sid, format="json"), mod)).json()
    assert running["session"]["status"] == "open"
    await ok(await api.call("POST", f"/api/v1/sessions/{sid}/close", mod))
    closed = (await api.call("GET", archive_url(sid, format="json"), mod)).json()
    assert closed["session"]["status"] == "closed" and closed["session"]["closed_at"]
    assert closed["boards"] == running["boards"] and closed["polls"] == running["polls"]


# -- deleting ---------------------------------------------------------------------------------


async def test_after_delete_nothing_of_the_session_remains_and_its_archive_is_not_found(
    api: Api,
) -> None:
    made = await filled(api)
    kept = await api.make_session("Ett pass som blir kvar")
    sid, token = made["session"]["id"], await api.organiser_token()
    store = api.served.samla.store
    assert await remnants(store, needles_of(made))  # the needles do find the session
    r = await api.call("DELETE", f"/api/v1/sessions/{sid}", token)
    assert r.status_code == 204
    assert await remnants(store, needles_of(made)) == []
    assert (await api.call("GET", archive_url(sid, format="json"), token)).status_code == 404
    assert (await api.call("GET", archive_url(kept["id"], format="json"), token)).status_code == 200


async def test_retention_deletes_closed_sessions_only_after_their_days(api: Api) -> None:
    made = await filled(api)
    still_open = await api.make_session("Pågår")
    sid, token = made["session"]["id"], await api.organiser_token()
    await ok(
        await api.call("POST", f"/api/v1/sessions/{sid}/close", made["session"]["moderator_token"])
    )
    store = api.served.samla.store
    later = utcnow() + timedelta(days=30)
    assert await retention.purge_expired(store, 90, now=later) == 0
    assert await retention.purge_expired(store, 0, now=later + timedelta(days=999)) == 0
    assert (await api.call("GET", archive_url(sid, format="json"), token)).status_code == 200
    assert await retention.purge_expired(store, 30, now=later + timedelta(minutes=1)) == 1
    assert await remnants(store, needles_of(made)) == []
    assert (await api.call("GET", archive_url(sid, format="json"), token)).status_code == 404
    r = await api.call("GET", archive_url(still_open["id"], format="json"), token)
    assert r.status_code == 200


async def test_the_running_app_purges_expired_sessions_in_its_retention_pass(api: Api) -> None:
    made = await filled(api)
    sid = made["session"]["id"]
    await ok(
        await api.call("POST", f"/api/v1/sessions/{sid}/close", made["session"]["moderator_token"])
    )
    samla = api.served.samla
    days = samla.settings.retention_days
    assert days == 90
    assert await retention.purge_once(samla, now=utcnow() + timedelta(days=89)) == 0
    assert await retention.purge_once(samla, now=utcnow() + timedelta(days=91)) == 1
    r = await api.call("GET", archive_url(sid, format="json"), await api.organiser_token())
    assert r.status_code == 404


# -- the organiser page -----------------------------------------------------------------------


@asynccontextmanager
async def signed_in(api: Api) -> AsyncIterator[httpx.AsyncClient]:
    """A browser-like client signed in to the organiser page with the form and its cookie."""
    await api.organiser_token()
    async with httpx.AsyncClient(base_url=api.served.base, timeout=30) as client:
        page = await client.get("/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf is not None
        r = await client.post(
            "/login",
            data={
                "csrf": csrf.group(1),
                "email": "organiser@samla.test",
                "password": ORGANISER_PASSWORD,
            },
        )
        assert r.status_code == 303, r.text
        yield client


async def test_the_organiser_page_lists_sessions_with_counts_downloads_and_deletion_date(
    api: Api,
) -> None:
    made = await filled(api)
    sid = made["session"]["id"]
    await ok(
        await api.call("POST", f"/api/v1/sessions/{sid}/close", made["session"]["moderator_token"])
    )
    async with signed_in(api) as browser:
        page = (await browser.get("/organiser")).text
        assert "Samverkansforum 2026" in page and "Participants: 4" in page
        closed_at = (
            await api.call("GET", f"/api/v1/sessions/{sid}", made["session"]["moderator_token"])
        ).json()["closed_at"]
        due = (utcnow().replace(microsecond=0) + timedelta(days=90)).date().isoformat()
        assert closed_at and f"Deleted automatically on {due}" in page
        assert f"/s/{sid}/archive?format=docx" in page
        r = await browser.get(f"/s/{sid}/archive?format=json&names=false")
        assert r.status_code == 200 and r.json()["names"] is False
        assert "attachment" in r.headers["content-disposition"]


async def test_deleting_from_the_organiser_page_asks_first_and_then_removes_everything(
    api: Api,
) -> None:
    made = await filled(api)
    sid = made["session"]["id"]
    store = api.served.samla.store
    async with signed_in(api) as browser:
        confirm = await browser.get(f"/organiser/sessions/{sid}/delete")
        assert confirm.status_code == 200 and "cannot be undone" in confirm.text
        assert await remnants(store, needles_of(made))  # asking deletes nothing
        r = await browser.post(f"/organiser/sessions/{sid}/delete", data={"csrf": "forged"})
        assert r.status_code == 403 and await remnants(store, needles_of(made))
        csrf = re.search(r'name="csrf" value="([^"]+)"', confirm.text)
        assert csrf is not None
        r = await browser.post(f"/organiser/sessions/{sid}/delete", data={"csrf": csrf.group(1)})
        assert r.status_code == 303
        assert await remnants(store, needles_of(made)) == []
        assert (await browser.get(f"/s/{sid}/archive?format=json")).status_code == 404
    r = await api.call("GET", archive_url(sid, format="json"), await api.organiser_token())
    assert r.status_code == 404


async def test_an_instance_starting_purges_sessions_whose_retention_ran_out_while_it_was_down(
    served_factory: Any,
) -> None:
    first = served_factory()
    async with httpx.AsyncClient(base_url=first.base, timeout=30) as client:
        api = Api(first, client)
        made = await filled(api)
        sid, mod = made["session"]["id"], made["session"]["moderator_token"]
        await ok(await api.call("POST", f"/api/v1/sessions/{sid}/close", mod))

        async def closed_long_ago() -> None:
            async with first.samla.store.write() as db:
                await db.execute(
                    update(Session)
                    .where(col(Session.id) == sid)
                    .values(closed_at=utcnow() - timedelta(days=8))
                )

        await first.run(closed_long_ago)
    first.stop()
    second = served_factory(retention_days=7)
    async with httpx.AsyncClient(base_url=second.base, timeout=30) as client:

        async def left() -> list[str]:
            return await remnants(second.samla.store, needles_of(made))

        async def purged() -> bool:
            # Read on the server's own loop, which is purging at this moment: its store's
            # connection pool wakes only waiters on that loop.
            return not await second.run(left)

        await eventually(purged)
        r = await client.get(
            archive_url(sid, format="json"), headers={"Authorization": f"Bearer {mod}"}
        )
        assert r.status_code == 401  # its moderator token went with it


async def test_each_rounds_rooms_count_the_people_who_were_in_them(api: Api) -> None:
    """People move on to a later round's rooms; an earlier round's rooms in the archive
    still count who was in them when that round closed."""
    session = await api.make_session()
    sid, mod = session["id"], session["moderator_token"]
    for _ in range(6):
        await api.join(session)
    sizes = {}
    for count in (2, 3):
        opened = await ok(
            await api.call("POST", f"/api/v1/sessions/{sid}/rooms", mod, json={"count": count}),
            201,
        )
        sizes.update({r["id"]: len(r["participant_ids"]) for r in opened["rooms"]})
        await ok(await api.call("POST", f"/api/v1/sessions/{sid}/rooms/close", mod), 200)
    body = await ok(await api.call("GET", f"/api/v1/sessions/{sid}/archive?format=json", mod), 200)
    counted = {r["id"]: r["participants"] for r in body["rooms"]}
    assert counted == sizes
    assert sum(sizes.values()) == 12  # six people, twice
