"""Answering a poll: one answer per participant, alone or in a storm's batch."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from rooms.breakout import rooms_of_people
from rooms.errors import Refused, forbidden, invalid, not_found
from rooms.locks import claim
from rooms.models import Event, Outcome, Participant, new_id
from rooms.polls.reading import check_place, poll_by_id, poll_locked
from rooms.polls.tables import (
    ANSWER_MAX,
    OPTIONS_MAX,
    WITH_OPTIONS,
    WORD_MAX,
    WORDS_MAX,
    Ballot,
    BallotChoice,
    BallotWord,
    Poll,
    PollOption,
    PollVoter,
)
from rooms.polls.values import Voted, results_event
from rooms.sessions import writable
from rooms.text import clean


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
    API, from the token); the participant is read in any case, for the answers to the
    session's questions that the ballot keeps. Every refusal comes before anything is written,
    so a refused vote inside a batch leaves the batch's transaction untouched."""
    poll = await poll_by_id(db, poll_id)
    participant = await db.get(Participant, participant_id)
    if participant is None:
        raise not_found("participant")
    if (in_session or participant.session_id) != poll.session_id:
        raise forbidden("This poll is in another session.")
    await check_place(db, poll, participant_id)
    await writable(db, poll.session_id)
    poll = await poll_locked(db, poll.id, "share")
    _check_open(poll)
    marks = await _read_answer(db, poll, answer)
    return await _store(db, poll, participant_id, marks, dict(participant.attributes or {}))


async def _store(
    db: AsyncSession, poll: Poll, participant_id: str, marks: _Marks, answers: dict[str, str]
) -> Outcome[Voted]:
    """Stores an answer to an open poll whose row this transaction holds shared: the
    participant's first, or in place of their earlier one where the poll allows a change.
    The ballot keeps the voter's `answers` to the session's questions as they are now.

    On PostgreSQL two answers of one participant may arrive at once on two instances. The
    claim of their voter row and the lock on their ballot put the two in order: the second
    finds the first's ballot and replaces its marks (or is refused) instead of adding its
    own beside them."""
    if await claim(db, PollVoter, {"poll_id": poll.id, "participant_id": participant_id}):
        first = Ballot(
            poll_id=poll.id,
            voter_id=participant_id,
            value=marks.value,
            text=marks.text,
            attributes=answers,
        )
        db.add(first)
        _add_marks(db, first.id, marks)
        await db.flush()  # one round of inserts: the unit of work puts ballots before marks
        return Outcome(poll.session_id, Voted(poll.id, False), (results_event(poll),))
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
    ballot.attributes = answers
    db.add(ballot)
    _add_marks(db, ballot.id, marks)
    await db.flush()
    return Outcome(poll.session_id, Voted(poll.id, True), (results_event(poll),))


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
    seats = await rooms_of_people(db, session_id, pids)
    answers = await _answers_of(db, pids)
    answered: dict[str, set[str]] = {}
    fresh: set[tuple[str, str]] = set()
    rows = _Rows()
    polls: dict[str, Poll] = {}  # a storm's batch answers one poll thousands of times
    order = sorted(range(len(ballots)), key=lambda i: (str(ballots[i][0]), ballots[i][1]))
    for i in order:
        poll_id, participant_id, answer = ballots[i]
        try:
            poll = polls.get(poll_id) or await poll_locked(db, poll_id, "share")
            polls[poll.id] = poll
            _check_answerable(poll, session_id, seats.get(participant_id))
            _check_open(poll)
            marks = await _read_answer(db, poll, answer)
            if poll.allow_change:
                outcome = await _store(
                    db, poll, participant_id, marks, answers.get(participant_id, {})
                )
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
        rows.add(poll.id, participant_id, marks, answers.get(participant_id, {}))
        done[i] = Voted(poll.id, False)
        event = results_event(poll)
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

    def add(
        self, poll_id: str, participant_id: str, marks: _Marks, answers: dict[str, str]
    ) -> None:
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
                "attributes": answers,
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


async def _answers_of(db: AsyncSession, participant_ids: list[str]) -> dict[str, dict[str, str]]:
    """The batch's voters' answers to the session's questions, read once for the batch."""
    conn = await db.connection()
    rows = await conn.execute(
        select(col(Participant.id), col(Participant.attributes)).where(
            col(Participant.id).in_(participant_ids)
        )
    )
    return {pid: dict(attributes or {}) for pid, attributes in rows}


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
