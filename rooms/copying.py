"""A whole session copied as a template: its join questions, polls (as drafts), boards (with
their columns) and room plan, and none of its people or what they said."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from rooms import sessions
from rooms.boards.reading import session_boards
from rooms.boards.tables import Board
from rooms.breakout.reading import last_round, rooms_of
from rooms.breakout.tables import Room, Round
from rooms.models import Conference, Outcome, new_id
from rooms.polls.copying import copy_poll
from rooms.polls.reading import polls_of


async def duplicate_session(
    db: AsyncSession, session_id: str, *, organiser_id: str | None, title: Any = None
) -> Outcome[sessions.Created]:
    """A new open session, with a new code and moderator token, prepared like this one.

    The last round of breakout rooms comes back as a prepared round (names, places,
    capacities, how people are placed), so the rooms' boards and polls keep their rooms;
    those of earlier rounds' rooms are left behind with their rounds."""
    source = await sessions.session_by_id(db, session_id)
    # A session of an event's programme is copied into the same programme, without a time.
    conference = await db.get(Conference, source.conference_id) if source.conference_id else None
    made = await sessions.create_session(
        db,
        title=source.title if title in (None, "") else title,
        organiser_id=organiser_id,
        attributes=None if conference is not None else source.attributes,
        conference=conference,
    )
    copy = made.value.session
    rooms = await _copy_room_plan(db, source.id, copy.id)
    await _copy_polls(db, source.id, copy.id, rooms)
    await _copy_boards(db, source.id, copy.id, rooms)
    return Outcome(copy.id, made.value, made.events)


async def _copy_room_plan(db: AsyncSession, source_id: str, copy_id: str) -> dict[str, str]:
    """The last round's rooms as a prepared round of the copy; old room id to new."""
    model = await last_round(db, source_id)
    if model is None:
        return {}
    plan = Round(
        session_id=copy_id,
        assignment=model.assignment,
        balance_by=model.balance_by,
        minutes=model.minutes,
        close_at_end=model.close_at_end,
    )
    db.add(plan)
    await db.flush()
    mapping: dict[str, str] = {}
    for room in await rooms_of(db, model.id):
        new = Room(
            session_id=copy_id,
            round_id=plan.id,
            name=room.name,
            place=room.place,
            capacity=room.capacity,
            position=room.position,
        )
        db.add(new)
        mapping[room.id] = new.id
    await db.flush()
    return mapping


async def _copy_polls(
    db: AsyncSession, source_id: str, copy_id: str, rooms: dict[str, str]
) -> None:
    for poll in await polls_of(db, source_id):
        if poll.room_id is not None and poll.room_id not in rooms:
            continue
        room = rooms.get(poll.room_id) if poll.room_id else None
        await copy_poll(db, poll, copy_id, room_id=room)


async def _copy_boards(
    db: AsyncSession, source_id: str, copy_id: str, rooms: dict[str, str]
) -> None:
    for board in await session_boards(db, source_id):
        if board.room_id is not None and board.room_id not in rooms:
            continue
        db.add(
            Board(
                session_id=copy_id,
                room_id=rooms.get(board.room_id) if board.room_id else None,
                title=board.title,
                # Fresh column ids: nothing of the copy points into the original.
                columns=[{**c, "id": new_id()[:8]} for c in board.columns],
            )
        )
    await db.flush()
