"""Opening a round of breakout rooms (or preparing it) and placing everyone, late joiners too."""

from __future__ import annotations

import asyncio
import math
import random
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from rooms.breakout.assigning import Count, answers_of, assign, keys_of, pick, tag_of, tags
from rooms.breakout.clock import expire
from rooms.breakout.reading import RoundView, everyone, last_round, members, rooms_of, view_round
from rooms.breakout.tables import (
    ASSIGNMENTS,
    CAPACITY_MAX,
    MINUTES_MAX,
    PLACE_MAX,
    ROOM_NAME_MAX,
    ROOMS_MAX,
    Room,
    Round,
    Seat,
    whole,
)
from rooms.errors import Refused, invalid
from rooms.models import (
    ATTRIBUTES_MAX,
    Event,
    Outcome,
    Participant,
    Session,
    iso,
    new_id,
    utcnow,
)
from rooms.sessions import writable
from rooms.text import optional


def _optional_whole(value: int | None, what: str, low: int, high: int) -> int | None:
    return None if value is None else whole(value, what, low, high)


def _per_room(
    values: Sequence[str | None] | None, what: str, max_len: int, count: int
) -> list[str | None]:
    """Per-room texts (names, places), at most one per room; the rest get none."""
    if values is None:
        return [None] * count
    if isinstance(values, str) or not isinstance(values, Sequence) or len(values) > count:
        raise invalid(f"{what} must be a list of at most {count} texts, one per room.")
    out = [optional(v, what, max_len) for v in values]
    return out + [None] * (count - len(out))


def _balance(
    session: Session, assignment: str, balance_by: str | Sequence[str] | None
) -> str | None:
    """The attributes a round balances by, comma-joined: one or several that the session
    asks, each once, and only for balanced rooms."""
    if assignment not in ASSIGNMENTS:
        raise invalid("assignment must be one of random, balanced, self or manual.")
    asked = {a["key"] for a in session.attributes}
    if assignment != "balanced":
        if balance_by not in (None, "") and balance_by != []:
            raise invalid("balance_by is only used with assignment balanced.")
        return None
    keys = [balance_by] if isinstance(balance_by, str) else balance_by
    if not isinstance(keys, Sequence) or any(not isinstance(k, str) for k in keys):
        keys = []
    if len(keys) > ATTRIBUTES_MAX or len(set(keys)) != len(keys):
        raise invalid(f"balance_by names at most {ATTRIBUTES_MAX} attributes, each once.")
    if not keys or any(k not in asked for k in keys):
        known = ", ".join(sorted(asked)) or "none: the session asks for no attributes"
        raise invalid(
            f"Balanced rooms need balance_by, one of this session's attributes ({known})."
        )
    return ",".join(keys)


