"""Reading breakout rooms: the current round, who sits where, and what the screens count."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from rooms.breakout.assigning import choices_of, keys_of
from rooms.breakout.tables import LIVE, Broadcast, HelpRequest, Room, Round, Seat
from rooms.errors import Refused, forbidden, not_found
from rooms.models import Participant, Role, Session, iso, utcnow


@dataclass(frozen=True)
class RoundView:
    """A round and its rooms as the API and the panels show them."""

    round: Round | None
    rooms: list[dict[str, Any]]

    def json(self) -> dict[str, Any]:
        return {"round": round_json(self.round), "rooms": self.rooms}


def round_json(r: Round | None) -> dict[str, Any] | None:
    if r is None:
        return None
    return {
        "id": r.id,
        "status": r.status,
        "assignment": r.assignment,
        "balance_by": by[0] if len(by := keys_of(r.balance_by)) == 1 else list(by) or None,
        "minutes": r.minutes,
        "close_at_end": r.close_at_end,
        "opened_at": iso(r.opened_at),
        "ends_at": iso(r.ends_at),
        "closed_at": iso(r.closed_at),
    }


def ended(r: Round, now: datetime) -> bool:
    """A round whose end closes it is over at its end, even before the clock closes it."""
    return r.close_at_end and r.ends_at is not None and r.ends_at <= now


async def current_round(db: AsyncSession, session_id: str) -> Round | None:
    """The round being prepared or open, if any."""
    found: Round | None = await db.scalar(
        select(Round).where(col(Round.session_id) == session_id, col(Round.status).in_(LIVE))
    )
    return found


async def last_round(db: AsyncSession, session_id: str) -> Round | None:
    found: Round | None = await db.scalar(
        select(Round)
        .where(col(Round.session_id) == session_id)
        .order_by(col(Round.created_at).desc())
        .limit(1)
    )
    return found


async def room_names(db: AsyncSession, session_id: str) -> dict[str, str]:
    """Every room of the session by id, open or closed: a room is always shown by its name."""
    rows = await db.execute(
        select(col(Room.id), col(Room.name)).where(col(Room.session_id) == session_id)
    )
    return {rid: name for rid, name in rows.all()}


async def rooms_of(db: AsyncSession, round_id: str) -> list[Room]:
    found = await db.scalars(
        select(Room).where(col(Room.round_id) == round_id).order_by(col(Room.position))
    )
    return list(found)


async def members(db: AsyncSession, room_ids: list[str]) -> dict[str, list[str]]:
    """Who sits in each room, in the order they were placed."""
    out: dict[str, list[str]] = {rid: [] for rid in room_ids}
    if not room_ids:
        return out
    rows = await db.execute(
        select(col(Seat.room_id), col(Seat.participant_id))
        .where(col(Seat.room_id).in_(room_ids))
        .order_by(col(Seat.placed_at), col(Seat.id))
    )
    for rid, pid in rows.all():
        out[rid].append(pid)
    return out


def room_json(room: Any, participant_ids: list[str]) -> dict[str, Any]:
    """A room (a `Room`, or a row of its columns by the same names) as the API shows it."""
    return {
        "id": room.id,
        "name": room.name,
        "status": room.status,
        "place": room.place,
        "capacity": room.capacity,
        "round_id": room.round_id,
        "participant_ids": participant_ids if room.status in LIVE else [],
    }


async def view_round(db: AsyncSession, r: Round | None) -> RoundView:
    if r is None:
        return RoundView(None, [])
    rooms = await rooms_of(db, r.id)
    seated = await members(db, [room.id for room in rooms])
    return RoundView(r, [room_json(room, seated[room.id]) for room in rooms])


async def everyone(db: AsyncSession, session_id: str) -> list[Participant]:
    """The session's participants in the order they joined: who a round places."""
    found = await db.scalars(
        select(Participant)
        .where(col(Participant.session_id) == session_id)
        .order_by(col(Participant.joined_at), col(Participant.id))
    )
    return list(found)


