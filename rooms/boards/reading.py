"""Reading boards: lookups, who may see a board, notes with their upvotes and dots, orders."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from rooms.boards.tables import Board, Dot, DotVote, Note, NoteUpvote
from rooms.breakout import room_of, rooms_part
from rooms.errors import forbidden, not_found
from rooms.models import Participant, Role


def column_json(column: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": column["id"],
        "title": column["title"],
        "card": bool(column.get("card")),
        "kinds": list(column.get("kinds") or []),
    }


def board_summary(board: Board) -> dict[str, Any]:
    return {"id": board.id, "title": board.title, "room_id": board.room_id}


async def board_by_id(db: AsyncSession, board_id: str) -> Board:
    board = await db.get(Board, board_id)
    if board is None:
        raise not_found("board")
    return board


async def note_by_id(db: AsyncSession, note_id: str) -> Note:
    note = await db.get(Note, note_id)
    if note is None:
        raise not_found("note")
    return note


async def may_see(
    db: AsyncSession, board: Board, role: Role, participant_id: str | None, *, write: bool = False
) -> bool:
    """Moderators and presenters see every board; a participant the plenary's and their room's,
    and, while a gallery vote over all rooms is open, every room's (to read and give dots)."""
    if role != "participant" or board.room_id is None:
        return True
    if participant_id is None:
        return False
    if await room_of(db, board.session_id, participant_id) == board.room_id:
        return True
    return not write and await gallery_open(db, board.session_id)


async def gallery_open(db: AsyncSession, session_id: str) -> bool:
    """Whether a dot vote over the notes of all rooms is open in the session."""
    found = await db.scalar(
        select(func.count()).where(
            col(DotVote.session_id) == session_id,
            col(DotVote.status) == "open",
            col(DotVote.scope) == "all",
        )
    )
    return bool(found)


async def require_access(db: AsyncSession, board: Board, participant: Participant) -> None:
    if participant.session_id != board.session_id:
        raise forbidden("This board belongs to another session.")
    if not await may_see(db, board, "participant", participant.id, write=True):
        raise forbidden("This board belongs to another room; you can write in your own room's.")


async def _upvotes(db: AsyncSession, note_ids: list[str]) -> dict[str, int]:
    if not note_ids:
        return {}
    rows = await db.execute(
        select(col(NoteUpvote.note_id), func.count())
        .where(col(NoteUpvote.note_id).in_(note_ids))
        .group_by(col(NoteUpvote.note_id))
    )
    return {nid: int(n) for nid, n in rows.all()}


async def upvote_count(db: AsyncSession, note_id: str) -> int:
    return int(await db.scalar(select(func.count()).where(col(NoteUpvote.note_id) == note_id)) or 0)


async def _dots(db: AsyncSession, board_ids: list[str]) -> dict[str, int]:
    """Dots per note from each board's latest dot vote (a collected note counts its source's)."""
    if not board_ids:
        return {}
    rows = await db.execute(
        select(col(Dot.note_id), func.count())
        .join(DotVote, col(DotVote.id) == col(Dot.vote_id))
        .where(col(DotVote.board_id).in_(board_ids))
        .group_by(col(Dot.note_id))
    )
    return {nid: int(n) for nid, n in rows.all()}


async def latest_vote(db: AsyncSession, board_id: str) -> DotVote | None:
    found: DotVote | None = await db.scalar(
        select(DotVote)
        .where(col(DotVote.board_id) == board_id)
        .order_by(col(DotVote.created_at).desc())
        .limit(1)
    )
    return found


