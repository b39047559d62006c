"""The boards feature's live panels: what each screen shows of it, and when it is stale;
the summary that fills in an upvote's total, and how the page's forms reach the actions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from live.screens import FormReader, Panel, Summary, Viewer
from live.screens.forms import checkboxes
from rooms import breakout, sessions
from rooms.boards import (
    CARD_FIELDS,
    TEMPLATES,
    Board,
    DotVote,
    Note,
    NoteUpvote,
    board_notes,
    board_summary,
    boards_of_place,
    column_json,
    dots_left,
    gallery_open,
    latest_vote,
    live_rooms,
    note_json,
    ordered,
    rooms_with_boards,
    session_boards,
    upvote_count,
    vote_json,
)
from rooms.boards.splits import upvote_splits
from rooms.models import Event, new_id

NOTE_EVENTS = frozenset(
    {
        "board.created",
        "note.added",
        "note.updated",
        "note.hidden",
        "note.restored",
        "note.deleted",
        "note.upvoted",
        "participant.removed",  # their notes go or lose their name; their upvotes and dots go
        "dots.opened",
        "dots.closed",
        "dots.given",
    }
)


async def _visible_boards(db: AsyncSession, viewer: Viewer, *, write: bool = False) -> list[Board]:
    session_id = viewer.audience.session_id
    if viewer.audience.role != "participant" or (not write and await gallery_open(db, session_id)):
        return await session_boards(db, session_id)  # the gallery: every room's board
    return await boards_of_place(db, session_id, viewer.audience.room_id)


async def _boards_context(db: AsyncSession, viewer: Viewer, *, moderator: bool) -> dict[str, Any]:
    boards = await _visible_boards(db, viewer)
    notes = await board_notes(db, boards, include_hidden=moderator)
    out = []
    for board in boards:
        vote = await latest_vote(db, board.id)
        listed = notes[board.id]
        out.append(
            {
                **board_summary(board),
                "columns": [column_json(c) for c in board.columns],
                "shown": board.shown,
                "dot_vote": vote_json(vote) if vote else None,
                "notes": listed,
                "newest": [n["id"] for n in ordered(listed, "newest")],
                "top": [n["id"] for n in ordered(listed, "top")],
            }
        )
    gallery = await db.scalar(
        select(DotVote).where(
            col(DotVote.session_id) == viewer.audience.session_id,
            col(DotVote.status) == "open",
            col(DotVote.scope) == "all",
        )
    )
    return {"boards": out, "gallery": vote_json(gallery) if gallery else None}


async def sort_panel(db: AsyncSession, viewer: Viewer) -> dict[str, Any]:
    """The viewer's choice of order, kept outside the lists so a live update never resets it."""
    return {}


async def likes_panel(db: AsyncSession, viewer: Viewer) -> dict[str, Any]:
    """The notes this participant has upvoted (their buttons are marked in the browser)."""
    if viewer.participant_id is None:
        return {"notes": []}
    rows = await db.scalars(
        select(col(NoteUpvote.note_id)).where(
            col(NoteUpvote.participant_id) == viewer.participant_id
        )
    )
    return {"notes": sorted(rows)}


async def boards_panel(db: AsyncSession, viewer: Viewer) -> dict[str, Any]:
    """The plenary's and the viewer's room's boards, with their notes in both orders."""
    return await _boards_context(db, viewer, moderator=False)


async def compose_panel(db: AsyncSession, viewer: Viewer) -> dict[str, Any]:
    """The add-note form and the viewer's own notes; outside the live list, so typing is kept.
    In a room, the room's board comes first among the places to write."""
    boards = await _visible_boards(db, viewer, write=True)
    # In a room, its own board is the one written on first: it leads the list of places.
    boards.sort(key=lambda b: b.room_id is None)
    mine: list[dict[str, Any]] = []
    votes = []
    if viewer.participant_id is not None:
        rows = await db.scalars(
            select(Note)
            .where(
                col(Note.author_id) == viewer.participant_id,
                col(Note.board_id).in_([b.id for b in boards]),
                col(Note.source_id).is_(None),
            )
            .order_by(col(Note.created_at).desc())
        )
        mine = [note_json(n, None, 0) for n in rows]
        for board in boards:
            vote = await latest_vote(db, board.id)
            if vote is not None and vote.status == "open":
                votes.append(
                    {
                        **vote_json(vote),
                        "title": board.title,
                        "left": await dots_left(db, vote, viewer.participant_id),
                    }
                )
    return {
        "boards": [
            {**board_summary(b), "columns": [column_json(c) for c in b.columns]} for b in boards
        ],
        "mine": mine,
        "votes": votes,
        "nonce": new_id(),
    }


async def moderation_panel(db: AsyncSession, viewer: Viewer) -> dict[str, Any]:
    context = await _boards_context(db, viewer, moderator=True)
    context["plenary"] = [b for b in context["boards"] if b["room_id"] is None]
    context["templates"] = {k: v[0] for k, v in TEMPLATES.items()}
    context["rooms"] = [
        {"id": r["id"], "name": r.get("name") or r["id"]}
        for r in await live_rooms(db, viewer.audience.session_id)
    ]
    # A room's board says the room's name, also once its round has closed.
    context["room_names"] = await breakout.room_names(db, viewer.audience.session_id)
    context["splits"] = await board_splits(db, viewer.audience.session_id, context["boards"])
    return context