# Built once: sockets that open ask them, and building a statement costs more than SQLite
# takes to run it.
_ROOM_OF = (
    select(col(Room.id), col(Round.close_at_end), col(Round.ends_at))
    .join(
        Seat,
        and_(
            col(Seat.room_id) == col(Room.id),
            col(Seat.participant_id) == bindparam("participant_id"),
        ),
    )
    .join(Round, col(Round.id) == col(Room.round_id))
    .where(col(Room.session_id) == bindparam("session_id"), col(Room.status) == "open")
)


async def room_of(db: AsyncSession, session_id: str, participant_id: str) -> str | None:
    """The open room this participant sits in; None is the plenary."""
    conn = await db.connection()
    params = {"session_id": session_id, "participant_id": participant_id}
    row = (await conn.execute(_ROOM_OF, params)).first()
    if row is None:
        return None
    room_id, close_at_end, ends_at = row
    if close_at_end and ends_at is not None and ends_at <= utcnow():
        return None  # the clock is about to close it; nobody is sent into a closing room
    return str(room_id)


_SEATED = (
    select(col(Seat.participant_id), col(Room.id), col(Round.close_at_end), col(Round.ends_at))
    .join(Room, col(Seat.room_id) == col(Room.id))
    .join(Round, col(Round.id) == col(Room.round_id))
    .where(col(Room.session_id) == bindparam("session_id"), col(Room.status) == "open")
)
# Driven by the seat's (session, participant) key: SQLite would otherwise start from the
# session's rooms and read every seat of them (10,000 seats for a batch of 64 people, 30
# times as long).
_SEATED_AMONG = (
    select(col(Seat.participant_id), col(Room.id), col(Round.close_at_end), col(Round.ends_at))
    .select_from(Seat)
    .join(Room, col(Seat.room_id) == col(Room.id))
    .join(Round, col(Round.id) == col(Room.round_id))
    .where(
        col(Seat.session_id) == bindparam("session_id"),
        col(Seat.participant_id).in_(bindparam("participant_ids", expanding=True)),
        col(Room.status) == "open",
    )
)
# Up to this many people are looked up by id; more read every seat of the session's open
# rooms (a list of ids costs a bound parameter each, and both databases cap how many).
AMONG_MAX = 500


async def rooms_of_people(
    db: AsyncSession, session_id: str, participant_ids: list[str]
) -> dict[str, str | None]:
    """Everyone's open room in one read (the hub's relocation after a round opens or closes,
    a batch of votes, the snapshots of sockets that open together)."""
    conn = await db.connection()
    params: dict[str, Any] = {"session_id": session_id}
    query = _SEATED
    if len(participant_ids) <= AMONG_MAX:
        query, params["participant_ids"] = _SEATED_AMONG, participant_ids
    rows = (await conn.execute(query, params)).all()
    now = utcnow()
    found: dict[str, str | None] = dict.fromkeys(participant_ids)
    for pid, room_id, close_at_end, ends_at in rows:
        if pid in found and not (close_at_end and ends_at is not None and ends_at <= now):
            found[pid] = str(room_id)
    return found


# A session's rooms, newest round last, and who sits in its live ones: as rows, because at a
# thousand rooms and ten thousand seats making ORM objects of them costs more than the reads.
_ROOM_COLUMNS = (
    col(Room.id),
    col(Room.name),
    col(Room.status),
    col(Room.place),
    col(Room.capacity),
    col(Room.round_id),
)
_ROOMS = (
    select(*_ROOM_COLUMNS)
    .join(Round, col(Round.id) == col(Room.round_id))
    .where(col(Room.session_id) == bindparam("session_id"))
    .order_by(col(Round.created_at), col(Room.position))
)
_LIVE_SEATS = (
    select(col(Seat.room_id), col(Seat.participant_id))
    .join(Room, col(Room.id) == col(Seat.room_id))
    .where(col(Room.session_id) == bindparam("session_id"), col(Room.status).in_(LIVE))
    .order_by(col(Seat.placed_at), col(Seat.id))
)


