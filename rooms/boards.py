"""Shared note boards: columns, notes, upvotes, collecting to the plenary, dot votes."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import JSON as SA_JSON
from sqlalchemy import Column, Index, UniqueConstraint, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel, col

from rooms.errors import Refused, forbidden, invalid, not_found
from rooms.locks import locked
from rooms.models import (
    TITLE_MAX,
    Event,
    Outcome,
    Participant,
    Role,
    new_id,
    utcnow,
)
from rooms.panels import Actor, Viewer, action, panel, place, summary
from rooms.sessions import describe, describe_part, session_by_id, writable
from rooms.text import clean, optional

NOTE_MAX = 1_000
COLUMN_MAX = 20
COLUMN_TITLE_MAX = 120
CARD_FIELD_MAX = 300
CARD_FIELDS = ("what", "who", "where", "contact", "effect")
NONCE_MAX = 64
ROOM_ID_MAX = 40
DOTS_MAX = 20
# A note with the same author, board, column and text within this window is a re-send (the
# htmx extension flushes its queue on reconnect), not a new note; it trades away posting the
# very same words twice in ten seconds, which nobody means to do.
RESEND_WINDOW = timedelta(seconds=10)
# Notes a participant may post per minute: a brisk writer manages a few, a script is stopped.
# The API counts them with the shared rate limiter; a socket action cannot reach it (actions
# are given no limiter), so the socket counts the participant's stored notes of the last
# minute instead: the same number, from the database.
NOTES_PER_MINUTE = 20
MINUTE = timedelta(minutes=1)

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


# -- tables -----------------------------------------------------------------------------------


class Board(SQLModel, table=True):
    id: str = Field(default_factory=new_id, primary_key=True, max_length=16)
    session_id: str = Field(foreign_key="session.id", ondelete="CASCADE", index=True)
    # A breakout room's id (no foreign key: rooms are another feature's table); None: plenary.
    room_id: str | None = Field(default=None, max_length=ROOM_ID_MAX, index=True)
    title: str = Field(max_length=TITLE_MAX)
    # [{"id", "title", "card"}]; card columns take good-example cards.
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
    # A good-example card's fields kept apart for the archive: what, who, where, contact, effect.
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


# -- reading ----------------------------------------------------------------------------------


def column_json(column: dict[str, Any]) -> dict[str, Any]:
    return {"id": column["id"], "title": column["title"], "card": bool(column.get("card"))}


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
    if await place(db, board.session_id, participant_id) == board.room_id:
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


@describe_part("boards")
async def _boards_part(db: AsyncSession, session_id: str, role: Role) -> list[dict[str, Any]]:
    return [board_summary(b) for b in await session_boards(db, session_id)]


# -- boards -----------------------------------------------------------------------------------


def _columns(raw: Any) -> list[dict[str, Any]]:
    if not isinstance(raw, list) or not 1 <= len(raw) <= COLUMN_MAX:
        raise invalid(f"columns must be a list of 1 to {COLUMN_MAX} column titles.")
    out = []
    for item in raw:
        card = False
        if isinstance(item, dict):
            card = bool(item.get("card"))
            item = item.get("title")
        title = clean(item, "A column title", COLUMN_TITLE_MAX)
        out.append({"id": new_id()[:8], "title": title, "card": card})
    return out


async def create_board(
    db: AsyncSession,
    session_id: str,
    *,
    title: Any = None,
    columns: Any = None,
    room_id: Any = None,
    template: Any = None,
) -> Outcome[Board]:
    """A board for the plenary (room_id None) or one room, from columns or a template."""
    await writable(db, session_id)
    if template is not None:
        if not isinstance(template, str) or template not in TEMPLATES:
            raise invalid(f"template must be one of {', '.join(TEMPLATES)}.")
        default_title, cols = TEMPLATES[template]
        title = default_title if title in (None, "") else title
        if columns is None:
            columns = [{"title": t, "card": card} for t, card in cols]
    board = Board(
        session_id=session_id,
        room_id=optional(room_id, "room_id", ROOM_ID_MAX),
        title=clean(title, "The board title", TITLE_MAX),
        columns=_columns(columns),
    )
    db.add(board)
    await db.flush()
    event = Event("board.created", {"board": board_summary(board)}, room_id=board.room_id)
    return Outcome(session_id, board, (event,))


async def create_board_from_template(
    db: AsyncSession,
    session_id: str,
    template: Template,
    room_id: str | None,
    title: str | None = None,
) -> Outcome[Board]:
    """What breakout rooms call when a round opens: every room gets its board."""
    return await create_board(db, session_id, template=template, room_id=room_id, title=title)


async def live_rooms(db: AsyncSession, session_id: str) -> list[dict[str, Any]]:
    """The session's prepared or open breakout rooms, as that feature describes them."""
    described = await describe(db, await session_by_id(db, session_id))
    return [r for r in described.get("rooms", []) if r.get("status") in ("prepared", "open")]


