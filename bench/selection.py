"""The selection's benchmark: a panel of 25 and of 250 from 2,000 applicants balanced on three
skewed attributes, best of three each; prints one JSON line (`python -m bench.selection`)."""

from __future__ import annotations

import json
import os
import random
import time
from typing import Any

from rooms.events.selection import draw

CHOICES = {
    "sector": ["ideell", "offentlig"],
    "level": ["lokal", "regional", "nationell"],
    "region": ["norr", "mitt", "syd", "väst"],
}
SKEW = {"sector": [70, 30], "level": [60, 30, 10], "region": [40, 30, 20, 10]}
APPLICANTS = 2_000
SIZES = (25, 250)
REPEATS = 3
# The whole run stops repeating past this, so `make bench` stays bounded on a slow machine.
BUDGET_SECONDS = 60.0


def applicants(n: int, seed: int = 1) -> list[tuple[str, dict[str, str]]]:
    rng = random.Random(seed)
    given = {key: rng.choices(CHOICES[key], SKEW[key], k=n) for key in CHOICES}
    return [(f"r{i:05d}", {key: given[key][i] for key in CHOICES}) for i in range(n)]


def main() -> None:
    people = applicants(APPLICANTS)
    started = time.perf_counter()
    result: dict[str, Any] = {"bench": "selection", "applicants": APPLICANTS}
    for size in SIZES:
        best = float("inf")
        for attempt in range(REPEATS):
            if attempt and time.perf_counter() - started > BUDGET_SECONDS:
                break
            t0 = time.perf_counter()
            drawn = draw(
                people,
                size=size,
                balance_by=list(CHOICES),
                choices=CHOICES,
                quotas=None,
                seed=attempt,
            )
            best = min(best, time.perf_counter() - t0)
            assert len(drawn.selected) == size, "the draw must select exactly the size"
        result[f"seconds_{size}_of_{APPLICANTS}"] = round(best, 3)
    result["target_seconds"] = 5.0
    result["load_average"] = [round(x, 2) for x in os.getloadavg()]
    result["cpus"] = os.cpu_count()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
