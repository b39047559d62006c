"""Notes: posting (once, however often it is re-sent), editing, deleting, upvoting."""

from __future__ import annotations

from typing import Any

from pydantic import HttpUrl, TypeAdapter, ValidationError
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from rooms.boards.reading import (
    board_by_id,
    describe_note,
    note_by_id,
    note_json,
    require_access,
    upvote_count,
)
from rooms.boards.tables import (
    CARD_FIELD_MAX,
    CARD_FIELDS,
    LINK_MAX,
    NONCE_MAX,
    NOTE_MAX,
    RESEND_WINDOW,
    Board,
    Note,
    NoteUpvote,
)
from rooms.errors import forbidden, invalid, not_found
from rooms.models import Event, Outcome, Participant, Role, utcnow
from rooms.sessions import writable
from rooms.text import clean, optional


def column_of(board: Board, column_id: Any) -> dict[str, Any]:
    for c in board.columns:
        if c["id"] == column_id:
            return c
    raise invalid("There is no such column on this board.")


_WEB_ADDRESS = TypeAdapter(HttpUrl)


def card_link(raw: Any) -> str | None:
    """A card's link as stored: an http or https address with a host, normalised (the host
    in lower case and punycode, the path percent-encoded), at most LINK_MAX characters."""
    given = optional(raw, "link", LINK_MAX)
    if given is None:
        return None
    try:
        url = _WEB_ADDRESS.validate_python(given)
    except ValidationError:
        raise invalid(
            "link must be a web address that starts with http:// or https:// and names a site."
        ) from None
    if url.username is not None or url.password is not None:
        raise invalid("link must not carry a user name or password.")
    link = str(url)
    if len(link) > LINK_MAX:
        raise invalid(f"link is {len(link)} characters; at most {LINK_MAX} are allowed.")
    return link


def card_kind(raw: Any, column: dict[str, Any]) -> str | None:
    """A card's kind: one of its column's kinds (as the column spells it), or none."""
    given = optional(raw, "kind", CARD_FIELD_MAX)
    if given is None:
        return None
    kinds = [str(k) for k in column.get("kinds") or []]
    for kind in kinds:
        if kind.casefold() == given.casefold():
            return kind
    if not kinds:
        raise invalid("kind: this column has no kinds to choose from.")
    raise invalid(f"kind must be one of: {', '.join(kinds)}.")


def _card(raw: Any, column: dict[str, Any]) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise invalid(
            "fields must be an object with what, who, where, contact, effect, link and kind."
        )
    unknown = set(raw) - set(CARD_FIELDS)
    if unknown:
        raise invalid(f"A card has no field {sorted(unknown)[0][:20]!r}.")
    out = {"what": clean(raw.get("what"), "What", CARD_FIELD_MAX, multiline=True)}
    for key in ("who", "where", "contact", "effect"):
        value = optional(raw.get(key), key.capitalize(), CARD_FIELD_MAX)
        if value:
            out[key] = value
    link = card_link(raw.get("link"))
    if link:
        out["link"] = link
    kind = card_kind(raw.get("kind"), column)
    if kind:
        out["kind"] = kind
    return out


def note_event(note: Note, board: Board, type_: str, data: dict[str, Any]) -> Event:
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
    anonymous: bool = False,
    nonce: Any = None,
    fields: Any = None,
) -> Outcome[tuple[dict[str, Any], bool]]:
    """Posts a note; a re-sent one (same nonce, or same words just now) returns the first.

    The value is (the note, whether it is new)."""
    await writable(db, participant.session_id)
    board = await board_by_id(db, board_id)
    await require_access(db, board, participant)
    chosen = column_of(board, column)
    card = None
    if fields not in (None, {}, ""):
        if not chosen.get("card"):
            raise invalid("This column takes plain notes, not example cards.")
        card = _card(fields, chosen)
        text = card["what"]
    clean_text = clean(text, "The note", NOTE_MAX, multiline=True)
    key = optional(nonce, "nonce", NONCE_MAX)
    existing = await _resent(db, participant.id, board.id, chosen["id"], clean_text, key)
    if existing is not None:
        return Outcome(board.session_id, (await describe_note(db, existing), False))
    position = int(await db.scalar(select(func.count()).where(col(Note.board_id) == board.id)) or 0)
    note = Note(
        session_id=board.session_id,
        board_id=board.id,
        column_id=chosen["id"],
        text=clean_text,
        fields=card,
        author_id=participant.id,
        anonymous=anonymous,
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
    event = note_event(note, board, "note.added", {"note": data})
    return Outcome(board.session_id, (data, True), (event,))


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
        column = column_of(board, note.column_id)
        if not column.get("card"):
            raise invalid("This column takes plain notes, not example cards.")
        note.fields = _card(fields, column)
        text = note.fields["what"]
    elif note.fields:
        # A card's words edited alone: the card says them too, its other fields kept.
        what = clean(text, "What", CARD_FIELD_MAX, multiline=True)
        note.fields = {**note.fields, "what": what}
    note.text = clean(text, "The note", NOTE_MAX, multiline=True)
    note.updated_at = utcnow()
    db.add(note)
    data = await describe_note(db, note)
    return Outcome(
        board.session_id, data, (note_event(note, board, "note.updated", {"note": data}),)
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
        note, board = await moderated_note(db, session_id, note_id)
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


async def moderated_note(db: AsyncSession, session_id: str, note_id: str) -> tuple[Note, Board]:
    await writable(db, session_id)
    note = await note_by_id(db, note_id)
    if note.session_id != session_id:
        raise forbidden("This note belongs to another session.")
    return note, await board_by_id(db, note.board_id)
