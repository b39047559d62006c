"""Calls in rooms: which rooms of a session have a call, who may join one, and the
moderator's choices (a call at hall tables too, a plenary call for remote people).

The call itself runs on a video service the organiser configures (`live/calls.py`); here is
only what Samla decides: a breakout room online has a call, a table in the hall has one only
when the session says so, and the plenary has one only when the session says so."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from rooms.breakout import Room, room_of
from rooms.errors import Refused, forbidden
from rooms.models import Event, Outcome, Participant, Role, Session
from rooms.sessions import session_by_id, writable


@dataclass(frozen=True)
class CallChoice:
    """A session's choices: calls at tables in the hall too, and a plenary call."""

    hall_tables: bool
    plenary: bool

    def as_json(self) -> dict[str, bool]:
        return {"hall_tables": self.hall_tables, "plenary": self.plenary}


@dataclass(frozen=True)
class CallHere:
    """What a participant's screen offers: their room's call, or the plenary's."""

    room: bool = False
    plenary: bool = False


def choice_of(session: Session) -> CallChoice:
    return CallChoice(session.hall_calls, session.plenary_call)


def room_has_call(session: Session, place: str | None) -> bool:
    """A room online has a call; a table in the hall (a room with a place) only if the
    session gives tables calls too."""
    return place is None or session.hall_calls


def rooms_with_calls(session: Session, rooms: Iterable[Mapping[str, Any]]) -> frozenset[str]:
    """The ids of these rooms (as `breakout.room_json` describes them) that have a call."""
    return frozenset(
        str(r["id"])
        for r in rooms
        if r.get("status") in ("prepared", "open") and room_has_call(session, r.get("place"))
    )


async def call_here(db: AsyncSession, session_id: str, room: Room | None) -> CallHere:
    """The call a participant's screen offers where they are."""
    session = await db.get(Session, session_id)
    if session is None or session.status != "open":
        return CallHere()
    if room is not None:
        return CallHere(room=room.status == "open" and room_has_call(session, room.place))
    return CallHere(plenary=session.plenary_call)


async def set_choice(
    db: AsyncSession, session_id: str, *, hall_tables: bool | None, plenary: bool | None
) -> Outcome[CallChoice]:
    """The moderator's choices; a choice not given stays as it was."""
    session = await writable(db, session_id)
    choice = choose(session, hall_tables=hall_tables, plenary=plenary)
    db.add(session)
    return Outcome(session_id, choice, (Event("session.calls", choice.as_json()),))


def choose(session: Session, *, hall_tables: bool | None, plenary: bool | None) -> CallChoice:
    """Sets a session's choices (a new session's, as it is created); None leaves one as it is."""
    if hall_tables is not None:
        session.hall_calls = hall_tables
    if plenary is not None:
        session.plenary_call = plenary
    return choice_of(session)


@dataclass(frozen=True)
class CallSeat:
    """Whose call it is: the session and the room (None: the plenary), the role joining,
    and what the service may call the meeting."""

    session: Session
    room_id: str | None
    role: Role
    title: str


async def room_call_for(
    db: AsyncSession, room_id: str, role: Role | None, participant: Participant | None
) -> CallSeat:
    """May this person join this room's call? A participant placed in the room, or a
    moderator of its session; a table in the hall without calls, a closed room or session
    has none."""
    room = await db.get(Room, room_id)
    if room is None:
        raise Refused("not_found", "No such room.")
    session = await session_by_id(db, room.session_id)
    if role == "participant":
        assert participant is not None
        if participant.session_id != session.id or (
            await room_of(db, session.id, participant.id) != room.id
        ):
            raise forbidden("Only the people in this room, and the moderators, may join its call.")
    elif role != "moderator":
        raise forbidden("This token is not for this session.")
    _open(session)
    if room.status not in ("prepared", "open"):
        raise Refused("conflict", "This room is closed; its call is over.")
    if not room_has_call(session, room.place):
        raise Refused(
            "not_found",
            "This table in the hall has no call: its people meet face to face. The moderator "
            "can give tables calls too.",
        )
    return CallSeat(session, room.id, role, f"{session.title} · {room.name}")


async def plenary_call_for(db: AsyncSession, session: Session, role: Role | None) -> CallSeat:
    """May this person join the session's plenary call? Its participants and moderators,
    when the session has one."""
    if role not in ("participant", "moderator"):
        raise forbidden("This token is not for this session.")
    _open(session)
    if not session.plenary_call:
        raise Refused(
            "not_found",
            "This session has no plenary call. The moderator can start one for remote people.",
        )
    return CallSeat(session, None, role, session.title)


def _open(session: Session) -> None:
    if session.status != "open":
        raise Refused("session_closed", "This session is closed; its calls are over.")
