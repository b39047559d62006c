"""Live polls: six kinds, their lifecycle, one anonymous answer per participant, exact results."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import (
    JSON,
    Column,
    ForeignKey,
    String,
    UniqueConstraint,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel, col

from rooms.errors import Refused, forbidden, invalid, not_found
from rooms.locks import Lock, claim, locked
from rooms.models import (
    PLENARY,
    Event,
    Outcome,
    Participant,
    Role,
    Session,
    iso,
    new_id,
    utcnow,
)
from rooms.panels import Actor, Viewer, action, panel, place, place_many, summary
from rooms.sessions import describe_part, on_close, session_by_id, writable
from rooms.text import clean, optional

Kind = Literal["single", "multiple", "scale", "wordcloud", "open", "ranking"]
KINDS: tuple[Kind, ...] = ("single", "multiple", "scale", "wordcloud", "open", "ranking")
WITH_OPTIONS: frozenset[str] = frozenset({"single", "multiple", "ranking"})
SHOW_RESULTS = ("live", "closed", "never")

QUESTION_MAX = 300
OPTION_MAX = 120
OPTIONS_MAX = 30
WORD_MAX = 40
WORDS_MAX = 3
ANSWER_MAX = 500
ROOM_ID_MAX = 40
# A scale's values are shown one bar each: wider than 0-100 would be unreadable anyway.
SCALE_LIMIT = 100
SCALE_VALUES_MAX = 21
HIDDEN_WORDS_MAX = 200
# Long answer and word lists are cut in each live update (screens show fewer still);
# GET .../results and the archive keep them all.
SUMMARY_ITEMS = 100

STAFF: frozenset[Role] = frozenset({"moderator", "presenter"})


# -- tables ---------------------------------------------------------------------------------
# "Who has voted" (PollVoter) is kept apart from "what was voted" (Ballot and its marks).
# A ballot names its voter only while the poll is open, so that an answer can be changed
# and shown back to the person; closing the poll clears that link. No table keeps a
# timestamp or (on SQLite) a rowid, so insertion order cannot pair voters with ballots.


class Poll(SQLModel, table=True):
    id: str = Field(default_factory=new_id, primary_key=True, max_length=16)
    session_id: str = Field(foreign_key="session.id", ondelete="CASCADE", index=True)
    # The breakout room the poll belongs to (None: the plenary); a plain column, because
    # the rooms feature owns its table.
    room_id: str | None = Field(default=None, index=True, max_length=ROOM_ID_MAX)
    question: str = Field(max_length=QUESTION_MAX)
    kind: str = Field(max_length=12)
    status: str = Field(default="draft", max_length=8)  # draft, open, closed
    allow_change: bool = False
    max_choices: int | None = None
    scale_min: int | None = None
    scale_max: int | None = None
    min_label: str | None = Field(default=None, max_length=OPTION_MAX)
    max_label: str | None = Field(default=None, max_length=OPTION_MAX)
    show_results: str = Field(default="live", max_length=8)
    hidden_words: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    created_at: datetime = Field(default_factory=utcnow)
    opened_at: datetime | None = None
    closed_at: datetime | None = None


class PollOption(SQLModel, table=True):
    __tablename__ = "poll_option"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=16)
    poll_id: str = Field(foreign_key="poll.id", ondelete="CASCADE", index=True)
    position: int
    label: str = Field(max_length=OPTION_MAX)


class PollVoter(SQLModel, table=True):
    """That a participant has answered a poll, and nothing about what."""

    __tablename__ = "poll_voter"
    __table_args__ = {"sqlite_with_rowid": False}

    poll_id: str = Field(
        sa_column=Column(String(16), ForeignKey("poll.id", ondelete="CASCADE"), primary_key=True)
    )
    participant_id: str = Field(
        sa_column=Column(
            String(16), ForeignKey("participant.id", ondelete="CASCADE"), primary_key=True
        )
    )


class Ballot(SQLModel, table=True):
    """What one participant answered: a value, a text, or marks (choices, words)."""

    __table_args__ = (
        # NULLs are distinct: closed polls' unlinked ballots never collide.
        UniqueConstraint("poll_id", "voter_id", name="uq_ballot_poll_voter"),
        {"sqlite_with_rowid": False},
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=16)
    poll_id: str = Field(foreign_key="poll.id", ondelete="CASCADE", index=True)
    voter_id: str | None = Field(
        default=None, foreign_key="participant.id", ondelete="SET NULL", max_length=16
    )
    value: int | None = None
    text: str | None = Field(default=None, max_length=ANSWER_MAX)
    hidden: bool = False


class BallotChoice(SQLModel, table=True):
    """One chosen option of a ballot; for ranking, with its place (0 is best)."""

    __tablename__ = "ballot_choice"
    __table_args__ = {"sqlite_with_rowid": False}

    ballot_id: str = Field(
        sa_column=Column(String(16), ForeignKey("ballot.id", ondelete="CASCADE"), primary_key=True)
    )
    option_id: str = Field(
        sa_column=Column(
            String(16),
            ForeignKey("poll_option.id", ondelete="CASCADE"),
            primary_key=True,
            index=True,
        )
    )
    rank: int = 0


class BallotWord(SQLModel, table=True):
    __tablename__ = "ballot_word"
    __table_args__ = {"sqlite_with_rowid": False}

    ballot_id: str = Field(
        sa_column=Column(String(16), ForeignKey("ballot.id", ondelete="CASCADE"), primary_key=True)
    )
    word: str = Field(sa_column=Column(String(WORD_MAX), primary_key=True, index=True))


# -- values ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Voted:
    """A vote's outcome: `replaced` when it took the place of this participant's earlier one."""

    poll_id: str
    replaced: bool


def poll_brief(poll: Poll) -> dict[str, Any]:
    """What the live views and the JSON stream's snapshot say about a poll (options are in
    its results)."""
    return {
        "id": poll.id,
        "status": poll.status,
        "kind": poll.kind,
        "question": poll.question,
        "room_id": poll.room_id,
        "allow_change": poll.allow_change,
        "show_results": poll.show_results,
    }


def poll_json(poll: Poll, options: list[PollOption]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": poll.id,
        "session_id": poll.session_id,
        "status": poll.status,
        "kind": poll.kind,
        "question": poll.question,
        "room_id": poll.room_id,
        "options": [{"id": o.id, "label": o.label} for o in options],
        "allow_change": poll.allow_change,
        "show_results": poll.show_results,
        "max_choices": poll.max_choices,
        "opened_at": iso(poll.opened_at),
        "closed_at": iso(poll.closed_at),
    }
    if poll.kind == "scale":
        out["scale"] = {
            "min": poll.scale_min,
            "max": poll.scale_max,
            "min_label": poll.min_label,
            "max_label": poll.max_label,
        }
    return out


# -- reading --------------------------------------------------------------------------------


async def poll_by_id(db: AsyncSession, poll_id: Any) -> Poll:
    found = await db.get(Poll, poll_id) if isinstance(poll_id, str) and poll_id else None
    if found is None:
        raise not_found("poll")
    return found


async def options_of(db: AsyncSession, poll_id: str) -> list[PollOption]:
    rows = await db.scalars(
        select(PollOption)
        .where(col(PollOption.poll_id) == poll_id)
        .order_by(col(PollOption.position))
    )
    return list(rows)


async def polls_of(db: AsyncSession, session_id: str) -> list[Poll]:
    rows = await db.scalars(
        select(Poll).where(col(Poll.session_id) == session_id).order_by(col(Poll.created_at))
    )
    return list(rows)


@describe_part("polls")
async def describe_polls(db: AsyncSession, session_id: str, role: Role) -> list[dict[str, Any]]:
    """Every poll; a participant is not told of drafts (the moderator may still change them)."""
    return [
        {
            "id": p.id,
            "question": p.question,
            "kind": p.kind,
            "status": p.status,
            "room_id": p.room_id,
        }
        for p in await polls_of(db, session_id)
        if role != "participant" or p.status != "draft"
    ]


async def check_place(db: AsyncSession, poll: Poll, participant_id: str) -> None:
    """Only the people in a poll's place (the plenary or its room) may see or answer it."""
    if await place(db, poll.session_id, participant_id) != poll.room_id:
        where = "the plenary" if poll.room_id is None else "another breakout room"
        raise forbidden(f"This poll belongs to {where}; only the people there can answer it.")


