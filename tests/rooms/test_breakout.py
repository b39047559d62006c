"""Breakout rooms in the domain: balanced assignment is optimal, seats are unique, rounds end."""

from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from live.store import Store
from rooms import breakout, lifecycle, sessions
from rooms.errors import Refused
from rooms.models import Session, utcnow

SECTORS = ["Civilsamhälle", "Offentlig sektor", "Näringsliv", "Akademi"]


async def make_session(store: Store, answers: list[str | None]) -> Session:
    """A session with one participant per answer for `sektor` (None: did not say)."""
    async with store.write() as db:
        created = await sessions.create_session(
            db,
            title="Gruppsamtal",
            organiser_id=None,
            attributes=[{"key": "sektor", "label": "Sektor", "choices": SECTORS}],
        )
        session = created.value.session
        for answer in answers:
            await lifecycle.join(
                db, code=session.code, attributes={"sektor": answer} if answer else None
            )
    return session


async def mixes(store: Store, session_id: str) -> list[Counter[str | None]]:
    """Each open room's count of people per answer."""
    async with store.read() as db:
        r = await breakout.current_round(db, session_id)
        assert r is not None
        rooms = await breakout.rooms_of(db, r.id)
        seated = await breakout.members(db, [room.id for room in rooms])
        people = {p.id: p.attributes.get("sektor") for p in await breakout.everyone(db, session_id)}
    return [Counter(people[pid] for pid in seated[room.id]) for room in rooms]