async def board_splits(
    db: AsyncSession, session_id: str, boards: list[dict[str, Any]]
) -> dict[str, list[dict[str, Any]]]:
    """Per board, its upvoted notes' upvotes split by each of the session's join questions
    (the console shows the one the moderator picks): `[{key, label, choices, rows: [{note,
    cells}]}]`, a column per group the session's split lists (the same on every note: see
    `rooms.polls.splits`), a row per upvoted note, most upvoted first; a cell is that note's
    group (hidden as `upvote_splits` hides it), or None should a note lack one."""
    asked = (await sessions.session_by_id(db, session_id)).attributes
    upvoted = [n["id"] for b in boards for n in b["notes"] if n["upvotes"]]
    found = await upvote_splits(db, upvoted, asked)
    out: dict[str, list[dict[str, Any]]] = {}
    for board in boards:
        listed = [n for n in board["notes"] if n["upvotes"] and n["id"] in found]
        notes = sorted(listed, key=lambda n: -int(n["upvotes"]))
        if not notes or not asked:
            continue
        out[board["id"]] = []
        for i, attribute in enumerate(asked):
            groups = [{g["choice"]: g for g in found[n["id"]][i]["groups"]} for n in notes]
            choices = list(dict.fromkeys(c for by in groups for c in by))
            choices.sort(key=lambda c: c is None)
            out[board["id"]].append(
                {
                    "key": attribute["key"],
                    "label": attribute.get("label", attribute["key"]),
                    "choices": choices,
                    "rows": [
                        {
                            "note": {k: n[k] for k in ("id", "text", "upvotes")},
                            "cells": [by.get(c) for c in choices],
                        }
                        for n, by in zip(notes, groups, strict=True)
                    ],
                }
            )
    return out


async def upvoted_total(db: AsyncSession, session_id: str, event: Event) -> dict[str, Any]:
    """The note's total as committed when the tick goes out: two upvotes counted in parallel
    transactions (PostgreSQL) each saw only their own, but this read sees both."""
    return {**event.data, "upvotes": await upvote_count(db, str(event.data["note_id"]))}


# -- the page's forms ---------------------------------------------------------------------


def read_note(form: dict[str, Any]) -> dict[str, Any]:
    """The add-note form: its target is "board:column"; the note's text is the card's "what",
    and any other card field makes it an example card."""
    out = checkboxes(form, "anonymous")
    target = form.get("target")
    if isinstance(target, str) and ":" in target:
        out["board"], out["column"] = target.split(":", 1)
    fields = {k: form[f"card_{k}"] for k in CARD_FIELDS[1:] if form.get(f"card_{k}")}
    if fields:
        fields["what"] = form.get("text")
        out["fields"] = fields
    return out


def read_new_board(form: dict[str, Any]) -> dict[str, Any]:
    """The add-board form: a template (free notes unless chosen), a title if given, and the
    plenary, one room, or every room ("*")."""
    room = form.get("room_id") or None
    return {
        "template": form.get("template") or "free",
        "title": form.get("title") or None,
        "room_id": None if room == "*" else room,
        "every_room": room == "*",
    }


def read_board_shown(form: dict[str, Any]) -> dict[str, Any]:
    return {"board": form.get("board") or None}


def read_dot_vote(form: dict[str, Any]) -> dict[str, Any]:
    """The open-dot-vote form: its number of dots arrives as text."""
    dots = form.get("dots") or 3
    if isinstance(dots, str) and dots.isdigit():
        dots = int(dots)
    return {**form, "scope": form.get("scope") or "collected", "dots": dots}


def read_moderation(form: dict[str, Any]) -> dict[str, Any]:
    """One form per note; the pressed button's name says what to do."""
    return {k: v for k, v in form.items() if v not in (None, "")}


PANELS: tuple[Panel, ...] = (
    Panel("sort-order", "boards/_sort.html", frozenset({"participant"}), frozenset(), sort_panel),
    Panel(
        "my-likes",
        "boards/_likes.html",
        frozenset({"participant"}),
        frozenset(),
        likes_panel,
        personal=True,
    ),
    Panel(
        "boards",
        "boards/_boards.html",
        frozenset({"participant"}),
        NOTE_EVENTS,
        boards_panel,
        json=True,
        own_rooms=rooms_with_boards,
    ),
    Panel(
        "note-compose",
        "boards/_compose.html",
        frozenset({"participant"}),
        frozenset({"board.created", "dots.opened", "dots.closed"}),
        compose_panel,
        personal=True,
    ),
    Panel(
        "boards-moderation",
        "boards/_moderation.html",
        frozenset({"moderator"}),
        # Its "For" list offers the rooms open now.
        NOTE_EVENTS | {"board.shown", "rooms.opened", "rooms.prepared", "rooms.closed"},
        moderation_panel,
        json=True,
    ),
)
SUMMARIES: Mapping[str, Summary] = {"note.upvoted": upvoted_total}
# action type -> the panel re-rendered for its sender
REPLIES: Mapping[str, str] = {
    "note.add": "note-compose",
    "note.edit": "note-compose",
    "note.delete": "note-compose",
    "note.like": "my-likes",
    "dot.give": "note-compose",
}
FORMS: Mapping[str, FormReader] = {
    "note.add": read_note,
    "board.create": read_new_board,
    "board.show": read_board_shown,
    "note.moderate": read_moderation,
    "dots.open": read_dot_vote,
}
