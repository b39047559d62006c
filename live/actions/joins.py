"""Group commit for a join storm: plain joins into one session (by code, with a name and
answers, no invitation), from the API and from the join page alike, share write
transactions (`live/actions/batching.py`), as a hall scanning the QR code at once does."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from live.actions.batching import Kind, submit
from live.services import Samla
from rooms import lifecycle, sessions
from rooms.errors import Refused
from rooms.models import Outcome, Session

Arrival = tuple[Any, Any]  # the name and the answers, as they were sent


async def _join_many(
    db: AsyncSession, session_id: str, arrivals: list[Arrival]
) -> Outcome[list[sessions.Joined | Refused]]:
    return await lifecycle.join_many(db, session_id, arrivals)


async def _join_one(
    db: AsyncSession, session_id: str, arrival: Arrival
) -> Outcome[sessions.Joined]:
    name, attributes = arrival
    session = await sessions.session_by_id(db, session_id)
    return await lifecycle.join(db, code=session.code, name=name, attributes=attributes)


JOINS = Kind[Arrival, sessions.Joined]("joins", _join_many, _join_one)


async def join(samla: Samla, session: Session, name: Any, attributes: Any) -> sessions.Joined:
    """Someone joins the session by its code: a participant, seated if a round is open."""
    return await submit(samla, JOINS, session.id, (name, attributes))
