"""The stage: what the hall's big screen shows, one thing at a time, and its read-only link.

A moderator chooses the view (the join screen, a poll, a question, a board, the rooms'
timer or a message); it is kept on the session, so every screen of the stage, on any
instance and after any reconnect, shows the same. Showing a board or a question is the
same action: the boards' and the questions' own `shown` marks follow the stage.

The link's secret is never stored: it is derived from the server's secret key, the session
and a salt kept on the session, so a moderator's console can show the link again at any
time, and a new salt (a revoke) ends the old link everywhere."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any, Literal, get_args

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from rooms import polls
from rooms.boards.tables import Board
from rooms.errors import Refused, forbidden, invalid
from rooms.models import STAGE_TEXT_MAX, Event, Outcome, Role, Session
from rooms.questions import Question, describe_question, question_by_id
from rooms.sessions import session_by_id, writable
from rooms.text import clean

Show = Literal["join", "poll", "question", "board", "rooms", "message"]
SHOWS: tuple[Show, ...] = get_args(Show)
# Who is told of a change of the stage: its own screens and the moderators' consoles.
AUDIENCE = frozenset[Role]({"moderator", "presenter"})
# 128 bits of the key's MAC: as strong as the moderator's token, short enough to type.
_MAC_CHARS = 32


@dataclass(frozen=True)
class Stage:
    """What the stage shows now."""

    show: Show
    ref: str | None  # the poll, question or board shown (a poll: None follows the current one)
    text: str | None  # the message
    reveal: bool  # a poll's results are shown (else its question and count only)
    by: str | None = None  # a poll's results, or a board's likes, split by this join question


def stage_of(session: Session) -> Stage:
    show: Show = next((s for s in SHOWS if s == session.stage_show), "join")
    by = session.stage_by if show in ("poll", "board") else None
    return Stage(show, session.stage_ref, session.stage_text, session.stage_reveal, by)


async def show(
    db: AsyncSession,
    session_id: str,
    what: str,
    ref: str | None = None,
    *,
    text: str | None = None,
    reveal: bool = False,
    by: str | None = None,
) -> Outcome[dict[str, Any]]:
    """Puts one thing on the stage; the id must be a poll, question or board of this session.
    A poll's results, or a board's likes, may be split `by` one of the session's join
    questions."""
    session = await writable(db, session_id)
    if what not in SHOWS:
        raise invalid(f"show: choose one of {', '.join(SHOWS)}.")
    ref = await _checked_ref(db, session_id, what, ref)
    if by is not None:
        if what not in ("poll", "board"):
            raise invalid("by: only a poll's results or a board's likes are split.")
        by = polls.attribute_named(session.attributes, by)["key"]
    if what == "poll" and ref is None and reveal:
        # Results are revealed for one poll: the current one is pinned, so the next poll
        # opened does not show its results before the moderator reveals them too.
        shown = await polls.shown_polls(db, session_id, None)
        ref = shown[0].id if shown else None
    message = clean(text, "text", STAGE_TEXT_MAX) if what == "message" else None
    was_board = session.stage_ref if session.stage_show == "board" else None
    was_question = session.stage_ref if session.stage_show == "question" else None
    session.stage_show = what
    session.stage_ref = ref
    session.stage_text = message
    session.stage_reveal = reveal if what == "poll" else False
    session.stage_by = by
    db.add(session)
    answer: dict[str, Any] = {"show": what, "id": ref} | ({"by": by} if by else {})
    events = [Event("stage.shown", answer, roles=AUDIENCE)]
    events += await _mark_board(db, session_id, ref if what == "board" else None, was_board)
    events += await _mark_question(
        db, session_id, ref if what == "question" else None, was_question
    )
    return Outcome(session_id, answer, tuple(events))


async def _checked_ref(db: AsyncSession, session_id: str, what: str, ref: str | None) -> str | None:
    if what in ("join", "rooms", "message"):
        return None
    if what == "poll":
        if ref is None:
            return None  # the current poll: the open one, else the last closed
        return (await polls.poll_in_session(db, ref, session_id)).id
    if ref is None:
        raise invalid(f"id: choose the {what} to show.")
    if what == "board":
        board = await db.get(Board, ref)
        if board is None or board.session_id != session_id:
            raise forbidden("That board is not one of this session's.")
        return board.id
    q = await question_by_id(db, ref)
    if q.session_id != session_id:
        raise forbidden("This question belongs to another session.")
    if not q.approved or q.hidden:
        raise forbidden("Approve the question before showing it.")
    return q.id


async def _mark_board(
    db: AsyncSession, session_id: str, shown: str | None, was: str | None
) -> list[Event]:
    """The boards' own mark follows the stage; their consoles are told when it moves."""
    changed = False
    for board in await db.scalars(select(Board).where(col(Board.session_id) == session_id)):
        if board.shown != (board.id == shown):
            board.shown = board.id == shown
            db.add(board)
            changed = True
    if not changed and shown == was:
        return []
    return [Event("board.shown", {"board_id": shown}, roles=AUDIENCE)]


async def _mark_question(
    db: AsyncSession, session_id: str, shown: str | None, was: str | None
) -> list[Event]:
    changed = False
    data = None
    for q in await db.scalars(
        select(Question).where(
            col(Question.session_id) == session_id,
            (col(Question.shown).is_(True)) | (col(Question.id) == (shown or "")),
        )
    ):
        if q.shown != (q.id == shown):
            q.shown = q.id == shown
            db.add(q)
            changed = True
        if q.id == shown:
            data = await describe_question(db, q)
    if not changed and shown == was:
        return []
    return [Event("question.shown", {"question": data})]


# -- the stage's link -------------------------------------------------------------------------


def link_secret(key: str, session_id: str, salt: str | None) -> str:
    """The stage link's secret: `<session id>.<MAC>`; it opens this session's stage only."""
    message = f"stage:{session_id}:{salt or ''}".encode()
    mac = hmac.new(key.encode(), message, hashlib.sha256).hexdigest()[:_MAC_CHARS]
    return f"{session_id}.{mac}"


async def session_by_link(db: AsyncSession, key: str, secret: str) -> Session | None:
    """The session whose stage this secret opens; None for a revoked or made-up one."""
    session_id, dot, _ = secret.partition(".")
    if not dot or not session_id:
        return None
    try:
        session = await session_by_id(db, session_id)
    except Refused:
        return None
    return (
        session
        if hmac.compare_digest(
            link_secret(key, session.id, session.stage_salt).encode(), secret.encode()
        )
        else None
    )


async def revoke_link(db: AsyncSession, session_id: str) -> Outcome[str]:
    """A new salt (returned): the old link opens nothing, on every screen at its next check."""
    session = await writable(db, session_id)
    session.stage_salt = secrets.token_urlsafe(12)
    db.add(session)
    return Outcome(
        session_id,
        session.stage_salt,
        (Event("stage.revoked", {}, roles=frozenset[Role]({"moderator"})),),
    )