def optimum(totals: Counter[str | None], rooms: int) -> dict[str | None, tuple[int, int]]:
    """The most even mix the totals allow: with c people of one answer in k rooms some room
    has at least ceil(c/k) and some at most floor(c/k), so no split beats that range."""
    return {value: (count // rooms, -(-count // rooms)) for value, count in totals.items()}


def achieved(
    rooms: list[Counter[str | None]], values: list[str | None]
) -> dict[str | None, tuple[int, int]]:
    return {v: (min(room[v] for room in rooms), max(room[v] for room in rooms)) for v in values}


async def test_five_hundred_in_sixty_balanced_rooms_get_the_most_even_mix(store: Store) -> None:
    rng = random.Random(7)
    # A realistic, uneven hall: many from civil society and the public sector, few others,
    # some who did not say.
    answers: list[str | None] = rng.choices([*SECTORS, None], weights=[40, 35, 12, 8, 5], k=500)
    session = await make_session(store, answers)
    async with store.write() as db:
        opened = await breakout.open_rooms(
            db, session.id, count=60, assignment="balanced", balance_by="sektor", rng=rng
        )
    assert len(opened.value.rooms) == 60
    rooms = await mixes(store, session.id)
    sizes = [sum(room.values()) for room in rooms]
    assert sum(sizes) == 500
    assert max(sizes) - min(sizes) <= 1
    totals = Counter(answers)
    assert achieved(rooms, list(totals)) == optimum(totals, 60)


@pytest.mark.parametrize("people,rooms", [(7, 3), (25, 4), (61, 60), (120, 7)])
async def test_balance_is_optimal_for_other_sizes(store: Store, people: int, rooms: int) -> None:
    rng = random.Random(people)
    answers: list[str | None] = rng.choices(SECTORS, weights=[5, 3, 1, 1], k=people)
    session = await make_session(store, answers)
    async with store.write() as db:
        await breakout.open_rooms(
            db, session.id, count=rooms, assignment="balanced", balance_by="sektor", rng=rng
        )
    mix = await mixes(store, session.id)
    sizes = [sum(room.values()) for room in mix]
    assert max(sizes) - min(sizes) <= 1
    assert achieved(mix, list(Counter(answers))) == optimum(Counter(answers), rooms)


async def test_late_joiners_keep_sizes_within_one_and_the_mix_close(store: Store) -> None:
    rng = random.Random(3)
    session = await make_session(store, rng.choices(SECTORS, k=40))
    async with store.write() as db:
        await breakout.open_rooms(
            db, session.id, count=8, assignment="balanced", balance_by="sektor", rng=rng
        )
    late = rng.choices(SECTORS, weights=[1, 1, 4, 1], k=60)
    for answer in late:
        async with store.write() as db:
            joined = await lifecycle.join(db, code=session.code, attributes={"sektor": answer})
        assert any(e.type == "rooms.placed" for e in joined.events)
    mix = await mixes(store, session.id)
    sizes = [sum(room.values()) for room in mix]
    assert sum(sizes) == 100 and max(sizes) - min(sizes) <= 1
    # One at a time and never moving anyone, each answer still ends within two of even.
    for value, (low, high) in achieved(mix, SECTORS).items():
        assert high - low <= 2, value


async def test_a_participant_cannot_hold_two_seats(store: Store) -> None:
    session = await make_session(store, ["Akademi", "Akademi"])
    async with store.write() as db:
        await breakout.open_rooms(db, session.id, count=2, assignment="random")
    with pytest.raises(IntegrityError):
        async with store.write() as db:
            seat = await db.scalar(select(breakout.Seat))
            assert seat is not None
            db.add(
                breakout.Seat(
                    session_id=session.id, participant_id=seat.participant_id, room_id=seat.room_id
                )
            )
            await db.flush()


async def test_a_session_has_one_current_round_at_most(store: Store) -> None:
    session = await make_session(store, ["Akademi"])
    with pytest.raises(IntegrityError):
        async with store.write() as db:
            db.add(breakout.Round(session_id=session.id, assignment="manual", status="open"))
            db.add(breakout.Round(session_id=session.id, assignment="manual", status="prepared"))
            await db.flush()


async def test_an_ended_round_is_closed_by_the_next_write_and_places_nobody(store: Store) -> None:
    session = await make_session(store, ["Akademi"] * 4)
    async with store.write() as db:
        opened = await breakout.open_rooms(
            db, session.id, count=2, assignment="random", minutes=5, close_at_end=True
        )
        r = await db.get(breakout.Round, opened.value.round.id if opened.value.round else "")
        assert r is not None
        pid = opened.value.rooms[0]["participant_ids"][0]
        r.ends_at = utcnow() - timedelta(seconds=1)
        db.add(r)
    async with store.read() as db:
        assert await breakout.room_of(db, session.id, pid) is None
    async with store.write() as db:
        joined = await lifecycle.join(db, code=session.code)
    assert [e.type for e in joined.events] == [
        "participant.joined",
        "participants.count",
        "rooms.closed",
        "participants.moved",
    ]
    async with store.read() as db:
        assert await breakout.current_round(db, session.id) is None


async def test_the_clock_warns_a_minute_before_the_end_then_closes(store: Store) -> None:
    session = await make_session(store, ["Akademi"] * 2)
    async with store.write() as db:
        opened = await breakout.open_rooms(
            db, session.id, count=1, assignment="random", minutes=5, close_at_end=True
        )
        assert opened.value.round is not None
        round_id = opened.value.round.id
    async with store.read() as db:
        assert await breakout.rounds_due(db, utcnow()) == []
        assert await breakout.rounds_due(db, utcnow() + timedelta(minutes=4, seconds=1)) == [
            (session.id, round_id)
        ]
    async with store.write() as db:
        r = await db.get(breakout.Round, round_id)
        assert r is not None and r.ends_at is not None
        r.ends_at = utcnow() + timedelta(seconds=30)
        db.add(r)
    async with store.write() as db:
        warned = await breakout.keep_time(db, round_id)
    assert [e.type for e in warned.events] == ["rooms.ending"]
    async with store.write() as db:
        again = await breakout.keep_time(db, round_id)
    assert again.events == ()
    async with store.write() as db:
        r = await db.get(breakout.Round, round_id)
        assert r is not None
        r.ends_at = utcnow()
        db.add(r)
    async with store.write() as db:
        closed = await breakout.keep_time(db, round_id)
    assert [e.type for e in closed.events] == ["rooms.closed", "participants.moved"]
    async with store.write() as db:
        twice = await breakout.keep_time(db, round_id)
    assert twice.events == ()


async def test_a_hall_table_seats_someone_whatever_the_rule(store: Store) -> None:
    session = await make_session(store, ["Akademi"] * 3)
    async with store.write() as db:
        opened = await breakout.open_rooms(
            db, session.id, count=2, assignment="manual", places=["Bord 7"], capacity=1
        )
    table, remote = opened.value.rooms
    assert table["place"] == "Bord 7" and remote["place"] is None
    async with store.read() as db:
        people = await breakout.everyone(db, session.id)
    async with store.write() as db:
        seated = await breakout.choose_room(db, people[0], table["id"], table=True)
    assert seated.value["participant_ids"] == [people[0].id]
    with pytest.raises(Refused) as full:
        async with store.write() as db:
            await breakout.choose_room(db, people[1], table["id"], table=True)
    assert full.value.code == "conflict"
    with pytest.raises(Refused) as chosen:
        async with store.write() as db:
            await breakout.choose_room(db, people[1], remote["id"])
    assert chosen.value.code == "forbidden"


def test_pick_prefers_the_smallest_rooms_then_the_fewest_alike() -> None:
    def count(size: int, alike: int) -> Any:
        return breakout.Count(size, Counter({(0, "x"): alike, (0, "y"): size - alike}))  # type: ignore[arg-type]

    counts = {"a": count(3, 0), "b": count(2, 2), "c": count(2, 1)}
    totals = Counter[tuple[int, str | None]]({(0, "x"): 3, (0, "y"): 4})
    assert breakout.pick(counts, ["a", "b", "c"], ("x",), totals, random.Random(1)) == "c"


async def test_kept_groups_stay_together_and_newcomers_fill_the_smallest_rooms(
    store: Store,
) -> None:
    session = await make_session(store, ["Akademi", "Näringsliv"] * 3)
    async with store.write() as db:
        first = await breakout.open_rooms(
            db, session.id, count=3, assignment="balanced", balance_by="sektor"
        )
    async with store.write() as db:
        await breakout.close_rooms(db, session.id)
    async with store.write() as db:
        for answer in ["Akademi", "Akademi", "Akademi", "Näringsliv"]:
            await lifecycle.join(db, code=session.code, attributes={"sektor": answer})
    async with store.write() as db:
        second = await breakout.open_rooms(
            db, session.id, assignment="balanced", balance_by="sektor", keep_groups=True
        )
    before = [set(room["participant_ids"]) for room in first.value.rooms]
    after = [set(room["participant_ids"]) for room in second.value.rooms]
    assert all(old <= new for old, new in zip(before, after, strict=True))
    assert sorted(len(room) for room in after) == [3, 3, 4]
    mix = await mixes(store, session.id)
    assert sorted(room["Akademi"] for room in mix) == [2, 2, 2]
