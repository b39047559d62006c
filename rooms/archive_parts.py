"""What each feature contributes to the archive, read from its tables, and the archive of a
session built from them all (`build_archive`, `counts`): the parts are listed at the end."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from rooms import archive, boards, breakout, polls, questions
from rooms.archive_minutes import minutes_part
from rooms.boards.splits import upvote_splits
from rooms.models import Participant, Session


async def breakout_rooms(db: AsyncSession, session_id: str, names: bool) -> list[archive.Room]:
    """Every breakout room of every round, in the order they were opened.

    A closed room counts the people who were in it when its round closed; an open one, the
    people in it now."""
    rounds = list(
        await db.scalars(
            select(col(breakout.Round.id))
            .where(col(breakout.Round.session_id) == session_id)
            .order_by(col(breakout.Round.created_at))
        )
    )
    rooms = list(
        await db.scalars(
            select(breakout.Room)
            .where(col(breakout.Room.session_id) == session_id)
            .order_by(col(breakout.Room.position))
        )
    )
    seated = dict(
        (
            await db.execute(
                select(col(breakout.Seat.room_id), func.count())
                .where(col(breakout.Seat.session_id) == session_id)
                .group_by(col(breakout.Seat.room_id))
            )
        ).all()
    )
    order = {round_id: i for i, round_id in enumerate(rounds)}
    out = []
    for room in sorted(rooms, key=lambda r: (order.get(r.round_id, 0), r.position)):
        name = room.name
        if len(rounds) > 1:
            name = f"{order.get(room.round_id, 0) + 1}: {room.name}"
        people = room.people if room.people is not None else seated.get(room.id, 0)
        out.append(archive.Room(room.id, name, int(people)))
    return out


async def count_rooms(db: AsyncSession, session_ids: Sequence[str]) -> dict[str, int]:
    rows = await db.execute(
        select(col(breakout.Room.session_id), func.count())
        .where(col(breakout.Room.session_id).in_(session_ids))
        .group_by(col(breakout.Room.session_id))
    )
    return {sid: int(n) for sid, n in rows.all()}


async def poll_results(db: AsyncSession, session_id: str, names: bool) -> list[archive.Poll]:
    """Every poll that was opened, with the totals its results show to everyone.

    Drafts never ran and are left out; words and answers a moderator hid stay hidden. A
    poll with options or a scale is also split by each of the session's join questions."""
    out = []
    session = await db.get(Session, session_id)
    asked = list(session.attributes) if session is not None else []
    for poll in await polls.polls_of(db, session_id):
        if poll.status == "draft":
            continue
        found = await polls.results(db, poll)
        counted = poll.kind in polls.WITH_OPTIONS or poll.kind == "scale"
        splits = await polls.split_results(db, poll, asked) if counted else []
        out.append(
            archive.Poll(
                id=poll.id,
                question=poll.question,
                kind=poll.kind,  # type: ignore[arg-type]
                status=poll.status,
                voters=int(found["voters"]),
                room_id=poll.room_id,
                options=tuple(
                    archive.OptionResult(str(o["label"]), int(o["count"]), o.get("score"))
                    for o in found["options"]
                ),
                mean=found.get("mean"),
                min_label=poll.min_label,
                max_label=poll.max_label,
                words=tuple(
                    archive.WordCount(str(w["word"]), int(w["count"]))
                    for w in found.get("words", [])
                ),
                answers=tuple(str(a["text"]) for a in found.get("answers", [])),
                splits=tuple(_split(s) for s in splits),
            )
        )
    return out


def _split(found: dict[str, Any]) -> archive.Split:
    return archive.Split(
        key=found["key"],
        label=found["label"],
        groups=tuple(
            archive.SplitGroup(
                choice=g["choice"],
                voters=g["voters"],
                options=tuple(archive.GroupCount(o["label"], o["count"]) for o in g["options"]),
                hidden=g.get("hidden"),
            )
            for g in found["groups"]
        ),
    )


async def count_polls(db: AsyncSession, session_ids: Sequence[str]) -> dict[str, int]:
    rows = await db.execute(
        select(col(polls.Poll.session_id), func.count())
        .where(col(polls.Poll.session_id).in_(session_ids), col(polls.Poll.status) != "draft")
        .group_by(col(polls.Poll.session_id))
    )
    return {sid: int(n) for sid, n in rows.all()}


def _author(data: dict[str, Any], names: bool) -> str | None:
    """The name a participant chose to show; None when anonymous, unnamed or names are off."""
    author = data.get("author")
    if not names or not isinstance(author, dict):
        return None
    name = author.get("name")
    return str(name) if name else None


# A card's contact is a person's name, address or number: left out when names are removed.
_PERSONAL_CARD_FIELDS = {"contact"}


def _card(fields: Any, names: bool) -> tuple[archive.CardField, ...]:
    if not isinstance(fields, dict):
        return ()
    return tuple(
        archive.CardField(key, str(fields[key]))
        for key in boards.CARD_FIELDS
        if fields.get(key) and (names or key not in _PERSONAL_CARD_FIELDS)
    )


