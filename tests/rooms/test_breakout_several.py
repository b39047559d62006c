"""Breakout rooms balanced by several attributes at once: the solver's deal and late joiners."""

from __future__ import annotations

import math
import random
from collections import Counter
from typing import Any

import pytest

from live.store import Store
from rooms import breakout, lifecycle, sessions
from rooms.breakout import assigning
from rooms.errors import Refused
from rooms.models import Session

# Two, three and four choices, skewed: the three attributes.
ATTRIBUTES: list[dict[str, Any]] = [
    {"key": "region", "label": "Region", "choices": ["Norr", "Söder"]},
    {"key": "sektor", "label": "Sektor", "choices": ["Civilsamhälle", "Offentlig", "Näringsliv"]},
    {"key": "niva", "label": "Nivå", "choices": ["Lokal", "Regional", "Nationell", "EU"]},
]
WEIGHTS = {"region": [7, 3], "sektor": [5, 3, 2], "niva": [4, 3, 2, 1]}
KEYS = ["sektor", "niva", "region"]


def answers(rng: random.Random) -> dict[str, str]:
    return {
        a["key"]: rng.choices(a["choices"], WEIGHTS[a["key"]])[0]
        for a in ATTRIBUTES  # every attribute answered
    }


async def make_session(store: Store, people: int, rng: random.Random) -> Session:
    async with store.write() as db:
        created = await sessions.create_session(
            db, title="Samråd", organiser_id=None, attributes=ATTRIBUTES
        )
        session = created.value.session
        for _ in range(people):
            await lifecycle.join(db, code=session.code, attributes=answers(rng))
    return session


async def rooms_now(store: Store, session_id: str) -> list[list[dict[str, str]]]:
    """Each open room's people, as their answers."""
    async with store.read() as db:
        r = await breakout.current_round(db, session_id)
        assert r is not None
        rooms = await breakout.rooms_of(db, r.id)
        seated = await breakout.members(db, [room.id for room in rooms])
        people = {p.id: p.attributes for p in await breakout.everyone(db, session_id)}
    return [[people[pid] for pid in seated[room.id]] for room in rooms]


def measure(rooms: list[list[dict[str, str]]]) -> tuple[int, float, int, float]:
    """The spread of sizes; the largest distance of a count from its proportional share;
    how many counts lie outside the floor and ceiling of their share; and the fraction of
    counts within one of their share."""
    n = sum(len(room) for room in rooms)
    far, outside, within, counted = 0.0, 0, 0, 0
    for key in KEYS:
        totals = Counter(p[key] for room in rooms for p in room)
        for room in rooms:
            have = Counter(p[key] for p in room)
            for choice, total in totals.items():
                share = len(room) * total / n
                far = max(far, abs(have[choice] - share))
                low, high = math.floor(share + 1e-9), math.ceil(share - 1e-9)
                outside += not low <= have[choice] <= high
                within += abs(have[choice] - share) <= 1 + 1e-9
                counted += 1
    sizes = [len(room) for room in rooms]
    return max(sizes) - min(sizes), far, outside, within / counted


@pytest.mark.parametrize("seed", [1, 2])
async def test_120_people_in_15_rooms_are_balanced_on_three_attributes_and_30_late_joiners_keep_it(
    store: Store, seed: int
) -> None:
    rng = random.Random(seed)
    session = await make_session(store, 120, rng)
    async with store.write() as db:
        opened = await breakout.open_rooms(
            db, session.id, count=15, assignment="balanced", balance_by=KEYS, rng=rng
        )
    assert opened.value.round is not None
    assert opened.value.round.balance_by == "sektor,niva,region"
    rooms = await rooms_now(store, session.id)
    assert sorted(len(room) for room in rooms) == [8] * 15
    spread, far, outside, _ = measure(rooms)
    assert (spread, outside) == (0, 0) and far < 1  # every count floor or ceiling of its share
    for _ in range(30):
        async with store.write() as db:
            await lifecycle.join(db, code=session.code, attributes=answers(rng))
        spread, far, outside, within = measure(await rooms_now(store, session.id))
        # Sizes stay within one at every step. Counts cannot all stay within one of their
        # shares when people come one at a time (a room gets one newcomer per turn, who
        # may not bring what it lacks; placed together, the same 30 can be): measured over
        # 200 runs, at least 92% of the counts were within one at every step, 98% at the
        # end on average, none ever 2.2 or more away; dealt at random among the smallest
        # rooms, 84% at the end on average and 71% at worst.
        assert spread <= 1 and far < 3 and within >= 0.85, (spread, far, within)
    rooms = await rooms_now(store, session.id)
    assert sorted(len(room) for room in rooms) == [10] * 15
    assert measure(rooms)[3] >= 0.9