async def check_participant(db: AsyncSession, poll: Poll, participant: Participant) -> None:
    if participant.session_id != poll.session_id:
        raise forbidden("This poll is in another session.")
    await check_place(db, poll, participant.id)


def results_visible(poll: Poll, role: Role) -> bool:
    """Whether this audience may see the poll's results now (counts of answers always)."""
    if role == "moderator":
        return True
    if poll.status == "draft":
        return False
    return poll.show_results == "live" or (
        poll.show_results == "closed" and poll.status == "closed"
    )


async def results(db: AsyncSession, poll: Poll, *, moderator: bool = False) -> dict[str, Any]:
    """The poll's totals, counted from the stored ballots (never from a running counter)."""
    voters = int(await db.scalar(select(func.count()).where(col(Ballot.poll_id) == poll.id)) or 0)
    out: dict[str, Any] = {
        "poll_id": poll.id,
        "status": poll.status,
        "kind": poll.kind,
        "question": poll.question,
        "voters": voters,
        "options": [],
    }
    if poll.kind in WITH_OPTIONS:
        options = await options_of(db, poll.id)
        rows = (
            await db.execute(
                select(col(BallotChoice.option_id), func.count(), func.sum(col(BallotChoice.rank)))
                .join(Ballot, col(Ballot.id) == col(BallotChoice.ballot_id))
                .where(col(Ballot.poll_id) == poll.id)
                .group_by(col(BallotChoice.option_id))
            )
        ).all()
        counted = {oid: (int(n), int(ranks or 0)) for oid, n, ranks in rows}
        listed = []
        for o in options:
            n, ranks = counted.get(o.id, (0, 0))
            item: dict[str, Any] = {"id": o.id, "label": o.label, "count": n}
            if poll.kind == "ranking":
                # Borda: with k options, first place earns k-1 points, last earns 0.
                item["score"] = n * (len(options) - 1) - ranks
                item["average_position"] = round(ranks / n + 1, 2) if n else None
            listed.append(item)
        out["options"] = listed
    elif poll.kind == "scale":
        assert poll.scale_min is not None and poll.scale_max is not None
        scale_rows = (
            await db.execute(
                select(col(Ballot.value), func.count())
                .where(col(Ballot.poll_id) == poll.id)
                .group_by(col(Ballot.value))
            )
        ).all()
        by_value = {int(v): int(n) for v, n in scale_rows if v is not None}
        out["options"] = [
            {"id": str(v), "value": v, "label": _scale_label(poll, v), "count": by_value.get(v, 0)}
            for v in range(poll.scale_min, poll.scale_max + 1)
        ]
        total = sum(v * n for v, n in by_value.items())
        out["mean"] = round(total / voters, 2) if voters else None
        out["scale"] = {
            "min": poll.scale_min,
            "max": poll.scale_max,
            "min_label": poll.min_label,
            "max_label": poll.max_label,
        }
    elif poll.kind == "wordcloud":
        word_rows = (
            await db.execute(
                select(col(BallotWord.word), func.count())
                .join(Ballot, col(Ballot.id) == col(BallotWord.ballot_id))
                .where(col(Ballot.poll_id) == poll.id)
                .group_by(col(BallotWord.word))
            )
        ).all()
        hidden = set(poll.hidden_words)
        words = sorted(((str(w), int(n)) for w, n in word_rows), key=lambda wn: (-wn[1], wn[0]))
        if moderator:
            out["words"] = [{"word": w, "count": n, "hidden": w in hidden} for w, n in words]
        else:
            out["words"] = [{"word": w, "count": n} for w, n in words if w not in hidden]
        out["hidden_words"] = sorted(hidden) if moderator else []
    else:
        answers = await db.scalars(
            select(Ballot).where(col(Ballot.poll_id) == poll.id).order_by(col(Ballot.id))
        )
        out["answers"] = [
            {"id": b.id, "text": b.text, "hidden": b.hidden}
            for b in answers
            if moderator or not b.hidden
        ]
    return out


