"""Reading shared minutes: a document as one update, its state vector, what a client lacks,
and its plain text (for the API, the archive and the passages collected onto boards)."""

from __future__ import annotations

from datetime import datetime

from pycrdt import Doc, Text, get_state, get_update
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from rooms.minutes.tables import TEXT, Minutes
from rooms.minutes.whole import Whole, merged, whole
from rooms.models import PLENARY


async def document(db: AsyncSession, document_id: str) -> bytes:
    """The whole document as one update (EMPTY when nothing was written)."""
    found = (await whole(db, document_id)).update
    assert found is not None
    return found


async def stored(db: AsyncSession, document_id: str) -> Whole:
    """The whole document with its version and state vector (merged once per version in
    this process, however many ask)."""
    return await whole(db, document_id)


async def versions(db: AsyncSession, document_ids: list[str]) -> dict[str, int]:
    """The stored versions of these documents (those never written are left out)."""
    found = await db.execute(
        select(col(Minutes.id), col(Minutes.version)).where(col(Minutes.id).in_(document_ids))
    )
    return {document_id: int(version) for document_id, version in found}


def state_of(update: bytes) -> bytes:
    """The state vector of a document given as one update."""
    return get_state(update)


def missing(update: bytes, state: bytes) -> bytes:
    """What a client whose state vector is `state` lacks of the document; a state that is
    not a state vector gets the whole document (it is idempotent)."""
    try:
        return get_update(update, state)
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
    under PLENARY); minutes with no text are left out. Read one document at a time, so
    at most one document's rows are held at once."""
    heads = list(
        await db.execute(
            select(col(Minutes.id), col(Minutes.room_id)).where(
                col(Minutes.session_id) == session_id, col(Minutes.count) > 0
            )
        )
    )
    texts: dict[str, str] = {}
    for document_id, room_id in heads:
        text = text_of(await document(db, document_id))
        if text.strip():
            texts[room_id or PLENARY] = text
    return texts