async def open_rooms(
    db: AsyncSession,
    session_id: str,
    *,
    count: int | None = None,
    per_room: int | None = None,
    assignment: str = "random",
    balance_by: str | Sequence[str] | None = None,
    minutes: int | None = None,
    close_at_end: bool = False,
    names: Sequence[str | None] | None = None,
    places: Sequence[str | None] | None = None,
    capacity: int | None = None,
    prepare: bool = False,
    keep_groups: bool = False,
    rng: random.Random | None = None,
) -> Outcome[RoundView]:
    """Opens a round of breakout rooms (or prepares it, to open later) and places everyone."""
    session = await writable(db, session_id)
    rng = rng or random.Random()
    balance_key = _balance(session, assignment, balance_by)
    minutes_n = _optional_whole(minutes, "minutes", 1, MINUTES_MAX)
    capacity_n = _optional_whole(capacity, "capacity", 1, CAPACITY_MAX)
    current, events = await expire(db, session)
    if current is not None and current.status == "open":
        raise Refused("conflict", "Rooms are already open; close them before opening new ones.")
    if current is not None:  # a prepared round is replaced by the newer plan
        await db.execute(delete(Round).where(col(Round.id) == current.id))
    people = await everyone(db, session_id)
    previous = await last_round(db, session_id) if keep_groups else None
    kept = await rooms_of(db, previous.id) if previous is not None else []
    if keep_groups and not kept:
        raise invalid("There is no earlier round whose groups could be kept.")
    if kept:
        n = len(kept)
    elif count is not None:
        n = whole(count, "count", 1, ROOMS_MAX)
    elif per_room is not None:
        size = whole(per_room, "per_room", 1, CAPACITY_MAX)
        n = max(1, math.ceil(len(people) / size))
    else:
        raise invalid("Say how many rooms (count) or how many people per room (per_room).")
    if assignment in ("random", "balanced") and not prepare and not kept and n > len(people):
        if not people:
            raise invalid(
                "Nobody has joined yet, so nobody can be placed; prepare the rooms instead."
            )
        raise invalid(
            f"{n} rooms for {len(people)} participants would leave rooms empty; open at most "
            f"{len(people)} rooms, or prepare them and open them once people have joined."
        )
    room_names = _per_room(names, "A room name", ROOM_NAME_MAX, n)
    room_places = _per_room(places, "A place", PLACE_MAX, n)
    r = Round(
        session_id=session_id,
        assignment=assignment,
        balance_by=balance_key,
        minutes=minutes_n,
        close_at_end=close_at_end,
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
    if prepare:
        events.append(Event("rooms.prepared", {"round_id": r.id, "rooms": n}))
        return Outcome(session_id, await view_round(db, r), tuple(events))
    events += await _start(db, r, rooms, people, rng)
    return Outcome(session_id, await view_round(db, r), tuple(events))


async def open_prepared(db: AsyncSession, session_id: str) -> Outcome[RoundView]:
    """Opens the prepared round: those already seated stay, everyone else is placed."""
    session = await writable(db, session_id)
    current, events = await expire(db, session)
    if current is None or current.status != "prepared":
        raise Refused("conflict", "There is no prepared round to open; open rooms directly.")
    rooms = await rooms_of(db, current.id)
    events += await _start(db, current, rooms, await everyone(db, session_id), random.Random())
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
        given = (waiting, rooms, r.balance_by, rng, seated, tags(people, r.balance_by))
        # By several attributes a solver deals, for up to a few seconds: off the event loop.
        several = len(keys_of(r.balance_by)) > 1
        plan = await asyncio.to_thread(assign, *given) if several else assign(*given)
        await _seat_many(db, r, plan, {p.id: p for p in people})
    if r.balance_by is not None and here:
        # Seats kept from earlier carry the earlier round's tags; retag them for this one.
        tagged = tags(people, r.balance_by)
        by_tag: defaultdict[str | None, list[str]] = defaultdict(list)
        for pid in here:
            by_tag[tagged.get(pid)].append(pid)
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
    # Plain rows in one statement: 10,000 seats as ORM objects took two seconds.
    await db.execute(
        insert(Seat),
        [
            {
                "id": new_id(),
                "session_id": r.session_id,
                "participant_id": pid,
                "room_id": rid,
                "placed_at": now,
                "tag": tag_of(people[pid].attributes, r.balance_by),
            }
            for pid, rid in plan.items()
        ],
    )


async def place_late_joiner(
    db: AsyncSession, session: Session, participant: Participant
) -> tuple[Event, ...]:
    """Someone who joins while rooms are open goes where the round's rule would put them."""
    return await place_late_joiners(db, session, [participant])


async def place_late_joiners(
    db: AsyncSession, session: Session, people: list[Participant]
) -> tuple[Event, ...]:
    """People who join while rooms are open, one after another in their order, each where
    the round's rule would put them: the rooms' counts read once for them all."""
    r, events = await expire(db, session)
    if not people or r is None or r.status != "open" or r.assignment not in ("random", "balanced"):
        return tuple(events)
    n_keys = len(keys_of(r.balance_by))
    # One grouped count: how many of each tag sit in each room (no one's attributes read).
    rows = (
        await db.execute(
            select(col(Room.id), col(Seat.tag), func.count(col(Seat.id)))
            .outerjoin(Seat, col(Seat.room_id) == col(Room.id))
            .where(col(Room.round_id) == r.id)
            .group_by(col(Room.id), col(Seat.tag))
        )
    ).all()
    if not rows:
        return tuple(events)
    counts: dict[str, Count] = {}
    totals: Counter[tuple[int, str | None]] = Counter()
    for rid, seat_tag, n in rows:
        count = counts.setdefault(rid, Count(0, defaultdict(int)))
        count.size += int(n)
        if n_keys and n:
            for i, answer in enumerate(answers_of(seat_tag, n_keys)):
                count.by_answer[i, answer] += int(n)
                totals[i, answer] += int(n)
    rng = random.Random()
    room_ids = sorted(counts)
    seats = []
    smallest: list[str] = []  # unbalanced: the smallest rooms not yet given one this turn
    for participant in people:
        tag = tag_of(participant.attributes, r.balance_by)
        own = answers_of(tag, n_keys) if n_keys else ()
        if own:
            chosen = pick(counts, room_ids, own, totals, rng)
        else:
            # As `pick` would, at random among the smallest rooms, without looking at
            # every room again for each of a storm's thousands.
            if not smallest:
                least = min(counts[rid].size for rid in room_ids)
                smallest = [rid for rid in room_ids if counts[rid].size == least]
            chosen = smallest.pop(rng.randrange(len(smallest)))
        counts[chosen].size += 1
        for which in enumerate(own):
            counts[chosen].by_answer[which] += 1
            totals[which] += 1
        seats.append(
            Seat(session_id=r.session_id, participant_id=participant.id, room_id=chosen, tag=tag)
        )
        events.append(
            Event(
                "rooms.placed",
                {"participant_id": participant.id, "room_id": chosen},
                room_id=chosen,
            )
        )
    # Someone who just joined has no seat yet: one round of inserts, and UNIQUE guards the rest.
    db.add_all(seats)
    await db.flush()
    return tuple(events)
