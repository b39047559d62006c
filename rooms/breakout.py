"""Breakout rooms: rounds of small groups, who sits where, timers, broadcasts and calls for help."""

from __future__ import annotations

import math
import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Index, UniqueConstraint, and_, delete, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel, col

from rooms.errors import Refused, forbidden, invalid, not_found
from rooms.models import (
    ATTRIBUTE_KEY_MAX,
    Event,
    Outcome,
    Participant,
    Role,
    Session,
    iso,
    new_id,
    utcnow,
)
from rooms.panels import Actor, Viewer, action, panel, placer, placer_many
from rooms.sessions import describe_part, on_close, on_join, writable
from rooms.text import clean, optional

Assignment = Literal["random", "balanced", "self", "manual"]
ASSIGNMENTS: tuple[Assignment, ...] = ("random", "balanced", "self", "manual")

# A thousand rooms is the design's largest session (10,000 people in groups of ten).
ROOMS_MAX = 1000
ROOM_NAME_MAX = 80
PLACE_MAX = 80
CAPACITY_MAX = 1000
MINUTES_MAX = 600
EXTEND_MAX = 120
BROADCAST_MAX = 500
# People see a warning this long before a round ends.
WARNING = timedelta(minutes=1)
# The moderator's overview lists who is where; beyond this many the list is cut, counts stay.
OVERVIEW_NAMES_MAX = 2000

_LIVE = ("prepared", "open")


