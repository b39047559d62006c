"""Moving people between rooms: the moderator moves someone, a participant chooses a room."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from rooms.breakout.assigning import tag_of
from rooms.breakout.clock import expire
from rooms.breakout.reading import members, room_in
from rooms.breakout.tables import HelpRequest, Room, Round, Seat
from rooms.errors import Refused, forbidden, not_found
from rooms.models import Event, Outcome, Participant, utcnow
from rooms.sessions import participant_in, writable


async def _seat(db: AsyncSession, r: Round, participant: Participant, room_id: str) -> None:
    """Sits one person in a room, replacing the seat they had: never two seats."""
    seat = await db.scalar(
        select(Seat).where(
            col(Seat.session_id) == r.session_id, col(Seat.participant_id) == participant.id
        )
    )
    tag = tag_of(participant.attributes, r.balance_by)
    if seat is None:
        db.add(
            Seat(session_id=r.session_id, participant_id=participant.id, room_id=room_id, tag=tag)
        )
    else:
        seat.room_id, seat.tag, seat.placed_at = room_id, tag, utcnow()
        db.add(seat)
    await db.flush()


async def retag(db: AsyncSession, participant: Participant) -> None:
    """Someone changed their answers: their seat (if they have one) counts by the new ones
    in the balance of late joiners and in the moderator's spread."""
    seat = await db.scalar(
        select(Seat).where(
            col(Seat.session_id) == participant.session_id,
            col(Seat.participant_id) == participant.id,
        )
    )
    if seat is None:
        return
    r = await db.scalar(
        select(Round)
        .join(Room, col(Room.round_id) == col(Round.id))
        .where(col(Room.id) == seat.room_id)
    )
    if r is not None:
        seat.tag = tag_of(participant.attributes, r.balance_by)
        db.add(seat)


async def _someone_in(db: AsyncSession, session_id: str, participant_id: str) -> Participant:
    """The participant of this session: one of another session is forbidden, as everywhere
    (rooms.participants); an id that cannot be one (a NUL byte, which PostgreSQL cannot
    even compare) is not found without asking the store."""
    if not participant_id.isprintable():
        raise not_found("participant")
    return await participant_in(db, session_id, participant_id)


async def move(
    db: AsyncSession, session_id: str, participant_id: str, room_id: str | None
) -> Outcome[dict[str, Any]]:
    """The moderator moves someone into a room (also while rooms are open), or back to the
    plenary with no room. A moderator may fill a room past its capacity."""
    session = await writable(db, session_id)
    _, events = await expire(db, session)
    p = await _someone_in(db, session_id, participant_id)
    if not room_id:
        await db.execute(delete(Seat).where(col(Seat.participant_id) == p.id))
        await db.execute(delete(HelpRequest).where(col(HelpRequest.participant_id) == p.id))
        events.append(Event("participants.moved", {"participant_ids": [p.id], "room_id": None}))
        return Outcome(session_id, {"room_id": None, "participant_ids": []}, tuple(events))
    room = await room_in(db, session_id, room_id)
    r = await db.get(Round, room.round_id)
    assert r is not None
    await _seat(db, r, p, room.id)
    await db.execute(
        delete(HelpRequest).where(
            col(HelpRequest.participant_id) == p.id,
            col(HelpRequest.room_id) != room.id,
        )
    )
    seated = (await members(db, [room.id]))[room.id]
    events.append(Event("participants.moved", {"participant_ids": [p.id], "room_id": room.id}))
    return Outcome(session_id, {"room_id": room.id, "participant_ids": seated}, tuple(events))


async def choose_room(
    db: AsyncSession, participant: Participant, room_id: str, *, table: bool = False
) -> Outcome[dict[str, Any]]:
    """A participant chooses a room themselves (self-select), or scans a table's QR code."""
    session = await writable(db, participant.session_id)
    _, events = await expire(db, session)
    room = await room_in(db, participant.session_id, room_id)
    r = await db.get(Round, room.round_id)
    assert r is not None
    if r.assignment != "self" and room.place is None:
        raise forbidden("In this round the moderator places people; you cannot choose a room.")
    if table and room.place is None:
        raise not_found("table in this session")
    # Lock the room (PostgreSQL) so two people cannot take its last place at once; on
    # SQLite every write already holds the database lock.
    await db.execute(select(col(Room.id)).where(col(Room.id) == room.id).with_for_update())
    seated = (await members(db, [room.id]))[room.id]
    if participant.id not in seated:
        if room.capacity is not None and len(seated) >= room.capacity:
            raise Refused(
                "conflict", f"{room.name} is full ({room.capacity} people); choose another room."
            )
        await _seat(db, r, participant, room.id)
        seated.append(participant.id)
        events.append(
            Event("participants.moved", {"participant_ids": [participant.id], "room_id": room.id})
        )
    return Outcome(
        participant.session_id, {"room_id": room.id, "participant_ids": seated}, tuple(events)
    )
