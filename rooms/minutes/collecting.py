"""Collecting a passage of a room's minutes onto a plenary board, as a note."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from rooms.boards.notes import column_of
from rooms.boards.reading import board_by_id, describe_note
from rooms.boards.tables import NOTE_MAX, Board, Note
from rooms.errors import forbidden, invalid
from rooms.locks import locked
from rooms.minutes.editing import room_target
from rooms.minutes.reading import text_of_room
from rooms.models import Event, Outcome
from rooms.sessions import writable
from rooms.text import clean

_BLANKS = re.compile(r"\s+")


def _words(text: str) -> str:
    return _BLANKS.sub(" ", text).strip().casefold()


async def collect_passage(
    db: AsyncSession, session_id: str, room_id: str, board_id: Any, text: Any, column: Any = None
) -> Outcome[dict[str, Any]]:
    """Puts a passage of the room's minutes on a plenary board of the same session as a
    note without an author (the minutes are the room's together), in the chosen column or
    the first. The passage must be in the minutes as they stand (spacing aside)."""
    await writable(db, session_id)
    target, _ = await room_target(db, room_id)
    if target.session_id != session_id:
        raise forbidden("That room belongs to another session.")
    if not isinstance(board_id, str) or not 0 < len(board_id) <= 40:
        raise invalid("board_id must be the id of a plenary board.")
    board = await board_by_id(db, board_id)
    if board.session_id != session_id:
        raise forbidden("This board belongs to another session.")
    if board.room_id is not None:
        raise invalid("A passage is collected onto a plenary board, not a room's board.")
    passage = clean(text, "The passage", NOTE_MAX, multiline=True)
    minutes, _ = await text_of_room(db, room_id)
    if _words(passage) not in _words(minutes):
        raise invalid("That passage is not in the room's minutes (they may have changed).")
    chosen = column_of(board, column) if column not in (None, "") else board.columns[0]
    await locked(db, Board, board.id, "update")
    position = int(await db.scalar(select(func.count()).where(col(Note.board_id) == board.id)) or 0)
    note = Note(
        session_id=session_id,
        board_id=board.id,
        column_id=chosen["id"],
        text=passage,
        anonymous=True,
        position=position,
    )
    db.add(note)
    await db.flush()
    data = await describe_note(db, note)
    return Outcome(session_id, data, (Event("note.added", {"note": data}),))
