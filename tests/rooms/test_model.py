"""Polls, boards and breakout rooms against a plain-Python model of Samla, step by step.

Hypothesis draws a run of actions (vote, a batch of votes, change an answer, open, close and
reopen a poll, post and upvote notes, collect room notes onto the plenary board, open rooms,
move people, close rooms, join, close the session). Each step goes through `Samla.change`,
the one write seam: one committed transaction, its version raised with it. The model says
what each step must answer (done, or refused with which code), and after every step the
store must agree with it: results, anonymity, upvotes, who is where, collected notes, the
session's versions. It runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from live.services import Samla
from live.store import Store, migrate
from rooms import boards, breakout, lifecycle, polls, sessions
from rooms.errors import Refused
from rooms.models import Event, Outcome, Participant
from tests.conftest import Postgres

T = TypeVar("T")

# Bounded so that one store's run takes well under a minute on a busy two-core machine.
RUNS = settings(
    max_examples=30,
    stateful_step_count=30,
    deadline=None,
    database=None,  # nothing written into the shared checkout; a failure prints its steps
    suppress_health_check=[HealthCheck.too_slow],
)
# A closed session refuses everything: it may close only once the run has done enough.
CLOSE_AFTER = 15
PEOPLE_AT_START = 4
PEOPLE_MAX = 7
OPTIONS = ["Mer tid", "Mer pengar", "Tydligare mandat"]


# -- the model --------------------------------------------------------------------------------


@dataclass
class PollModel:
    id: str
    kind: str
    allow_change: bool
    options: list[str]
    status: str = "draft"
    ballots: list[tuple[str, ...]] = field(default_factory=list)
    linked: dict[str, int] = field(default_factory=dict)  # voter -> ballot, while open
    voters: set[str] = field(default_factory=set)  # who has answered, ever

    def counts(self) -> dict[str, int]:
        counted = Counter(choice for ballot in self.ballots for choice in ballot)
        return {o: counted.get(o, 0) for o in self.options}


@dataclass
class NoteModel:
    id: str
    board_id: str
    upvoters: set[str] = field(default_factory=set)


class Recorder:
    """Stands in for the hub: keeps what `Samla.change` hands over after each commit."""

    def __init__(self) -> None:
        self.published: list[tuple[str, int, tuple[Event, ...]]] = []

    def publish(self, session_id: str, first: int, events: tuple[Event, ...]) -> None:
        self.published.append((session_id, first, events))


class SamlaModel(RuleBasedStateMachine):
    """One session per run, in a store shared by the runs of one test (sessions are apart)."""

    url = ""  # set by each test's subclass

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.store = Store(self.url)
        self.hub = Recorder()
        # The seam itself; nothing but the store and the hub's publish is used by change().
        self.samla = Samla(None, self.store, self.hub, None, None)  # type: ignore[arg-type]
        self.texts = itertools.count()
        self.closed = False
        self.people: list[str] = []
        self.location: dict[str, str | None] = {}
        self.rooms: dict[str, bool] = {}  # room id -> open
        self.room_boards: dict[str, str] = {}  # board id -> its room
        self.round_open = False
        self.assignment = ""
        self.notes: dict[str, NoteModel] = {}
        self.collected: dict[str, str] = {}  # room note -> its copy on the plenary board
        self.session_id, self.code = self.run(self._start())
        for _ in range(PEOPLE_AT_START):
            self._join()
        self.polls = [
            self._poll("single", allow_change=True),
            self._poll("single", allow_change=False),
            self._poll("multiple", allow_change=False, max_choices=2),
        ]
        for poll in self.polls[:2]:  # two open from the start, one a draft
            self.change(lambda db, poll_id=poll.id: polls.open_poll(db, poll_id))
            poll.status = "open"
        self.steps = 0  # checked after, so far
        made = self.change(
            lambda db: boards.create_board(
                db, self.session_id, title="Storgruppen", columns=["Idéer", "Frågor"]
            )
        )
        self.plenary = made.id

    def teardown(self) -> None:
        self.run(self.store.close())
        self.loop.close()

    # -- running steps ------------------------------------------------------------------------

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(work)

    def change(self, action: Callable[[AsyncSession], Awaitable[Outcome[T]]]) -> T:
        return self.run(self.samla.change(action))

    def attempt(
        self, expected: str | None, action: Callable[[AsyncSession], Awaitable[Outcome[T]]]
    ) -> T | None:
        """Runs one step; `expected` is the refusal's code, or None when it must be done."""
        try:
            value = self.change(action)
        except Refused as refused:
            assert refused.code == expected, (expected, refused.code, refused.message)
            return None
        assert expected is None, f"expected a refusal ({expected}), but it was done"
        return value

    async def _start(self) -> tuple[str, str]:
        created = await self.samla.change(
            lambda db: sessions.create_session(db, title="Modellen", organiser_id=None)
        )
        return created.session.id, created.session.code

    def _join(self) -> None:
        before = len(self.hub.published)
        joined = self.attempt(
            "session_closed" if self.closed else None,
            lambda db: lifecycle.join(db, code=self.code),
        )
        if joined is None:
            return
        pid = joined.participant.id
        self.people.append(pid)
        self.location[pid] = None
        # A late joiner goes into a room when the round places people itself.
        placed = [
            e.data["room_id"]
            for _, _, events in self.hub.published[before:]
            for e in events
            if e.type == "rooms.placed"
        ]
        if self.round_open and self.assignment == "random":
            assert len(placed) == 1 and self.rooms.get(placed[0]) is True, placed
            self.location[pid] = placed[0]
        else:
            assert placed == []

    def _poll(self, kind: str, allow_change: bool, max_choices: int | None = None) -> PollModel:
        body: dict[str, Any] = {
            "question": f"Fråga {next(self.texts)}",
            "kind": kind,
            "options": OPTIONS,
            "allow_change": allow_change,
        }
        if max_choices is not None:
            body["max_choices"] = max_choices
        made = self.change(lambda db: polls.create_poll(db, self.session_id, body))
        return PollModel(made["id"], kind, allow_change, [o["id"] for o in made["options"]])

    def _participant(self, index: int) -> str:
        return self.people[index % len(self.people)]

    # -- polls --------------------------------------------------------------------------------

    def _answer(self, poll: PollModel, picks: list[int]) -> tuple[str, ...]:
        """Option ids from the drawn picks: none (refused as invalid), one, or a few."""
        chosen = list(dict.fromkeys(poll.options[i % len(poll.options)] for i in picks))
        if poll.kind == "single":
            return tuple(chosen[:1])
        return tuple(chosen[:2])

    def _expect_vote(self, poll: PollModel, pid: str, answer: tuple[str, ...]) -> str | None:
        """The refusal `vote` must give, checked in its order, or None; the model follows."""
        if self.location[pid] is not None:
            return "forbidden"  # every poll here is the plenary's
        if self.closed:
            return "session_closed"
        if poll.status != "open":
            return "poll_closed"
        if not answer:
            return "invalid"
        if pid in poll.voters:
            if not poll.allow_change or pid not in poll.linked:
                return "conflict"
            poll.ballots[poll.linked[pid]] = answer
            return None
        poll.voters.add(pid)
        poll.linked[pid] = len(poll.ballots)
        poll.ballots.append(answer)
        return None

    @rule(
        who=st.integers(0, PEOPLE_MAX),
        which=st.integers(0, 2),
        picks=st.lists(st.integers(0, 5), max_size=3),
    )
    def vote(self, who: int, which: int, picks: list[int]) -> None:
        poll, pid = self.polls[which], self._participant(who)
        answer = self._answer(poll, picks)
        replacing = pid in poll.linked  # only a changeable poll's voter gets this far
        expected = self._expect_vote(poll, pid, answer)
        voted = self.attempt(
            expected, lambda db: polls.vote(db, poll.id, pid, {"choices": list(answer)})
        )
        if voted is not None:
            assert voted.replaced == replacing

    @rule(
        batch=st.lists(
            st.tuples(
                st.integers(0, PEOPLE_MAX),
                st.integers(0, 2),
                st.lists(st.integers(0, 5), max_size=3),
            ),
            min_size=1,
            max_size=5,
        )
    )
    def vote_as_a_batch(self, batch: list[tuple[int, int, list[int]]]) -> None:
        """Answers gathered in one tick, committed together: each accepted or refused alone."""
        ballots = []
        expected: list[str | None] = []
        for who, which, picks in batch:
            poll, pid = self.polls[which], self._participant(who)
            answer = self._answer(poll, picks)
            ballots.append((poll.id, pid, {"choices": list(answer)}))
            expected.append(self._expect_vote(poll, pid, answer))
        if self.closed:
            # A closed session refuses the batch as a whole or each answer in it.
            try:
                done = self.change(lambda db: polls.vote_many(db, self.session_id, ballots))
            except Refused as refused:
                assert refused.code == "session_closed"
                return
        else:
            done = self.change(lambda db: polls.vote_many(db, self.session_id, ballots))
        got = [d.code if isinstance(d, Refused) else None for d in done]
        assert got == expected, (got, expected)

    @rule(which=st.integers(0, 50), picks=st.lists(st.integers(0, 5), min_size=1, max_size=1))
    def change_answer(self, which: int, picks: list[int]) -> None:
        """Someone who answered the changeable poll while it was open answers again."""
        poll = self.polls[0]
        if not poll.linked:
            return
        pid = sorted(poll.linked)[which % len(poll.linked)]
        answer = self._answer(poll, picks)
        expected = self._expect_vote(poll, pid, answer)
        voted = self.attempt(
            expected, lambda db: polls.vote(db, poll.id, pid, {"choices": list(answer)})
        )
        if voted is not None:
            assert voted.replaced

    @rule(which=st.integers(0, 2))
    def open_poll(self, which: int) -> None:
        poll = self.polls[which]
        if self.attempt(
            "session_closed" if self.closed else None, lambda db: polls.open_poll(db, poll.id)
        ):
            poll.status = "open"

    @rule(which=st.integers(0, 2))
    def close_poll(self, which: int) -> None:
        poll = self.polls[which]
        if self.attempt(
            "session_closed" if self.closed else None, lambda db: polls.close_poll(db, poll.id)
        ):
            poll.status = "closed"
            poll.linked.clear()

    # -- boards -------------------------------------------------------------------------------

    def _writable_boards(self, pid: str, anywhere: bool) -> list[str]:
        """The boards someone may write on (the plenary's, their room's), or every board."""
        found = [*self.room_boards, self.plenary]  # rooms first: drawn most
        if anywhere:
            return found
        return [
            b for b in found if self.room_boards.get(b, self.location[pid]) == self.location[pid]
        ]

    @rule(
        who=st.integers(0, PEOPLE_MAX),
        where=st.integers(0, 10),
        column=st.integers(0, 1),
        anywhere=st.booleans(),
    )
    def add_note(self, who: int, where: int, column: int, anywhere: bool) -> None:
        pid = self._participant(who)
        board_ids = self._writable_boards(pid, anywhere)
        board_id = board_ids[where % len(board_ids)]
        room = self.room_boards.get(board_id)
        if self.closed:
            expected: str | None = "session_closed"
        elif room is not None and self.location[pid] != room:
            expected = "forbidden"
        else:
            expected = None
        text = f"Lapp {next(self.texts)}"

        async def post(db: AsyncSession) -> Outcome[tuple[dict[str, Any], bool]]:
            participant = await db.get(Participant, pid)
            assert participant is not None
            board = await boards.board_by_id(db, board_id)
            chosen = board.columns[column % len(board.columns)]["id"]
            return await boards.add_note(db, participant, board_id, text=text, column=chosen)

        added = self.attempt(expected, post)
        if added is not None:
            note, new = added
            assert new and note["text"] == text
            self.notes[note["id"]] = NoteModel(note["id"], board_id)

    @rule(
        who=st.integers(0, PEOPLE_MAX),
        which=st.integers(0, 50),
        take_back=st.booleans(),
        anywhere=st.booleans(),
    )
    def upvote(self, who: int, which: int, take_back: bool, anywhere: bool) -> None:
        pid = self._participant(who)
        where = self._writable_boards(pid, anywhere)
        notes = [n for n in self.notes.values() if n.board_id in where]
        if not notes:
            return
        note = notes[which % len(notes)]
        room = self.room_boards.get(note.board_id)
        if self.closed:
            expected: str | None = "session_closed"
        elif room is not None and self.location[pid] != room:
            expected = "forbidden"
        else:
            expected = None

        async def press(db: AsyncSession) -> Outcome[int]:
            participant = await db.get(Participant, pid)
            assert participant is not None
            return await boards.upvote_note(db, participant, note.id, take_back=take_back)

        count = self.attempt(expected, press)
        if expected is None:
            if take_back:
                note.upvoters.discard(pid)
            else:
                note.upvoters.add(pid)
            assert count == len(note.upvoters)

    @rule(which=st.lists(st.integers(0, 50), min_size=1, max_size=4), anywhere=st.booleans())
    def collect(self, which: list[int], anywhere: bool) -> None:
        """The moderator copies chosen notes onto the plenary board, each source once."""
        listed = [n.id for n in self.notes.values() if anywhere or n.board_id != self.plenary]
        # Notes collected before come first: drawn often, so collecting again is tried.
        listed.sort(key=lambda n: n not in self.collected)
        if not listed:
            return
        chosen = list(dict.fromkeys(listed[i % len(listed)] for i in which))
        if self.closed:
            expected: str | None = "session_closed"
        elif any(self.notes[n].board_id == self.plenary for n in chosen):
            expected = "invalid"  # already on this board: the whole step is refused
        else:
            expected = None
        copies = self.attempt(
            expected, lambda db: boards.collect_notes(db, self.session_id, self.plenary, chosen)
        )
        if copies is None:
            return
        assert len(copies) == len(chosen)
        for source, copy in zip(chosen, copies, strict=True):
            if source in self.collected:
                assert copy["id"] == self.collected[source]  # the first copy, not another
            else:
                self.collected[source] = copy["id"]
                self.notes[copy["id"]] = NoteModel(copy["id"], self.plenary)

    # -- breakout rooms -----------------------------------------------------------------------

    @rule(
        count=st.integers(1, 3),
        assignment=st.sampled_from(["random", "manual"]),
        seed=st.integers(0, 2**16),
    )
    def open_rooms(self, count: int, assignment: str, seed: int) -> None:
        if self.closed:
            expected: str | None = "session_closed"
        elif self.round_open:
            expected = "conflict"
        else:
            expected = None

        async def open_with_boards(
            db: AsyncSession,
        ) -> Outcome[tuple[breakout.RoundView, list[str]]]:
            opened = await breakout.open_rooms(
                db, self.session_id, count=count, assignment=assignment, rng=random.Random(seed)
            )
            events = list(opened.events)
            made = []
            for room in opened.value.rooms:
                board = await boards.create_board(
                    db,
                    self.session_id,
                    title=f"Rum {room['name']}",
                    columns=["Idéer"],
                    room_id=room["id"],
                )
                events += board.events
                made.append(board.value.id)
            return Outcome(self.session_id, (opened.value, made), tuple(events))

        done = self.attempt(expected, open_with_boards)
        if done is None:
            return
        view, board_ids = done
        assert len(view.rooms) == count
        self.round_open, self.assignment = True, assignment
        placed: list[str] = []
        for room, board_id in zip(view.rooms, board_ids, strict=True):
            self.rooms[room["id"]] = True
            self.room_boards[board_id] = room["id"]
            for pid in room["participant_ids"]:
                self.location[pid] = room["id"]
                placed.append(pid)
        # Random rooms take everyone, each once; manual rooms start empty.
        assert sorted(placed) == (sorted(self.people) if assignment == "random" else [])

    @precondition(lambda self: bool(self.rooms))
    @rule(who=st.integers(0, PEOPLE_MAX), where=st.integers(0, 10))
    def move(self, who: int, where: int) -> None:
        pid = self._participant(who)
        choices: list[str | None] = [None, *self.rooms]
        room = choices[where % len(choices)]
        if self.closed:
            expected: str | None = "session_closed"
        elif room is not None and not self.rooms[room]:
            expected = "conflict"  # a room of a closed round
        else:
            expected = None
        moved = self.attempt(expected, lambda db: breakout.move(db, self.session_id, pid, room))
        if moved is not None:
            assert moved["room_id"] == room
            self.location[pid] = room

    @precondition(lambda self: self.round_open or self.closed)
    @rule()
    def close_rooms(self) -> None:
        if self.attempt(
            "session_closed" if self.closed else None,
            lambda db: breakout.close_rooms(db, self.session_id),
        ):
            self._everyone_back()

    def _everyone_back(self) -> None:
        self.round_open = False
        self.rooms = dict.fromkeys(self.rooms, False)
        self.location = dict.fromkeys(self.location)

    @rule()
    def join(self) -> None:
        if len(self.people) < PEOPLE_MAX:
            self._join()

    @precondition(lambda self: self.steps >= CLOSE_AFTER)
    @rule()
    def close_session(self) -> None:
        if self.attempt(
            "session_closed" if self.closed else None,
            lambda db: lifecycle.close_session(db, self.session_id),
        ):
            self.closed = True
            self._everyone_back()
            for poll in self.polls:  # its open polls close, their ballots unlinked
                if poll.status == "open":
                    poll.status = "closed"
                    poll.linked.clear()

    # -- what the store must agree with after every step -------------------------------------

    @invariant()
    def the_store_agrees_with_the_model(self) -> None:
        self.steps += 1
        self.run(self._agree())

    async def _agree(self) -> None:
        async with self.store.read() as db:
            session = await sessions.session_by_id(db, self.session_id)
            assert session.status == ("closed" if self.closed else "open")
            await self._polls_agree(db)
            await self._upvotes_agree(db)
            await self._places_agree(db)
            await self._collected_once(db)
        self._versions_rise()

    async def _polls_agree(self, db: AsyncSession) -> None:
        ids = [p.id for p in self.polls]
        ballots: dict[str, list[str | None]] = {i: [] for i in ids}
        for poll_id, voter_id in await db.execute(
            select(col(polls.Ballot.poll_id), col(polls.Ballot.voter_id)).where(
                col(polls.Ballot.poll_id).in_(ids)
            )
        ):
            ballots[poll_id].append(voter_id)
        voted: dict[str, set[str]] = {i: set() for i in ids}
        for poll_id, pid in await db.execute(
            select(col(polls.PollVoter.poll_id), col(polls.PollVoter.participant_id)).where(
                col(polls.PollVoter.poll_id).in_(ids)
            )
        ):
            voted[poll_id].add(pid)
        marks = dict(
            (
                await db.execute(
                    select(col(polls.Ballot.poll_id), func.count())
                    .select_from(polls.BallotChoice)
                    .join(polls.Ballot, col(polls.Ballot.id) == col(polls.BallotChoice.ballot_id))
                    .where(col(polls.Ballot.poll_id).in_(ids))
                    .group_by(col(polls.Ballot.poll_id))
                )
            ).all()
        )
        for model in self.polls:
            stored = await polls.poll_by_id(db, model.id)
            assert stored.status == model.status
            results = await polls.results(db, stored, moderator=True)
            assert results["voters"] == len(model.ballots)
            assert {o["id"]: o["count"] for o in results["options"]} == model.counts()
            voter_ids = ballots[model.id]
            if model.status == "closed":  # anonymous from the moment it closed
                assert voter_ids == [None] * len(model.ballots)
            else:
                assert sorted(v for v in voter_ids if v is not None) == sorted(model.linked)
            assert voted[model.id] == model.voters
            if model.kind == "single":  # one mark per ballot, never a leftover of a change
                assert marks.get(model.id, 0) == len(model.ballots)

    async def _upvotes_agree(self, db: AsyncSession) -> None:
        counted = dict(
            (
                await db.execute(
                    select(col(boards.NoteUpvote.note_id), func.count())
                    .where(col(boards.NoteUpvote.note_id).in_(list(self.notes)))
                    .group_by(col(boards.NoteUpvote.note_id))
                )
            ).all()
        )
        assert counted == {n.id: len(n.upvoters) for n in self.notes.values() if n.upvoters}

    async def _places_agree(self, db: AsyncSession) -> None:
        placed = await breakout.rooms_of_people(db, self.session_id, self.people)
        assert placed == self.location
        # Nobody holds a seat in two open rooms (or twice in one).
        seats = Counter(
            await db.scalars(
                select(col(breakout.Seat.participant_id))
                .join(breakout.Room, col(breakout.Room.id) == col(breakout.Seat.room_id))
                .where(
                    col(breakout.Room.session_id) == self.session_id,
                    col(breakout.Room.status) == "open",
                )
            )
        )
        assert all(n == 1 for n in seats.values()), seats
        # The one-person reader that votes and boards ask agrees too (one person a step,
        # in turn: everyone every few steps, at a seventh of the cost).
        pid = self.people[self.steps % len(self.people)]
        assert await breakout.room_of(db, self.session_id, pid) == self.location[pid]

    async def _collected_once(self, db: AsyncSession) -> None:
        sources = list(
            await db.scalars(
                select(col(boards.Note.source_id)).where(
                    col(boards.Note.board_id) == self.plenary,
                    col(boards.Note.source_id).is_not(None),
                )
            )
        )
        assert sorted(sources) == sorted(self.collected)  # each collected note once
        on_boards = Counter(
            await db.scalars(
                select(col(boards.Note.board_id)).where(
                    col(boards.Note.session_id) == self.session_id
                )
            )
        )
        expected = Counter(n.board_id for n in self.notes.values())
        assert on_boards == expected

    def _versions_rise(self) -> None:
        """Every change that told anyone anything raised the version by its events, with no
        gap and no repeat: the first version of each follows the last of the one before."""
        ours = [(first, len(events)) for sid, first, events in self.hub.published]
        for (first, n), (following, _) in itertools.pairwise(ours):
            assert following == first + n, ours


