"""The people in a session as its moderators see them, and removing one of them.

Removing a participant deletes their row: their token stops working, and with it go what
only made sense with them in the room (their seat, help requests, upvotes and dots, which
are theirs by key). What they gave the room stays, without their name: their poll answers
stay counted (unlinked, as a closed poll's are), so totals do not move; their notes and
questions stay as anonymous ones unless the moderator asks for them to go as well."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from rooms.boards import Note
from rooms.breakout import rooms_of_people
from rooms.models import Event, Outcome, Participant, Session, digest, iso
from rooms.polls import Ballot
from rooms.questions import Question
from rooms.sessions import participant_in, session_by_id, writable

Content = Literal["kept", "removed"]


@dataclass(frozen=True)
class Removed:
    participant_id: str
    content: Content
    notes: int  # notes removed, or left without their name
    questions: int
    ballots: int  # poll answers that stay counted, now anonymous


def participant_json(p: Participant, room_id: str | None) -> dict[str, Any]:
    return {
        "id": p.id,
        "name": p.name,
        "attributes": p.attributes,
        "room": room_id,
        "joined_at": iso(p.joined_at),
    }


async def list_participants(
    db: AsyncSession, session_id: str, *, latest: int | None = None
) -> list[dict[str, Any]]:
    """Everyone in the session in the order they joined (or only the `latest` who joined
    last, the newest first), with the breakout room each is in (None: the plenary)."""
    await session_by_id(db, session_id)
    query = select(Participant).where(col(Participant.session_id) == session_id)
    if latest is None:
        query = query.order_by(col(Participant.joined_at), col(Participant.id))
    else:
        query = query.order_by(col(Participant.joined_at).desc(), col(Participant.id)).limit(latest)
    people = list(await db.scalars(query))
    rooms = await rooms_of_people(db, session_id, [p.id for p in people])
    return [participant_json(p, rooms.get(p.id)) for p in people]


# The statements that reopening sockets run, built once: building a statement costs more
# than SQLite takes to run it, and a built one keeps its cache key.
_OWNER_OF_TOKEN = select(col(Participant.id), col(Participant.session_id)).where(
    col(Participant.token_hash) == bindparam("token_hash")
)
_VERSION = select(col(Session.version)).where(col(Session.id) == bindparam("session_id"))
# By id alone, the session compared here: with the session in the statement, SQLite reads
# every participant of the session (10,000 for a batch of 64 sockets, 30 times as long).
_STILL_IN = select(col(Participant.id), col(Participant.session_id)).where(
    col(Participant.id).in_(bindparam("participant_ids", expanding=True)),
)


async def owner_of_token(db: AsyncSession, token: str) -> tuple[str, str] | None:
    """The participant a token stands for and their session, as (participant id, session
    id): a plain row, for the crowd of sockets that reopen at once after a restart."""
    if not token.startswith("p_"):
        return None
    conn = await db.connection()
    row = (await conn.execute(_OWNER_OF_TOKEN, {"token_hash": digest(token)})).first()
    return None if row is None else (str(row[0]), str(row[1]))


async def session_version(db: AsyncSession, session_id: str) -> int | None:
    """The session's version, as sockets' snapshots are read at; None when it is gone."""
    conn = await db.connection()
    version = (await conn.execute(_VERSION, {"session_id": session_id})).scalar()
    return None if version is None else int(version)


async def still_in(db: AsyncSession, session_id: str, participant_ids: list[str]) -> set[str]:
    """Which of these participants are still in the session (a token kept from before may
    belong to one since removed), in one statement for a crowd."""
    if not participant_ids:
        return set()
    conn = await db.connection()
    rows = await conn.execute(_STILL_IN, {"participant_ids": participant_ids})
    return {str(pid) for pid, sid in rows if sid == session_id}


async def remove_participant(
    db: AsyncSession, session_id: str, participant_id: Any, *, remove_content: bool = False
) -> Outcome[Removed]:
    """A moderator removes someone from the session (see the module's docstring)."""
    await writable(db, session_id)
    p = await participant_in(db, session_id, participant_id)
    ballots = _count(
        await db.execute(update(Ballot).where(col(Ballot.voter_id) == p.id).values(voter_id=None))
    )
    if remove_content:
        notes = _count(await db.execute(delete(Note).where(col(Note.author_id) == p.id)))
        questions = _count(
            await db.execute(delete(Question).where(col(Question.author_id) == p.id))
        )
    else:
        notes = _count(
            await db.execute(update(Note).where(col(Note.author_id) == p.id).values(author_id=None))
        )
        questions = _count(
            await db.execute(
                update(Question).where(col(Question.author_id) == p.id).values(author_id=None)
            )
        )
    # The rest that is theirs by key (seat, upvotes, dots, who-has-voted) goes by the
    # schema's cascades.
    await db.execute(delete(Participant).where(col(Participant.id) == p.id))
    content: Content = "removed" if remove_content else "kept"
    event = Event("participant.removed", {"participant_id": p.id, "content": content})
    return Outcome(session_id, Removed(p.id, content, notes, questions, ballots), (event,))


def _count(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