async def create_room_boards(
    db: AsyncSession, session_id: str, template: Any, title: Any = None
) -> Outcome[list[Board]]:
    """Gives every prepared or open breakout room its own board from a template."""
    if not isinstance(template, str) or template not in TEMPLATES:
        raise invalid(f"template must be one of {', '.join(TEMPLATES)}.")
    rooms = await live_rooms(db, session_id)
    if not rooms:
        raise Refused("conflict", "There are no open breakout rooms; open them first.")
    made: list[Board] = []
    events: list[Event] = []
    for room in rooms:
        outcome = await create_board(
            db, session_id, template=template, room_id=room["id"], title=title
        )
        made.append(outcome.value)
        events += outcome.events
    return Outcome(session_id, made, tuple(events))


async def show_board(db: AsyncSession, board_id: str | None, session_id: str) -> Outcome[None]:
    """Puts one board on the presenter view (None: none)."""
    await writable(db, session_id)
    for board in await session_boards(db, session_id):
        board.shown = board.id == board_id
        db.add(board)
    if board_id is not None:
        board = await board_by_id(db, board_id)
        if board.session_id != session_id:
            raise forbidden("This board belongs to another session.")
    return Outcome(
        session_id,
        None,
        (
            Event(
                "board.shown",
                {"board_id": board_id},
                roles=frozenset[Role]({"moderator", "presenter"}),
            ),
        ),
    )


# -- notes ------------------------------------------------------------------------------------


def _column(board: Board, column_id: Any) -> dict[str, Any]:
    for c in board.columns:
        if c["id"] == column_id:
            return c
    raise invalid("There is no such column on this board.")


def _card(raw: Any) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise invalid("fields must be an object with what, who, where, contact and effect.")
    unknown = set(raw) - set(CARD_FIELDS)
    if unknown:
        raise invalid(f"A card has no field {sorted(unknown)[0][:20]!r}.")
    out = {"what": clean(raw.get("what"), "What", CARD_FIELD_MAX, multiline=True)}
    for key in CARD_FIELDS[1:]:
        value = optional(raw.get(key), key.capitalize(), CARD_FIELD_MAX)
        if value:
            out[key] = value
    return out


def _events_for(note: Note, board: Board, type_: str, data: dict[str, Any]) -> Event:
    """A note's event, told only to its room; a hidden note's content only to moderators."""
    roles = frozenset[Role]({"moderator"}) if note.hidden else None
    return Event(type_, data, room_id=board.room_id, roles=roles)


