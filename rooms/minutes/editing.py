"""Writing shared minutes: who may write where, and each batch of updates stored (or refused)
in one transaction, the document compacted now and then."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from pycrdt import Text, get_state
from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from rooms.breakout.tables import LIVE, Room, Seat
from rooms.errors import Refused, forbidden, not_found
from rooms.locks import claim, locked
from rooms.minutes.structs import lacking
from rooms.minutes.tables import (
    COMPACT_AFTER,
    DOCUMENT_MAX,
    EMPTY,
    TEXT,
    UPDATE_MAX,
    Minutes,
    MinutesUpdate,
)
from rooms.minutes.whole import merged, state_of_rows, stored_updates
from rooms.models import Event, Outcome, Session, utcnow
from rooms.sessions import writable

# Ids are short (rooms.models.new_id); anything longer names nothing, without a lookup.
_ID_MAX = 40
# A document merged near DOCUMENT_MAX is not merged again for an update that adds text
# until this many bytes have been stored since (a deletion may merge it at once): a full
# document refuses each keystroke without merging a megabyte for it.
MERGE_SLACK = 64 * 1024
# The documents this process found near full, with their stored size then (a few; the
# oldest forgotten first).
_near_full: OrderedDict[str, int] = OrderedDict()
_NEAR_FULL_MAX = 1024


@dataclass(frozen=True)
class Target:
    """A minutes document: a room's (`room_id`) or a session's plenary one (`room_id` None)."""

    id: str
    session_id: str
    room_id: str | None = None


@dataclass(frozen=True)
class Edit:
    """One update sent by someone: a participant, or a moderator (`participant_id` None).
    `sender` names the socket it came from: once one of its updates is refused, its later
    ones in the same batch are too (they may build on the refused one)."""

    update: bytes
    participant_id: str | None
    sender: str


@dataclass(frozen=True)
class Written:
    """A batch's outcome: for each edit, None when it was stored, else why it was refused;
    and the document's version after the batch."""

    refusals: list[Refused | None]
    version: int
    # When something was stored: the document's state vector after it, and the document
    # as one update when the batch compacted it (for this process's cache, once committed).
    state: dict[int, int] | None = None
    whole: bytes | None = None


def _valid_id(value: str) -> bool:
    return 0 < len(value) <= _ID_MAX and value.isprintable()


async def room_target(db: AsyncSession, room_id: str) -> tuple[Target, Room]:
    """A room's minutes, and the room (any round, open or closed)."""
    room = await db.get(Room, room_id) if _valid_id(room_id) else None
    if room is None:
        raise not_found("room")
    return Target(room.id, room.session_id, room.id), room


async def plenary_target(db: AsyncSession, session_id: str) -> tuple[Target, Minutes | None]:
    """A session's plenary minutes, and their stored head (None: never switched on)."""
    session = await db.get(Session, session_id) if _valid_id(session_id) else None
    if session is None:
        raise not_found("session")
    return Target(session.id, session.id), await db.get(Minutes, session.id)


async def placed(db: AsyncSession, room_id: str, participant_id: str) -> bool:
    """Whether the participant sits in this room (or sat in it when its round closed)."""
    found = await db.scalar(
        select(col(Seat.id)).where(
            col(Seat.room_id) == room_id, col(Seat.participant_id) == participant_id
        )
    )
    return found is not None


async def seated(
    db: AsyncSession, pairs: set[tuple[str | None, str | None]]
) -> set[tuple[str | None, str | None]]:
    """Those of the (room, participant) pairs whose participant sits in that room (or sat
    in it when its round closed)."""
    rooms = {r for r, _ in pairs if r is not None}
    people = {p for _, p in pairs if p is not None}
    if not rooms or not people:
        return set()
    found = await db.execute(
        select(col(Seat.room_id), col(Seat.participant_id)).where(
            col(Seat.room_id).in_(rooms), col(Seat.participant_id).in_(people)
        )
    )
    return {(r, p) for r, p in found if (r, p) in pairs}


async def _head(db: AsyncSession, target: Target) -> Minutes:
    """The document's stored head, made on its first write, locked for this write."""
    head = await locked(db, Minutes, target.id, "update")
    if head is not None:
        return head
    await claim(
        db,
        Minutes,
        {
            "id": target.id,
            "session_id": target.session_id,
            "room_id": target.room_id,
            "plenary": False,
            "size": 0,
            "count": 0,
            "version": 0,
            "updated_at": utcnow(),
        },
    )
    head = await locked(db, Minutes, target.id, "update")
    assert head is not None
    return head


async def _writers(db: AsyncSession, target: Target, edits: Sequence[Edit]) -> set[str]:
    """The participants among the edits' senders who may write in this document now."""
    ids = {e.participant_id for e in edits if e.participant_id is not None}
    if target.room_id is None or not ids:
        return ids
    found = await db.scalars(
        select(col(Seat.participant_id)).where(
            col(Seat.room_id) == target.room_id, col(Seat.participant_id).in_(ids)
        )
    )
    return set(found)


async def _open_for_writing(db: AsyncSession, target: Target, head: Minutes) -> None:
    if target.room_id is not None:
        status = await db.scalar(select(col(Room.status)).where(col(Room.id) == target.room_id))
        if status is None:
            raise not_found("room")
        if status not in LIVE:
            raise Refused(
                "conflict", "This room has closed: its minutes can be read but not changed."
            )
    elif not head.plenary:
        raise Refused(
            "conflict",
            "The plenary minutes are switched off: a moderator switches them on.",
        )


