"""What moderators do to a note: hide or restore it, pin it, move it to another column."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from rooms.boards.notes import column_of, moderated_note, note_event
from rooms.boards.reading import describe_note
from rooms.boards.tables import Note
from rooms.errors import invalid
from rooms.models import Event, Outcome, Role


async def hide_note(
    db: AsyncSession, session_id: str, note_id: str, *, hidden: bool = True
) -> Outcome[dict[str, Any]]:
    """Hides a note from participants and the presenter view, or restores it."""
    note, board = await moderated_note(db, session_id, note_id)
    note.hidden = hidden
    db.add(note)
    data = await describe_note(db, note)
    events: tuple[Event, ...]
    if hidden:
        # Everyone drops the note; only moderators are told what it said.
        events = (
            Event(
                "note.hidden",
                {"note_id": note.id, "board_id": board.id},
                room_id=board.room_id,
                roles=frozenset[Role]({"participant", "presenter"}),
            ),
            Event(
                "note.hidden",
                {"note_id": note.id, "board_id": board.id, "note": data},
                roles=frozenset[Role]({"moderator"}),
            ),
        )
    else:
        events = (Event("note.restored", {"note": data}, room_id=board.room_id),)
    return Outcome(session_id, data, events)


async def pin_note(
    db: AsyncSession, session_id: str, note_id: str, *, pinned: bool = True
) -> Outcome[dict[str, Any]]:
    note, board = await moderated_note(db, session_id, note_id)
    note.pinned = pinned
    db.add(note)
    data = await describe_note(db, note)
    return Outcome(session_id, data, (note_event(note, board, "note.updated", {"note": data}),))


async def move_note(
    db: AsyncSession, session_id: str, note_id: str, column: Any
) -> Outcome[dict[str, Any]]:
    note, board = await moderated_note(db, session_id, note_id)
    target = column_of(board, column)
    if target.get("card") != column_of(board, note.column_id).get("card") and note.fields:
        raise invalid("An example card can only move to a column that takes cards.")
    kind = (note.fields or {}).get("kind")
    if kind and kind not in (target.get("kinds") or []):
        raise invalid(f"The card's kind {kind!r} is not one of that column's kinds.")
    note.column_id = target["id"]
    note.position = int(
        await db.scalar(select(func.count()).where(col(Note.board_id) == board.id)) or 0
    )
    db.add(note)
    data = await describe_note(db, note)
    return Outcome(session_id, data, (note_event(note, board, "note.updated", {"note": data}),))
