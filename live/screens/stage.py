"""The stage's live panels: the hall's big screen, and the moderator's control of it.

The big screen is one panel, `stage`, that shows whichever view the moderator chose
(rooms/stage.py); the join code and QR code are the page's own (they never change). How
many are here is a small panel of its own, so a stream of arrivals redraws a number, not
the whole screen."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from live.screens import PRESENCE, FormReader, Panel, Summary, Viewer
from live.screens import polls as polls_screen
from live.screens.boards import NOTE_EVENTS
from live.screens.forms import checkboxes
from live.screens.polls import POLL_EVENTS
from live.screens.questions import QUESTION_EVENTS
from rooms import boards, breakout, polls, questions, sessions, stage
from rooms.boards.splits import upvote_splits
from rooms.models import Session, iso, utcnow

# The most notes a board sends to the stage: more than fit on any screen at the stage's
# smallest type; the page hides those that do not fit.
NOTES_MAX = 60
# The most open answers or words a poll sends to the stage, for the same reason.
ANSWERS_MAX = 40
# The most liked notes a board split by a join question shows: a row each, readable from
# the back of the hall at 1280x720 with a column per group.
SPLIT_NOTES = 5
ROOM_EVENTS = frozenset(
    {"rooms.opened", "rooms.closed", "rooms.extended", "rooms.ending", "rooms.broadcast"}
)
SHOWN_EVENTS = frozenset({"stage.shown", "board.shown", "question.shown"})


async def stage_panel(db: AsyncSession, viewer: Viewer) -> dict[str, Any]:
    """What the hall sees now: the chosen view and what it shows."""
    sid = viewer.audience.session_id
    session = await sessions.session_by_id(db, sid)
    now = stage.stage_of(session)
    context: dict[str, Any] = {"show": now.show, "text": now.text, "reveal": now.reveal}
    if now.show == "poll":
        context.update(await _poll(db, sid, now.ref))
        context["split"] = await _split(db, session, context["poll"], now) if now.reveal else None
    elif now.show == "question":
        q = await db.get(questions.Question, now.ref) if now.ref else None
        shown = q is not None and q.approved and not q.hidden
        context["question"] = await questions.describe_question(db, q) if q and shown else None
    elif now.show == "board":
        board = await db.get(boards.Board, now.ref) if now.ref else None
        context["board"] = await _board(db, board) if board is not None else None
        shown = context["board"]
        context["board_split"] = await _board_split(db, session, shown, now) if shown else None
    elif now.show == "rooms":
        context.update(await _rooms(db, sid))
    return context


async def _poll(db: AsyncSession, sid: str, ref: str | None) -> dict[str, Any]:
    if ref is None:
        shown = await polls.shown_polls(db, sid, None)
        poll = shown[0] if shown else None
    else:
        poll = await db.get(polls.Poll, ref)
    if poll is None:
        return {"poll": None}
    results = await polls.results(db, poll)
    voters = results["voters"]
    options = results.get("options") or []
    if poll.kind == "ranking":
        top = max([o.get("score") or 0 for o in options] or [0])
        for o in options:
            o["share"] = (o.get("score") or 0) / top if top else 0
    else:
        for o in options:
            o["share"] = o["count"] / voters if voters else 0
    for key in ("answers", "words"):
        if key in results:
            results[key] = results[key][:ANSWERS_MAX]
    top_word = max([w["count"] for w in results.get("words", [])] or [1])
    return {"poll": polls.poll_brief(poll), "results": results, "top_word": top_word}


async def _split(
    db: AsyncSession, session: Session, shown: dict[str, Any] | None, now: stage.Stage
) -> dict[str, Any] | None:
    """The shown poll's results split by the join question the moderator chose, if any (a
    question the session no longer asks, or a poll of words or texts, shows no split)."""
    asked = [a for a in session.attributes if a["key"] == now.by]
    poll = await db.get(polls.Poll, shown["id"]) if shown and asked else None
    if poll is None or not polls_screen.splittable(poll):
        return None
    return (await polls.split_results(db, poll, asked))[0]


async def _board(db: AsyncSession, board: boards.Board) -> dict[str, Any]:
    described = await boards.describe_board(db, board, include_hidden=False)
    columns = {c["id"]: c["title"] for c in described["columns"]}
    notes = boards.ordered(described["notes"], "top")[:NOTES_MAX]
    for note in notes:
        note["column_title"] = columns.get(note["column"], "")
    described["notes"] = notes
    described["many_columns"] = len(columns) > 1
    return described


async def _board_split(
    db: AsyncSession, session: Session, board: dict[str, Any], now: stage.Stage
) -> dict[str, Any] | None:
    """The board's most liked notes, their likes split by the join question the moderator
    chose: `{key, label, groups: [{choice, hidden}], rows: [{note, cells}]}`, a column per
    group the session lists and hides alike on every note (rooms/boards/splits.py), a row
    per note liked at all, most liked first; a hidden cell has `upvotes` None. None when
    no split is chosen or the session no longer asks that question."""
    asked = [a for a in session.attributes if a["key"] == now.by]
    if not asked:
        return None
    notes = [n for n in board["notes"] if n["upvotes"]][:SPLIT_NOTES]
    found = await upvote_splits(db, [n["id"] for n in notes], asked)
    rows = [
        {"note": {k: n[k] for k in ("id", "text", "upvotes")}, "cells": found[n["id"]][0]["groups"]}
        for n in notes
        if n["id"] in found
    ]
    groups = (
        [{"choice": g["choice"], "hidden": g["hidden"]} for g in rows[0]["cells"]] if rows else []
    )
    label = asked[0].get("label", asked[0]["key"])
    return {"key": asked[0]["key"], "label": label, "groups": groups, "rows": rows}


async def _rooms(db: AsyncSession, sid: str) -> dict[str, Any]:
    r = await breakout.current_round(db, sid)
    ends = r.ends_at if r is not None and r.status == "open" else None
    count = len(await breakout.rooms_of(db, r.id)) if ends is not None and r is not None else 0
    now = utcnow()
    secs = max(0, int((ends - now).total_seconds() + 0.999)) if ends is not None else 0
    left = f"{secs // 60}:{secs % 60:02d}"  # as static/countdown.js writes it, so nothing jumps
    return {"count": count, "ends_at": iso(ends), "now": iso(now), "left": left}


async def here_panel(db: AsyncSession, viewer: Viewer) -> dict[str, Any]:
    return {}  # the hub adds `here`, how many are here right now


async def control_panel(db: AsyncSession, viewer: Viewer) -> dict[str, Any]:
    """The moderator's control of the stage: what it shows now, and what it could show."""
    sid = viewer.audience.session_id
    session = await sessions.session_by_id(db, sid)
    context = await stage_panel(db, viewer)
    found = await questions.list_questions(db, sid, moderator=True)
    context.update(
        {
            "session": session,
            "ref": stage.stage_of(session).ref,
            "by": stage.stage_of(session).by,
            "polls": [p for p in await polls.polls_of(db, sid) if p.status != "draft"],
            "questions": [q for q in found if q["approved"] and not q["hidden"]],
            "boards": await boards.session_boards(db, sid),
        }
    )
    return context


