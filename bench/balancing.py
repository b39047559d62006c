"""The balancing benchmark: 2,000 people with three skewed attributes into 250 breakout rooms,
balanced on all three, best of three; prints one JSON line (`python -m bench.balancing`).

It times the deal itself (`rooms.breakout.assigning.assign`: the solver and its fallback),
not the store's writes of the seats, and says how good the deal was: the spread of sizes
and how many counts missed the floor or ceiling of their proportional share."""

from __future__ import annotations

import json
import math
import os
import random
import time
from collections import Counter
from typing import Any

from rooms.breakout.assigning import assign
from rooms.breakout.tables import Room
from rooms.models import Participant

CHOICES = {
    "sector": ["ideell", "offentlig"],
    "level": ["lokal", "regional", "nationell"],
    "region": ["norr", "mitt", "syd", "väst"],
}
SKEW = {"sector": [70, 30], "level": [60, 30, 10], "region": [40, 30, 20, 10]}
PEOPLE = 2_000
ROOMS = 250
REPEATS = 3
TARGET_SECONDS = 5.0
# The run stops repeating past this, so `make bench` stays bounded on a slow machine.
BUDGET_SECONDS = 60.0


def people(n: int, seed: int = 1) -> list[Participant]:
    rng = random.Random(seed)
    given = {key: rng.choices(CHOICES[key], SKEW[key], k=n) for key in CHOICES}
    return [
        Participant(
            id=f"p{i:05d}",
            session_id="bench",
            token_hash="-",
            attributes={key: given[key][i] for key in CHOICES},
        )
        for i in range(n)
    ]


def quality(plan: dict[str, str], everyone: list[Participant]) -> dict[str, Any]:
    """The spread of sizes and how many counts missed their share's floor or ceiling."""
    rooms: dict[str, list[Participant]] = {}
    for p in everyone:
        rooms.setdefault(plan[p.id], []).append(p)
    sizes = [len(r) for r in rooms.values()]
    missed, far = 0, 0.0
    for key in CHOICES:
        totals = Counter(p.attributes[key] for p in everyone)
        for room in rooms.values():
            have = Counter(p.attributes[key] for p in room)
            for choice, total in totals.items():
                share = len(room) * total / len(everyone)
                far = max(far, abs(have[choice] - share))
                missed += not math.floor(share) <= have[choice] <= math.ceil(share)
    return {
        "size_spread": max(sizes) - min(sizes),
        "counts_missed": missed,
        "counts": len(rooms) * sum(len(c) for c in CHOICES.values()),
        "farthest": round(far, 3),
    }


def main() -> None:
    everyone = people(PEOPLE)
    rooms = [
        Room(id=f"r{i:04d}", session_id="bench", round_id="bench", name="") for i in range(ROOMS)
    ]
    started = time.perf_counter()
    best = math.inf
    result: dict[str, Any] = {"bench": "balancing", "people": PEOPLE, "rooms": ROOMS}
    for attempt in range(REPEATS):
        if attempt and time.perf_counter() - started > BUDGET_SECONDS:
            break
        t0 = time.perf_counter()
        plan = assign(
            everyone,
            rooms,
            ",".join(CHOICES),
            random.Random(attempt),
            {room.id: [] for room in rooms},
            {},
        )
        took = time.perf_counter() - t0
        assert len(plan) == PEOPLE, "everyone must be placed"
        if took < best:
            best = took
            result.update(quality(plan, everyone))
    result["seconds"] = round(best, 3)
    result["target_seconds"] = TARGET_SECONDS
    result["load_average"] = [round(x, 2) for x in os.getloadavg()]
    result["cpus"] = os.cpu_count()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
