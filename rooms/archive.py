"""The archive: everything a session produced, as plain frozen values read in one transaction.

Each feature supplies its part (listed in `rooms/archive_parts.py` as `Parts`): an
`async (db, session_id, names)` function returning a sequence of the values below (`Room`,
`Poll`, `Board`, `Question`, `Minutes`). The archive knows nothing of their tables; it
orders the parts into one report across rooms, derives the cross-room views, and removes
every name when the organiser asks it to.

What a part must keep to (the archive's privacy promise rests on it):
- no individual vote: a poll carries counts, scores, words counted and open answers' texts;
- `author` only where the participant chose to show a name, and None whenever `names` is False;
- only what was accepted: notes and questions hidden by a moderator are left out;
- with `names` False, nothing that names a person (a card's contact field included);
- minutes carry their text only, never who wrote it.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from rooms.models import Participant, iso, utcnow
from rooms.polls.splits import Hidden
from rooms.sessions import session_by_id

PollKind = Literal["single", "multiple", "scale", "wordcloud", "open", "ranking"]
# How many notes per column the cross-room view lists: enough to show what stood out in a
# national forum of a thousand notes, few enough to print on a page.
TOP_NOTES = 5


@dataclass(frozen=True)
class SessionInfo:
    id: str
    title: str
    code: str
    status: str
    created_at: str | None
    closed_at: str | None


@dataclass(frozen=True)
class ChoiceCount:
    choice: str
    count: int


@dataclass(frozen=True)
class AttributeCount:
    """How many participants gave each answer to one of the questions asked at join."""

    key: str
    label: str
    counts: tuple[ChoiceCount, ...]
    unanswered: int


@dataclass(frozen=True)
class Participation:
    participants: int
    named: int  # of them, how many chose to show a name
    attributes: tuple[AttributeCount, ...] = ()


@dataclass(frozen=True)
class Room:
    id: str
    name: str
    participants: int = 0


@dataclass(frozen=True)
class OptionResult:
    """One option's result; for a scale poll one value of the scale (label "1", "2", …)."""

    label: str
    count: int
    score: int | None = None  # ranking polls: Borda points


@dataclass(frozen=True)
class WordCount:
    word: str
    count: int


@dataclass(frozen=True)
class GroupCount:
    """One option's count within a group of a split; None where the group is too small."""

    label: str
    count: int | None


@dataclass(frozen=True)
class SplitGroup:
    """The voters who gave one answer to a join question (`choice` None: no answer); a hidden
    group shows neither `voters` nor counts (None), and `hidden` says why: "small" (fewer
    than three) or "protects" (hidden so that the totals cannot give a small group away;
    see `rooms/polls/splits.py`). A group with `voters` None and no `hidden` is small."""

    choice: str | None
    voters: int | None
    options: tuple[GroupCount, ...] = ()
    hidden: Hidden | None = None


@dataclass(frozen=True)
class Split:
    """A poll's results split by one join question (`key`, asked as `label`)."""

    key: str
    label: str
    groups: tuple[SplitGroup, ...] = ()


@dataclass(frozen=True)
class UpvoteGroup:
    """The upvoters of a note who gave one answer to a join question; `upvotes` None where
    the group is hidden, and `hidden` why (as `SplitGroup`'s)."""

    choice: str | None
    upvotes: int | None
    hidden: Hidden | None = None


@dataclass(frozen=True)
class UpvoteSplit:
    """A note's upvotes split by one join question (`key`, asked as `label`)."""

    key: str
    label: str
    groups: tuple[UpvoteGroup, ...] = ()


@dataclass(frozen=True)
class Poll:
    id: str
    question: str
    kind: PollKind
    status: str
    voters: int
    room_id: str | None = None
    options: tuple[OptionResult, ...] = ()
    mean: float | None = None  # scale polls
    min_label: str | None = None  # scale polls: what the ends of the scale mean
    max_label: str | None = None
    words: tuple[WordCount, ...] = ()  # word clouds, most said first
    answers: tuple[str, ...] = ()  # open answers not hidden by a moderator; never who wrote them
    splits: tuple[Split, ...] = ()  # by each join question, where the part gives them


@dataclass(frozen=True)
class CardField:
    """One field of a good-example card (what, who, where, contact, effect)."""

    name: str
    value: str


@dataclass(frozen=True)
class Note:
    id: str
    text: str
    upvotes: int
    author: str | None = None
    from_room_id: str | None = None  # a note collected to the plenary: the room it came from
    dots: int = 0  # from the board's dot vote, where one was held
    card: tuple[CardField, ...] = ()  # a good-example card's fields, in the card's order
    splits: tuple[UpvoteSplit, ...] = ()  # its upvotes by each join question, once upvoted


@dataclass(frozen=True)
class Column:
    id: str
    title: str
    notes: tuple[Note, ...] = ()


@dataclass(frozen=True)
class BoardSplit:
    """A board's upvoted notes, most upvoted first, with their upvotes split by one join
    question: what the reports show as one table per board and question."""

    key: str
    label: str
    notes: tuple[Note, ...]

    def groups_of(self, note: Note) -> tuple[UpvoteGroup, ...]:
        return next((s.groups for s in note.splits if s.key == self.key), ())