async def add_note(
    db: AsyncSession,
    participant: Participant,
    board_id: str,
    *,
    text: Any = None,
    column: Any,
    anonymous: Any = False,
    nonce: Any = None,
    fields: Any = None,
    per_minute: int | None = None,
) -> Outcome[tuple[dict[str, Any], bool]]:
    """Posts a note; a re-sent one (same nonce, or same words just now) returns the first.

    The value is (the note, whether it is new)."""
    await writable(db, participant.session_id)
    board = await board_by_id(db, board_id)
    await require_access(db, board, participant)
    chosen = _column(board, column)
    card = None
    if fields not in (None, {}, ""):
        if not chosen.get("card"):
            raise invalid("This column takes plain notes, not example cards.")
        card = _card(fields)
        text = card["what"]
    clean_text = clean(text, "The note", NOTE_MAX, multiline=True)
    key = optional(nonce, "nonce", NONCE_MAX)
    existing = await _resent(db, participant.id, board.id, chosen["id"], clean_text, key)
    if existing is not None:
        return Outcome(board.session_id, (await describe_note(db, existing), False))
    if per_minute is not None:
        await _within_rate(db, participant.id, per_minute)
    position = int(await db.scalar(select(func.count()).where(col(Note.board_id) == board.id)) or 0)
    note = Note(
        session_id=board.session_id,
        board_id=board.id,
        column_id=chosen["id"],
        text=clean_text,
        fields=card,
        author_id=participant.id,
        anonymous=bool(anonymous),
        position=position,
        nonce=key,
    )
    try:
        async with db.begin_nested():
            db.add(note)
            await db.flush()
    except IntegrityError:
        # The same nonce committed by a racing request in between: that one is the note.
        found = await _resent(db, participant.id, board.id, chosen["id"], clean_text, key)
        if found is None:
            raise
        return Outcome(board.session_id, (await describe_note(db, found), False))
    data = note_json(note, participant.name, 0)
    event = _events_for(note, board, "note.added", {"note": data})
    return Outcome(board.session_id, (data, True), (event,))


async def _within_rate(db: AsyncSession, author_id: str, per_minute: int) -> None:
    now = utcnow()
    recent = list(
        await db.scalars(
            select(col(Note.created_at))
            .where(col(Note.author_id) == author_id, col(Note.created_at) >= now - MINUTE)
            .order_by(col(Note.created_at))
        )
    )
    if len(recent) >= per_minute:
        oldest = recent[-per_minute]
        if oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=UTC)
        wait = math.ceil((oldest + MINUTE - now).total_seconds())
        raise Refused(
            "rate_limited",
            "You are posting notes very fast; wait a moment and try again.",
            retry_after=max(1, wait),
        )


async def _resent(
    db: AsyncSession, author_id: str, board_id: str, column_id: str, text: str, nonce: str | None
) -> Note | None:
    if nonce is not None:
        found: Note | None = await db.scalar(
            select(Note).where(col(Note.author_id) == author_id, col(Note.nonce) == nonce)
        )
        return found
    same: Note | None = await db.scalar(
        select(Note)
        .where(
            col(Note.author_id) == author_id,
            col(Note.board_id) == board_id,
            col(Note.column_id) == column_id,
            col(Note.text) == text,
            col(Note.created_at) >= utcnow() - RESEND_WINDOW,
        )
        .limit(1)
    )
    return same


async def _own_note(db: AsyncSession, participant: Participant, note_id: str) -> tuple[Note, Board]:
    await writable(db, participant.session_id)
    note = await note_by_id(db, note_id)
    if note.session_id != participant.session_id:
        raise forbidden("This note belongs to another session.")
    if note.author_id != participant.id:
        raise forbidden("You can only change your own notes.")
    return note, await board_by_id(db, note.board_id)


async def edit_note(
    db: AsyncSession,
    participant: Participant,
    note_id: str,
    *,
    text: Any = None,
    fields: Any = None,
) -> Outcome[dict[str, Any]]:
    note, board = await _own_note(db, participant, note_id)
    if fields not in (None, {}, ""):
        if not _column(board, note.column_id).get("card"):
            raise invalid("This column takes plain notes, not example cards.")
        note.fields = _card(fields)
        text = note.fields["what"]
    note.text = clean(text, "The note", NOTE_MAX, multiline=True)
    note.updated_at = utcnow()
    db.add(note)
    data = await describe_note(db, note)
    return Outcome(
        board.session_id, data, (_events_for(note, board, "note.updated", {"note": data}),)
    )


async def delete_note(
    db: AsyncSession,
    note_id: str,
    *,
    participant: Participant | None = None,
    session_id: str | None = None,
) -> Outcome[None]:
    """The author deletes their note, or a moderator (session_id given) deletes any."""
    if participant is not None:
        note, board = await _own_note(db, participant, note_id)
    else:
        assert session_id is not None
        note, board = await _moderated(db, session_id, note_id)
    await db.execute(delete(Note).where(col(Note.id) == note.id))
    event = Event("note.deleted", {"note_id": note.id, "board_id": board.id}, room_id=board.room_id)
    return Outcome(board.session_id, None, (event,))


