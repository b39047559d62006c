"""Messages between the moderator and the rooms: broadcasts to all, and calls for help."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from rooms.breakout.clock import expire
from rooms.breakout.reading import help_count, room_in, room_of
from rooms.breakout.tables import BROADCAST_MAX, Broadcast, HelpRequest
from rooms.errors import Refused
from rooms.models import Event, Outcome, Participant, iso
from rooms.sessions import writable
from rooms.text import clean


async def broadcast(db: AsyncSession, session_id: str, message: str) -> Outcome[Broadcast]:
    """A message from the moderator that appears in every room (and the plenary) at once."""
    session = await writable(db, session_id)
    body = clean(message, "The message", BROADCAST_MAX, multiline=True)
    r, events = await expire(db, session)
    sent = Broadcast(session_id=session_id, round_id=r.id if r else None, text=body)
    db.add(sent)
    await db.flush()
    events.append(
        Event("rooms.broadcast", {"id": sent.id, "text": body, "sent_at": iso(sent.created_at)})
    )
    return Outcome(session_id, sent, tuple(events))


async def ask_for_help(
    db: AsyncSession, participant: Participant, room_id: str | None = None
) -> Outcome[dict[str, Any]]:
    """A participant flags that their room needs the moderator; asking twice is one flag."""
    session = await writable(db, participant.session_id)
    _, events = await expire(db, session)
    mine = await room_of(db, participant.session_id, participant.id)
    if mine is None or room_id not in (None, mine):
        raise Refused("conflict", "You are not in that breakout room; ask in the plenary.")
    asked = await db.scalar(
        select(col(HelpRequest.id)).where(
            col(HelpRequest.room_id) == mine, col(HelpRequest.participant_id) == participant.id
        )
    )
    if asked is None:
        db.add(
            HelpRequest(
                session_id=participant.session_id, room_id=mine, participant_id=participant.id
            )
        )
        await db.flush()
    count = await help_count(db, mine)
    if asked is None:  # asking again changes nothing, so it tells nobody anything
        events.append(Event("rooms.help", {"room_id": mine, "help": count}, room_id=mine))
    return Outcome(participant.session_id, {"room_id": mine, "help": count}, tuple(events))


async def answer_help(db: AsyncSession, session_id: str, room_id: str) -> Outcome[dict[str, Any]]:
    """The moderator is on the way to a room: its flags are cleared and the room is told."""
    session = await writable(db, session_id)
    _, events = await expire(db, session)
    room = await room_in(db, session_id, room_id)
    await db.execute(delete(HelpRequest).where(col(HelpRequest.room_id) == room.id))
    events.append(
        Event("rooms.help", {"room_id": room.id, "help": 0, "answered": True}, room_id=room.id)
    )
    return Outcome(session_id, {"room_id": room.id, "help": 0}, tuple(events))
