"""Collecting room notes onto a plenary board, each copy linked to its source, once."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from rooms.boards.notes import column_of
from rooms.boards.reading import board_by_id, describe_note, note_by_id
from rooms.boards.tables import Board, Note
from rooms.errors import forbidden, invalid
from rooms.locks import locked
from rooms.models import Event, Outcome
from rooms.sessions import writable


async def collect_notes(
    db: AsyncSession, session_id: str, board_id: str, note_ids: Any, column: Any = None
) -> Outcome[list[dict[str, Any]]]:
    """Copies chosen room notes onto a plenary board, each linked to its source, once."""
    await writable(db, session_id)
    board = await board_by_id(db, board_id)
    if board.session_id != session_id:
        raise forbidden("This board belongs to another session.")
    if board.room_id is not None:
        raise invalid("Notes are collected onto a plenary board, not a room's board.")
    if (
        not isinstance(note_ids, list)
        or not 1 <= len(note_ids) <= 200
        or not all(isinstance(n, str) for n in note_ids)
    ):
        raise invalid("note_ids must be a list of 1 to 200 note ids.")
    target = column_of(board, column) if column is not None else None
    # Two moderators collecting at once (two instances, PostgreSQL) take turns on the board:
    # the second finds the first's copies instead of failing on their unique constraint.
    await locked(db, Board, board.id, "update")
    collected = []
    events = []
    position = int(await db.scalar(select(func.count()).where(col(Note.board_id) == board.id)) or 0)
    for note_id in dict.fromkeys(note_ids):
        source = await note_by_id(db, note_id)
        if source.session_id != session_id:
            raise forbidden("A note belongs to another session.")
        if source.board_id == board.id:
            raise invalid("That note is already on this board.")
        already = await db.scalar(
            select(Note).where(col(Note.board_id) == board.id, col(Note.source_id) == source.id)
        )
        if already is not None:
            collected.append(await describe_note(db, already))
            continue
        source_board = await board_by_id(db, source.board_id)
        column_id = target["id"] if target else _matching_column(board, source_board, source)
        note = Note(
            session_id=session_id,
            board_id=board.id,
            column_id=column_id,
            text=source.text,
            fields=source.fields,
            author_id=source.author_id,
            anonymous=source.anonymous,
            position=position,
            source_id=source.id,
        )
        position += 1
        db.add(note)
        await db.flush()
        data = await describe_note(db, note)
        collected.append(data)
        events.append(Event("note.added", {"note": data}))
    return Outcome(session_id, collected, tuple(events))


def _matching_column(board: Board, source_board: Board, note: Note) -> str:
    """The plenary column with the same title as the note's own, else the first."""
    title = column_of(source_board, note.column_id)["title"].casefold()
    for c in board.columns:
        if c["title"].casefold() == title:
            return str(c["id"])
    return str(board.columns[0]["id"])