def precise(moment: datetime) -> str:
    """ISO 8601 UTC to the microsecond, fixed width: orders by time even as text, where `iso`'s
    whole seconds would leave notes posted in the same second in no order."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def note_json(note: Note, name: str | None, upvotes: int, dots: int = 0) -> dict[str, Any]:
    author = (
        None if note.anonymous or note.author_id is None else {"id": note.author_id, "name": name}
    )
    return {
        "id": note.id,
        "board_id": note.board_id,
        "column": note.column_id,
        "text": note.text,
        "fields": note.fields,
        "author": author,
        "upvotes": upvotes,
        "dots": dots,
        "hidden": note.hidden,
        "pinned": note.pinned,
        "collected_from": note.source_id,
        "created_at": precise(note.created_at),
    }


async def describe_note(db: AsyncSession, note: Note) -> dict[str, Any]:
    name = None
    if note.author_id is not None and not note.anonymous:
        author = await db.get(Participant, note.author_id)
        name = author.name if author else None
    return note_json(note, name, await upvote_count(db, note.id))


async def board_notes(
    db: AsyncSession, boards: list[Board], *, include_hidden: bool
) -> dict[str, list[dict[str, Any]]]:
    """Each board's notes, oldest first, with author names, upvote and dot counts."""
    ids = [b.id for b in boards]
    out: dict[str, list[dict[str, Any]]] = {b.id: [] for b in boards}
    if not ids:
        return out
    query = (
        select(Note, col(Participant.name))
        .outerjoin(Participant, col(Participant.id) == col(Note.author_id))
        .where(col(Note.board_id).in_(ids))
        .order_by(col(Note.created_at), col(Note.position))
    )
    if not include_hidden:
        query = query.where(col(Note.hidden).is_(False))
    rows = (await db.execute(query)).all()
    ups = await _upvotes(db, [n.id for n, _ in rows])
    dots = await _dots(db, ids)
    for note, name in rows:
        given = dots.get(note.id, 0) + (dots.get(note.source_id, 0) if note.source_id else 0)
        out[note.board_id].append(note_json(note, name, ups.get(note.id, 0), given))
    return out


def ordered(notes: list[dict[str, Any]], by: Literal["newest", "top"]) -> list[dict[str, Any]]:
    """A stable order: pinned first, then newest, or then most dots and upvotes."""
    if by == "newest":
        return sorted(notes, key=lambda n: (not n["pinned"], _neg_time(n), n["id"]))
    return sorted(
        notes, key=lambda n: (not n["pinned"], -n["dots"], -n["upvotes"], _neg_time(n), n["id"])
    )


def _neg_time(note: dict[str, Any]) -> str:
    # ISO times sort as text; inverting each character's code makes the newest sort first.
    return "".join(chr(0x10FFFF - ord(c)) for c in note["created_at"] or "")


async def describe_board(
    db: AsyncSession,
    board: Board,
    *,
    include_hidden: bool,
) -> dict[str, Any]:
    notes = (await board_notes(db, [board], include_hidden=include_hidden))[board.id]
    vote = await latest_vote(db, board.id)
    return {
        **board_summary(board),
        "columns": [column_json(c) for c in board.columns],
        "shown": board.shown,
        "dot_vote": vote_json(vote) if vote else None,
        "notes": ordered(notes, "top") if vote else notes,
    }


def vote_json(vote: DotVote) -> dict[str, Any]:
    return {
        "id": vote.id,
        "board_id": vote.board_id,
        "scope": vote.scope,
        "dots": vote.dots,
        "status": vote.status,
    }


async def session_boards(db: AsyncSession, session_id: str) -> list[Board]:
    found = await db.scalars(
        select(Board)
        .where(col(Board.session_id) == session_id)
        .order_by(col(Board.room_id).is_not(None), col(Board.room_id), col(Board.created_at))
    )
    return list(found)


async def rooms_with_boards(db: AsyncSession, session_id: str) -> set[str]:
    """The rooms of the session that have a board of their own."""
    found = await db.scalars(
        select(col(Board.room_id))
        .where(col(Board.session_id) == session_id, col(Board.room_id).is_not(None))
        .distinct()
    )
    return {r for r in found if r is not None}


async def boards_of_place(db: AsyncSession, session_id: str, room_id: str | None) -> list[Board]:
    """The plenary's boards and, for someone in a room, that room's: as `session_boards`
    orders them, without reading every other room's."""
    place: ColumnElement[bool] = col(Board.room_id).is_(None)
    if room_id is not None:
        place = or_(place, col(Board.room_id) == room_id)
    found = await db.scalars(
        select(Board)
        .where(col(Board.session_id) == session_id, place)
        .order_by(col(Board.room_id).is_not(None), col(Board.room_id), col(Board.created_at))
    )
    return list(found)


async def describe_boards(db: AsyncSession, session_id: str, role: Role) -> list[dict[str, Any]]:
    return [board_summary(b) for b in await session_boards(db, session_id)]


async def live_rooms(db: AsyncSession, session_id: str) -> list[dict[str, Any]]:
    """The session's prepared or open breakout rooms, as that feature describes them."""
    rooms = await rooms_part(db, session_id, "moderator")
    return [r for r in rooms if r.get("status") in ("prepared", "open")]