async def upvote_note(
    db: AsyncSession, participant: Participant, note_id: str, *, take_back: bool = False
) -> Outcome[int]:
    """One upvote per participant per note, kept by the primary key; taking back removes it."""
    await writable(db, participant.session_id)
    note = await note_by_id(db, note_id)
    board = await board_by_id(db, note.board_id)
    await require_access(db, board, participant)
    if note.hidden:
        raise not_found("note")
    changed = False
    if take_back:
        result = await db.execute(
            delete(NoteUpvote).where(
                col(NoteUpvote.note_id) == note.id, col(NoteUpvote.participant_id) == participant.id
            )
        )
        changed = bool(getattr(result, "rowcount", 0))
    else:
        had = await db.get(NoteUpvote, (note.id, participant.id))
        if had is None:
            try:
                async with db.begin_nested():
                    db.add(NoteUpvote(note_id=note.id, participant_id=participant.id))
                    await db.flush()
                changed = True
            except IntegrityError:
                changed = False  # a racing request of the same person counted it
    count = await upvote_count(db, note.id)
    if not changed:
        return Outcome(board.session_id, count)
    # Keyed per note: a burst of upvotes crosses the broker as one event with the total.
    event = Event(
        "note.upvoted",
        {"note_id": note.id, "board_id": board.id, "upvotes": count},
        key=f"note.upvoted:{note.id}",
        room_id=board.room_id,
    )
    return Outcome(board.session_id, count, (event,))


async def toggle_upvote(db: AsyncSession, participant: Participant, note_id: str) -> Outcome[int]:
    """The browser's like button: a second press takes the upvote back."""
    had = await db.get(NoteUpvote, (note_id, participant.id))
    return await upvote_note(db, participant, note_id, take_back=had is not None)


# -- moderation -------------------------------------------------------------------------------


async def _moderated(db: AsyncSession, session_id: str, note_id: str) -> tuple[Note, Board]:
    await writable(db, session_id)
    note = await note_by_id(db, note_id)
    if note.session_id != session_id:
        raise forbidden("This note belongs to another session.")
    return note, await board_by_id(db, note.board_id)


async def hide_note(
    db: AsyncSession, session_id: str, note_id: str, *, hidden: bool = True
) -> Outcome[dict[str, Any]]:
    """Hides a note from participants and the presenter view, or restores it."""
    note, board = await _moderated(db, session_id, note_id)
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
    note, board = await _moderated(db, session_id, note_id)
    note.pinned = pinned
    db.add(note)
    data = await describe_note(db, note)
    return Outcome(session_id, data, (_events_for(note, board, "note.updated", {"note": data}),))


async def move_note(
    db: AsyncSession, session_id: str, note_id: str, column: Any
) -> Outcome[dict[str, Any]]:
    note, board = await _moderated(db, session_id, note_id)
    target = _column(board, column)
    if target.get("card") != _column(board, note.column_id).get("card") and note.fields:
        raise invalid("An example card can only move to a column that takes cards.")
    note.column_id = target["id"]
    note.position = int(
        await db.scalar(select(func.count()).where(col(Note.board_id) == board.id)) or 0
    )
    db.add(note)
    data = await describe_note(db, note)
    return Outcome(session_id, data, (_events_for(note, board, "note.updated", {"note": data}),))


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
    target = _column(board, column) if column is not None else None
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
    title = _column(source_board, note.column_id)["title"].casefold()
    for c in board.columns:
        if c["title"].casefold() == title:
            return str(c["id"])
    return str(board.columns[0]["id"])


# -- dot votes (gallery votes) ----------------------------------------------------------------


