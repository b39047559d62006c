"""Who goes to which room: the balanced deal of a round, and the room for one more person."""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass

from rooms.breakout.tables import Room
from rooms.models import Participant


@dataclass
class Count:
    """A room's size, and how many in it gave each answer for the balance attribute."""

    size: int
    by_tag: defaultdict[str | None, int]


def tags(people: list[Participant], balance_by: str | None) -> dict[str, str | None]:
    if balance_by is None:
        return {}
    return {p.id: p.attributes.get(balance_by) for p in people}


def assign(
    people: list[Participant],
    rooms: list[Room],
    balance_by: str | None,
    rng: random.Random,
    seated: dict[str, list[str]],
    tagged: dict[str, str | None],
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
    counts = {room.id: Count(len(seated[room.id]), defaultdict(int)) for room in rooms}
    for room in rooms:
        for pid in seated[room.id]:
            counts[room.id].by_tag[tagged.get(pid)] += 1
    for p in order:
        tag = p.attributes.get(balance_by) if balance_by else None
        chosen = pick(counts, [room.id for room in rooms], tag, rng)
        plan[p.id] = chosen
        counts[chosen].size += 1
        counts[chosen].by_tag[tag] += 1
    return plan


def pick(counts: dict[str, Count], room_ids: list[str], tag: str | None, rng: random.Random) -> str:
    """The room for one more person: among the smallest rooms (so sizes never differ by more
    than one), one with the fewest people who gave the same answer, at random among equals."""
    smallest = min(counts[rid].size for rid in room_ids)
    candidates = [rid for rid in room_ids if counts[rid].size == smallest]
    fewest = min(counts[rid].by_tag[tag] for rid in candidates)
    return rng.choice([rid for rid in candidates if counts[rid].by_tag[tag] == fewest])
