"""Reusing polls: a poll duplicated as a new draft, and polls brought over from another
session of the same organiser. Copies take the question, kind, options and settings, never
an answer; each arrives as a draft."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from rooms.errors import forbidden, invalid, not_found
from rooms.events.conferences import organises_session
from rooms.models import Event, Outcome, Session
from rooms.polls.reading import options_of, poll_in_session
from rooms.polls.tables import Poll, PollOption
from rooms.polls.values import poll_json
from rooms.sessions import writable

# One import at most brings this many polls: a session's whole set, not a bulk copy of many.
IMPORT_MAX = 50


async def duplicate_poll(
    db: AsyncSession, session_id: str, poll_id: str
) -> Outcome[dict[str, Any]]:
    """A new draft in the same session, with the poll's question, kind, options and room."""
    await writable(db, session_id)
    poll = await poll_in_session(db, poll_id, session_id)
    made, event = await _copy(db, poll, session_id, room_id=poll.room_id)
    return Outcome(session_id, made, (event,))


async def reusable_sessions(db: AsyncSession, session_id: str) -> list[tuple[Session, list[Poll]]]:
    """The organiser's other sessions that have polls, newest first, with their polls."""
    target = await db.get(Session, session_id)
    if target is None or target.organiser_id is None:
        return []
    found = await db.scalars(
        select(Session)
        .where(col(Session.organiser_id) == target.organiser_id, col(Session.id) != session_id)
        .order_by(col(Session.created_at).desc())
    )
    out = []
    for session in found:
        polls = list(
            await db.scalars(
                select(Poll)
                .where(col(Poll.session_id) == session.id)
                .order_by(col(Poll.created_at))
            )
        )
        if polls:
            out.append((session, polls))
    return out


async def import_polls(
    db: AsyncSession,
    session_id: str,
    from_session_id: str,
    poll_ids: list[str],
    organiser_id: str | None,
) -> Outcome[list[dict[str, Any]]]:
    """Drafts in this session copied from polls of another session of the same organiser,
    in the order they were made there; the plenary's (their rooms are not this session's).
    Only that organiser may: a moderator link reaches its own session and no other."""
    target = await writable(db, session_id)
    wanted = list(dict.fromkeys(poll_ids))
    if not 1 <= len(wanted) <= IMPORT_MAX:
        raise invalid(f"Choose from 1 to {IMPORT_MAX} polls to reuse.")
    if from_session_id == session_id:
        raise invalid("Choose another session to reuse polls from; to copy one here, duplicate it.")
    source = await db.get(Session, from_session_id)
    if source is None:
        raise not_found("session")
    if not await organises_session(db, organiser_id, target):
        raise forbidden(
            "Only the session's organiser, signed in, may reuse polls from other sessions."
        )
    if not await organises_session(db, organiser_id, source):
        raise forbidden("Polls can only be reused from another session of the same organiser.")
    found = list(
        await db.scalars(
            select(Poll)
            .where(col(Poll.session_id) == source.id, col(Poll.id).in_(wanted))
            .order_by(col(Poll.created_at))
        )
    )
    if len(found) != len(wanted):
        raise not_found("poll in that session")
    copies = [await _copy(db, poll, session_id, room_id=None) for poll in found]
    return Outcome(session_id, [made for made, _ in copies], tuple(e for _, e in copies))


async def copy_poll(
    db: AsyncSession, poll: Poll, session_id: str, *, room_id: str | None
) -> tuple[Poll, list[PollOption]]:
    """A draft with the poll's question, kind, options and settings, in `session_id`."""
    copy = Poll(
        session_id=session_id,
        room_id=room_id,
        question=poll.question,
        kind=poll.kind,
        allow_change=poll.allow_change,
        max_choices=poll.max_choices,
        scale_min=poll.scale_min,
        scale_max=poll.scale_max,
        min_label=poll.min_label,
        max_label=poll.max_label,
        show_results=poll.show_results,
    )
    db.add(copy)
    await db.flush()
    options = [
        PollOption(poll_id=copy.id, position=o.position, label=o.label)
        for o in await options_of(db, poll.id)
    ]
    db.add_all(options)
    await db.flush()
    return copy, options


async def _copy(
    db: AsyncSession, poll: Poll, session_id: str, *, room_id: str | None
) -> tuple[dict[str, Any], Event]:
    copy, options = await copy_poll(db, poll, session_id, room_id=room_id)
    event = Event(
        "poll.created",
        {"poll_id": copy.id, "kind": copy.kind, "room_id": room_id},
        roles=frozenset({"moderator"}),
    )
    return poll_json(copy, options), event