async def open_dot_vote(
    db: AsyncSession, session_id: str, board_id: str, *, scope: Any = "collected", dots: Any = 3
) -> Outcome[DotVote]:
    """Opens a dot vote whose result orders this plenary board: over its notes or all rooms'."""
    await writable(db, session_id)
    board = await board_by_id(db, board_id)
    if board.session_id != session_id:
        raise forbidden("This board belongs to another session.")
    if board.room_id is not None:
        raise invalid("A dot vote orders a plenary board; choose one.")
    if scope not in ("collected", "all"):
        raise invalid("scope must be collected or all.")
    if isinstance(dots, str) and dots.isdigit():
        dots = int(dots)
    if not isinstance(dots, int) or isinstance(dots, bool) or not 1 <= dots <= DOTS_MAX:
        raise invalid(f"dots must be a whole number from 1 to {DOTS_MAX}.")
    for vote in await db.scalars(
        select(DotVote).where(col(DotVote.board_id) == board.id, col(DotVote.status) == "open")
    ):
        vote.status = "closed"
        db.add(vote)
    vote = DotVote(session_id=session_id, board_id=board.id, scope=scope, dots=dots)
    db.add(vote)
    await db.flush()
    return Outcome(session_id, vote, (Event("dots.opened", {"vote": vote_json(vote)}),))


async def close_dot_vote(db: AsyncSession, session_id: str, vote_id: str) -> Outcome[DotVote]:
    await writable(db, session_id)
    vote = await _vote(db, session_id, vote_id)
    # Locked here, while the action runs: the change itself is flushed only at commit,
    # after the version bump has locked the session's row, and would then wait for dots
    # being given that wait for that row in turn (PostgreSQL; see rooms/locks.py).
    vote = await locked(db, DotVote, vote.id, "update") or vote
    vote.status = "closed"
    db.add(vote)
    return Outcome(session_id, vote, (Event("dots.closed", {"vote": vote_json(vote)}),))


async def _vote(db: AsyncSession, session_id: str, vote_id: str) -> DotVote:
    vote = await db.get(DotVote, vote_id)
    if vote is None:
        raise not_found("dot vote")
    if vote.session_id != session_id:
        raise forbidden("This dot vote belongs to another session.")
    return vote


async def give_dot(
    db: AsyncSession, participant: Participant, vote_id: str, note_id: str
) -> Outcome[int]:
    """Spends one of the participant's dots on a note; returns how many they have left."""
    await writable(db, participant.session_id)
    vote = await _vote(db, participant.session_id, vote_id)
    # Held shared until the dot is stored: a close under way (PostgreSQL) is waited for,
    # and then seen, rather than a dot counted after it.
    vote = await locked(db, DotVote, vote.id, "share") or vote
    if vote.status != "open":
        raise Refused("conflict", "This dot vote is closed.")
    note = await note_by_id(db, note_id)
    if note.session_id != vote.session_id or note.hidden:
        raise not_found("note")
    if vote.scope == "collected" and note.board_id != vote.board_id:
        raise invalid("This dot vote is over the notes on its board.")
    used = set(
        await db.scalars(
            select(col(Dot.slot)).where(
                col(Dot.vote_id) == vote.id, col(Dot.participant_id) == participant.id
            )
        )
    )
    free = [s for s in range(vote.dots) if s not in used]
    if not free:
        raise Refused("conflict", f"You have given all your {vote.dots} dots.")
    try:
        async with db.begin_nested():
            db.add(
                Dot(vote_id=vote.id, note_id=note.id, participant_id=participant.id, slot=free[0])
            )
            await db.flush()
    except IntegrityError:
        raise Refused("conflict", "That dot was just given; try again.") from None
    event = Event(
        "dots.given", {"vote_id": vote.id, "board_id": vote.board_id}, key=f"dots.given:{vote.id}"
    )
    return Outcome(participant.session_id, len(free) - 1, (event,))


async def dots_left(db: AsyncSession, vote: DotVote, participant_id: str) -> int:
    used = int(
        await db.scalar(
            select(func.count()).where(
                col(Dot.vote_id) == vote.id, col(Dot.participant_id) == participant_id
            )
        )
        or 0
    )
    return max(0, vote.dots - used)


