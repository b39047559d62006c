"""Who may read and write which minutes: a room's are its people's (those placed in it) and
the session's moderators'; the plenary minutes are every member's, once switched on."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from live import auth
from rooms import minutes, sessions
from rooms.errors import Refused, forbidden


@dataclass(frozen=True)
class Access:
    """A person's way into one minutes document."""

    target: minutes.Target
    participant_id: str | None  # None: a moderator
    login_id: str | None = None
    name: str | None = None  # the name the person shows (none for moderators)

    @property
    def who(self) -> str:
        """Whose updates these are, for the rate limit (moderators by login or session)."""
        if self.participant_id is not None:
            return self.participant_id
        return f"moderator:{self.login_id or self.target.session_id}"


NOT_IN_ROOM = "You are not in this room: its minutes are its people's."
NO_PLENARY = "This session keeps no plenary minutes: a moderator switches them on."


async def room_access(db: AsyncSession, people: list[auth.Identity], room_id: str) -> Access:
    """The first of `people` who may open the room's minutes; refused if none may."""
    target, room = await minutes.room_target(db, room_id)
    session = await sessions.session_by_id(db, target.session_id)
    for who in people:
        role = auth.role_in(who, session)
        if role == "moderator":
            return Access(target, None, who.login_id)
        participant = who.participant if role == "participant" else None
        if participant is not None and await minutes.placed(db, room.id, participant.id):
            return Access(target, participant.id, name=participant.name)
    raise forbidden(NOT_IN_ROOM)


async def plenary_access(db: AsyncSession, people: list[auth.Identity], session_id: str) -> Access:
    """The first of `people` who may open the session's plenary minutes."""
    target, head = await minutes.plenary_target(db, session_id)
    session = await sessions.session_by_id(db, session_id)
    for who in people:
        role = auth.role_in(who, session)
        if role is None:
            continue
        if head is None or not (head.plenary or head.count):
            raise Refused("not_found", NO_PLENARY)
        participant = who.participant if role == "participant" else None
        if participant is not None:
            return Access(target, participant.id, name=participant.name)
        return Access(target, None, who.login_id)
    raise forbidden("This token is not for this session.")
