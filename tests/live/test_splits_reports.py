"""Splits in every report format, from the outside: a session's and its event's archive
(HTML, Markdown, Word, CSV, Excel, JSON) carry the poll's split and the notes' upvote splits
with the same figures as the API; a hidden group is written as words, never as a count."""

from __future__ import annotations

import csv
import html as html_lib
import io
import re
from collections.abc import Callable
from typing import Any

from docx import Document
from openpyxl import load_workbook
from sqlalchemy import update
from sqlmodel import col

from rooms.models import Session
from tests.conftest import Api
from tests.live.test_archive_api import archive_url, ok
from tests.live.test_splits_api import board_split, forty_and_twenty, split, two_from_academia

FEWER, PROTECTS = "fewer than 3", "hidden to protect a small group"
WHY = {"small": FEWER, "protects": PROTECTS}
# A group as the reports read it: {its name: (its people, its counts, or None when hidden)}.
Groups = dict[str, tuple[str, list[str] | None]]


def from_api(groups: list[dict[str, Any]], people: str) -> Groups:
    """What the API says, as the reports must say it."""
    out: Groups = {}
    for g in groups:
        name = "No answer" if g["choice"] is None else g["choice"]
        if g["hidden"]:
            out[name] = (WHY[g["hidden"]], None)
        elif people == "voters":
            out[name] = (str(g["voters"]), [str(o["count"]) for o in g["options"]])
        else:
            out[name] = (str(g["upvotes"]), None)
    return out


def poll_groups(rows: list[list[str]]) -> Groups:
    """A poll's split table (its header first): a row per group, its voters, its counts."""
    out: Groups = {}
    for name, people, *counts in rows[1:]:
        hidden = people in (FEWER, PROTECTS)
        assert not hidden or set(counts) == {"-"}, counts  # a hidden group: no count at all
        out[name] = (people, None if hidden else counts)
    return out


def note_groups(rows: list[list[str]], text: str) -> Groups:
    """A board's upvote table (its header first): the row of the note, a cell per group."""
    header = rows[0]
    (row,) = [r for r in rows[1:] if r[0] == text]
    return {name: (cell, None) for name, cell in zip(header[2:], row[2:], strict=True)}


def md_tables(text: str, caption: str) -> list[list[list[str]]]:
    """The Markdown tables that follow a line starting with `caption`, as cells."""
    out = []
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if line.startswith(caption):
            table = [r for r in lines[i + 2 :] if r.startswith("|")]
            end = next((j for j, r in enumerate(lines[i + 2 :]) if not r.startswith("|")), None)
            table = lines[i + 2 : i + 2 + end] if end is not None else table
            cells = [[c.strip() for c in r.strip("|").split(" | ")] for r in table]
            out.append([cells[0], *cells[2:]])  # without the alignment row
    return out