async def dot_results(db: AsyncSession, session_id: str, vote_id: str) -> dict[str, Any]:
    vote = await _vote(db, session_id, vote_id)
    rows = await db.execute(
        select(col(Dot.note_id), col(Note.text), func.count())
        .join(Note, col(Note.id) == col(Dot.note_id))
        .where(col(Dot.vote_id) == vote.id)
        .group_by(col(Dot.note_id), col(Note.text))
        .order_by(func.count().desc(), col(Dot.note_id))
    )
    voters = int(
        await db.scalar(
            select(func.count(func.distinct(col(Dot.participant_id)))).where(
                col(Dot.vote_id) == vote.id
            )
        )
        or 0
    )
    return {
        **vote_json(vote),
        "voters": voters,
        "notes": [{"id": nid, "text": text, "dots": int(n)} for nid, text, n in rows.all()],
    }


@summary("note.upvoted")
async def upvoted_total(db: AsyncSession, session_id: str, event: Event) -> dict[str, Any]:
    """The note's total as committed when the tick goes out: two upvotes counted in parallel
    transactions (PostgreSQL) each saw only their own, but this read sees both."""
    return {**event.data, "upvotes": await upvote_count(db, str(event.data["note_id"]))}


# -- for the archive --------------------------------------------------------------------------


async def archive_rows(db: AsyncSession, session_id: str) -> list[dict[str, Any]]:
    """Every note of the session as the archive keeps it: a good-example card's fields apart,
    no name for an anonymous note, boards in their order and notes by dots and upvotes."""
    found = await session_boards(db, session_id)
    notes = await board_notes(db, found, include_hidden=True)
    rows = []
    for board in found:
        titles = {c["id"]: c["title"] for c in board.columns}
        for note in ordered(notes[board.id], "top"):
            fields = note["fields"] or {}
            rows.append(
                {
                    "board": board.title,
                    "room_id": board.room_id,
                    "column": titles.get(note["column"], ""),
                    "text": note["text"],
                    **{key: fields.get(key, "") for key in CARD_FIELDS},
                    "author": (note["author"] or {}).get("name"),
                    "upvotes": note["upvotes"],
                    "dots": note["dots"],
                    "pinned": note["pinned"],
                    "hidden": note["hidden"],
                    "collected_from": note["collected_from"],
                    "created_at": note["created_at"],
                }
            )
    return rows


# -- live panels ------------------------------------------------------------------------------

NOTE_EVENTS = {
    "board.created",
    "note.added",
    "note.updated",
    "note.hidden",
    "note.restored",
    "note.deleted",
    "note.upvoted",
    "participant.removed",  # their notes go or lose their name; their upvotes and dots go
    "dots.opened",
    "dots.closed",
    "dots.given",
}


async def _visible_boards(db: AsyncSession, viewer: Viewer, *, write: bool = False) -> list[Board]:
    boards = await session_boards(db, viewer.audience.session_id)
    if viewer.audience.role == "participant":
        if not write and await gallery_open(db, viewer.audience.session_id):
            return boards  # the gallery: every room's board, to read and give dots
        room = viewer.audience.room_id
        boards = [b for b in boards if b.room_id is None or b.room_id == room]
    return boards


async def _boards_context(db: AsyncSession, viewer: Viewer, *, moderator: bool) -> dict[str, Any]:
    boards = await _visible_boards(db, viewer)
    notes = await board_notes(db, boards, include_hidden=moderator)
    out = []
    for board in boards:
        vote = await latest_vote(db, board.id)
        listed = notes[board.id]
        out.append(
            {
                **board_summary(board),
                "columns": [column_json(c) for c in board.columns],
                "shown": board.shown,
                "dot_vote": vote_json(vote) if vote else None,
                "notes": listed,
                "newest": [n["id"] for n in ordered(listed, "newest")],
                "top": [n["id"] for n in ordered(listed, "top")],
            }
        )
    gallery = await db.scalar(
        select(DotVote).where(
            col(DotVote.session_id) == viewer.audience.session_id,
            col(DotVote.status) == "open",
            col(DotVote.scope) == "all",
        )
    )
    return {"boards": out, "gallery": vote_json(gallery) if gallery else None}


@panel("sort-order", "boards/_sort.html", roles={"participant"}, triggers=set())
async def sort_panel(db: AsyncSession, viewer: Viewer) -> dict[str, Any]:
    """The viewer's choice of order, kept outside the lists so a live update never resets it."""
    return {}