async def rooms_part(db: AsyncSession, session_id: str, role: Role) -> list[dict[str, Any]]:
    """Every room of the session, newest round last: live rooms with who is in them, in
    the order they were placed."""
    conn = await db.connection()
    params = {"session_id": session_id}
    rooms = (await conn.execute(_ROOMS, params)).all()
    seated: dict[str, list[str]] = {}
    for room_id, participant_id in (await conn.execute(_LIVE_SEATS, params)).all():
        seated.setdefault(room_id, []).append(participant_id)
    return [room_json(room, seated.get(room.id, [])) for room in rooms]


_SIZED = (
    select(*_ROOM_COLUMNS, func.count(col(Seat.id)))
    .outerjoin(Seat, col(Seat.room_id) == col(Room.id))
    .where(col(Room.id).in_(bindparam("room_ids", expanding=True)))
    .group_by(col(Room.id))
)


async def rooms_sized(db: AsyncSession, room_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """These rooms as the API shows them, each with how many sit in it (`size`) in place of
    who: one statement for them all."""
    ids = sorted(set(room_ids))
    if not ids:
        return {}
    conn = await db.connection()
    rows = (await conn.execute(_SIZED, {"room_ids": ids})).all()
    found = {}
    for row in rows:
        described = room_json(row, [])
        del described["participant_ids"]
        described["size"] = row[-1] if row.status in LIVE else 0
        found[row.id] = described
    return found


async def stream_rooms(db: AsyncSession, session_id: str, role: Role) -> list[dict[str, Any]]:
    """The rooms an event stream's snapshot lists. A moderator's: every room, with who sits
    in it and its size. Anyone else's: the rooms they may choose (an open round where people
    choose their own room), with their sizes, and none otherwise; their own room is theirs
    alone (the snapshot's `you.room`). Every room's list of people would be most of every
    participant's snapshot (10,000 people in 1,000 rooms: 297 KiB each, sent to all of them
    as the rooms open), and where everyone else sits is not theirs to follow."""
    if role == "moderator":
        every = await rooms_part(db, session_id, role)
        return [{**room, "size": len(room["participant_ids"])} for room in every]
    r = await current_round(db, session_id)
    if r is None or r.status != "open" or r.assignment != "self":
        return []
    rooms = await rooms_of(db, r.id)
    sized = await rooms_sized(db, [room.id for room in rooms])
    return [sized[room.id] for room in rooms if room.status in LIVE]


async def room_in(db: AsyncSession, session_id: str, room_id: str) -> Room:
    """A room of this session's current round; a room of another session is forbidden (as
    API.md says), an unknown one not found; neither reveals anything of the room."""
    valid = 0 < len(room_id) <= 40 and room_id.isprintable()
    room = await db.get(Room, room_id) if valid else None
    if room is None:
        raise not_found("room in this session")
    if room.session_id != session_id:
        raise forbidden("That room belongs to another session.")
    if room.status not in LIVE:
        raise Refused("conflict", "That room is closed; open a new round first.")
    return room


async def session_of_room(db: AsyncSession, room_id: str) -> str:
    """The session a room belongs to, whatever its round's status."""
    found = await db.scalar(select(col(Room.session_id)).where(col(Room.id) == room_id))
    if found is None:
        raise not_found("room")
    return str(found)


async def table(db: AsyncSession, room_id: str) -> tuple[Session, Room]:
    """A hall table (a room with a place) and its session, for its QR code's join page."""
    room = await db.get(Room, room_id)
    if room is None or room.place is None:
        raise not_found("table")
    session = await db.get(Session, room.session_id)
    assert session is not None
    return session, room


# One balance attribute's spread in a room: its label, and each choice with its count.
Spread = tuple[str, list[tuple[str | None, int]]]


async def spread(
    db: AsyncSession, r: Round | None, attributes: list[dict[str, Any]]
) -> dict[str, list[Spread]]:
    """How each open room of a balanced round is mixed: per balance attribute, how many in
    it gave each choice (in the attribute's order; None: no answer), from one grouped count
    of the seats' tags."""
    keys = keys_of(r.balance_by if r is not None else None)
    if r is None or r.status != "open" or not keys:
        return {}
    asked = {a["key"]: list(a["choices"]) for a in attributes}
    labels = {a["key"]: str(a.get("label") or a["key"]) for a in attributes}
    rows = await db.execute(
        select(col(Seat.room_id), col(Seat.tag), func.count())
        .join(Room, col(Room.id) == col(Seat.room_id))
        .where(col(Room.round_id) == r.id)
        .group_by(col(Seat.room_id), col(Seat.tag))
    )
    counted: dict[str, list[dict[str | None, int]]] = {}
    for room_id, tag, n in rows.all():
        per_key = counted.setdefault(str(room_id), [{} for _ in keys])
        for i, choice in enumerate(choices_of(tag, keys, asked)):
            per_key[i][choice] = per_key[i].get(choice, 0) + int(n)
    present = [{c for room in counted.values() for c in room[i]} for i in range(len(keys))]
    out: dict[str, list[Spread]] = {}
    for room_id, per_key in counted.items():
        out[room_id] = []
        for i, key in enumerate(keys):
            order: list[str | None] = [c for c in asked.get(key, []) if c in present[i]]
            if None in present[i]:
                order.append(None)
            out[room_id].append((labels.get(key, key), [(c, per_key[i].get(c, 0)) for c in order]))
    return out


# -- what the screens count -------------------------------------------------------------------


async def latest_broadcast(db: AsyncSession, session_id: str) -> Broadcast | None:
    found: Broadcast | None = await db.scalar(
        select(Broadcast)
        .where(col(Broadcast.session_id) == session_id)
        .order_by(col(Broadcast.created_at).desc())
        .limit(1)
    )
    return found


async def names_of(db: AsyncSession, ids: list[str]) -> dict[str, str | None]:
    if not ids:
        return {}
    rows = await db.execute(
        select(col(Participant.id), col(Participant.name)).where(col(Participant.id).in_(ids))
    )
    return {pid: name for pid, name in rows.all()}


async def people(db: AsyncSession, session_id: str, limit: int) -> list[tuple[str, str | None]]:
    """(id, name) of the first `limit` people who joined."""
    rows = await db.execute(
        select(col(Participant.id), col(Participant.name))
        .where(col(Participant.session_id) == session_id)
        .order_by(col(Participant.joined_at))
        .limit(limit)
    )
    return [(str(pid), name) for pid, name in rows.all()]


async def help_count(db: AsyncSession, room_id: str) -> int:
    return int(
        await db.scalar(select(func.count()).where(col(HelpRequest.room_id) == room_id)) or 0
    )


async def help_by_room(db: AsyncSession, session_id: str) -> dict[str, int]:
    """How many in each room have called the moderator."""
    rows = await db.execute(
        select(col(HelpRequest.room_id), func.count())
        .where(col(HelpRequest.session_id) == session_id)
        .group_by(col(HelpRequest.room_id))
    )
    return {str(rid): int(n) for rid, n in rows.all()}


async def notes_by_room(db: AsyncSession, session_id: str) -> dict[str, int]:
    """How many notes each room has written on its boards: its activity, for the moderator."""
    from rooms.boards import Board, Note  # boards imports nothing of rooms; no cycle either way

    rows = await db.execute(
        select(col(Board.room_id), func.count())
        .join(Note, col(Note.board_id) == col(Board.id))
        .where(col(Board.session_id) == session_id, col(Board.room_id).is_not(None))
        .group_by(col(Board.room_id))
    )
    return {str(rid): int(n) for rid, n in rows.all()}


async def session_is_open(db: AsyncSession, session_id: str) -> bool:
    status = await db.scalar(select(col(Session.status)).where(col(Session.id) == session_id))
    return bool(status == "open")