async def test_a_round_by_several_attributes_refuses_unknown_repeated_or_too_many(
    store: Store,
) -> None:
    session = await make_session(store, 6, random.Random(0))
    refused_lists: list[Any] = [["sektor", "age"], ["sektor", "sektor"], ["sektor"] * 11, [], [3]]
    for given in refused_lists:
        async with store.write() as db:
            with pytest.raises(Refused) as refused:
                await breakout.open_rooms(
                    db, session.id, count=2, assignment="balanced", balance_by=given
                )
        assert refused.value.code == "invalid"
        assert "balance_by" in refused.value.message


def test_the_solver_meets_every_share_where_the_greedy_deal_misses() -> None:
    """The integer program does better than the fallback it starts from (here the fallback
    misses, by construction of the seed; the solver's deal does not)."""
    rng = random.Random(7)
    kinds: list[assigning.Answers] = [(s, n, r) for s in "abc" for n in "wxyz" for r in "pq"]
    totals = [rng.randrange(0, 9) for _ in kinds]
    sizes = assigning._sizes(sum(totals), 12)
    share = assigning._shares(kinds, totals)

    def missed(counts: list[list[int]]) -> int:
        by = Counter[tuple[int, int, str | None]]()
        for t, kind in enumerate(kinds):
            for r, n in enumerate(counts[t]):
                for i, a in enumerate(kind):
                    by[r, i, a] += n
        return sum(
            round(assigning._band(by[r, i, a], sizes[r] * f))
            for r in range(12)
            for (i, a), f in share.items()
        )

    start = assigning._greedy(kinds, totals, sizes, share, random.Random(1))
    solved = assigning.solve(kinds, totals, sizes, share, start, 2.0, random.Random(1))
    assert [sum(row) for row in solved] == totals
    assert [sum(solved[t][r] for t in range(len(kinds))) for r in range(12)] == sizes
    assert missed(solved) == 0 < missed(start)


def test_a_late_joiner_goes_where_the_counts_stay_nearest_their_shares() -> None:
    def count(size: int, by: dict[tuple[int, str | None], int]) -> breakout.Count:
        return breakout.Count(size, Counter(by))  # type: ignore[arg-type]

    # Two rooms of 4 out of 8: A has both of the "x" people of the first attribute,
    # B has none; a newcomer answering "x" balances B, not A.
    counts = {
        "A": count(4, {(0, "x"): 2, (0, "y"): 2, (1, "u"): 2, (1, "v"): 2}),
        "B": count(4, {(0, "y"): 4, (1, "u"): 2, (1, "v"): 2}),
    }
    totals = Counter[tuple[int, str | None]]({(0, "x"): 2, (0, "y"): 6, (1, "u"): 4, (1, "v"): 4})
    picks = {
        breakout.pick(counts, ["A", "B"], ("x", "u"), totals, random.Random(s)) for s in range(8)
    }
    assert picks == {"B"}


async def test_kept_groups_by_several_attributes_stay_and_newcomers_fill_the_smallest(
    store: Store,
) -> None:
    rng = random.Random(5)
    session = await make_session(store, 24, rng)
    async with store.write() as db:
        first = await breakout.open_rooms(
            db, session.id, count=4, assignment="balanced", balance_by=KEYS, rng=rng
        )
    async with store.write() as db:
        await breakout.close_rooms(db, session.id)
    async with store.write() as db:
        for _ in range(5):
            await lifecycle.join(db, code=session.code, attributes=answers(rng))
    async with store.write() as db:
        second = await breakout.open_rooms(
            db, session.id, assignment="balanced", balance_by=KEYS, keep_groups=True, rng=rng
        )
    before = [set(room["participant_ids"]) for room in first.value.rooms]
    after = [set(room["participant_ids"]) for room in second.value.rooms]
    assert all(old <= new for old, new in zip(before, after, strict=True))
    assert sorted(len(room) for room in after) == [7, 7, 7, 8]
    # The moderator sees each room's spread, per attribute in the order balanced by.
    async with store.read() as db:
        spread = await breakout.reading.spread(db, second.value.round, ATTRIBUTES)
    for room in second.value.rooms:
        lines = spread[room["id"]]
        assert [label for label, _ in lines] == ["Sektor", "Nivå", "Region"]
        assert all(sum(n for _, n in counts) == len(room["participant_ids"]) for _, counts in lines)