@panel("my-likes", "boards/_likes.html", roles={"participant"}, triggers=set(), personal=True)
async def likes_panel(db: AsyncSession, viewer: Viewer) -> dict[str, Any]:
    """The notes this participant has upvoted (their buttons are marked in the browser)."""
    if viewer.participant_id is None:
        return {"notes": []}
    rows = await db.scalars(
        select(col(NoteUpvote.note_id)).where(
            col(NoteUpvote.participant_id) == viewer.participant_id
        )
    )
    return {"notes": sorted(rows)}


@panel("boards", "boards/_boards.html", roles={"participant"}, triggers=NOTE_EVENTS, json=True)
async def boards_panel(db: AsyncSession, viewer: Viewer) -> dict[str, Any]:
    """The plenary's and the viewer's room's boards, with their notes in both orders."""
    return await _boards_context(db, viewer, moderator=False)


@panel(
    "note-compose",
    "boards/_compose.html",
    roles={"participant"},
    triggers={"board.created", "dots.opened", "dots.closed"},
    personal=True,
)
async def compose_panel(db: AsyncSession, viewer: Viewer) -> dict[str, Any]:
    """The add-note form and the viewer's own notes; outside the live list, so typing is kept."""
    boards = await _visible_boards(db, viewer, write=True)
    mine: list[dict[str, Any]] = []
    votes = []
    if viewer.participant_id is not None:
        rows = await db.scalars(
            select(Note)
            .where(
                col(Note.author_id) == viewer.participant_id,
                col(Note.board_id).in_([b.id for b in boards]),
                col(Note.source_id).is_(None),
            )
            .order_by(col(Note.created_at).desc())
        )
        mine = [note_json(n, None, 0) for n in rows]
        for board in boards:
            vote = await latest_vote(db, board.id)
            if vote is not None and vote.status == "open":
                votes.append(
                    {
                        **vote_json(vote),
                        "title": board.title,
                        "left": await dots_left(db, vote, viewer.participant_id),
                    }
                )
    return {
        "boards": [
            {**board_summary(b), "columns": [column_json(c) for c in b.columns]} for b in boards
        ],
        "mine": mine,
        "votes": votes,
        "nonce": new_id(),
    }


@panel(
    "boards-moderation",
    "boards/_moderation.html",
    roles={"moderator"},
    triggers=NOTE_EVENTS | {"board.shown"},
    json=True,
)
async def moderation_panel(db: AsyncSession, viewer: Viewer) -> dict[str, Any]:
    context = await _boards_context(db, viewer, moderator=True)
    context["plenary"] = [b for b in context["boards"] if b["room_id"] is None]
    context["templates"] = {k: v[0] for k, v in TEMPLATES.items()}
    context["rooms"] = [
        {"id": r["id"], "name": r.get("name") or r["id"]}
        for r in await live_rooms(db, viewer.audience.session_id)
    ]
    return context


@panel(
    "board-stage", "boards/_stage.html", roles={"presenter"}, triggers=NOTE_EVENTS | {"board.shown"}
)
async def stage_panel(db: AsyncSession, viewer: Viewer) -> dict[str, Any]:
    board = await db.scalar(
        select(Board).where(
            col(Board.session_id) == viewer.audience.session_id, col(Board.shown).is_(True)
        )
    )
    if board is None:
        return {"board": None}
    described = await describe_board(db, board, include_hidden=False)
    described["notes"] = ordered(described["notes"], "top")
    return {"board": described}


# -- socket actions ---------------------------------------------------------------------------


async def _participant(db: AsyncSession, actor: Actor) -> Participant:
    participant = await db.get(Participant, actor.participant_id) if actor.participant_id else None
    if participant is None:
        raise not_found("participant")
    return participant


@action("note.add", roles={"participant"}, reply="note-compose")
async def add_note_action(db: AsyncSession, actor: Actor, message: dict[str, Any]) -> Outcome[Any]:
    participant = await _participant(db, actor)
    board_id, column = message.get("board"), message.get("column")
    target = message.get("target")
    if isinstance(target, str) and ":" in target:
        board_id, column = target.split(":", 1)
    if not isinstance(board_id, str):
        raise invalid("Choose where the note goes.")
    # The note's text is the card's "what"; any other card field makes it an example card.
    fields = {k: message[f"card_{k}"] for k in CARD_FIELDS[1:] if message.get(f"card_{k}")}
    if fields:
        fields["what"] = message.get("text")
    return await add_note(
        db,
        participant,
        board_id,
        text=message.get("text"),
        column=column,
        anonymous=message.get("anonymous") in (True, "on", "true", "1"),
        nonce=message.get("nonce"),
        fields=fields or None,
        per_minute=NOTES_PER_MINUTE,
    )