def _scale_label(poll: Poll, value: int) -> str:
    if value == poll.scale_min and poll.min_label:
        return f"{value} ({poll.min_label})"
    if value == poll.scale_max and poll.max_label:
        return f"{value} ({poll.max_label})"
    return str(value)


async def results_for(
    db: AsyncSession, poll_id: Any, role: Role, participant: Participant | None
) -> dict[str, Any]:
    """The results as one member may see them (GET /api/v1/polls/{pid}/results)."""
    poll = await poll_by_id(db, poll_id)
    if participant is not None:
        await check_participant(db, poll, participant)
    if not results_visible(poll, role):
        if poll.status == "draft":
            raise forbidden("This poll has not been opened yet.")
        when = "once it closes" if poll.show_results == "closed" else "to the moderator only"
        raise forbidden(f"This poll's results are shown {when}.")
    return await results(db, poll, moderator=role == "moderator")


@summary("poll.results")
async def results_summary(db: AsyncSession, session_id: str, event: Event) -> dict[str, Any]:
    """A vote storm's one message per tick carries the totals as everyone may see them."""
    poll = await db.get(Poll, event.data.get("poll_id"))
    if poll is None or poll.session_id != session_id:
        return event.data
    found = await results(db, poll)
    # Every tick of a storm repeats the whole list: long text lists are cut, with their
    # full length given (GET .../results has them all).
    for key in ("answers", "words"):
        if len(found.get(key, ())) > SUMMARY_ITEMS:
            found[f"{key}_total"] = len(found[key])
            found[key] = found[key][:SUMMARY_ITEMS]
    return found


# -- creating and running a poll --------------------------------------------------------------


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


async def _changeable(db: AsyncSession, poll_id: Any) -> Poll:
    poll = await poll_by_id(db, poll_id)
    await writable(db, poll.session_id)
    return poll


async def _poll_locked(db: AsyncSession, poll_id: Any, lock: Lock) -> Poll:
    """The poll read afresh under a row lock, after its session's (see rooms/locks.py)."""
    poll = await locked(db, Poll, poll_id, lock) if isinstance(poll_id, str) and poll_id else None
    if poll is None:
        raise not_found("poll")
    return poll