async def board_notes(db: AsyncSession, session_id: str, names: bool) -> list[archive.Board]:
    """Every board with its accepted notes (hidden ones left out), upvotes and dots, and each
    upvoted note's upvotes split by each of the session's join questions.

    A note collected to the plenary is a copy linked to its room note: it names that room."""
    found = await boards.session_boards(db, session_id)
    notes = await boards.board_notes(db, found, include_hidden=False)
    session = await db.get(Session, session_id)
    asked = list(session.attributes) if session is not None else []
    upvoted = [n["id"] for ns in notes.values() for n in ns if n["upvotes"]]
    splits = await upvote_splits(db, upvoted, asked)
    # Notes are only collected within a session, so their source boards are among these.
    room_of_board = {b.id: b.room_id for b in found}
    sources = [n["collected_from"] for ns in notes.values() for n in ns if n["collected_from"]]
    source_boards: dict[str, str] = {}
    if sources:
        rows = await db.execute(
            select(col(boards.Note.id), col(boards.Note.board_id)).where(
                col(boards.Note.id).in_(sources)
            )
        )
        source_boards = {nid: bid for nid, bid in rows.all()}
    out = []
    for board in found:
        columns = []
        for column in board.columns:
            columns.append(
                archive.Column(
                    str(column["id"]),
                    str(column["title"]),
                    tuple(
                        archive.Note(
                            n["id"],
                            n["text"],
                            int(n["upvotes"]),
                            _author(n, names),
                            room_of_board.get(source_boards.get(n["collected_from"] or "", "")),
                            int(n.get("dots") or 0),
                            _card(n.get("fields"), names),
                            tuple(_upvote_split(x) for x in splits.get(n["id"], [])),
                        )
                        for n in notes[board.id]
                        if n["column"] == column["id"]
                    ),
                )
            )
        out.append(archive.Board(board.id, board.title, tuple(columns), board.room_id))
    return out


def _upvote_split(found: dict[str, Any]) -> archive.UpvoteSplit:
    return archive.UpvoteSplit(
        key=found["key"],
        label=found["label"],
        groups=tuple(
            archive.UpvoteGroup(g["choice"], g["upvotes"], g["hidden"]) for g in found["groups"]
        ),
    )


async def count_notes(db: AsyncSession, session_ids: Sequence[str]) -> dict[str, int]:
    rows = await db.execute(
        select(col(boards.Note.session_id), func.count())
        .where(col(boards.Note.session_id).in_(session_ids), col(boards.Note.hidden).is_(False))
        .group_by(col(boards.Note.session_id))
    )
    return {sid: int(n) for sid, n in rows.all()}


async def asked(db: AsyncSession, session_id: str, names: bool) -> list[archive.Question]:
    """The questions everyone could see: approved and not rejected by a moderator."""
    listed = await questions.list_questions(db, session_id, moderator=False)
    return [
        archive.Question(
            q["id"], q["text"], int(q["upvotes"]), bool(q["answered"]), _author(q, names)
        )
        for q in listed
    ]


async def count_questions(db: AsyncSession, session_ids: Sequence[str]) -> dict[str, int]:
    q = questions.Question
    rows = await db.execute(
        select(col(q.session_id), func.count())
        .where(
            col(q.session_id).in_(session_ids), col(q.approved).is_(True), col(q.hidden).is_(False)
        )
        .group_by(col(q.session_id))
    )
    return {sid: int(n) for sid, n in rows.all()}


async def count_participants(db: AsyncSession, session_ids: Sequence[str]) -> dict[str, int]:
    rows = await db.execute(
        select(col(Participant.session_id), func.count())
        .where(col(Participant.session_id).in_(session_ids))
        .group_by(col(Participant.session_id))
    )
    return {sid: int(n) for sid, n in rows.all()}


PARTS = archive.Parts(
    rooms=breakout_rooms,
    polls=poll_results,
    boards=board_notes,
    questions=asked,
    minutes=minutes_part,
)
# The counts on the organiser's page, in the order it shows them.
COUNTERS: dict[str, archive.Counter] = {
    "participants": count_participants,
    "rooms": count_rooms,
    "polls": count_polls,
    "notes": count_notes,
    "questions": count_questions,
}


async def build_archive(
    db: AsyncSession, session_id: str, *, names: bool = True, now: datetime | None = None
) -> archive.Archive:
    """The archive of one session as the store holds it now; read it in one transaction.

    `names=False` removes every participant's name, whatever the parts returned."""
    return await archive.build_archive(db, session_id, PARTS, names=names, now=now)


async def counts(db: AsyncSession, session_ids: Sequence[str]) -> dict[str, dict[str, int]]:
    """Every count of the organiser's page for each session: {session_id: {"notes": n, …}}."""
    return await archive.counts(db, session_ids, COUNTERS)