def check_model(url: str) -> None:
    migrate(url)
    machine = type("OnThisStore", (SamlaModel,), {"url": url})
    run_state_machine_as_test(machine, settings=RUNS)


def test_polls_boards_and_rooms_follow_the_model_on_sqlite(tmp_path: Path) -> None:
    check_model(f"sqlite+aiosqlite:///{tmp_path / 'samla.db'}")


def test_one_walk_through_the_paths_a_short_random_run_may_miss(tmp_path: Path) -> None:
    """A fixed run through the same model, so that these paths are taken on every run:
    change an answer, close and reopen (the earlier voter stays refused), a room's note
    upvoted and taken back, collected twice (one copy), someone moved back to the plenary
    while rooms are open, rooms closed, the session closed."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'samla.db'}"
    migrate(url)
    state = type("OnThisStore", (SamlaModel,), {"url": url})()
    steps: list[Callable[[], None]] = [
        lambda: state.vote(who=0, which=0, picks=[0]),
        lambda: state.change_answer(which=0, picks=[1]),
        lambda: state.close_poll(which=0),
        lambda: state.open_poll(which=0),
        lambda: state.vote(who=0, which=0, picks=[2]),  # refused: unlinked when it closed
        lambda: state.vote(who=1, which=1, picks=[0]),
        lambda: state.vote_as_a_batch(batch=[(1, 1, [1]), (2, 2, [0, 1]), (2, 2, [2])]),
        lambda: state.open_rooms(count=1, assignment="random", seed=1),
        lambda: state.vote(who=3, which=0, picks=[0]),  # refused: a plenary poll
        lambda: state.add_note(who=0, where=0, column=0, anywhere=False),
        lambda: state.upvote(who=1, which=0, take_back=False, anywhere=False),
        lambda: state.upvote(who=2, which=0, take_back=False, anywhere=False),
        lambda: state.upvote(who=1, which=0, take_back=True, anywhere=False),
        lambda: state.collect(which=[0], anywhere=False),
        lambda: state.collect(which=[0], anywhere=False),  # the same copy, not a second
        lambda: state.collect(which=[0, 1], anywhere=True),  # refused: a copy is on it
        lambda: state.move(who=0, where=0),  # back to the plenary while rooms are open
        lambda: state.join(),  # placed in the open room
        lambda: state.close_rooms(),
        lambda: state.close_session(),
        lambda: state.vote(who=0, which=1, picks=[0]),  # refused: the session is closed
    ]
    try:
        state.the_store_agrees_with_the_model()
        for step in steps:
            step()
            state.the_store_agrees_with_the_model()
        assert state.collected and state.closed
    finally:
        state.teardown()


@pytest.mark.postgres
def test_polls_boards_and_rooms_follow_the_model_on_postgresql(postgres: Postgres) -> None:
    check_model(asyncio.run(postgres.new_database()))