async def open_poll(db: AsyncSession, poll_id: Any) -> Outcome[dict[str, Any]]:
    """Opens a draft, or reopens a closed poll; answers given before stay counted."""
    poll = await _changeable(db, poll_id)
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
        _results_event(poll),
    )
    return Outcome(poll.session_id, poll_json(poll, await options_of(db, poll.id)), events)


async def close_poll(db: AsyncSession, poll_id: Any) -> Outcome[dict[str, Any]]:
    """Closes a poll and unlinks every ballot from its voter: from now on it is anonymous.

    The poll's row is locked first: a vote under way (it holds the row shared) commits
    before the unlinking reads the ballots, and a later one finds the poll closed."""
    poll = await _changeable(db, poll_id)
    poll = await _poll_locked(db, poll.id, "update")
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
        _results_event(poll),
    )
    return Outcome(poll.session_id, poll_json(poll, await options_of(db, poll.id)), events)


@on_close
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


def told(poll: Poll) -> str:
    """Whose participants hear of a poll: its room's, or the plenary's (not those in rooms)."""
    return poll.room_id or PLENARY


def _results_event(poll: Poll) -> Event:
    """Of a burst of these within one tick only the last is published, with the totals."""
    return Event(
        "poll.results",
        {"poll_id": poll.id},
        key=f"poll.results:{poll.id}",
        room_id=told(poll),
        roles=None if poll.show_results == "live" else STAFF,
    )


# -- answering --------------------------------------------------------------------------------


async def vote(
    db: AsyncSession,
    poll_id: Any,
    participant_id: str,
    answer: dict[str, Any],
    *,
    in_session: str | None = None,
) -> Outcome[Voted]:
    """Stores one participant's answer, or replaces it where the poll allows a change.

    `in_session` is the participant's session where the caller has already read it (the
    API, from the token), sparing a query. Every refusal comes before anything is written,
    so a refused vote inside a batch leaves the batch's transaction untouched."""
    poll = await poll_by_id(db, poll_id)
    if in_session is None:
        participant = await db.get(Participant, participant_id)
        if participant is None:
            raise not_found("participant")
        in_session = participant.session_id
    if in_session != poll.session_id:
        raise forbidden("This poll is in another session.")
    await check_place(db, poll, participant_id)
    await writable(db, poll.session_id)
    poll = await _poll_locked(db, poll.id, "share")
    _check_open(poll)
    return await _store(db, poll, participant_id, await _read_answer(db, poll, answer))


