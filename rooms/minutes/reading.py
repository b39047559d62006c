"""Reading shared minutes: a document as one update, its state vector, what a client lacks,
and its plain text (for the API, the archive and the passages collected onto boards)."""

from __future__ import annotations

from datetime import datetime

from pycrdt import Doc, Text, get_state
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from rooms.minutes.editing import merged, stored_updates
from rooms.minutes.tables import EMPTY, TEXT, Minutes, MinutesUpdate
from rooms.models import PLENARY


async def document(db: AsyncSession, document_id: str) -> bytes:
    """The whole document as one update (EMPTY when nothing was written)."""
    updates = await stored_updates(db, document_id)
    if not updates:
        return EMPTY
    return updates[0] if len(updates) == 1 else merged(updates).get_update()


def state_of(update: bytes) -> bytes:
    """The state vector of a document given as one update."""
    return get_state(update)


def missing(update: bytes, state: bytes) -> bytes:
    """What a client whose state vector is `state` lacks of the document; a state that is
    not a state vector gets the whole document (it is idempotent)."""
    try:
        return merged([update]).get_update(state)
    except Exception:
        return update


def text_of(update: bytes) -> str:
    """The document's plain text (empty if its `minutes` is not text at all)."""
    try:
        return _text(merged([update]))
    except Exception:
        return ""


def _text(doc: Doc[Text]) -> str:
    try:
        return str(doc.get(TEXT, type=Text))
    except Exception:
        return ""


async def text_and_time(db: AsyncSession, document_id: str) -> tuple[str, datetime | None]:
    head = await db.get(Minutes, document_id)
    if head is None:
        return "", None
    return text_of(await document(db, document_id)), head.updated_at


async def text_of_room(db: AsyncSession, room_id: str) -> tuple[str, datetime | None]:
    """A room's minutes as plain text, and when they last changed (None: never written)."""
    return await text_and_time(db, room_id)


async def texts_of_session(db: AsyncSession, session_id: str) -> dict[str, str]:
    """Every room's minutes in the session as plain text, by room id (the plenary minutes
    under PLENARY); minutes with no text are left out."""
    heads = list(
        await db.scalars(
            select(Minutes).where(col(Minutes.session_id) == session_id, col(Minutes.count) > 0)
        )
    )
    rows = await db.execute(
        select(col(MinutesUpdate.minutes_id), col(MinutesUpdate.data))
        .where(col(MinutesUpdate.minutes_id).in_([h.id for h in heads]))
        .order_by(col(MinutesUpdate.id))
    )
    updates: dict[str, list[bytes]] = {}
    for document_id, data in rows:
        updates.setdefault(document_id, []).append(bytes(data))
    texts: dict[str, str] = {}
    for head in heads:
        found = updates.get(head.id)
        text = _text(merged(found)) if found else ""
        if text.strip():
            texts[head.room_id or PLENARY] = text
    return texts