@dataclass(frozen=True)
class Board:
    id: str
    title: str
    columns: tuple[Column, ...]
    room_id: str | None = None

    @property
    def splits(self) -> tuple[BoardSplit, ...]:
        """Per join question, the notes whose upvotes it splits (nothing when none was
        upvoted)."""
        notes = sorted((n for c in self.columns for n in c.notes), key=lambda n: -n.upvotes)
        asked = dict.fromkeys((s.key, s.label) for n in notes for s in n.splits)
        out = []
        for key, label in asked:
            split = tuple(n for n in notes if any(s.key == key and s.groups for s in n.splits))
            if split:
                out.append(BoardSplit(key, label, split))
        return tuple(out)


@dataclass(frozen=True)
class Question:
    id: str
    text: str
    upvotes: int
    answered: bool
    author: str | None = None


@dataclass(frozen=True)
class Minutes:
    """A room's shared minutes (`room_id` None: the plenary's) as plain text; no authors."""

    room_id: str | None
    text: str

    @property
    def paragraphs(self) -> tuple[str, ...]:
        """The text's paragraphs (split at blank lines), each with its line breaks."""
        return paragraphs(self.text)


def paragraphs(text: str) -> tuple[str, ...]:
    """A text's paragraphs: what blank lines part, each with its own line breaks kept."""
    return tuple(p.strip("\n") for p in re.split(r"\n[^\S\n]*\n\s*", text) if p.strip())


@dataclass(frozen=True)
class TopNote:
    """A note in the cross-room view, with where it was written."""

    note: Note
    board_title: str
    room_id: str | None


@dataclass(frozen=True)
class ColumnLeaders:
    column: str
    notes: tuple[TopNote, ...]


@dataclass(frozen=True)
class Section:
    """One part of the report: the plenary (room None) or one breakout room."""

    room: Room | None
    boards: tuple[Board, ...]
    polls: tuple[Poll, ...]


@dataclass(frozen=True)
class Archive:
    session: SessionInfo
    participation: Participation
    made_at: str
    names: bool
    rooms: tuple[Room, ...] = ()
    polls: tuple[Poll, ...] = ()
    boards: tuple[Board, ...] = ()
    questions: tuple[Question, ...] = ()
    top_notes: tuple[ColumnLeaders, ...] = field(default=())
    minutes: tuple[Minutes, ...] = ()  # the plenary's first, then room by room

    def room_name(self, room_id: str | None) -> str | None:
        """The room's name; None for the plenary (or a room the breakout part did not list)."""
        for room in self.rooms:
            if room.id == room_id:
                return room.name
        return None

    @property
    def notes(self) -> tuple[Note, ...]:
        return tuple(n for b in self.boards for c in b.columns for n in c.notes)

    def sections(self) -> tuple[Section, ...]:
        """The plenary first (the notes collected to it lead the report), then room by room."""
        known = {room.id for room in self.rooms}
        out = [
            Section(
                None,
                tuple(b for b in self.boards if b.room_id not in known),
                tuple(p for p in self.polls if p.room_id not in known),
            )
        ]
        for room in self.rooms:
            out.append(
                Section(
                    room,
                    tuple(b for b in self.boards if b.room_id == room.id),
                    tuple(p for p in self.polls if p.room_id == room.id),
                )
            )
        return tuple(out)


# -- its parts ----------------------------------------------------------------------------

T = TypeVar("T")
Part = Callable[[AsyncSession, str, bool], Awaitable[Sequence[T]]]
# A count shown on the organiser's page: `async (db, session_ids) -> {sid: n}`, one query for
# all listed sessions, so the page does not build an archive per session.
Counter = Callable[[AsyncSession, Sequence[str]], Awaitable[dict[str, int]]]


async def _no_minutes(db: AsyncSession, session_id: str, names: bool) -> Sequence[Minutes]:
    return ()


@dataclass(frozen=True)
class Parts:
    """What each feature contributes to the archive."""

    rooms: Part[Room]
    polls: Part[Poll]
    boards: Part[Board]
    questions: Part[Question]
    minutes: Part[Minutes] = _no_minutes


async def counts(
    db: AsyncSession, session_ids: Sequence[str], counters: dict[str, Counter]
) -> dict[str, dict[str, int]]:
    """Every count for each session: {session_id: {"participants": n, …}}."""
    out: dict[str, dict[str, int]] = {sid: {} for sid in session_ids}
    if not session_ids:
        return out
    for name, counter in counters.items():
        found = await counter(db, session_ids)
        for sid in session_ids:
            out[sid][name] = found.get(sid, 0)
    return out


# -- building it ----------------------------------------------------------------------------


