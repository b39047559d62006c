"""The boards' stored rows (boards, notes, upvotes, dot votes and dots) and their bounds."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import JSON as SA_JSON
from sqlalchemy import Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from rooms.models import TITLE_MAX, new_id, utcnow

NOTE_MAX = 1_000
COLUMN_MAX = 20
COLUMN_TITLE_MAX = 120
CARD_FIELD_MAX = 300
# A card's link and kind are card fields too, kept last: the archive lists them after the rest.
CARD_FIELDS = ("what", "who", "where", "contact", "effect", "link", "kind")
LINK_MAX = 500  # a card's link, normalised (http or https, with a host)
KINDS_MAX = 12  # the kinds a card column offers
KIND_MAX = 60
# The kinds the good-examples template's card column offers (names Samla gives by default,
# in Swedish as the templates' columns are; shown per viewer like them).
DEFAULT_KINDS = ("Arbetssätt och metoder", "Plattformar och nätverk", "Lästips")
NONCE_MAX = 64
ROOM_ID_MAX = 40
DOTS_MAX = 20
# A note with the same author, board, column and text within this window is a re-send (the
# htmx extension flushes its queue on reconnect), not a new note; it trades away posting the
# very same words twice in ten seconds, which nobody means to do.
RESEND_WINDOW = timedelta(seconds=10)

Template = Literal["examples", "phases", "free"]
TEMPLATES: dict[str, tuple[str, list[tuple[str, bool]]]] = {
    # name: (default title, [(column title, asks for good-example cards)])
    "examples": (
        "Goda exempel / Utmaningar / Idéer",
        [("Goda exempel", True), ("Utmaningar", False), ("Idéer", False)],
    ),
    "phases": (
        "Inleda / Fördjupa / Utvärdera",
        [("Inleda", False), ("Fördjupa", False), ("Utvärdera", False)],
    ),
    "free": ("Anteckningar", [("Anteckningar", False)]),
}


class Board(SQLModel, table=True):
    id: str = Field(default_factory=new_id, primary_key=True, max_length=16)
    session_id: str = Field(foreign_key="session.id", ondelete="CASCADE", index=True)
    # A breakout room's id (no foreign key: rooms are another feature's table); None: plenary.
    room_id: str | None = Field(default=None, max_length=ROOM_ID_MAX, index=True)
    title: str = Field(max_length=TITLE_MAX)
    # [{"id", "title", "card", "kinds"?}]; card columns take good-example cards, each of
    # one of the column's kinds when it has any.
    columns: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(SA_JSON))
    shown: bool = False  # on the presenter view
    created_at: datetime = Field(default_factory=utcnow)


class Note(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("author_id", "nonce", name="uq_note_author_nonce"),
        UniqueConstraint("board_id", "source_id", name="uq_note_board_source"),
        Index("ix_note_board_created", "board_id", "created_at"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=16)
    session_id: str = Field(foreign_key="session.id", ondelete="CASCADE", index=True)
    board_id: str = Field(foreign_key="board.id", ondelete="CASCADE")
    column_id: str = Field(max_length=16)
    text: str = Field(max_length=NOTE_MAX)
    # A good-example card's fields kept apart for the archive: what, who, where, contact,
    # effect, link (http or https, normalised) and kind (one of its column's kinds).
    fields: dict[str, str] | None = Field(default=None, sa_column=Column(SA_JSON))
    author_id: str | None = Field(
        default=None, foreign_key="participant.id", ondelete="SET NULL", index=True
    )
    anonymous: bool = False
    hidden: bool = False
    pinned: bool = False
    position: int = 0
    nonce: str | None = Field(default=None, max_length=NONCE_MAX)
    # The room note this one was collected from (a note on a plenary board).
    source_id: str | None = Field(default=None, max_length=16, index=True)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class NoteUpvote(SQLModel, table=True):
    __tablename__ = "note_upvote"

    note_id: str = Field(foreign_key="note.id", ondelete="CASCADE", primary_key=True)
    participant_id: str = Field(foreign_key="participant.id", ondelete="CASCADE", primary_key=True)
    created_at: datetime = Field(default_factory=utcnow)


class DotVote(SQLModel, table=True):
    __tablename__ = "dot_vote"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=16)
    session_id: str = Field(foreign_key="session.id", ondelete="CASCADE", index=True)
    board_id: str = Field(foreign_key="board.id", ondelete="CASCADE", index=True)
    scope: str = Field(max_length=12)  # "collected" (this board's notes) or "all"
    dots: int = 3
    status: str = Field(default="open", max_length=8)
    created_at: datetime = Field(default_factory=utcnow)


class Dot(SQLModel, table=True):
    # A participant's k-th dot takes slot k: the constraint caps the dots in the database,
    # whatever number of requests race.
    __table_args__ = (UniqueConstraint("vote_id", "participant_id", "slot", name="uq_dot_slot"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=16)
    vote_id: str = Field(foreign_key="dot_vote.id", ondelete="CASCADE", index=True)
    note_id: str = Field(foreign_key="note.id", ondelete="CASCADE", index=True)
    participant_id: str = Field(foreign_key="participant.id", ondelete="CASCADE")
    slot: int