def read_show(form: dict[str, Any]) -> dict[str, Any]:
    """The control's forms: a choice from a list sends its id; an empty one sends none."""
    read = checkboxes(form, "reveal_results")
    if read.get("id") == "":
        read["id"] = None
    if read.get("by") == "":
        read["by"] = None
    return read


STAGE_TRIGGERS = (
    SHOWN_EVENTS
    | POLL_EVENTS
    | {"poll.results"}
    | NOTE_EVENTS
    | QUESTION_EVENTS
    | ROOM_EVENTS
    | {"participant.renamed"}
)
# The control lists what could be shown and previews what is: not every note's change.
CONTROL_TRIGGERS = (
    SHOWN_EVENTS
    | POLL_EVENTS
    | {"poll.results", "board.created", "stage.revoked"}
    | QUESTION_EVENTS
    | ROOM_EVENTS
)
PANELS: tuple[Panel, ...] = (
    Panel(
        "stage",
        "stage/_stage.html",
        frozenset({"presenter"}),
        STAGE_TRIGGERS,
        stage_panel,
        json=True,
    ),
    Panel(
        "stage-here",
        "stage/_here.html",
        frozenset({"presenter"}),
        frozenset({PRESENCE}),
        here_panel,
    ),
    Panel(
        "stage-control",
        "stage/_control.html",
        frozenset({"moderator"}),
        CONTROL_TRIGGERS,
        control_panel,
    ),
)
SUMMARIES: Mapping[str, Summary] = {}
# action type -> the panel re-rendered for its sender
REPLIES: Mapping[str, str] = {}
FORMS: Mapping[str, FormReader] = {"stage.show": read_show}
