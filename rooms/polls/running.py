"""A poll's life: created as a draft, opened (or reopened), closed and made anonymous."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from rooms.errors import invalid
from rooms.models import Event, Outcome, Session, utcnow
from rooms.polls.reading import changeable, options_of, poll_locked
from rooms.polls.tables import (
    KINDS,
    OPTION_MAX,
    OPTIONS_MAX,
    QUESTION_MAX,
    ROOM_ID_MAX,
    SCALE_LIMIT,
    SCALE_VALUES_MAX,
    SHOW_RESULTS,
    WITH_OPTIONS,
    Ballot,
    Poll,
    PollOption,
    PollVoter,
)
from rooms.polls.values import poll_json, results_event, told
from rooms.sessions import writable
from rooms.text import clean, optional


async def create_poll(
    db: AsyncSession, session_id: str, body: dict[str, Any]
) -> Outcome[dict[str, Any]]:
    """A draft poll, prepared by a moderator before or during the session."""
    await writable(db, session_id)
    question = clean(body.get("question"), "The question", QUESTION_MAX, multiline=True)
    kind = body.get("kind")
    if kind not in KINDS:
        raise invalid(f"kind must be one of: {', '.join(KINDS)}.")
    room_id = body.get("room_id")
    if room_id is not None:
        room_id = clean(room_id, "room_id", ROOM_ID_MAX)
    show = body.get("show_results", "live")
    if show not in SHOW_RESULTS:
        raise invalid("show_results must be live, closed or never.")
    allow_change = body.get("allow_change", False)
    if not isinstance(allow_change, bool):
        raise invalid("allow_change must be true or false.")
    labels = _option_labels(kind, body.get("options"))
    poll = Poll(
        session_id=session_id,
        room_id=room_id,
        question=question,
        kind=kind,
        show_results=show,
        allow_change=allow_change,
    )
    poll.max_choices = _max_choices(kind, body.get("max_choices"), len(labels))
    if kind == "scale":
        _set_scale(poll, body.get("scale"))
    elif body.get("scale") is not None:
        raise invalid("Only a scale poll takes a scale.")
    db.add(poll)
    await db.flush()
    options = [
        PollOption(poll_id=poll.id, position=i, label=label) for i, label in enumerate(labels)
    ]
    db.add_all(options)
    await db.flush()
    event = Event(
        "poll.created",
        {"poll_id": poll.id, "kind": kind, "room_id": room_id},
        roles=frozenset({"moderator"}),
    )
    return Outcome(session_id, poll_json(poll, options), (event,))


def _option_labels(kind: str, raw: Any) -> list[str]:
    if kind not in WITH_OPTIONS:
        if raw not in (None, []):
            raise invalid(f"A {kind} poll has no options.")
        return []
    if not isinstance(raw, list) or not 2 <= len(raw) <= OPTIONS_MAX:
        raise invalid(f"A {kind} poll needs between 2 and {OPTIONS_MAX} options.")
    labels = [clean(label, "An option", OPTION_MAX) for label in raw]
    if len({label.casefold() for label in labels}) != len(labels):
        raise invalid("Two options have the same label.")
    return labels


def _max_choices(kind: str, raw: Any, option_count: int) -> int | None:
    if raw is None or raw == "":
        return None
    if kind != "multiple":
        raise invalid("Only a multiple-choice poll takes max_choices.")
    if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= option_count:
        raise invalid(f"max_choices must be a whole number from 1 to {option_count}.")
    return raw


def _set_scale(poll: Poll, raw: Any) -> None:
    raw = {"min": 1, "max": 5} if raw is None else raw
    if not isinstance(raw, dict):
        raise invalid("scale must be an object {min, max, min_label?, max_label?}.")
    low, high = raw.get("min", 1), raw.get("max", 5)
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (low, high)):
        raise invalid("The scale's min and max must be whole numbers.")
    if not -SCALE_LIMIT <= low < high <= SCALE_LIMIT or high - low + 1 > SCALE_VALUES_MAX:
        raise invalid(
            f"The scale must go up from min to max, within ±{SCALE_LIMIT}, "
            f"with at most {SCALE_VALUES_MAX} values."
        )
    poll.scale_min, poll.scale_max = low, high
    poll.min_label = optional(raw.get("min_label"), "The scale's min_label", OPTION_MAX)
    poll.max_label = optional(raw.get("max_label"), "The scale's max_label", OPTION_MAX)


async def open_poll(db: AsyncSession, poll_id: Any) -> Outcome[dict[str, Any]]:
    """Opens a draft, or reopens a closed poll; answers given before stay counted."""
    poll = await changeable(db, poll_id)
    if poll.status != "open":
        poll.status = "open"
        poll.opened_at = utcnow()
        poll.closed_at = None
        db.add(poll)
    events = (
        Event(
            "poll.opened",
            {"poll_id": poll.id, "kind": poll.kind, "room_id": poll.room_id},
            room_id=told(poll),
        ),
        results_event(poll),
    )
    return Outcome(poll.session_id, poll_json(poll, await options_of(db, poll.id)), events)


async def close_poll(db: AsyncSession, poll_id: Any) -> Outcome[dict[str, Any]]:
    """Closes a poll and unlinks every ballot from its voter: from now on it is anonymous.

    The poll's row is locked first: a vote under way (it holds the row shared) commits
    before the unlinking reads the ballots, and a later one finds the poll closed."""
    poll = await changeable(db, poll_id)
    poll = await poll_locked(db, poll.id, "update")
    if poll.status != "closed":
        poll.status = "closed"
        poll.closed_at = utcnow()
        db.add(poll)
    await db.execute(update(Ballot).where(col(Ballot.poll_id) == poll.id).values(voter_id=None))
    await _forget_answer_order(db, poll.id)
    events = (
        Event(
            "poll.closed",
            {"poll_id": poll.id, "room_id": poll.room_id},
            room_id=told(poll),
        ),
        results_event(poll),
    )
    return Outcome(poll.session_id, poll_json(poll, await options_of(db, poll.id)), events)


async def close_open_polls(db: AsyncSession, session: Session) -> tuple[Event, ...]:
    """A session that closes closes its open polls, so their ballots are unlinked too."""
    found = await db.scalars(
        select(col(Poll.id)).where(col(Poll.session_id) == session.id, col(Poll.status) == "open")
    )
    events: list[Event] = []
    for poll_id in list(found):
        events += (await close_poll(db, poll_id)).events
    return tuple(events)


async def _forget_answer_order(db: AsyncSession, poll_id: str) -> None:
    """Rewrites who has voted in participant-id order. Ballots and voters were stored in the
    same order, answer by answer; a store that keeps rows in insertion order (PostgreSQL's
    heap) could pair them by position. SQLite's tables here have no such order already."""
    voters = sorted(
        await db.scalars(
            select(col(PollVoter.participant_id)).where(col(PollVoter.poll_id) == poll_id)
        )
    )
    await db.execute(delete(PollVoter).where(col(PollVoter.poll_id) == poll_id))
    db.add_all([PollVoter(poll_id=poll_id, participant_id=pid) for pid in voters])
    await db.flush()