def html_tables(text: str, kind: str) -> list[list[list[str]]]:
    """The report's tables of one class, as the text of their cells."""
    out = []
    for table in re.findall(rf'<table class="{kind}"[^>]*>(.*?)</table>', text, re.S):
        rows = re.findall(r"<tr>(.*?)</tr>", table, re.S)
        out.append(
            [
                [html_lib.unescape(c).strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", r)]
                for r in rows
            ]
        )
    return out


def docx_tables(data: bytes) -> list[list[list[str]]]:
    return [[[c.text for c in r.cells] for r in t.rows] for t in Document(io.BytesIO(data)).tables]


def split_rows(rows: list[dict[str, Any]], source: str, text: str) -> tuple[Groups, list[Any]]:
    """CSV's or Excel's rows of one poll's or note's split, as groups, and every figure."""
    mine = [r for r in rows if r["source"] == source and r["text"] == text]
    out: dict[str, tuple[str, list[str] | None]] = {}
    for r in mine:
        people, counts = str(r["people"]), out.get(r["group"], ("", []))[1]
        hidden = people in (FEWER, PROTECTS)
        if hidden:
            assert str(r["count"]) == people  # the words where the count would be
        out[r["group"]] = (people, None if hidden else [*(counts or []), str(r["count"])])
    if source == "note":
        out = {k: (v[0], None) for k, v in out.items()}
    return out, [r[k] for r in mine for k in ("people", "count")]


def read_csv(data: bytes) -> list[dict[str, Any]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def read_sheet(data: bytes) -> list[dict[str, Any]]:
    sheet = load_workbook(io.BytesIO(data))["Splits"]
    rows = list(sheet.iter_rows(values_only=True))
    header = [str(c) for c in rows[0]]
    return [dict(zip(header, r, strict=True)) for r in rows[1:]]


async def every_format(
    api: Api, path: Callable[..., str], token: str
) -> dict[str, tuple[bytes, Any]]:
    found = {}
    for fmt in ("json", "html", "md", "docx", "xlsx", "csv"):
        params = {"format": fmt, **({"kind": "splits"} if fmt == "csv" else {})}
        r = await api.call("GET", path(**params), token)
        assert r.status_code == 200, r.text
        found[fmt] = (r.content, r.json() if fmt == "json" else None)
    return found


def check_every_format(
    files: dict[str, tuple[bytes, Any]],
    archive: dict[str, Any],
    question: str,
    poll_api: Groups,
    notes_api: dict[str, Groups],
) -> None:
    """Every format says what the API says, group by group, and no format writes a figure
    for a hidden group."""
    (poll,) = archive["polls"]
    (by_sector,) = poll["splits"]
    assert from_api(by_sector["groups"], "voters") == poll_api
    notes = {n["text"]: n for b in archive["boards"] for c in b["columns"] for n in c["notes"]}
    for text, expected in notes_api.items():
        assert from_api(notes[text]["splits"][0]["groups"], "upvotes") == expected

    page = files["html"][0].decode()
    (poll_table,) = html_tables(page, "split")
    assert poll_table[0][0] == "Sektor"
    assert poll_groups(poll_table) == poll_api
    (note_table,) = html_tables(page, "split upvote-split")
    for text, expected in notes_api.items():
        assert note_groups(note_table, text) == expected

    md = files["md"][0].decode()
    (poll_table,) = md_tables(md, "Split by: Sektor")
    assert poll_groups(poll_table) == poll_api
    (note_table,) = md_tables(md, "Upvotes split by: Sektor")
    for text, expected in notes_api.items():
        assert note_groups(note_table, text) == expected

    tables = docx_tables(files["docx"][0])
    (poll_table,) = [t for t in tables if t[0][:2] == ["Sektor", "Voters"]]
    assert poll_groups(poll_table) == poll_api
    (note_table,) = [t for t in tables if t[0][:2] == ["Note", "Upvotes"]]
    for text, expected in notes_api.items():
        assert note_groups(note_table, text) == expected

    for rows in (read_csv(files["csv"][0]), read_sheet(files["xlsx"][0])):
        groups, figures = split_rows(rows, "poll", question)
        assert groups == poll_api
        for text, expected in notes_api.items():
            assert split_rows(rows, "note", text)[0] == expected
        assert {r["split_by"] for r in rows} == {"Sektor"}
    # Excel: numbers as numbers, a hidden group as its words.
    _, figures = split_rows(read_sheet(files["xlsx"][0]), "poll", question)
    hidden = any(counts is None for _, counts in poll_api.values())
    assert {type(f) for f in figures} == ({int, str} if hidden else {int})
    assert {f for f in figures if isinstance(f, str)} <= {FEWER, PROTECTS}


async def test_every_report_format_of_a_session_and_its_event_says_what_the_api_says(
    api: Api,
) -> None:
    forum = await forty_and_twenty(api)
    session, poll, board = forum["session"], forum["poll"], forum["board"]
    mod = session["moderator_token"]
    token = await api.organiser_token()
    event = await ok(await api.call("POST", "/api/v1/events", token, json={"title": "Forum"}), 201)
    async with api.served.samla.store.write() as db:
        await db.execute(
            update(Session)
            .where(col(Session.id) == session["id"])
            .values(conference_id=event["id"])
        )
    texts = [n["text"] for n in forum["notes"]]

    async def check() -> None:
        found = (await split(api, mod, poll, "sector")).json()
        poll_api = from_api(found["groups"], "voters")
        liked = (await board_split(api, mod, board, "sector")).json()["notes"]
        notes_api = {t: from_api(n["groups"], "upvotes") for t, n in zip(texts, liked, strict=True)}
        mine = await every_format(api, lambda **q: archive_url(session["id"], **q), mod)
        check_every_format(mine, mine["json"][1], poll["question"], poll_api, notes_api)
        theirs = await every_format(
            api,
            lambda **q: (
                f"/api/v1/events/{event['id']}/archive?"
                + "&".join(f"{k}={v}" for k, v in q.items())
            ),
            token,
        )
        (archived,) = theirs["json"][1]["sessions"]
        check_every_format(theirs, archived, poll["question"], poll_api, notes_api)
        rows = read_csv(theirs["csv"][0])
        assert {r["session"] for r in rows} == {session["title"]}

    # 40 and 20: every group with people is shown, and they add up to the totals.
    await check()
    found = (await split(api, mod, poll, "sector")).json()
    shown = [g for g in found["groups"] if not g["hidden"]]
    assert [g["voters"] for g in shown] == [40, 20]
    for i, total in enumerate(found["options"]):
        assert sum(g["options"][i]["count"] for g in shown) == total["count"]
    # Two from academia: they and the public sector's twenty are words in every format.
    await two_from_academia(api, forum)
    await check()