async def _store(
    db: AsyncSession, poll: Poll, participant_id: str, marks: _Marks
) -> Outcome[Voted]:
    """Stores an answer to an open poll whose row this transaction holds shared: the
    participant's first, or in place of their earlier one where the poll allows a change.

    On PostgreSQL two answers of one participant may arrive at once on two instances. The
    claim of their voter row and the lock on their ballot put the two in order: the second
    finds the first's ballot and replaces its marks (or is refused) instead of adding its
    own beside them."""
    if await claim(db, PollVoter, {"poll_id": poll.id, "participant_id": participant_id}):
        first = Ballot(poll_id=poll.id, voter_id=participant_id, value=marks.value, text=marks.text)
        db.add(first)
        _add_marks(db, first.id, marks)
        await db.flush()  # one round of inserts: the unit of work puts ballots before marks
        return Outcome(poll.session_id, Voted(poll.id, False), (_results_event(poll),))
    ballot = await db.scalar(
        select(Ballot)
        .where(col(Ballot.poll_id) == poll.id, col(Ballot.voter_id) == participant_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if not poll.allow_change or ballot is None:
        why = (
            "this poll does not allow changing it"
            if ballot is not None or not poll.allow_change
            else "it was given before the poll was closed and "
            "can no longer be told apart from others"
        )
        raise Refused("conflict", f"You have already answered; {why}.")
    await db.execute(delete(BallotChoice).where(col(BallotChoice.ballot_id) == ballot.id))
    await db.execute(delete(BallotWord).where(col(BallotWord.ballot_id) == ballot.id))
    ballot.value, ballot.text, ballot.hidden = marks.value, marks.text, False
    db.add(ballot)
    _add_marks(db, ballot.id, marks)
    await db.flush()
    return Outcome(poll.session_id, Voted(poll.id, True), (_results_event(poll),))


# A poll's options never change once it is created, so every instance may keep their ids;
# a vote storm then checks choices without a query. Bounded: polls are few per session.
_OPTION_IDS: dict[str, frozenset[str]] = {}
OPTION_CACHE_MAX = 4096


async def _option_ids(db: AsyncSession, poll_id: str) -> frozenset[str]:
    found = _OPTION_IDS.get(poll_id)
    if found is None:
        rows = await db.scalars(
            select(col(PollOption.id)).where(col(PollOption.poll_id) == poll_id)
        )
        found = frozenset(rows)
        if len(_OPTION_IDS) >= OPTION_CACHE_MAX:
            _OPTION_IDS.clear()
        _OPTION_IDS[poll_id] = found
    return found


async def vote_many(
    db: AsyncSession, session_id: str, ballots: list[tuple[str, str, dict[str, Any]]]
) -> Outcome[list[Voted | Refused]]:
    """Several participants' answers in one transaction (a group commit): each is accepted
    or refused on its own, as `vote` would; the results event goes out once per poll.

    First answers, the whole of a storm, are checked and stored set-wise: one read of where
    everyone sits, one of who has answered already, one round of inserts for the batch.
    Answers to polls that allow a change are stored one by one, as `vote` stores them.

    The session's row is locked once and each poll's once, for the whole batch. Answers
    are taken in the order of poll and participant (one participant's in the order they
    came): two instances' batches then lock the same voters' rows in the same order, and
    never each wait for the other."""
    done: list[Voted | Refused | None] = [None] * len(ballots)
    events: dict[str, Event] = {}
    await writable(db, session_id)  # before the polls' locks (rooms/locks.py)
    pids = sorted({pid for _, pid, _ in ballots})
    seats = await place_many(db, session_id, pids)
    answered: dict[str, set[str]] = {}
    fresh: set[tuple[str, str]] = set()
    rows = _Rows()
    polls: dict[str, Poll] = {}  # a storm's batch answers one poll thousands of times
    order = sorted(range(len(ballots)), key=lambda i: (str(ballots[i][0]), ballots[i][1]))
    for i in order:
        poll_id, participant_id, answer = ballots[i]
        try:
            poll = polls.get(poll_id) or await _poll_locked(db, poll_id, "share")
            polls[poll.id] = poll
            _check_answerable(poll, session_id, seats.get(participant_id))
            _check_open(poll)
            marks = await _read_answer(db, poll, answer)
            if poll.allow_change:
                outcome = await _store(db, poll, participant_id, marks)
                done[i] = outcome.value
                events.update((e.key or e.type, e) for e in outcome.events)
                continue
            if poll.id not in answered:
                answered[poll.id] = await _voters_among(db, poll.id, pids)
            if participant_id in answered[poll.id] or (poll.id, participant_id) in fresh:
                raise Refused(
                    "conflict", "You have already answered; this poll does not allow changing it."
                )
        except Refused as exc:
            done[i] = exc
            continue
        fresh.add((poll.id, participant_id))
        rows.add(poll.id, participant_id, marks)
        done[i] = Voted(poll.id, False)
        event = _results_event(poll)
        events[event.key or event.type] = event
    # One round of inserts for the batch; a constraint lost to another instance fails it
    # whole, and the caller retries each answer on its own.
    await rows.insert(db)
    await db.flush()
    return Outcome(session_id, [d for d in done if d is not None], tuple(events.values()))


class _Rows:
    """A batch's first answers as plain rows, inserted with one statement per table: a
    storm's thousands of ballots need none of the ORM's bookkeeping."""

    def __init__(self) -> None:
        self.voters: list[dict[str, Any]] = []
        self.ballots: list[dict[str, Any]] = []
        self.choices: list[dict[str, Any]] = []
        self.words: list[dict[str, Any]] = []

    def add(self, poll_id: str, participant_id: str, marks: _Marks) -> None:
        ballot_id = new_id()
        self.voters.append({"poll_id": poll_id, "participant_id": participant_id})
        self.ballots.append(
            {
                "id": ballot_id,
                "poll_id": poll_id,
                "voter_id": participant_id,
                "value": marks.value,
                "text": marks.text,
                "hidden": False,
            }
        )
        self.choices.extend(
            {"ballot_id": ballot_id, "option_id": oid, "rank": rank}
            for rank, oid in enumerate(marks.choices)
        )
        self.words.extend({"ballot_id": ballot_id, "word": w} for w in marks.words)

    async def insert(self, db: AsyncSession) -> None:
        await db.flush()  # what the ORM holds goes first (the changed answers of the batch)
        conn = await db.connection()
        for model, rows in (
            (PollVoter, self.voters),
            (Ballot, self.ballots),
            (BallotChoice, self.choices),
            (BallotWord, self.words),
        ):
            if rows:
                await conn.execute(insert(model), rows)


def _check_answerable(poll: Poll, session_id: str, seat: str | None) -> None:
    """`vote`'s checks of session, place and state, with the seat already read."""
    if session_id != poll.session_id:
        raise forbidden("This poll is in another session.")
    if seat != poll.room_id:
        where = "the plenary" if poll.room_id is None else "another breakout room"
        raise forbidden(f"This poll belongs to {where}; only the people there can answer it.")


def _check_open(poll: Poll) -> None:
    if poll.status != "open":
        state = "has not been opened yet" if poll.status == "draft" else "is closed"
        raise Refused("poll_closed", f"This poll {state}; answers are not taken now.")


async def _voters_among(db: AsyncSession, poll_id: str, participant_ids: list[str]) -> set[str]:
    conn = await db.connection()
    rows = await conn.scalars(
        select(col(PollVoter.participant_id)).where(
            col(PollVoter.poll_id) == poll_id, col(PollVoter.participant_id).in_(participant_ids)
        )
    )
    return set(rows)


@dataclass(frozen=True)
class _Marks:
    value: int | None = None
    text: str | None = None
    choices: tuple[str, ...] = ()
    words: tuple[str, ...] = ()


def _add_marks(db: AsyncSession, ballot_id: str, marks: _Marks) -> None:
    db.add_all(
        [
            BallotChoice(ballot_id=ballot_id, option_id=oid, rank=i)
            for i, oid in enumerate(marks.choices)
        ]
    )
    db.add_all([BallotWord(ballot_id=ballot_id, word=w) for w in marks.words])


async def _read_answer(db: AsyncSession, poll: Poll, answer: dict[str, Any]) -> _Marks:
    if poll.kind in WITH_OPTIONS:
        return _Marks(choices=await _read_choices(db, poll, answer.get("choices")))
    if poll.kind == "scale":
        value = answer.get("value")
        assert poll.scale_min is not None and poll.scale_max is not None
        if isinstance(value, bool) or not isinstance(value, int):
            raise invalid("value must be a whole number on the poll's scale.")
        if not poll.scale_min <= value <= poll.scale_max:
            raise invalid(f"value must be from {poll.scale_min} to {poll.scale_max}.")
        return _Marks(value=value)
    if poll.kind == "wordcloud":
        return _Marks(words=read_words(answer.get("words")))
    return _Marks(text=clean(answer.get("text"), "The answer", ANSWER_MAX, multiline=True))


async def _read_choices(db: AsyncSession, poll: Poll, raw: Any) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(c, str) for c in raw):
        raise invalid("choices must be a list of option ids.")
    if len(raw) > OPTIONS_MAX:
        raise invalid(f"choices lists at most {OPTIONS_MAX} options.")
    if len(set(raw)) != len(raw):
        raise invalid("choices names the same option twice.")
    ids = await _option_ids(db, poll.id)
    if not set(raw) <= ids:
        raise invalid("choices names an option that is not one of this poll's.")
    if poll.kind == "single" and len(raw) != 1:
        raise invalid("Choose exactly one option.")
    if poll.kind == "multiple":
        most = poll.max_choices or len(ids)
        if not 1 <= len(raw) <= most:
            raise invalid(f"Choose from 1 to {most} options.")
    if poll.kind == "ranking" and set(raw) != ids:
        raise invalid("A ranking lists every option once, best first.")
    return tuple(raw)


_EDGE_PUNCTUATION = re.compile(r"^[\W_]+|[\W_]+$")


def normalise_word(raw: Any) -> str:
    """One word-cloud entry as it is counted: "Tillit" and " tillit! " are the same word."""
    text = clean(raw, "A word", WORD_MAX)
    text = _EDGE_PUNCTUATION.sub("", unicodedata.normalize("NFC", text.casefold()))
    if not text:
        raise invalid("A word must have at least one letter or digit.")
    return text


def read_words(raw: Any) -> tuple[str, ...]:
    if not isinstance(raw, list) or not 1 <= len(raw) <= WORDS_MAX:
        raise invalid(f"words must be a list of 1 to {WORDS_MAX} entries.")
    return tuple(dict.fromkeys(normalise_word(w) for w in raw))


# -- moderating answers ---------------------------------------------------------------------


async def hide_answer(
    db: AsyncSession, poll_id: Any, answer_id: Any, hidden: Any = True
) -> Outcome[dict[str, Any]]:
    """Hides an open answer from participants and the big screen (or shows it again)."""
    poll = await _changeable(db, poll_id)
    if poll.kind != "open":
        raise invalid("Only open answers can be hidden one by one.")
    if not isinstance(hidden, bool):
        raise invalid("hidden must be true or false.")
    ballot = await db.get(Ballot, answer_id) if isinstance(answer_id, str) else None
    if ballot is None or ballot.poll_id != poll.id:
        raise not_found("answer in this poll")
    ballot.hidden = hidden
    db.add(ballot)
    await db.flush()  # its row lock now, before the version bump's (rooms/locks.py)
    return Outcome(
        poll.session_id,
        {"id": ballot.id, "text": ballot.text, "hidden": hidden},
        (
            Event("poll.hidden", {"poll_id": poll.id}, room_id=told(poll)),
            _results_event(poll),
        ),
    )


async def hide_word(
    db: AsyncSession, poll_id: Any, word: Any, hidden: Any = True
) -> Outcome[list[str]]:
    """Adds a word to (or takes it off) the poll's list of words the cloud never shows."""
    poll = await _changeable(db, poll_id)
    if poll.kind != "wordcloud":
        raise invalid("Only a word cloud has hidden words.")
    if not isinstance(hidden, bool):
        raise invalid("hidden must be true or false.")
    normal = normalise_word(word)
    words = [w for w in poll.hidden_words if w != normal]
    if hidden:
        words.append(normal)
    if len(words) > HIDDEN_WORDS_MAX:
        raise invalid(f"At most {HIDDEN_WORDS_MAX} words can be hidden.")
    poll.hidden_words = sorted(words)
    db.add(poll)
    await db.flush()  # its row lock now, before the version bump's (rooms/locks.py)
    return Outcome(
        poll.session_id,
        poll.hidden_words,
        (
            Event("poll.hidden", {"poll_id": poll.id}, room_id=told(poll)),
            _results_event(poll),
        ),
    )


# -- live panels ----------------------------------------------------------------------------

POLL_EVENTS = {"poll.created", "poll.opened", "poll.closed", "poll.hidden"}


async def _shown_polls(db: AsyncSession, session_id: str, room_id: str | None) -> list[Poll]:
    """The polls of one place that are not drafts: open ones first, then the newest closed."""
    rows = await db.scalars(
        select(Poll).where(
            col(Poll.session_id) == session_id,
            col(Poll.status) != "draft",
            col(Poll.room_id).is_(None) if room_id is None else col(Poll.room_id) == room_id,
        )
    )
    found = list(rows)
    found.sort(key=lambda p: (p.status != "open", -(p.opened_at or p.created_at).timestamp()))
    return found[:5]


async def _options_by_poll(db: AsyncSession, polls: list[Poll]) -> dict[str, list[PollOption]]:
    return {p.id: await options_of(db, p.id) for p in polls}


@panel(
    "polls",
    "polls/_polls.html",
    roles={"participant"},
    triggers={"poll.opened", "poll.closed"},
    personal=True,
)
async def participant_polls(db: AsyncSession, viewer: Viewer) -> dict[str, Any]:
    """The poll forms, and what this participant answered while the poll is open."""
    shown = await _shown_polls(db, viewer.audience.session_id, viewer.audience.room_id)
    pid = viewer.participant_id
    mine: dict[str, dict[str, Any]] = {}
    answered: set[str] = set()
    if pid is not None and shown:
        ids = [p.id for p in shown]
        answered = set(
            await db.scalars(
                select(col(PollVoter.poll_id)).where(
                    col(PollVoter.participant_id) == pid,
                    col(PollVoter.poll_id).in_(ids),
                )
            )
        )
        ballots = await db.scalars(
            select(Ballot).where(col(Ballot.voter_id) == pid, col(Ballot.poll_id).in_(ids))
        )
        for b in ballots:
            mine[b.poll_id] = await _answer_of(db, b)
    return {
        "polls": shown,
        "options": await _options_by_poll(db, shown),
        "mine": mine,
        "answered": answered,
    }


async def _answer_of(db: AsyncSession, ballot: Ballot) -> dict[str, Any]:
    choices = list(
        await db.scalars(
            select(col(BallotChoice.option_id))
            .where(col(BallotChoice.ballot_id) == ballot.id)
            .order_by(col(BallotChoice.rank))
        )
    )
    words = list(
        await db.scalars(select(col(BallotWord.word)).where(col(BallotWord.ballot_id) == ballot.id))
    )
    return {"choices": choices, "value": ballot.value, "text": ballot.text, "words": words}


@panel(
    "poll-results",
    "polls/_results.html",
    roles={"participant"},
    triggers={"poll.results", *POLL_EVENTS},
    json=True,
)
async def participant_results(db: AsyncSession, viewer: Viewer) -> dict[str, Any]:
    shown = await _shown_polls(db, viewer.audience.session_id, viewer.audience.room_id)
    listed = [
        {"poll": poll_brief(p), "results": await results(db, p)}
        for p in shown
        if results_visible(p, "participant")
    ]
    return {"shown": listed}


@panel(
    "poll-control",
    "polls/_control.html",
    roles={"moderator"},
    triggers={"poll.results", *POLL_EVENTS},
    json=True,
)
async def moderator_polls(db: AsyncSession, viewer: Viewer) -> dict[str, Any]:
    polls = await polls_of(db, viewer.audience.session_id)
    polls.reverse()
    listed = [
        {"poll": poll_brief(p), "results": await results(db, p, moderator=True)} for p in polls
    ]
    return {"listed": listed}


@panel("poll-create", "polls/_create.html", roles={"moderator"}, triggers={"poll.created"})
async def create_form(db: AsyncSession, viewer: Viewer) -> dict[str, Any]:
    return {"kinds": KINDS}


@panel(
    "poll-presenter",
    "polls/_presenter.html",
    roles={"presenter"},
    triggers={"poll.results", *POLL_EVENTS},
    json=True,
)
async def presenter_poll(db: AsyncSession, viewer: Viewer) -> dict[str, Any]:
    """The big screen shows the plenary's current poll: the open one, else the last closed."""
    shown = await _shown_polls(db, viewer.audience.session_id, None)
    if not shown:
        return {"poll": None, "results": None, "visible": False}
    poll = shown[0]
    return {
        "poll": poll_brief(poll),
        "results": await results(db, poll),
        "visible": results_visible(poll, "presenter"),
    }


# -- socket messages ------------------------------------------------------------------------


def answer_from_form(message: dict[str, Any]) -> dict[str, Any]:
    """A browser form's fields as the API's answer: form values arrive as text."""

    def listed(key: str) -> list[Any]:
        raw = message.get(key)
        items = raw if isinstance(raw, list) else [] if raw is None else [raw]
        return [i for i in items if not (isinstance(i, str) and not i.strip())]

    answer: dict[str, Any] = {}
    if "choices" in message:
        answer["choices"] = listed("choices")
    ranks = {k[5:]: v for k, v in message.items() if k.startswith("rank_")}
    if ranks:
        try:
            places = {oid: int(v) for oid, v in ranks.items()}
        except (TypeError, ValueError):
            raise invalid("Give every option a place.") from None
        if len(set(places.values())) != len(places):
            raise invalid("Give every option a different place.")
        answer["choices"] = sorted(places, key=lambda oid: places[oid])
    if "value" in message:
        value = message["value"]
        try:
            answer["value"] = int(value) if isinstance(value, str) else value
        except ValueError:
            raise invalid("Choose a value on the scale.") from None
    if "words" in message:
        answer["words"] = listed("words")
    if "text" in message:
        answer["text"] = message["text"]
    return answer


@action("poll.vote", roles={"participant"}, reply="polls")
async def vote_action(db: AsyncSession, actor: Actor, message: dict[str, Any]) -> Outcome[Any]:
    if actor.participant_id is None:
        raise forbidden()
    poll = await poll_by_id(db, message.get("poll_id"))
    if poll.session_id != actor.session_id:
        raise forbidden("This poll is in another session.")
    return await vote(
        db, poll.id, actor.participant_id, answer_from_form(message), in_session=actor.session_id
    )


async def _own_poll(db: AsyncSession, actor: Actor, poll_id: Any) -> Poll:
    poll = await poll_by_id(db, poll_id)
    if poll.session_id != actor.session_id:
        raise forbidden("This poll is in another session.")
    return poll


@action("poll.create", roles={"moderator"})
async def create_action(db: AsyncSession, actor: Actor, message: dict[str, Any]) -> Outcome[Any]:
    """The moderator's form: options one a line, scale ends as numbers, checkboxes as "on"."""
    await session_by_id(db, actor.session_id)
    kind = message.get("kind")
    body: dict[str, Any] = {
        "question": message.get("question"),
        "kind": kind,
        "show_results": message.get("show_results") or "live",
        "allow_change": message.get("allow_change") in ("on", "true", True),
        "room_id": (message.get("room_id") or "").strip() or None
        if isinstance(message.get("room_id") or "", str)
        else message.get("room_id"),
    }
    if kind in WITH_OPTIONS:
        text = message.get("options")
        if not isinstance(text, str):
            raise invalid("Write the options one a line.")
        body["options"] = [line for line in text.splitlines() if line.strip()]
    if kind == "multiple" and str(message.get("max_choices") or "").strip():
        body["max_choices"] = _whole(message.get("max_choices"), "max_choices")
    if kind == "scale":
        body["scale"] = {
            "min": _whole(message.get("scale_min") or 1, "The scale's min"),
            "max": _whole(message.get("scale_max") or 5, "The scale's max"),
            "min_label": message.get("min_label") or None,
            "max_label": message.get("max_label") or None,
        }
    return await create_poll(db, actor.session_id, body)


def _whole(raw: Any, what: str) -> int:
    try:
        return int(str(raw).strip())
    except ValueError:
        raise invalid(f"{what} must be a whole number.") from None


@action("poll.open", roles={"moderator"})
async def open_action(db: AsyncSession, actor: Actor, message: dict[str, Any]) -> Outcome[Any]:
    return await open_poll(db, (await _own_poll(db, actor, message.get("poll_id"))).id)


@action("poll.close", roles={"moderator"})
async def close_action(db: AsyncSession, actor: Actor, message: dict[str, Any]) -> Outcome[Any]:
    return await close_poll(db, (await _own_poll(db, actor, message.get("poll_id"))).id)


@action("poll.hide_answer", roles={"moderator"})
async def hide_answer_action(
    db: AsyncSession, actor: Actor, message: dict[str, Any]
) -> Outcome[Any]:
    poll = await _own_poll(db, actor, message.get("poll_id"))
    return await hide_answer(
        db, poll.id, message.get("answer_id"), message.get("hidden", "true") in ("true", True)
    )


@action("poll.hide_word", roles={"moderator"})
async def hide_word_action(db: AsyncSession, actor: Actor, message: dict[str, Any]) -> Outcome[Any]:
    poll = await _own_poll(db, actor, message.get("poll_id"))
    return await hide_word(
        db, poll.id, message.get("word"), message.get("hidden", "true") in ("true", True)
    )
