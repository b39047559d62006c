"""The stored rows of shared minutes: one document per room (and per session for the
plenary), kept as the Yjs updates that made it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, LargeBinary
from sqlmodel import Field, SQLModel

from rooms.models import utcnow

# The shared type that holds the text, as the browser's Y.Doc names it.
TEXT = "minutes"
# One update (a keystroke is tens of bytes; a paste of a few pages stays well inside).
UPDATE_MAX = 64 * 1024
# A whole document: about 300 pages of text, with Yjs's bookkeeping.
DOCUMENT_MAX = 1024 * 1024
# Past this many stored updates a document is merged into one: fewer rows to read on every
# connect, at the cost of one merge of at most a megabyte every two hundred writes.
COMPACT_AFTER = 200
# Yjs's encoding of an update that changes nothing.
EMPTY = b"\x00\x00"


class Minutes(SQLModel, table=True):
    """A minutes document: a breakout room's (`id` is the room's) or a session's plenary
    one (`id` is the session's, `room_id` none). `size` and `count` are the bytes and rows
    of its stored updates; `version` rises with every write; `plenary` says whether the
    moderator has switched a session's plenary minutes on."""

    __tablename__ = "minutes"

    id: str = Field(primary_key=True, max_length=16)
    session_id: str = Field(foreign_key="session.id", ondelete="CASCADE", index=True)
    room_id: str | None = Field(default=None, foreign_key="room.id", ondelete="CASCADE")
    plenary: bool = False
    size: int = 0
    count: int = 0
    version: int = 0
    updated_at: datetime = Field(default_factory=utcnow)


class MinutesUpdate(SQLModel, table=True):
    """One stored update of a document (no author: the minutes are the room's together)."""

    __tablename__ = "minutes_update"
    __table_args__ = (Index("ix_minutes_update_minutes", "minutes_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    minutes_id: str = Field(foreign_key="minutes.id", ondelete="CASCADE")
    # At most DOCUMENT_MAX bytes (a compacted document); checked before it is stored.
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