def check_update(update: bytes) -> None:
    """Refuses what is too large or not a Yjs update at all."""
    if len(update) > UPDATE_MAX:
        raise Refused("too_large", "An update may be at most 64 KB; send it in parts.")
    try:
        get_state(update)
    except Exception:
        raise Refused("invalid", "That is not a Yjs update of these minutes.") from None


async def _insert(db: AsyncSession, document_id: str, updates: Sequence[bytes]) -> None:
    if updates:
        rows = [{"minutes_id": document_id, "data": update} for update in updates]
        await db.execute(insert(MinutesUpdate), rows)


async def _compact(db: AsyncSession, head: Minutes, whole: bytes) -> None:
    """Replaces every stored update of the document with one merged update."""
    await db.execute(delete(MinutesUpdate).where(col(MinutesUpdate.minutes_id) == head.id))
    await _insert(db, head.id, [whole])
    head.size, head.count = len(whole), 1


@dataclass
class _Batch:
    """A batch's document and the updates it appends, inserted together at its end."""

    head: Minutes
    appended: list[bytes]


def _deletes_only(update: bytes) -> bool:
    """Whether the update adds no structs (its first number, their writers, is 0)."""
    return update[:1] == b"\x00"


def _full() -> Refused:
    return Refused("too_large", "The minutes are full (1 MB): shorten them to add more.")


def _near(document_id: str, size: int | None) -> None:
    _near_full.pop(document_id, None)
    if size is not None:
        _near_full[document_id] = size
        while len(_near_full) > _NEAR_FULL_MAX:
            _near_full.popitem(last=False)


async def _store(db: AsyncSession, batch: _Batch, update: bytes) -> None:
    """Appends an update, or refuses it (storing nothing) when the document would pass
    DOCUMENT_MAX. Near the limit the document is merged first: its size is then exact; a
    merge that found it near full is not repeated for added text until MERGE_SLACK bytes
    more were stored (a deletion is stored as it is: it only shortens the text, and the
    next addition merges again to weigh the room it made)."""
    head = batch.head
    if _deletes_only(update):
        _near(head.id, None)
    elif head.size + len(update) > DOCUMENT_MAX:
        merged_at = _near_full.get(head.id)
        if merged_at is not None and 0 <= head.size - merged_at < MERGE_SLACK:
            raise _full()
        stored = await stored_updates(db, head.id)
        whole = merged([*stored, *batch.appended, update]).get_update()
        if len(whole) > DOCUMENT_MAX:
            _near(head.id, head.size)
            raise _full()
        batch.appended = []
        await _compact(db, head, whole)
        _near(head.id, head.size if len(whole) > DOCUMENT_MAX - MERGE_SLACK else None)
        return
    batch.appended.append(update)
    head.size += len(update)
    head.count += 1


async def write(db: AsyncSession, target: Target, edits: Sequence[Edit]) -> Written:
    """Stores a batch of updates in this transaction, each checked on its own: its sender
    may write here now, it is a Yjs update of at most UPDATE_MAX bytes, and the document
    stays within DOCUMENT_MAX. A refused update stores nothing."""
    await writable(db, target.session_id)
    head = await _head(db, target)
    try:
        await _open_for_writing(db, target, head)
    except Refused as closed:
        return Written([closed] * len(edits), head.version)
    allowed = await _writers(db, target, edits)
    known = await state_of_rows(db, head.id, head.version)
    exact = True  # whether `known` is the state vector after the stored updates
    batch = _Batch(head, [])
    refusals: list[Refused | None] = []
    refused_senders: set[str] = set()
    stored = 0
    for edit in edits:
        try:
            if edit.sender in refused_senders:
                raise Refused("conflict", "An earlier update from this socket was refused.")
            if edit.participant_id is not None and edit.participant_id not in allowed:
                raise forbidden("You are not in this room: its minutes are its people's.")
            check_update(edit.update)
            if edit.update != EMPTY:
                after = dict(known)
                lacks = lacking(edit.update, after)
                if lacks:
                    raise Refused(
                        "invalid",
                        "That update builds on changes these minutes do not have; sync again.",
                    )
                await _store(db, batch, edit.update)
                known = after
                exact = exact and lacks is not None
                stored += 1
        except Refused as exc:
            refusals.append(exc)
            refused_senders.add(edit.sender)
        else:
            refusals.append(None)
    if not stored:
        return Written(refusals, head.version)
    await _insert(db, head.id, batch.appended)
    head.version += 1
    head.updated_at = utcnow()
    whole = None
    if head.count > COMPACT_AFTER:
        whole = merged(await stored_updates(db, head.id)).get_update()
        await _compact(db, head, whole)
    await db.flush()
    return Written(refusals, head.version, known if exact else None, whole)


async def switch_plenary(db: AsyncSession, session_id: str, on: bool) -> Outcome[bool]:
    """Switches a session's plenary minutes on or off; off keeps what was written, read-only."""
    await writable(db, session_id)
    head = await _head(db, Target(session_id, session_id))
    changed = head.plenary != on
    head.plenary = on
    await db.flush()
    events = (Event("minutes.plenary", {"plenary": on}, key="minutes.plenary"),)
    return Outcome(session_id, on, events if changed else ())


async def append_text(db: AsyncSession, target: Target, text: str) -> Written:
    """Adds plain text at the end of the document, as a moderator typing it would (the
    demo's minutes); refused as any update would be."""
    doc = merged(await stored_updates(db, target.id))
    before = doc.get_state()
    typed = doc.get(TEXT, type=Text)
    typed.insert(len(typed), text)
    return await write(db, target, [Edit(doc.get_update(before), None, "append")])
