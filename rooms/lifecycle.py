"""A session's life across its features, written out where it can be read: who joins (an
open round seats them), what a session is (its rooms, polls and boards), and how it closes
(its open rooms close, its open polls close and so become anonymous, then the session)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from rooms import boards, breakout, polls, sessions
from rooms.errors import Refused
from rooms.events import registrations
from rooms.models import Outcome, Role, Session


async def join(
    db: AsyncSession, *, code: Any, name: Any = None, attributes: Any = None, invite: Any = None
) -> Outcome[sessions.Joined]:
    """Someone joins by code (and, into an event's session, perhaps their personal
    invitation); while a round is open they are seated in a room at once."""
    registrant = await registrations.admitted(db, await sessions.session_by_code(db, code), invite)
    joined = await sessions.add_participant(
        db, code=code, name=name, attributes=attributes, registration=registrant
    )
    if not joined.events:  # a registrant back on another device: already seated
        return joined
    participant = joined.value.participant
    session = await sessions.session_by_id(db, participant.session_id)
    seated = await breakout.place_late_joiner(db, session, participant)
    return Outcome(joined.session_id, joined.value, (*joined.events, *seated))


async def join_many(
    db: AsyncSession, session_id: str, arrivals: list[tuple[Any, Any]]
) -> Outcome[list[sessions.Joined | Refused]]:
    """Several people join by the session's code without an invitation, each with their
    name and answers, in one transaction (a join storm's group commit): each accepted or
    refused as `join` would, and those accepted seated in turn while a round is open."""
    session = await sessions.open_to_join(db, session_id)
    await registrations.admitted(db, session, None)  # an invited event's sessions refuse all
    joined = await sessions.add_participants(db, session, arrivals)
    people = [j.participant for j in joined.value if isinstance(j, sessions.Joined)]
    seated = await breakout.place_late_joiners(db, session, people)
    return Outcome(session.id, joined.value, (*joined.events, *seated))


async def change_answers(
    db: AsyncSession, participant_id: str, *, name: Any, attributes: Any
) -> Outcome[str | None]:
    """A participant changes their name and answers: the same participant (their votes and
    notes stay theirs), counted by the new answers in their room's balance."""
    renamed = await sessions.rename(db, participant_id, name, attributes)
    participant = await sessions.participant_in(db, renamed.session_id, participant_id)
    await breakout.retag(db, participant)
    return renamed


async def close_session(db: AsyncSession, session_id: str) -> Outcome[Session]:
    """Closes the session: it is kept, read-only. Its features wind up first, while it still
    takes changes."""
    session = await sessions.writable(db, session_id, lock="update")
    rooms_closed = await breakout.close_with_session(db, session)
    polls_closed = await polls.close_open_polls(db, session)
    closed = sessions.mark_closed(db, session)
    return Outcome(session.id, session, (*rooms_closed, *polls_closed, closed))


async def describe(
    db: AsyncSession, session: Session, role: Role = "moderator", *, stream: bool = False
) -> dict[str, Any]:
    """The session as GET /api/v1/sessions/{sid} shows it to `role` (a participant is not
    shown what is still being prepared), or, with `stream`, an event stream's snapshot: its
    rooms as `breakout.stream_rooms` lists them."""
    rooms = breakout.stream_rooms if stream else breakout.rooms_part
    return {
        **await sessions.describe_session(db, session),
        "rooms": await rooms(db, session.id, role),
        "polls": await polls.describe_polls(db, session.id, role),
        "boards": await boards.describe_boards(db, session.id, role),
    }