class Round(SQLModel, table=True):
    """One period of breakout rooms, prepared, opened and closed together."""

    __tablename__ = "breakout_round"
    # At most one round per session is being prepared or is open: two moderators pressing
    # "open" at once get one round, and the other a conflict.
    __table_args__ = (
        Index(
            "uq_breakout_round_current",
            "session_id",
            unique=True,
            sqlite_where=text("status IN ('prepared', 'open')"),
            postgresql_where=text("status IN ('prepared', 'open')"),
        ),
        # The clock looks for open rounds by their end every second.
        Index("ix_breakout_round_status_ends_at", "status", "ends_at"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=16)
    session_id: str = Field(foreign_key="session.id", ondelete="CASCADE", index=True)
    status: str = Field(default="prepared", max_length=8)  # prepared, open, closed
    assignment: str = Field(max_length=8)
    balance_by: str | None = Field(default=None, max_length=ATTRIBUTE_KEY_MAX)
    minutes: int | None = None
    close_at_end: bool = False
    created_at: datetime = Field(default_factory=utcnow)
    opened_at: datetime | None = None
    ends_at: datetime | None = None
    warned: bool = False
    closed_at: datetime | None = None


class Room(SQLModel, table=True):
    """A breakout room of one round; a table in the hall when it has a place."""

    __tablename__ = "room"
    __table_args__ = (Index("ix_room_round_position", "round_id", "position"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=16)
    session_id: str = Field(foreign_key="session.id", ondelete="CASCADE", index=True)
    round_id: str = Field(foreign_key="breakout_round.id", ondelete="CASCADE")
    name: str = Field(max_length=ROOM_NAME_MAX)
    place: str | None = Field(default=None, max_length=PLACE_MAX)
    capacity: int | None = None
    position: int = 0
    status: str = Field(default="prepared", max_length=8)  # the round's status
    # How many people were in it when its round closed (seats move on to later rounds).
    people: int | None = None


class Seat(SQLModel, table=True):
    """Where a participant sits: one row per participant per session, so nobody sits twice.

    A seat in a closed room is where that person was when the round ended (how a later
    round keeps the same groups); only a seat in an open room places anyone."""

    __tablename__ = "seat"
    __table_args__ = (UniqueConstraint("session_id", "participant_id"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=16)
    session_id: str = Field(foreign_key="session.id", ondelete="CASCADE")
    participant_id: str = Field(foreign_key="participant.id", ondelete="CASCADE", index=True)
    room_id: str = Field(foreign_key="room.id", ondelete="CASCADE", index=True)
    # The participant's answer for the round's balance attribute, so a late joiner is
    # balanced with one grouped count instead of reading everyone's attributes.
    tag: str | None = Field(default=None, max_length=120)
    placed_at: datetime = Field(default_factory=utcnow)


class Broadcast(SQLModel, table=True):
    """A moderator's message to every room at once."""

    __tablename__ = "broadcast"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=16)
    session_id: str = Field(foreign_key="session.id", ondelete="CASCADE", index=True)
    round_id: str | None = Field(default=None, max_length=16)
    text: str = Field(max_length=BROADCAST_MAX)
    created_at: datetime = Field(default_factory=utcnow)


class HelpRequest(SQLModel, table=True):
    """A participant's call to the moderator from their room; answered calls are deleted."""

    __tablename__ = "help_request"
    __table_args__ = (UniqueConstraint("room_id", "participant_id"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=16)
    session_id: str = Field(foreign_key="session.id", ondelete="CASCADE", index=True)
    room_id: str = Field(foreign_key="room.id", ondelete="CASCADE", index=True)
    participant_id: str = Field(foreign_key="participant.id", ondelete="CASCADE")
    created_at: datetime = Field(default_factory=utcnow)


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
        "balance_by": r.balance_by,
        "minutes": r.minutes,
        "close_at_end": r.close_at_end,
        "opened_at": iso(r.opened_at),
        "ends_at": iso(r.ends_at),
        "closed_at": iso(r.closed_at),
    }


# -- reading --------------------------------------------------------------------------------


def _ended(r: Round, now: datetime) -> bool:
    """A round whose end closes it is over at its end, even before the clock closes it."""
    return r.close_at_end and r.ends_at is not None and r.ends_at <= now


async def current_round(db: AsyncSession, session_id: str) -> Round | None:
    """The round being prepared or open, if any."""
    found: Round | None = await db.scalar(
        select(Round).where(col(Round.session_id) == session_id, col(Round.status).in_(_LIVE))
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


def room_json(room: Room, participant_ids: list[str]) -> dict[str, Any]:
    return {
        "id": room.id,
        "name": room.name,
        "status": room.status,
        "place": room.place,
        "capacity": room.capacity,
        "round_id": room.round_id,
        "participant_ids": participant_ids if room.status in _LIVE else [],
    }


async def view_round(db: AsyncSession, r: Round | None) -> RoundView:
    if r is None:
        return RoundView(None, [])
    rooms = await rooms_of(db, r.id)
    seated = await members(db, [room.id for room in rooms])
    return RoundView(r, [room_json(room, seated[room.id]) for room in rooms])


@placer
async def room_of(db: AsyncSession, session_id: str, participant_id: str) -> str | None:
    """The open room this participant sits in; None is the plenary."""
    row = (
        await db.execute(
            select(col(Room.id), col(Round.close_at_end), col(Round.ends_at))
            .join(
                Seat,
                and_(col(Seat.room_id) == col(Room.id), col(Seat.participant_id) == participant_id),
            )
            .join(Round, col(Round.id) == col(Room.round_id))
            .where(col(Room.session_id) == session_id, col(Room.status) == "open")
        )
    ).first()
    if row is None:
        return None
    room_id, close_at_end, ends_at = row
    if close_at_end and ends_at is not None and ends_at <= utcnow():
        return None  # the clock is about to close it; nobody is sent into a closing room
    return str(room_id)


@placer_many
async def rooms_of_people(
    db: AsyncSession, session_id: str, participant_ids: list[str]
) -> dict[str, str | None]:
    """Everyone's open room in one read (the hub's relocation after a round opens or closes,
    a batch of votes)."""
    conn = await db.connection()
    rows = (
        await conn.execute(
            select(
                col(Seat.participant_id), col(Room.id), col(Round.close_at_end), col(Round.ends_at)
            )
            .join(Room, col(Seat.room_id) == col(Room.id))
            .join(Round, col(Round.id) == col(Room.round_id))
            .where(col(Room.session_id) == session_id, col(Room.status) == "open")
        )
    ).all()
    now = utcnow()
    found: dict[str, str | None] = dict.fromkeys(participant_ids)
    for pid, room_id, close_at_end, ends_at in rows:
        if pid in found and not (close_at_end and ends_at is not None and ends_at <= now):
            found[pid] = str(room_id)
    return found


@describe_part("rooms")
async def rooms_part(db: AsyncSession, session_id: str, role: Role) -> list[dict[str, Any]]:
    """Every room of the session, newest round last: open rooms with who is in them."""
    rooms = list(
        await db.scalars(
            select(Room)
            .join(Round, col(Round.id) == col(Room.round_id))
            .where(col(Room.session_id) == session_id)
            .order_by(col(Round.created_at), col(Room.position))
        )
    )
    live = [room.id for room in rooms if room.status in _LIVE]
    seated = await members(db, live)
    return [room_json(room, seated.get(room.id, [])) for room in rooms]


# -- opening --------------------------------------------------------------------------------


def _whole(value: Any, what: str, low: int, high: int) -> int:
    """A whole number from JSON or a form field, within its limits."""
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) < 8:
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise invalid(f"{what} must be a whole number from {low} to {high}.")
    return value


def _optional_whole(value: Any, what: str, low: int, high: int) -> int | None:
    if value is None or value == "":
        return None
    return _whole(value, what, low, high)


def _flag(value: Any) -> bool:
    """A JSON boolean or a checked form box."""
    return value is True or value in ("on", "true", "1", "yes")


def _texts(value: Any, what: str, max_len: int, count: int) -> list[str | None]:
    """Per-room texts (names, places): a list, or one per line from a form."""
    if value is None or value == "":
        return [None] * count
    if isinstance(value, str):
        value = value.splitlines()
    if not isinstance(value, list) or len(value) > count:
        raise invalid(f"{what} must be a list of at most {count} texts, one per room.")
    out = [optional(v, what, max_len) for v in value]
    return out + [None] * (count - len(out))


async def _participants(db: AsyncSession, session_id: str) -> list[Participant]:
    found = await db.scalars(
        select(Participant)
        .where(col(Participant.session_id) == session_id)
        .order_by(col(Participant.joined_at), col(Participant.id))
    )
    return list(found)


async def _expire(db: AsyncSession, session: Session) -> tuple[Round | None, list[Event]]:
    """The current round, after closing it if its end closes it and that end has passed:
    every write looks here first, so a round never outlives its end for lack of a clock."""
    r = await current_round(db, session.id)
    if r is not None and r.status == "open" and _ended(r, utcnow()):
        events = await _close(db, r)
        return None, events
    return r, []


async def open_rooms(
    db: AsyncSession,
    session_id: str,
    *,
    count: Any = None,
    per_room: Any = None,
    assignment: Any = "random",
    balance_by: Any = None,
    minutes: Any = None,
    close_at_end: Any = False,
    names: Any = None,
    places: Any = None,
    capacity: Any = None,
    prepare: Any = False,
    keep_groups: Any = False,
    rng: random.Random | None = None,
) -> Outcome[RoundView]:
    """Opens a round of breakout rooms (or prepares it, to open later) and places everyone."""
    session = await writable(db, session_id)
    rng = rng or random.Random()
    if assignment not in ASSIGNMENTS:
        raise invalid("assignment must be one of random, balanced, self or manual.")
    asked = {a["key"] for a in session.attributes}
    if assignment == "balanced":
        if not isinstance(balance_by, str) or balance_by not in asked:
            keys = ", ".join(sorted(asked)) or "none: the session asks for no attributes"
            raise invalid(
                f"Balanced rooms need balance_by, one of this session's attributes ({keys})."
            )
    elif balance_by not in (None, ""):
        raise invalid("balance_by is only used with assignment balanced.")
    else:
        balance_by = None
    minutes_n = _optional_whole(minutes, "minutes", 1, MINUTES_MAX)
    capacity_n = _optional_whole(capacity, "capacity", 1, CAPACITY_MAX)
    preparing = _flag(prepare)
    current, events = await _expire(db, session)
    if current is not None and current.status == "open":
        raise Refused("conflict", "Rooms are already open; close them before opening new ones.")
    if current is not None:  # a prepared round is replaced by the newer plan
        await db.execute(delete(Round).where(col(Round.id) == current.id))
    people = await _participants(db, session_id)
    previous = await last_round(db, session_id) if _flag(keep_groups) else None
    kept = await rooms_of(db, previous.id) if previous is not None else []
    if _flag(keep_groups) and not kept:
        raise invalid("There is no earlier round whose groups could be kept.")
    if kept:
        n = len(kept)
    elif count not in (None, ""):
        n = _whole(count, "count", 1, ROOMS_MAX)
    elif per_room not in (None, ""):
        size = _whole(per_room, "per_room", 1, CAPACITY_MAX)
        n = max(1, math.ceil(len(people) / size))
    else:
        raise invalid("Say how many rooms (count) or how many people per room (per_room).")
    if assignment in ("random", "balanced") and not preparing and not kept and n > len(people):
        if not people:
            raise invalid(
                "Nobody has joined yet, so nobody can be placed; prepare the rooms instead."
            )
        raise invalid(
            f"{n} rooms for {len(people)} participants would leave rooms empty; open at most "
            f"{len(people)} rooms, or prepare them and open them once people have joined."
        )
    room_names = _texts(names, "A room name", ROOM_NAME_MAX, n)
    room_places = _texts(places, "A place", PLACE_MAX, n)
    r = Round(
        session_id=session_id,
        assignment=assignment,
        balance_by=balance_by,
        minutes=minutes_n,
        close_at_end=_flag(close_at_end),
    )
    db.add(r)
    await db.flush()
    rooms: list[Room] = []
    for i in range(n):
        model = kept[i] if kept else None
        rooms.append(
            Room(
                session_id=session_id,
                round_id=r.id,
                position=i,
                name=room_names[i] or (model.name if model else f"Room {i + 1}"),
                place=room_places[i] or (model.place if model else None),
                capacity=capacity_n
                if capacity_n is not None
                else (model.capacity if model else None),
            )
        )
    db.add_all(rooms)
    await db.flush()
    if kept:
        # The same groups: every seat of the earlier round moves to its room's successor.
        for old, new in zip(kept, rooms, strict=True):
            await db.execute(
                update(Seat)
                .where(col(Seat.room_id) == old.id)
                .values(room_id=new.id, placed_at=utcnow())
            )
    if preparing:
        events.append(Event("rooms.prepared", {"round_id": r.id, "rooms": n}))
        return Outcome(session_id, await view_round(db, r), tuple(events))
    events += await _start(db, r, rooms, people, rng)
    return Outcome(session_id, await view_round(db, r), tuple(events))


async def open_prepared(db: AsyncSession, session_id: str) -> Outcome[RoundView]:
    """Opens the prepared round: those already seated stay, everyone else is placed."""
    session = await writable(db, session_id)
    current, events = await _expire(db, session)
    if current is None or current.status != "prepared":
        raise Refused("conflict", "There is no prepared round to open; open rooms directly.")
    rooms = await rooms_of(db, current.id)
    events += await _start(db, current, rooms, await _participants(db, session_id), random.Random())
    return Outcome(session_id, await view_round(db, current), tuple(events))


async def _start(
    db: AsyncSession, r: Round, rooms: list[Room], people: list[Participant], rng: random.Random
) -> list[Event]:
    now = utcnow()
    r.status = "open"
    r.opened_at = now
    r.ends_at = now + timedelta(minutes=r.minutes) if r.minutes else None
    db.add(r)
    for room in rooms:
        room.status = "open"
        db.add(room)
    room_ids = [room.id for room in rooms]
    seated = await members(db, room_ids)
    here = {pid for pids in seated.values() for pid in pids}
    if r.assignment in ("random", "balanced"):
        waiting = [p for p in people if p.id not in here]
        plan = _assign(waiting, rooms, r.balance_by, rng, seated, _tags(people, r.balance_by))
        await _seat_many(db, r, plan, {p.id: p for p in people})
    if r.balance_by is not None and here:
        # Seats kept from earlier carry the earlier round's tags; retag them for this one.
        tags = _tags(people, r.balance_by)
        by_tag: defaultdict[str | None, list[str]] = defaultdict(list)
        for pid in here:
            by_tag[tags.get(pid)].append(pid)
        for tag, pids in by_tag.items():
            await db.execute(update(Seat).where(col(Seat.participant_id).in_(pids)).values(tag=tag))
    return [
        Event(
            "rooms.opened",
            {
                "round_id": r.id,
                "rooms": len(rooms),
                "ends_at": iso(r.ends_at),
                "assignment": r.assignment,
            },
        ),
        Event("participants.moved", {"round_id": r.id, "reason": "opened"}),
    ]


def _tags(people: list[Participant], balance_by: str | None) -> dict[str, str | None]:
    if balance_by is None:
        return {}
    return {p.id: p.attributes.get(balance_by) for p in people}


def _assign(
    people: list[Participant],
    rooms: list[Room],
    balance_by: str | None,
    rng: random.Random,
    seated: dict[str, list[str]],
    tags: dict[str, str | None],
) -> dict[str, str]:
    """Which room each person goes to.

    Into empty rooms people are dealt round-robin, sorted by their answer for the balance
    attribute: each answer's people are a contiguous run of the deal, so every room gets
    the floor or the ceiling of that answer's share, and sizes differ by at most one,
    which is the most even mix the totals allow. Into rooms that already have people
    (kept groups, seats prepared by hand), each goes where `pick` would put a late joiner."""
    by_value: dict[str | None, list[Participant]] = defaultdict(list)
    for p in people:
        by_value[p.attributes.get(balance_by) if balance_by else None].append(p)
    order: list[Participant] = []
    for _, group in sorted(by_value.items(), key=lambda kv: (-len(kv[1]), str(kv[0]))):
        rng.shuffle(group)
        order += group
    plan: dict[str, str] = {}
    if not any(seated.values()):
        for i, p in enumerate(order):
            plan[p.id] = rooms[i % len(rooms)].id
        return plan
    counts = {room.id: _Count(len(seated[room.id]), defaultdict(int)) for room in rooms}
    for room in rooms:
        for pid in seated[room.id]:
            counts[room.id].by_tag[tags.get(pid)] += 1
    for p in order:
        tag = p.attributes.get(balance_by) if balance_by else None
        chosen = pick(counts, [room.id for room in rooms], tag, rng)
        plan[p.id] = chosen
        counts[chosen].size += 1
        counts[chosen].by_tag[tag] += 1
    return plan


@dataclass
class _Count:
    size: int
    by_tag: defaultdict[str | None, int]


def pick(
    counts: dict[str, _Count], room_ids: list[str], tag: str | None, rng: random.Random
) -> str:
    """The room for one more person: among the smallest rooms (so sizes never differ by more
    than one), one with the fewest people who gave the same answer, at random among equals."""
    smallest = min(counts[rid].size for rid in room_ids)
    candidates = [rid for rid in room_ids if counts[rid].size == smallest]
    fewest = min(counts[rid].by_tag[tag] for rid in candidates)
    return rng.choice([rid for rid in candidates if counts[rid].by_tag[tag] == fewest])


async def _seat_many(
    db: AsyncSession, r: Round, plan: dict[str, str], people: dict[str, Participant]
) -> None:
    if not plan:
        return
    await db.execute(
        delete(Seat).where(
            col(Seat.session_id) == r.session_id,
            col(Seat.participant_id).in_(list(plan)),
        )
    )
    now = utcnow()
    db.add_all(
        [
            Seat(
                session_id=r.session_id,
                participant_id=pid,
                room_id=rid,
                placed_at=now,
                tag=people[pid].attributes.get(r.balance_by) if r.balance_by else None,
            )
            for pid, rid in plan.items()
        ]
    )
    await db.flush()


async def _seat(db: AsyncSession, r: Round, participant: Participant, room_id: str) -> None:
    """Sits one person in a room, replacing the seat they had: never two seats."""
    seat = await db.scalar(
        select(Seat).where(
            col(Seat.session_id) == r.session_id, col(Seat.participant_id) == participant.id
        )
    )
    tag = participant.attributes.get(r.balance_by) if r.balance_by else None
    if seat is None:
        db.add(
            Seat(session_id=r.session_id, participant_id=participant.id, room_id=room_id, tag=tag)
        )
    else:
        seat.room_id, seat.tag, seat.placed_at = room_id, tag, utcnow()
        db.add(seat)
    await db.flush()


# -- late joiners ---------------------------------------------------------------------------


@on_join
async def place_late_joiner(
    db: AsyncSession, session: Session, participant: Participant
) -> tuple[Event, ...]:
    """Someone who joins while rooms are open goes where the round's rule would put them."""
    r, events = await _expire(db, session)
    if r is None or r.status != "open" or r.assignment not in ("random", "balanced"):
        return tuple(events)
    tag = participant.attributes.get(r.balance_by) if r.balance_by else None
    rows = (
        await db.execute(
            select(
                col(Room.id),
                func.count(col(Seat.id)),
                func.count(col(Seat.id)).filter(col(Seat.tag) == tag)
                if tag is not None
                else func.count(col(Seat.id)).filter(col(Seat.tag).is_(None)),
            )
            .outerjoin(Seat, col(Seat.room_id) == col(Room.id))
            .where(col(Room.round_id) == r.id)
            .group_by(col(Room.id))
        )
    ).all()
    if not rows:
        return tuple(events)
    counts = {
        rid: _Count(int(size), defaultdict(int, {tag: int(same)})) for rid, size, same in rows
    }
    chosen = pick(counts, sorted(counts), tag, random.Random())
    # Someone who just joined has no seat yet: one insert, and UNIQUE guards the rest.
    db.add(Seat(session_id=r.session_id, participant_id=participant.id, room_id=chosen, tag=tag))
    await db.flush()
    events.append(
        Event("rooms.placed", {"participant_id": participant.id, "room_id": chosen}, room_id=chosen)
    )
    return tuple(events)


# -- moving ---------------------------------------------------------------------------------


async def _room_in(db: AsyncSession, session_id: str, room_id: Any) -> Room:
    """A room of this session's current round; a room of another session is forbidden (as
    API.md says), an unknown one not found; neither reveals anything of the room."""
    valid = isinstance(room_id, str) and 0 < len(room_id) <= 40 and room_id.isprintable()
    room = await db.get(Room, room_id) if valid else None
    if room is None:
        raise not_found("room in this session")
    if room.session_id != session_id:
        raise forbidden("That room belongs to another session.")
    if room.status not in _LIVE:
        raise Refused("conflict", "That room is closed; open a new round first.")
    return room


async def _participant_in(db: AsyncSession, session_id: str, participant_id: Any) -> Participant:
    if not isinstance(participant_id, str) or not 0 < len(participant_id) <= 40:
        raise invalid("Say who to move: participant_id.")
    if not participant_id.isprintable():
        raise not_found("participant in this session")
    p = await db.get(Participant, participant_id)
    if p is None or p.session_id != session_id:
        raise not_found("participant in this session")
    return p


async def move(
    db: AsyncSession, session_id: str, participant_id: Any, room_id: Any
) -> Outcome[dict[str, Any]]:
    """The moderator moves someone into a room (also while rooms are open), or back to the
    plenary with no room. A moderator may fill a room past its capacity."""
    session = await writable(db, session_id)
    _, events = await _expire(db, session)
    p = await _participant_in(db, session_id, participant_id)
    if room_id in (None, ""):
        await db.execute(delete(Seat).where(col(Seat.participant_id) == p.id))
        await db.execute(delete(HelpRequest).where(col(HelpRequest.participant_id) == p.id))
        events.append(Event("participants.moved", {"participant_ids": [p.id], "room_id": None}))
        return Outcome(session_id, {"room_id": None, "participant_ids": []}, tuple(events))
    room = await _room_in(db, session_id, room_id)
    r = await db.get(Round, room.round_id)
    assert r is not None
    await _seat(db, r, p, room.id)
    await db.execute(
        delete(HelpRequest).where(
            col(HelpRequest.participant_id) == p.id,
            col(HelpRequest.room_id) != room.id,
        )
    )
    seated = (await members(db, [room.id]))[room.id]
    events.append(Event("participants.moved", {"participant_ids": [p.id], "room_id": room.id}))
    return Outcome(session_id, {"room_id": room.id, "participant_ids": seated}, tuple(events))


async def choose_room(
    db: AsyncSession, participant: Participant, room_id: Any, *, table: bool = False
) -> Outcome[dict[str, Any]]:
    """A participant chooses a room themselves (self-select), or scans a table's QR code."""
    session = await writable(db, participant.session_id)
    _, events = await _expire(db, session)
    room = await _room_in(db, participant.session_id, room_id)
    r = await db.get(Round, room.round_id)
    assert r is not None
    if r.assignment != "self" and room.place is None:
        raise forbidden("In this round the moderator places people; you cannot choose a room.")
    if table and room.place is None:
        raise not_found("table in this session")
    # Lock the room (PostgreSQL) so two people cannot take its last place at once; on
    # SQLite every write already holds the database lock.
    await db.execute(select(col(Room.id)).where(col(Room.id) == room.id).with_for_update())
    seated = (await members(db, [room.id]))[room.id]
    if participant.id not in seated:
        if room.capacity is not None and len(seated) >= room.capacity:
            raise Refused(
                "conflict", f"{room.name} is full ({room.capacity} people); choose another room."
            )
        await _seat(db, r, participant, room.id)
        seated.append(participant.id)
        events.append(
            Event("participants.moved", {"participant_ids": [participant.id], "room_id": room.id})
        )
    return Outcome(
        participant.session_id, {"room_id": room.id, "participant_ids": seated}, tuple(events)
    )


# -- closing, the clock ---------------------------------------------------------------------


async def _close(db: AsyncSession, r: Round) -> list[Event]:
    """Closes a round once: of two instances' clocks, only the first changes anything."""
    now = utcnow()
    done = await db.scalar(
        update(Round)
        .where(col(Round.id) == r.id, col(Round.status).in_(_LIVE))
        .values(status="closed", closed_at=now)
        .returning(col(Round.id))
    )
    if done is None:
        return []
    seated = (
        select(func.count())
        .where(col(Seat.room_id) == col(Room.id))
        .correlate(Room)
        .scalar_subquery()
    )
    await db.execute(
        update(Room).where(col(Room.round_id) == r.id).values(status="closed", people=seated)
    )
    await db.execute(
        delete(HelpRequest).where(
            col(HelpRequest.room_id).in_(select(col(Room.id)).where(col(Room.round_id) == r.id))
        )
    )
    await db.refresh(r)
    return [
        Event("rooms.closed", {"round_id": r.id}),
        Event("participants.moved", {"round_id": r.id, "reason": "closed"}),
    ]


async def close_rooms(db: AsyncSession, session_id: str) -> Outcome[RoundView]:
    """Closes every room: everyone is back in the plenary; rooms keep their boards and polls.
    Closing when nothing is open changes nothing and answers the last round, all closed."""
    session = await writable(db, session_id)
    r, events = await _expire(db, session)
    if r is not None:
        events += await _close(db, r)
    else:
        r = await last_round(db, session_id)
    return Outcome(session_id, await view_round(db, r), tuple(events))


@on_close
async def close_with_session(db: AsyncSession, session: Session) -> tuple[Event, ...]:
    """A session that closes closes its rooms: everyone is back in the plenary."""
    r, events = await _expire(db, session)
    if r is not None:
        events += await _close(db, r)
    return tuple(events)


async def extend(db: AsyncSession, session_id: str, minutes: Any) -> Outcome[RoundView]:
    """Gives the open round more time; from now if its time was already up."""
    session = await writable(db, session_id)
    more = _whole(minutes, "minutes", 1, EXTEND_MAX)
    r, events = await _expire(db, session)
    if r is None or r.status != "open":
        raise Refused("conflict", "No rooms are open; there is no timer to extend.")
    now = utcnow()
    start = r.ends_at if r.ends_at is not None and r.ends_at > now else now
    r.ends_at = start + timedelta(minutes=more)
    r.minutes = (r.minutes or 0) + more
    r.warned = False
    db.add(r)
    events.append(Event("rooms.extended", {"round_id": r.id, "ends_at": iso(r.ends_at)}))
    return Outcome(session_id, await view_round(db, r), tuple(events))


async def rounds_due(db: AsyncSession, now: datetime) -> list[tuple[str, str]]:
    """(session, round) of open rounds whose warning or end is due: what the clock acts on."""
    rows = await db.execute(
        select(col(Round.session_id), col(Round.id))
        .join(Session, col(Session.id) == col(Round.session_id))
        .where(
            col(Session.status) == "open",
            col(Round.status) == "open",
            col(Round.ends_at).is_not(None),
            or_(
                and_(col(Round.warned).is_(False), col(Round.ends_at) <= now + WARNING),
                and_(col(Round.close_at_end).is_(True), col(Round.ends_at) <= now),
            ),
        )
    )
    return [(str(s), str(r)) for s, r in rows.all()]


async def keep_time(db: AsyncSession, round_id: str) -> Outcome[None]:
    """The clock's work on one round: the one-minute warning, then the close if chosen."""
    r = await db.get(Round, round_id)
    if r is None or r.status != "open" or r.ends_at is None:
        return Outcome(r.session_id if r else "", None)
    session = await db.get(Session, r.session_id)
    if session is None or session.status != "open":
        return Outcome(r.session_id, None)
    now = utcnow()
    if _ended(r, now):
        return Outcome(r.session_id, None, tuple(await _close(db, r)))
    if not r.warned and r.ends_at <= now + WARNING:
        r.warned = True
        db.add(r)
        return Outcome(
            r.session_id,
            None,
            (Event("rooms.ending", {"round_id": r.id, "ends_at": iso(r.ends_at)}),),
        )
    return Outcome(r.session_id, None)


# -- broadcasts and help --------------------------------------------------------------------


async def broadcast(db: AsyncSession, session_id: str, message: Any) -> Outcome[Broadcast]:
    """A message from the moderator that appears in every room (and the plenary) at once."""
    session = await writable(db, session_id)
    body = clean(message, "The message", BROADCAST_MAX, multiline=True)
    r, events = await _expire(db, session)
    sent = Broadcast(session_id=session_id, round_id=r.id if r else None, text=body)
    db.add(sent)
    await db.flush()
    events.append(
        Event("rooms.broadcast", {"id": sent.id, "text": body, "sent_at": iso(sent.created_at)})
    )
    return Outcome(session_id, sent, tuple(events))


async def _help_count(db: AsyncSession, room_id: str) -> int:
    return int(
        await db.scalar(select(func.count()).where(col(HelpRequest.room_id) == room_id)) or 0
    )


async def ask_for_help(
    db: AsyncSession, participant: Participant, room_id: str | None = None
) -> Outcome[dict[str, Any]]:
    """A participant flags that their room needs the moderator; asking twice is one flag."""
    session = await writable(db, participant.session_id)
    _, events = await _expire(db, session)
    mine = await room_of(db, participant.session_id, participant.id)
    if mine is None or room_id not in (None, mine):
        raise Refused("conflict", "You are not in that breakout room; ask in the plenary.")
    room_id = mine
    asked = await db.scalar(
        select(col(HelpRequest.id)).where(
            col(HelpRequest.room_id) == room_id, col(HelpRequest.participant_id) == participant.id
        )
    )
    if asked is None:
        db.add(
            HelpRequest(
                session_id=participant.session_id, room_id=room_id, participant_id=participant.id
            )
        )
        await db.flush()
    count = await _help_count(db, room_id)
    if asked is None:  # asking again changes nothing, so it tells nobody anything
        events.append(Event("rooms.help", {"room_id": room_id, "help": count}, room_id=room_id))
    return Outcome(participant.session_id, {"room_id": room_id, "help": count}, tuple(events))


async def answer_help(db: AsyncSession, session_id: str, room_id: Any) -> Outcome[dict[str, Any]]:
    """The moderator is on the way to a room: its flags are cleared and the room is told."""
    session = await writable(db, session_id)
    _, events = await _expire(db, session)
    room = await _room_in(db, session_id, room_id)
    await db.execute(delete(HelpRequest).where(col(HelpRequest.room_id) == room.id))
    events.append(
        Event("rooms.help", {"room_id": room.id, "help": 0, "answered": True}, room_id=room.id)
    )
    return Outcome(session_id, {"room_id": room.id, "help": 0}, tuple(events))


async def table(db: AsyncSession, room_id: str) -> tuple[Session, Room]:
    """A hall table (a room with a place) and its session, for its QR code's join page."""
    room = await db.get(Room, room_id)
    if room is None or room.place is None:
        raise not_found("table")
    session = await db.get(Session, room.session_id)
    assert session is not None
    return session, room


# -- live panels ----------------------------------------------------------------------------

_TRIGGERS = {
    "note.added",  # a room's activity, in the overview
    "note.deleted",
    "rooms.opened",
    "rooms.prepared",
    "rooms.closed",
    "participants.moved",
    "rooms.placed",
    "rooms.extended",
    "rooms.ending",
    "rooms.broadcast",
    "rooms.help",
    "participant.joined",
    "participant.renamed",
    "participant.removed",
    "session.closed",
}


async def _latest_broadcast(db: AsyncSession, session_id: str) -> Broadcast | None:
    found: Broadcast | None = await db.scalar(
        select(Broadcast)
        .where(col(Broadcast.session_id) == session_id)
        .order_by(col(Broadcast.created_at).desc())
        .limit(1)
    )
    return found


async def _names(db: AsyncSession, ids: list[str]) -> dict[str, str | None]:
    if not ids:
        return {}
    rows = await db.execute(
        select(col(Participant.id), col(Participant.name)).where(col(Participant.id).in_(ids))
    )
    return {pid: name for pid, name in rows.all()}


def _clock(r: Round | None) -> dict[str, Any]:
    """What the countdown shows: the end, whether it is near, whether it has passed."""
    now = utcnow()
    ends = r.ends_at if r is not None and r.status == "open" else None
    return {
        "ends_at": iso(ends),
        "ends_hm": ends.strftime("%H:%M") if ends else None,
        "now": iso(now),
        "ending": bool(ends and now < ends <= now + WARNING),
        "over": bool(ends and ends <= now),
    }


@panel(
    "breakout",
    "breakout/_room.html",
    roles={"participant"},
    triggers={
        "rooms.opened",
        "rooms.closed",
        "participants.moved",
        "rooms.placed",
        "rooms.extended",
        "rooms.ending",
        "rooms.broadcast",
        "rooms.help",
        "participant.renamed",
        "participant.removed",
        "session.closed",
    },
)
async def room_panel(db: AsyncSession, viewer: Viewer) -> dict[str, Any]:
    """The participant's room (its name, place, people, countdown, help), or the plenary."""
    sid = viewer.audience.session_id
    r = await current_round(db, sid)
    room = await db.get(Room, viewer.audience.room_id) if viewer.audience.room_id else None
    names: list[str | None] = []
    choices: list[dict[str, Any]] = []
    if room is not None:
        ids = (await members(db, [room.id]))[room.id]
        found = await _names(db, ids)
        names = sorted((found.get(pid) for pid in ids), key=lambda n: (n is None, n or ""))
    elif r is not None and r.status == "open" and r.assignment == "self":
        view = await view_round(db, r)
        choices = view.rooms
    return {
        "room": room,
        "names": names,
        "help": await _help_count(db, room.id) if room is not None else 0,
        "round": r,
        "choices": choices,
        "broadcast": await _latest_broadcast(db, sid),
        "open": bool(
            await db.scalar(select(col(Session.status)).where(col(Session.id) == sid)) == "open"
        ),
        **_clock(r),
    }


async def _notes_by_room(db: AsyncSession, session_id: str) -> dict[str, int]:
    """How many notes each room has written on its boards: its activity, for the moderator."""
    from rooms.boards import Board, Note  # boards imports nothing of rooms; no cycle either way

    rows = await db.execute(
        select(col(Board.room_id), func.count())
        .join(Note, col(Note.board_id) == col(Board.id))
        .where(col(Board.session_id) == session_id, col(Board.room_id).is_not(None))
        .group_by(col(Board.room_id))
    )
    return {str(rid): int(n) for rid, n in rows.all()}


@panel("breakout-overview", "breakout/_overview.html", roles={"moderator"}, triggers=_TRIGGERS)
async def overview_panel(db: AsyncSession, viewer: Viewer) -> dict[str, Any]:
    """Every room with who is in it, its timer and its activity; the controls of a round."""
    sid = viewer.audience.session_id
    session = await db.get(Session, sid)
    assert session is not None
    r = await current_round(db, sid)
    view = await view_round(db, r)
    help_rows = await db.execute(
        select(col(HelpRequest.room_id), func.count())
        .where(col(HelpRequest.session_id) == sid)
        .group_by(col(HelpRequest.room_id))
    )
    help_by_room = {rid: int(n) for rid, n in help_rows.all()}
    people = list(
        (
            await db.execute(
                select(col(Participant.id), col(Participant.name))
                .where(col(Participant.session_id) == sid)
                .order_by(col(Participant.joined_at))
                .limit(OVERVIEW_NAMES_MAX)
            )
        ).all()
    )
    names = {pid: name for pid, name in people}
    seated = {pid for room in view.rooms for pid in room["participant_ids"]}
    return {
        "session": session,
        "round": r,
        "rooms": view.rooms,
        "help": help_by_room,
        "notes": await _notes_by_room(db, sid),
        "names": names,
        "people": people,
        "plenary": len([pid for pid, _ in people if pid not in seated]),
        "broadcast": await _latest_broadcast(db, sid),
        "assignments": ASSIGNMENTS,
        **_clock(r),
    }


@panel(
    "breakout-presenter",
    "breakout/_presenter.html",
    roles={"presenter"},
    triggers={"rooms.opened", "rooms.closed", "rooms.extended", "rooms.ending", "rooms.broadcast"},
)
async def presenter_panel(db: AsyncSession, viewer: Viewer) -> dict[str, Any]:
    r = await current_round(db, viewer.audience.session_id)
    rooms = await rooms_of(db, r.id) if r is not None and r.status == "open" else []
    return {
        "round": r,
        "count": len(rooms),
        "broadcast": await _latest_broadcast(db, viewer.audience.session_id),
        **_clock(r),
    }


# -- socket actions -------------------------------------------------------------------------


@action("rooms.open", roles={"moderator"})
async def open_action(db: AsyncSession, actor: Actor, message: dict[str, Any]) -> Outcome[Any]:
    if message.get("prepared") == "open":
        return await open_prepared(db, actor.session_id)
    by = message.get("by", "count")
    amount = message.get("amount")
    return await open_rooms(
        db,
        actor.session_id,
        count=amount if by == "count" else None,
        per_room=amount if by == "per_room" else None,
        assignment=message.get("assignment", "random"),
        balance_by=message.get("balance_by") if message.get("assignment") == "balanced" else None,
        minutes=message.get("minutes"),
        close_at_end=message.get("close_at_end"),
        names=message.get("names"),
        places=message.get("places"),
        capacity=message.get("capacity"),
        prepare=message.get("prepare"),
        keep_groups=message.get("keep_groups"),
    )


@action("rooms.close", roles={"moderator"})
async def close_action(db: AsyncSession, actor: Actor, message: dict[str, Any]) -> Outcome[Any]:
    return await close_rooms(db, actor.session_id)


@action("rooms.extend", roles={"moderator"})
async def extend_action(db: AsyncSession, actor: Actor, message: dict[str, Any]) -> Outcome[Any]:
    return await extend(db, actor.session_id, message.get("minutes"))


@action("rooms.broadcast", roles={"moderator"})
async def broadcast_action(db: AsyncSession, actor: Actor, message: dict[str, Any]) -> Outcome[Any]:
    return await broadcast(db, actor.session_id, message.get("text"))


@action("rooms.move", roles={"moderator"})
async def move_action(db: AsyncSession, actor: Actor, message: dict[str, Any]) -> Outcome[Any]:
    return await move(db, actor.session_id, message.get("participant_id"), message.get("room_id"))


@action("rooms.answer_help", roles={"moderator"})
async def answer_help_action(
    db: AsyncSession, actor: Actor, message: dict[str, Any]
) -> Outcome[Any]:
    return await answer_help(db, actor.session_id, message.get("room_id"))


async def _actor_participant(db: AsyncSession, actor: Actor) -> Participant:
    p = await db.get(Participant, actor.participant_id) if actor.participant_id else None
    if p is None:
        raise not_found("participant")
    return p


@action("rooms.help", roles={"participant"})
async def help_action(db: AsyncSession, actor: Actor, message: dict[str, Any]) -> Outcome[Any]:
    return await ask_for_help(db, await _actor_participant(db, actor))


@action("rooms.choose", roles={"participant"})
async def choose_action(db: AsyncSession, actor: Actor, message: dict[str, Any]) -> Outcome[Any]:
    return await choose_room(db, await _actor_participant(db, actor), message.get("room_id"))