async def build_archive(
    db: AsyncSession,
    session_id: str,
    parts: Parts,
    *,
    names: bool = True,
    now: datetime | None = None,
) -> Archive:
    """The archive of one session as the store holds it now; read it in one transaction.

    `names=False` removes every participant's name, whatever the parts returned."""
    session = await session_by_id(db, session_id)
    info = SessionInfo(
        session.id,
        session.title,
        session.code,
        session.status,
        iso(session.created_at),
        iso(session.closed_at),
    )
    rooms = tuple(await parts.rooms(db, session_id, names))
    boards = _ordered_boards(tuple(await parts.boards(db, session_id, names)), rooms)
    questions = tuple(
        sorted(await parts.questions(db, session_id, names), key=lambda q: -q.upvotes)
    )
    polls = tuple(await parts.polls(db, session_id, names))
    minutes = _ordered_minutes(await parts.minutes(db, session_id, names), rooms)
    if not names:
        boards = tuple(_nameless_board(b) for b in boards)
        questions = tuple(replace(q, author=None) for q in questions)
    return Archive(
        session=info,
        participation=await _participation(db, session_id, session.attributes),
        made_at=iso(now or utcnow()) or "",
        names=names,
        rooms=rooms,
        polls=_ordered_polls(polls, rooms),
        boards=boards,
        questions=questions,
        top_notes=_top_notes(boards),
        minutes=minutes,
    )


async def _participation(
    db: AsyncSession, session_id: str, asked: list[dict[str, Any]]
) -> Participation:
    # Only the answers, never who gave them: counted in the database, one row per choice.
    rows = (
        await db.execute(
            select(col(Participant.name), col(Participant.attributes)).where(
                col(Participant.session_id) == session_id
            )
        )
    ).all()
    attributes = []
    for question in asked:
        key = question["key"]
        given = [str(attrs.get(key)) for _, attrs in rows if attrs and attrs.get(key)]
        attributes.append(
            AttributeCount(
                key,
                str(question.get("label", key)),
                tuple(ChoiceCount(c, given.count(c)) for c in question.get("choices", [])),
                len(rows) - len(given),
            )
        )
    named = sum(1 for name, _ in rows if name)
    return Participation(len(rows), named, tuple(attributes))


def _room_order(rooms: Sequence[Room]) -> Callable[[str | None], int]:
    place = {room.id: i + 1 for i, room in enumerate(rooms)}
    return lambda room_id: place.get(room_id or "", 0)


def _ordered_boards(boards: Sequence[Board], rooms: Sequence[Room]) -> tuple[Board, ...]:
    order = _room_order(rooms)
    by_upvotes = (
        replace(
            b,
            columns=tuple(
                replace(c, notes=tuple(sorted(c.notes, key=lambda n: -n.upvotes)))
                for c in b.columns
            ),
        )
        for b in boards
    )
    return tuple(sorted(by_upvotes, key=lambda b: order(b.room_id)))


def _ordered_polls(polls: Sequence[Poll], rooms: Sequence[Room]) -> tuple[Poll, ...]:
    order = _room_order(rooms)
    return tuple(sorted(polls, key=lambda p: order(p.room_id)))


def _ordered_minutes(minutes: Sequence[Minutes], rooms: Sequence[Room]) -> tuple[Minutes, ...]:
    """The plenary's minutes first, then the rooms' in the rooms' order; only what has text."""
    known = {room.id for room in rooms}
    order = _room_order(rooms)
    kept = (m for m in minutes if m.text.strip() and (m.room_id is None or m.room_id in known))
    return tuple(sorted(kept, key=lambda m: order(m.room_id)))


def _nameless_board(board: Board) -> Board:
    return replace(
        board,
        columns=tuple(
            replace(c, notes=tuple(replace(n, author=None) for n in c.notes)) for c in board.columns
        ),
    )


def _top_notes(boards: Sequence[Board]) -> tuple[ColumnLeaders, ...]:
    """Per column title, the most upvoted notes of all rooms' boards (of every board when the
    session had no rooms); a note collected to the plenary is counted once, in its room."""
    in_rooms = [b for b in boards if b.room_id is not None]
    boards = in_rooms or boards
    by_column: dict[str, list[TopNote]] = {}
    for board in boards:
        for column in board.columns:
            key = column.title.casefold()
            by_column.setdefault(key, [])
            by_column[key] += [TopNote(n, board.title, board.room_id) for n in column.notes]
    titles: dict[str, str] = {}
    for board in boards:
        for column in board.columns:
            titles.setdefault(column.title.casefold(), column.title)
    return tuple(
        ColumnLeaders(titles[key], tuple(sorted(notes, key=lambda t: -t.note.upvotes)[:TOP_NOTES]))
        for key, notes in by_column.items()
        if notes
    )


def headline(poll: Poll) -> str:
    """A poll's result in a few words, for the polls-side-by-side view."""
    if poll.kind == "scale":
        return "-" if poll.mean is None else f"{poll.mean:.1f}"
    if poll.kind == "wordcloud":
        return ", ".join(f"{w.word} ({w.count})" for w in poll.words[:3])
    if poll.kind == "open":
        return f"{len(poll.answers)} answers"
    ranking = poll.kind == "ranking"

    def figure(option: OptionResult) -> int:
        return (option.score or 0) if ranking else option.count

    ranked = sorted(poll.options, key=lambda o: -figure(o))
    return ", ".join(f"{o.label} ({figure(o)})" for o in ranked[:3])