@action("note.edit", roles={"participant"}, reply="note-compose")
async def edit_note_action(db: AsyncSession, actor: Actor, message: dict[str, Any]) -> Outcome[Any]:
    return await edit_note(
        db, await _participant(db, actor), str(message.get("note")), text=message.get("text")
    )


@action("note.delete", roles={"participant"}, reply="note-compose")
async def delete_note_action(
    db: AsyncSession, actor: Actor, message: dict[str, Any]
) -> Outcome[Any]:
    return await delete_note(
        db, str(message.get("note")), participant=await _participant(db, actor)
    )


@action("note.like", roles={"participant"}, reply="my-likes")
async def like_action(db: AsyncSession, actor: Actor, message: dict[str, Any]) -> Outcome[Any]:
    return await toggle_upvote(db, await _participant(db, actor), str(message.get("note")))


@action("dot.give", roles={"participant"}, reply="note-compose")
async def dot_action(db: AsyncSession, actor: Actor, message: dict[str, Any]) -> Outcome[Any]:
    return await give_dot(
        db, await _participant(db, actor), str(message.get("vote")), str(message.get("note"))
    )


@action("board.create", roles={"moderator"})
async def create_board_action(
    db: AsyncSession, actor: Actor, message: dict[str, Any]
) -> Outcome[Any]:
    template = message.get("template") or "free"
    if not isinstance(template, str) or template not in TEMPLATES:
        raise invalid(f"template must be one of {', '.join(TEMPLATES)}.")
    title = message.get("title") or None
    if message.get("room_id") == "*":
        return await create_room_boards(db, actor.session_id, template, title)
    return await create_board(
        db,
        actor.session_id,
        template=template,
        title=title,
        room_id=message.get("room_id") or None,
    )


@action("board.show", roles={"moderator"})
async def show_board_action(
    db: AsyncSession, actor: Actor, message: dict[str, Any]
) -> Outcome[Any]:
    board = message.get("board")
    return await show_board(db, str(board) if board else None, actor.session_id)


@action("note.moderate", roles={"moderator"})
async def moderate_action(db: AsyncSession, actor: Actor, message: dict[str, Any]) -> Outcome[Any]:
    """One form per note; the pressed button's name says what to do."""
    sid, note = actor.session_id, str(message.get("note"))
    do = message.get("do")
    if do == "hide":
        return await hide_note(db, sid, note, hidden=True)
    if do == "restore":
        return await hide_note(db, sid, note, hidden=False)
    if do == "pin":
        return await pin_note(db, sid, note, pinned=True)
    if do == "unpin":
        return await pin_note(db, sid, note, pinned=False)
    if do == "move":
        return await move_note(db, sid, note, message.get("column"))
    if do == "collect":
        return await collect_notes(db, sid, str(message.get("to")), [note])
    if do == "delete":
        return await delete_note(db, note, session_id=sid)
    raise invalid("Unknown moderation.")


@action("dots.open", roles={"moderator"})
async def open_dots_action(db: AsyncSession, actor: Actor, message: dict[str, Any]) -> Outcome[Any]:
    return await open_dot_vote(
        db,
        actor.session_id,
        str(message.get("board")),
        scope=message.get("scope") or "collected",
        dots=message.get("dots") or 3,
    )


@action("dots.close", roles={"moderator"})
async def close_dots_action(
    db: AsyncSession, actor: Actor, message: dict[str, Any]
) -> Outcome[Any]:
    return await close_dot_vote(db, actor.session_id, str(message.get("vote")))


async def session_of_board(db: AsyncSession, board_id: str) -> str:
    board = await board_by_id(db, board_id)
    await session_by_id(db, board.session_id)
    return board.session_id
