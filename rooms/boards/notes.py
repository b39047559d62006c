"""Notes: posting (once, however often it is re-sent), editing, deleting, upvoting (alone,
or in a storm's batch)."""

from __future__ import annotations

from typing import Any

from pydantic import HttpUrl, TypeAdapter, ValidationError
from sqlalchemy import bindparam, delete, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col

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
from rooms.breakout import rooms_of_people
from rooms.errors import Refused, forbidden, invalid, not_found
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
    return Outcome(board.session_id, count, (_upvoted(note, board, count),))


def _upvoted(note: Note, board: Board, count: int) -> Event:
    # Keyed per note: a burst of upvotes crosses the broker as one event with the total.
    return Event(
        "note.upvoted",
        {"note_id": note.id, "board_id": board.id, "upvotes": count},
        key=f"note.upvoted:{note.id}",
        room_id=board.room_id,
    )


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


# One press of a like button in a batch: who, what they like, and whether they take it back
# (None: the button's toggle, a second press takes the like back).
Press = tuple[str, str, bool | None]


async def upvote_many(
    db: AsyncSession, session_id: str, presses: list[Press]
) -> Outcome[list[int | Refused]]:
    """Several participants' likes of notes in one transaction (a group commit): each is
    accepted or refused on its own, as `upvote_note` (`toggle_upvote` where it toggles)
    would, and counted in the order they came; each changed note's event goes out once.

    One read of the likers, one of the notes with their boards, one of the likes given
    already, then one round of deletes and one of inserts (`LikeTally.store`)."""
    await writable(db, session_id)  # the session's row first (rooms/locks.py)
    pids = sorted({pid for pid, _, _ in presses})
    people = await sessions_of(db, pids)
    notes = await _notes_on_boards(db, sorted({nid for _, nid, _ in presses}))
    in_rooms = any(board.room_id is not None for _, board in notes.values())
    seats = await rooms_of_people(db, session_id, pids) if in_rooms else {}
    liked = await liked_among(db, NoteUpvote, "note_id", list(notes), pids)
    tally = LikeTally(liked, await like_counts(db, NoteUpvote, "note_id", list(notes)))
    done: list[int | Refused] = []
    for pid, nid, take_back in presses:
        try:
            check_liker(people, session_id, pid)
            note = _likeable(notes, nid, session_id, seats.get(pid))
        except Refused as exc:
            done.append(exc)
            continue
        done.append(tally.press(note.id, pid, take_back))
    await tally.store(db, NoteUpvote, "note_id")
    events = tuple(_upvoted(*notes[nid], tally.counts[nid]) for nid in sorted(tally.touched))
    return Outcome(session_id, done, events)


async def _notes_on_boards(db: AsyncSession, note_ids: list[str]) -> dict[str, tuple[Note, Board]]:
    rows = await db.execute(
        select(Note, Board)
        .join(Board, col(Board.id) == col(Note.board_id))
        .where(col(Note.id).in_(note_ids))
    )
    return {note.id: (note, board) for note, board in rows.all()}


def _likeable(
    notes: dict[str, tuple[Note, Board]], note_id: str, session_id: str, seat: str | None
) -> Note:
    """`upvote_note`'s checks, in its order, with the note, its board and the seat read."""
    found = notes.get(note_id)
    if found is None:
        raise not_found("note")
    note, board = found
    if session_id != board.session_id:
        raise forbidden("This board belongs to another session.")
    if board.room_id is not None and seat != board.room_id:
        raise forbidden("This board belongs to another room; you can write in your own room's.")
    if note.hidden:
        raise not_found("note")
    return note


# -- likes in a batch, of notes and of questions alike ------------------------------------------


async def sessions_of(db: AsyncSession, participant_ids: list[str]) -> dict[str, str]:
    """Each participant's session, read once for a batch."""
    conn = await db.connection()
    rows = await conn.execute(
        select(col(Participant.id), col(Participant.session_id)).where(
            col(Participant.id).in_(participant_ids)
        )
    )
    return {pid: sid for pid, sid in rows.all()}


def check_liker(people: dict[str, str], session_id: str, participant_id: str) -> None:
    """`participant_in`'s refusals, with the batch's participants read."""
    found = people.get(participant_id)
    if found is None:
        raise not_found("participant")
    if found != session_id:
        raise forbidden("This participant belongs to another session.")


def _table(model: type[SQLModel]) -> Any:
    return model.__table__  # type: ignore[attr-defined]


async def liked_among(
    db: AsyncSession,
    model: type[SQLModel],
    target: str,
    targets: list[str],
    participant_ids: list[str],
) -> set[tuple[str, str]]:
    """Which of these participants like which of these targets already: (target, who)."""
    if not targets:
        return set()
    table = _table(model)
    conn = await db.connection()
    rows = await conn.execute(
        select(table.c[target], table.c.participant_id).where(
            table.c[target].in_(targets), table.c.participant_id.in_(participant_ids)
        )
    )
    return {(str(t), str(p)) for t, p in rows.all()}


async def like_counts(
    db: AsyncSession, model: type[SQLModel], target: str, targets: list[str]
) -> dict[str, int]:
    """Each target's likes as stored, every target named (0 for none)."""
    counts = dict.fromkeys(targets, 0)
    if targets:
        table = _table(model)
        conn = await db.connection()
        rows = await conn.execute(
            select(table.c[target], func.count())
            .where(table.c[target].in_(targets))
            .group_by(table.c[target])
        )
        counts.update((str(t), int(n)) for t, n in rows.all())
    return counts


class LikeTally:
    """A batch's likes replayed in the order they came, as a transaction each would have
    counted them: each press's own total, then the batch's rows written at once.

    A like and its taking back in the same batch write nothing; the target still counts as
    touched, as two transactions would each have told everyone."""

    def __init__(self, liked: set[tuple[str, str]], counts: dict[str, int]) -> None:
        self._before = frozenset(liked)
        self._now = set(liked)
        self.counts = counts
        self.touched: set[str] = set()

    def press(self, target: str, participant_id: str, take_back: bool | None) -> int:
        """One press: a like where there was none, a take-back where there was one (the
        toggle decides by what the person has now); the target's total after it."""
        key = (target, participant_id)
        had = key in self._now
        if take_back is None:
            take_back = had
        if take_back == had:  # otherwise nothing changes: liked already, or nothing to take
            if had:
                self._now.discard(key)
            else:
                self._now.add(key)
            self.counts[target] += -1 if had else 1
            self.touched.add(target)
        return self.counts[target]

    async def store(self, db: AsyncSession, model: type[SQLModel], target: str) -> None:
        """One round of deletes and one of inserts, each in the order of target and person:
        two instances' batches take the same rows' locks in the same order and never each
        wait for the other. A like another instance stored meanwhile fails the insert and
        with it the batch; the caller then stores each press on its own."""
        table = _table(model)
        conn = await db.connection()
        gone = sorted(self._before - self._now)
        if gone:
            await conn.execute(
                delete(table).where(
                    table.c[target] == bindparam("t"), table.c.participant_id == bindparam("p")
                ),
                [{"t": t, "p": p} for t, p in gone],
            )
        new = sorted(self._now - self._before)
        if new:
            now = utcnow()
            rows = [{target: t, "participant_id": p, "created_at": now} for t, p in new]
            await conn.execute(insert(table), rows)
