"""Dot votes (gallery votes): opening and closing one, giving dots, the results."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from rooms.boards.reading import board_by_id, note_by_id, vote_json
from rooms.boards.tables import DOTS_MAX, Dot, DotVote, Note
from rooms.errors import Refused, forbidden, invalid, not_found
from rooms.locks import locked
from rooms.models import Event, Outcome, Participant
from rooms.sessions import writable


async def open_dot_vote(
    db: AsyncSession, session_id: str, board_id: str, *, scope: Any = "collected", dots: Any = 3
) -> Outcome[DotVote]:
    """Opens a dot vote whose result orders this plenary board: over its notes or all rooms'."""
    await writable(db, session_id)
    board = await board_by_id(db, board_id)
    if board.session_id != session_id:
        raise forbidden("This board belongs to another session.")
    if board.room_id is not None:
        raise invalid("A dot vote orders a plenary board; choose one.")
    if scope not in ("collected", "all"):
        raise invalid("scope must be collected or all.")
    if isinstance(dots, str) and dots.isdigit():
        dots = int(dots)
    if not isinstance(dots, int) or isinstance(dots, bool) or not 1 <= dots <= DOTS_MAX:
        raise invalid(f"dots must be a whole number from 1 to {DOTS_MAX}.")
    for vote in await db.scalars(
        select(DotVote).where(col(DotVote.board_id) == board.id, col(DotVote.status) == "open")
    ):
        vote.status = "closed"
        db.add(vote)
    vote = DotVote(session_id=session_id, board_id=board.id, scope=scope, dots=dots)
    db.add(vote)
    await db.flush()
    return Outcome(session_id, vote, (Event("dots.opened", {"vote": vote_json(vote)}),))


async def close_dot_vote(db: AsyncSession, session_id: str, vote_id: str) -> Outcome[DotVote]:
    await writable(db, session_id)
    vote = await _vote(db, session_id, vote_id)
    # Locked here, while the action runs: the change itself is flushed only at commit,
    # after the version bump has locked the session's row, and would then wait for dots
    # being given that wait for that row in turn (PostgreSQL; see rooms/locks.py).
    vote = await locked(db, DotVote, vote.id, "update") or vote
    vote.status = "closed"
    db.add(vote)
    return Outcome(session_id, vote, (Event("dots.closed", {"vote": vote_json(vote)}),))


async def _vote(db: AsyncSession, session_id: str, vote_id: str) -> DotVote:
    vote = await db.get(DotVote, vote_id)
    if vote is None:
        raise not_found("dot vote")
    if vote.session_id != session_id:
        raise forbidden("This dot vote belongs to another session.")
    return vote


async def give_dot(
    db: AsyncSession, participant: Participant, vote_id: str, note_id: str
) -> Outcome[int]:
    """Spends one of the participant's dots on a note; returns how many they have left."""
    await writable(db, participant.session_id)
    vote = await _vote(db, participant.session_id, vote_id)
    # Held shared until the dot is stored: a close under way (PostgreSQL) is waited for,
    # and then seen, rather than a dot counted after it.
    vote = await locked(db, DotVote, vote.id, "share") or vote
    if vote.status != "open":
        raise Refused("conflict", "This dot vote is closed.")
    note = await note_by_id(db, note_id)
    if note.session_id != vote.session_id or note.hidden:
        raise not_found("note")
    if vote.scope == "collected" and note.board_id != vote.board_id:
        raise invalid("This dot vote is over the notes on its board.")
    used = set(
        await db.scalars(
            select(col(Dot.slot)).where(
                col(Dot.vote_id) == vote.id, col(Dot.participant_id) == participant.id
            )
        )
    )
    free = [s for s in range(vote.dots) if s not in used]
    if not free:
        raise Refused("conflict", f"You have given all your {vote.dots} dots.")
    try:
        async with db.begin_nested():
            db.add(
                Dot(vote_id=vote.id, note_id=note.id, participant_id=participant.id, slot=free[0])
            )
            await db.flush()
    except IntegrityError:
        raise Refused("conflict", "That dot was just given; try again.") from None
    event = Event(
        "dots.given", {"vote_id": vote.id, "board_id": vote.board_id}, key=f"dots.given:{vote.id}"
    )
    return Outcome(participant.session_id, len(free) - 1, (event,))


async def dots_left(db: AsyncSession, vote: DotVote, participant_id: str) -> int:
    used = int(
        await db.scalar(
            select(func.count()).where(
                col(Dot.vote_id) == vote.id, col(Dot.participant_id) == participant_id
            )
        )
        or 0
    )
    return max(0, vote.dots - used)


async def dot_results(db: AsyncSession, session_id: str, vote_id: str) -> dict[str, Any]:
    vote = await _vote(db, session_id, vote_id)
    rows = await db.execute(
        select(col(Dot.note_id), col(Note.text), func.count())
        .join(Note, col(Note.id) == col(Dot.note_id))
        .where(col(Dot.vote_id) == vote.id)
        .group_by(col(Dot.note_id), col(Note.text))
        .order_by(func.count().desc(), col(Dot.note_id))
    )
    voters = int(
        await db.scalar(
            select(func.count(func.distinct(col(Dot.participant_id)))).where(
                col(Dot.vote_id) == vote.id
            )
        )
        or 0
    )
    return {
        **vote_json(vote),
        "voters": voters,
        "notes": [{"id": nid, "text": text, "dots": int(n)} for nid, text, n in rows.all()],
    }
