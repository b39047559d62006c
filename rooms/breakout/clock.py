"""The end of a round: closing rooms, extending their time, and the clock's warning and close."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from rooms.breakout.reading import RoundView, current_round, ended, last_round, view_round
from rooms.breakout.tables import (
    EXTEND_MAX,
    LIVE,
    WARNING,
    HelpRequest,
    Room,
    Round,
    Seat,
    whole,
)
from rooms.errors import Refused
from rooms.models import Event, Outcome, Session, iso, utcnow
from rooms.sessions import writable


async def expire(db: AsyncSession, session: Session) -> tuple[Round | None, list[Event]]:
    """The current round, after closing it if its end closes it and that end has passed:
    every write looks here first, so a round never outlives its end for lack of a clock."""
    r = await current_round(db, session.id)
    if r is not None and r.status == "open" and ended(r, utcnow()):
        events = await close_round(db, r)
        return None, events
    return r, []


async def close_round(db: AsyncSession, r: Round) -> list[Event]:
    """Closes a round once: of two instances' clocks, only the first changes anything."""
    now = utcnow()
    done = await db.scalar(
        update(Round)
        .where(col(Round.id) == r.id, col(Round.status).in_(LIVE))
        .values(status="closed", closed_at=now)
        .returning(col(Round.id))
    )
    if done is None:
        return []
    seated = (
        select(func.count())
        .where(col(Seat.room_id) == col(Room.id))
        .correlate(Room)
        .scalar_subquery()
    )
    await db.execute(
        update(Room).where(col(Room.round_id) == r.id).values(status="closed", people=seated)
    )
    await db.execute(
        delete(HelpRequest).where(
            col(HelpRequest.room_id).in_(select(col(Room.id)).where(col(Room.round_id) == r.id))
        )
    )
    await db.refresh(r)
    return [
        Event("rooms.closed", {"round_id": r.id}),
        Event("participants.moved", {"round_id": r.id, "reason": "closed"}),
    ]


async def close_rooms(db: AsyncSession, session_id: str) -> Outcome[RoundView]:
    """Closes every room: everyone is back in the plenary; rooms keep their boards and polls.
    Closing when nothing is open changes nothing and answers the last round, all closed."""
    session = await writable(db, session_id)
    r, events = await expire(db, session)
    if r is not None:
        events += await close_round(db, r)
    else:
        r = await last_round(db, session_id)
    return Outcome(session_id, await view_round(db, r), tuple(events))


async def close_with_session(db: AsyncSession, session: Session) -> tuple[Event, ...]:
    """A session that closes closes its rooms: everyone is back in the plenary."""
    r, events = await expire(db, session)
    if r is not None:
        events += await close_round(db, r)
    return tuple(events)


async def extend(db: AsyncSession, session_id: str, minutes: int) -> Outcome[RoundView]:
    """Gives the open round more time; from now if its time was already up."""
    session = await writable(db, session_id)
    more = whole(minutes, "minutes", 1, EXTEND_MAX)
    r, events = await expire(db, session)
    if r is None or r.status != "open":
        raise Refused("conflict", "No rooms are open; there is no timer to extend.")
    now = utcnow()
    start = r.ends_at if r.ends_at is not None and r.ends_at > now else now
    r.ends_at = start + timedelta(minutes=more)
    r.minutes = (r.minutes or 0) + more
    r.warned = False
    db.add(r)
    events.append(Event("rooms.extended", {"round_id": r.id, "ends_at": iso(r.ends_at)}))
    return Outcome(session_id, await view_round(db, r), tuple(events))


async def rounds_due(db: AsyncSession, now: datetime) -> list[tuple[str, str]]:
    """(session, round) of open rounds whose warning or end is due: what the clock acts on."""
    rows = await db.execute(
        select(col(Round.session_id), col(Round.id))
        .join(Session, col(Session.id) == col(Round.session_id))
        .where(
            col(Session.status) == "open",
            col(Round.status) == "open",
            col(Round.ends_at).is_not(None),
            or_(
                and_(col(Round.warned).is_(False), col(Round.ends_at) <= now + WARNING),
                and_(col(Round.close_at_end).is_(True), col(Round.ends_at) <= now),
            ),
        )
    )
    return [(str(s), str(r)) for s, r in rows.all()]


async def keep_time(db: AsyncSession, round_id: str) -> Outcome[None]:
    """The clock's work on one round: the one-minute warning, then the close if chosen."""
    r = await db.get(Round, round_id)
    if r is None or r.status != "open" or r.ends_at is None:
        return Outcome(r.session_id if r else "", None)
    session = await db.get(Session, r.session_id)
    if session is None or session.status != "open":
        return Outcome(r.session_id, None)
    now = utcnow()
    if ended(r, now):
        return Outcome(r.session_id, None, tuple(await close_round(db, r)))
    if not r.warned and r.ends_at <= now + WARNING:
        r.warned = True
        db.add(r)
        return Outcome(
            r.session_id,
            None,
            (Event("rooms.ending", {"round_id": r.id, "ends_at": iso(r.ends_at)}),),
        )
    return Outcome(r.session_id, None)
