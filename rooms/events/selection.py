"""The balanced selection of a panel from an event's registrations: an integer program (HiGHS)
that meets the quotas, keeps each choice within one of its even share where the applicants
allow it, and draws at random (repeatably, with a seed) among the equally good panels."""

from __future__ import annotations

import asyncio
import math
import random
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import highspy
import numpy as np
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from rooms.errors import Refused, invalid, not_found
from rooms.models import Conference, Registration

SIZE_MAX = 10_000
SEED_MAX = 2**31 - 1
# The solver's budgets (see `_solve`). 25 or 250 of 2,000 on three keys take a tenth of a
# second each; the limits only bound a crowd split very finely (five keys of ten choices
# each, all balanced) from holding a worker thread for minutes.
BALANCE_SECONDS = 10.0
LUCK_SECONDS = 5.0
# How close to the luckiest equally good panel the draw must come: any of them is as good,
# the weights only make the pick random.
LUCK_GAP = 1e-3
# How many of the waiting list are ordered for the balance; past them, by luck alone (a
# waiting list is rarely asked that far, and each place costs a pass over every profile).
BALANCED_PLACES = 250

Quota = tuple[int | None, int | None]
Quotas = Mapping[str, Mapping[str, Quota]]


@dataclass(frozen=True)
class Target:
    """One choice of a balanced key: its share of the panel, the counts that are within one
    of it (`min`..`max`), how many were selected and how many applied with it."""

    key: str
    choice: str
    share: float
    min: int
    max: int
    count: int
    applied: int

    def as_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "choice": self.choice,
            "share": round(self.share, 4),
            "min": self.min,
            "max": self.max,
            "count": self.count,
            "applied": self.applied,
        }


@dataclass(frozen=True)
class Drawn:
    """A drawn panel: who is selected, the waiting list in the order they would be asked, the
    targets per choice and the choices that did not get their share (`missed`)."""

    selected: list[str]
    waitlisted: list[str]
    targets: list[Target]
    missed: list[Target]


@dataclass(frozen=True)
class Selection:
    """A selection as run and stored: the draw, its seed (to draw it again) and the size asked."""

    selected: list[str]
    waitlisted: list[str]
    targets: list[Target]
    missed: list[Target]
    seed: int
    size: int


# -- shares ------------------------------------------------------------------------------------


def water_fill(total: int, bounds: Sequence[tuple[int, int]]) -> list[Fraction]:
    """The even split of `total` over choices each held within its (low, high) bounds: every
    choice gets the same level L, raised to its low or capped at its high; exact fractions, so
    a share of 12.5 is never 12.4999…. `total` must lie between the sums of the bounds."""
    if not bounds:
        return []

    def filled(level: Fraction) -> Fraction:
        return sum((min(max(level, Fraction(lo)), Fraction(hi)) for lo, hi in bounds), Fraction(0))

    points = sorted({Fraction(b) for pair in bounds for b in pair})
    level = points[-1]
    below = points[0]
    for point in points:
        if filled(point) >= total:
            level = point
            break
        below = point
    at, under = filled(level), filled(below)
    if at > total and at > under:
        # Between two breakpoints the filled total grows linearly with the level.
        level = below + (total - under) * (level - below) / (at - under)
    return [min(max(level, Fraction(lo)), Fraction(hi)) for lo, hi in bounds]


def _band(share: Fraction) -> tuple[int, int]:
    return math.floor(share), math.ceil(share)


# -- the draw ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Column:
    """One (key, choice) the program counts: its quota and, for a balanced key, its band."""

    key: str
    choice: str
    members: list[int]
    quota: Quota
    share: Fraction | None  # None for a key that has quotas but is not balanced
    asked: Fraction | None  # the even share without the applicants' cap


def _quota_text(key: str, choice: str, quota: Quota) -> str:
    lo, hi = quota
    parts = [f"min {lo}"] if lo is not None else []
    parts += [f"max {hi}"] if hi is not None else []
    return f"{key}={choice} ({', '.join(parts)})"


def _check_quotas(
    columns: list[_Column], by_key: dict[str, list[_Column]], size: int, n: int
) -> None:
    """Refuses quotas the applicants cannot meet, one at a time or a key's together, naming them."""
    for column in columns:
        lo, _ = column.quota
        if lo is not None and lo > len(column.members):
            raise invalid(
                f"quotas: {_quota_text(column.key, column.choice, column.quota)} cannot be met: "
                f"only {len(column.members)} applied with that choice."
            )
    for key, cols in by_key.items():
        lows = sum(c.quota[0] or 0 for c in cols)
        if lows > size:
            raise invalid(
                f"quotas: the minimums for {key} add up to {lows}, more than the {size} places."
            )
        without = n - sum(len(c.members) for c in cols)
        room = without + sum(
            min(len(c.members), c.quota[1]) if c.quota[1] is not None else len(c.members)
            for c in cols
        )
        if room < size:
            raise invalid(
                f"quotas: the maximums for {key} leave only {room} of the {size} places to fill."
            )


def _columns(
    people: Sequence[tuple[str, Mapping[str, str]]],
    *,
    size: int,
    balance_by: Sequence[str],
    choices: Mapping[str, Sequence[str]],
    quotas: Quotas,
) -> tuple[list[_Column], dict[str, list[_Column]]]:
    keys = list(balance_by) + [k for k in quotas if k not in balance_by]
    by_key: dict[str, list[_Column]] = {}
    for key in keys:
        members: dict[str, list[int]] = {choice: [] for choice in choices[key]}
        for i, (_, attributes) in enumerate(people):
            given = attributes.get(key)
            if isinstance(given, str) and given in members:
                members[given].append(i)
        given_quotas = quotas.get(key, {})
        names = list(choices[key])
        shares: list[Fraction | None] = [None] * len(names)
        asked: list[Fraction | None] = [None] * len(names)
        if key in balance_by:
            lows = [given_quotas.get(c, (None, None))[0] or 0 for c in names]
            highs = [given_quotas.get(c, (None, None))[1] for c in names]
            caps = [
                max(lo, min(len(members[c]), hi) if hi is not None else len(members[c]))
                for c, lo, hi in zip(names, lows, highs, strict=True)
            ]
            total = max(sum(lows), min(size, sum(caps)))
            shares = list(water_fill(total, list(zip(lows, caps, strict=True))))
            wants = [hi if hi is not None else size for hi in highs]
            wanted = max(sum(lows), min(size, sum(wants)))
            asked = list(water_fill(wanted, list(zip(lows, wants, strict=True))))
        by_key[key] = [
            _Column(key, c, members[c], given_quotas.get(c, (None, None)), s, a)
            for c, s, a in zip(names, shares, asked, strict=True)
        ]
    return [c for cols in by_key.values() for c in cols], by_key


def _model(
    n: int, size: int, columns: list[_Column]
) -> tuple[highspy.Highs, list[_Column], list[_Column]]:
    """The integer program's rows and columns: one 0/1 column per applicant, picking exactly
    `size`; per balanced choice a band row (its floor..ceiling) with two slacks (below, above);
    per quota a hard row; and a last row holding the slacks' total (the balance's shortfall)."""
    balanced = [c for c in columns if c.share is not None]
    quoted = [c for c in columns if c.quota != (None, None)]
    rows_lower: list[float] = [float(size)]
    rows_upper: list[float] = [float(size)]
    of_person: list[list[int]] = [[0] for _ in range(n)]
    for c in balanced:
        lo, hi = _band(c.share) if c.share is not None else (0, 0)
        for i in c.members:
            of_person[i].append(len(rows_lower))
        rows_lower.append(float(lo))
        rows_upper.append(float(hi))
    for c in quoted:
        lo_q, hi_q = c.quota
        for i in c.members:
            of_person[i].append(len(rows_lower))
        rows_lower.append(float(lo_q or 0))
        rows_upper.append(float(hi_q) if hi_q is not None else highspy.kHighsInf)
    shortfall = len(rows_lower)
    rows_lower.append(0.0)
    rows_upper.append(highspy.kHighsInf)
    starts: list[int] = []
    index: list[int] = []
    value: list[float] = []
    for rows in of_person:
        starts.append(len(index))
        index += rows
        value += [1.0] * len(rows)
    for b in range(len(balanced)):
        for sign in (1.0, -1.0):
            starts.append(len(index))
            index += [1 + b, shortfall]
            value += [sign, 1.0]
    slacks = 2 * len(balanced)
    h = highspy.Highs()  # type: ignore[no-untyped-call]
    h.setOptionValue("output_flag", False)
    # No `threads`: HiGHS runs one scheduler per process and refuses a solve that asks for
    # another count than the first solve set up; its search is deterministic anyway.
    h.passModel(
        n + slacks,
        len(rows_lower),
        len(index),
        int(highspy.MatrixFormat.kColwise),
        int(highspy.ObjSense.kMinimize),
        0.0,
        np.array([0.0] * n + [1.0] * slacks),
        np.zeros(n + slacks),
        np.array([1.0] * n + [float(size)] * slacks),
        np.array(rows_lower),
        np.array(rows_upper),
        np.array(starts, dtype=np.int32),
        np.array(index, dtype=np.int32),
        np.array(value),
        np.array([1] * n + [0] * slacks, dtype=np.int32),
    )
    return h, balanced, quoted


def _solve(n: int, size: int, columns: list[_Column], weights: list[float], seed: int) -> list[int]:
    """Picks exactly `size` of `n`, every quota met, in two solves: the least total count
    outside the choices' bands, then, holding that, the panel of the highest random weight,
    which makes the draw random among the equally good ones. Returns who is picked; raises
    `Refused` when the quotas cannot be met together.

    When the second solve runs out of time, the first one's panel stands: as good, and still
    drawn by the seed (the applicants come in the seed's order), so the same seed gives the
    same panel; when the first runs out of time, the best panel it found stands."""
    h, balanced, quoted = _model(n, size, columns)
    h.setOptionValue("random_seed", seed)
    h.setOptionValue("time_limit", BALANCE_SECONDS)
    h.run()
    status = h.getModelStatus()
    if status == highspy.HighsModelStatus.kInfeasible:
        named = "; ".join(_quota_text(c.key, c.choice, c.quota) for c in quoted)
        raise invalid(f"quotas: {named} cannot all be met together by these applicants.")
    first = _picked(h, n, size)
    if status != highspy.HighsModelStatus.kOptimal:
        if first is None:
            raise invalid(
                "balance_by: no panel was found in time for this many keys and choices; "
                "balance by fewer."
            )
        return first
    least = round(h.getInfo().objective_function_value)
    slacks = 2 * len(balanced)
    h.changeRowBounds(h.getNumRow() - 1, 0.0, float(least))
    h.changeColsCost(
        n + slacks,
        np.arange(n + slacks, dtype=np.int32),
        np.array([-w for w in weights] + [0.0] * slacks),
    )
    h.setSolution(h.getSolution())
    h.setOptionValue("mip_rel_gap", LUCK_GAP)
    h.setOptionValue("time_limit", LUCK_SECONDS)
    h.run()
    lucky = _picked(h, n, size) if h.getModelStatus() == highspy.HighsModelStatus.kOptimal else None
    return lucky or first or []


def _picked(h: highspy.Highs, n: int, size: int) -> list[int] | None:
    if h.getInfo().primal_solution_status != int(highspy.SolutionStatus.kSolutionStatusFeasible):
        return None
    picked = np.asarray(h.getSolution().col_value[:n])
    chosen = [i for i in range(n) if picked[i] > 0.5]
    return chosen if len(chosen) == size else None


def _waitlist(
    n: int, chosen: set[int], balanced: list[_Column], weights: list[float], size: int
) -> list[int]:
    """Everyone not selected, in the order they would be asked: each of the first places goes
    to whom keeps the grown panel closest to the shares (scaled to its size), the luckier
    first; past those, by luck alone."""
    rest = sorted((i for i in range(n) if i not in chosen), key=lambda i: (-weights[i], i))
    keys = list(dict.fromkeys(c.key for c in balanced))
    if not rest or not keys:
        return rest
    flat = {(c.key, i): j for j, c in enumerate(balanced) for i in c.members}
    none = len(balanced)  # a column that never counts, for someone who gave no choice for a key
    groups: dict[tuple[int, ...], list[int]] = {}
    for i in rest:  # each group stays in order of luck
        groups.setdefault(tuple(flat.get((k, i), none) for k in keys), []).append(i)
    kinds = np.array(list(groups), dtype=np.int64)
    queues = list(groups.values())
    heads = [0] * len(queues)
    luck = np.array([weights[q[0]] for q in queues])
    counts = np.zeros(none + 1)
    for j, c in enumerate(balanced):
        counts[j] = sum(1 for i in c.members if i in chosen)
    shares = np.array([float(c.share or 0) for c in balanced] + [0.0])
    order: list[int] = []
    for placed in range(len(chosen), len(chosen) + min(len(rest), BALANCED_PLACES)):
        wanted = shares * ((placed + 1) / size)
        change = np.abs(counts + 1 - wanted) - np.abs(counts - wanted)
        change[none] = 0.0
        score = change[kinds].sum(axis=1)
        best = score[luck >= 0].min()
        g = int(np.argmax(np.where(score <= best + 1e-9, luck, -1.0)))
        order.append(queues[g][heads[g]])
        heads[g] += 1
        luck[g] = weights[queues[g][heads[g]]] if heads[g] < len(queues[g]) else -1.0
        counts[kinds[g]] += 1
    taken = set(order)
    return order + [i for i in rest if i not in taken]


def draw(
    applicants: Sequence[tuple[str, Mapping[str, str]]],
    *,
    size: int,
    balance_by: Sequence[str],
    choices: Mapping[str, Sequence[str]],
    quotas: Quotas | None,
    seed: int,
) -> Drawn:
    """Draws a panel of `size` (everyone, when fewer applied) balanced on `balance_by`: each
    key's choices get an even share, capped by how many applied with it and the rest shared
    among the others, each count within one of its share where the applicants allow it,
    quotas met, and the panel random among the equally good ones. The same applicants and
    seed give the same panel. Pure and CPU-bound: run it in a worker thread."""
    rng = random.Random(seed)
    # The draw depends on who applied and the seed, not on the order they came in.
    people = sorted(applicants, key=lambda a: a[0])
    rng.shuffle(people)
    n = len(people)
    size = min(size, n)
    columns, by_key = _columns(
        people, size=size, balance_by=balance_by, choices=choices, quotas=quotas or {}
    )
    _check_quotas([c for c in columns if c.quota != (None, None)], by_key, size, n)
    weights = [rng.random() for _ in range(n)]
    chosen = set(_solve(n, size, columns, weights, seed)) if size < n else set(range(n))
    balanced = [c for c in columns if c.share is not None]
    targets: list[Target] = []
    missed: list[Target] = []
    for c in balanced:
        share = c.share if c.share is not None else Fraction(0)
        count = sum(1 for i in c.members if i in chosen)
        lo, hi = _band(share)
        target = Target(c.key, c.choice, float(share), lo, hi, count, len(c.members))
        targets.append(target)
        asked = c.asked if c.asked is not None else share
        if math.floor(asked) > len(c.members):
            # Too few applied for its even share: the rest went to the others.
            a_lo, a_hi = _band(asked)
            missed.append(Target(c.key, c.choice, float(asked), a_lo, a_hi, count, len(c.members)))
        elif not lo <= count <= hi:
            missed.append(target)
    ordered = sorted(chosen, key=lambda i: (-weights[i], i))
    return Drawn(
        selected=[people[i][0] for i in ordered],
        waitlisted=[people[i][0] for i in _waitlist(n, chosen, balanced, weights, size)],
        targets=targets,
        missed=missed,
    )


# -- the action --------------------------------------------------------------------------------


def _whole(value: Any, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise invalid(f"{field} must be a whole number from {low} to {high}.")
    return value


def _balance_by(value: Any, choices: Mapping[str, Sequence[str]]) -> list[str]:
    if not isinstance(value, list) or not value:
        raise invalid("balance_by must be a list of one or more of the event's attributes.")
    keys: list[str] = []
    for key in value:
        if not isinstance(key, str) or key not in choices:
            known = ", ".join(choices) or "none"
            raise invalid(
                f"balance_by: {str(key)[:60]!r} is not one of the event's attributes ({known})."
            )
        if key in keys:
            raise invalid(f"balance_by names {key!r} twice.")
        keys.append(key)
    return keys


def _quotas(value: Any, choices: Mapping[str, Sequence[str]]) -> dict[str, dict[str, Quota]]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise invalid("quotas must be an object of the form {key: {choice: {min, max}}}.")
    out: dict[str, dict[str, Quota]] = {}
    for key, per_choice in value.items():
        if key not in choices:
            raise invalid(f"quotas: {str(key)[:60]!r} is not one of the event's attributes.")
        if not isinstance(per_choice, dict):
            raise invalid(f"quotas.{key} must be an object of the form {{choice: {{min, max}}}}.")
        out[key] = {}
        for choice, bounds in per_choice.items():
            where = f"quotas.{key}.{str(choice)[:60]}"
            if choice not in choices[key]:
                raise invalid(
                    f"quotas: {str(choice)[:60]!r} is not one of the choices for {key!r}."
                )
            if not isinstance(bounds, dict) or not set(bounds) <= {"min", "max"}:
                raise invalid(f"{where} must be an object with min, max or both.")
            lo = bounds.get("min")
            hi = bounds.get("max")
            lo = None if lo is None else _whole(lo, f"{where}.min", 0, SIZE_MAX)
            hi = None if hi is None else _whole(hi, f"{where}.max", 0, SIZE_MAX)
            if lo is not None and hi is not None and lo > hi:
                raise invalid(f"{where}: min ({lo}) is more than max ({hi}).")
            out[key][choice] = (lo, hi)
    return out


@dataclass(frozen=True)
class Asked:
    """A selection as asked, checked, with the applicants it draws from (read from the store)."""

    conference_id: str
    size: int
    balance_by: list[str]
    choices: dict[str, list[str]]
    quotas: dict[str, dict[str, Quota]]
    seed: int
    applicants: list[tuple[str, dict[str, str]]]

    def draw(self) -> Drawn:
        return draw(
            self.applicants,
            size=self.size,
            balance_by=self.balance_by,
            choices=self.choices,
            quotas=self.quotas,
            seed=self.seed,
        )


async def ask_selection(
    db: AsyncSession,
    conference_id: str,
    *,
    size: Any,
    balance_by: Any,
    quotas: Any = None,
    seed: Any = None,
) -> Asked:
    """Checks a selection's fields against the event and reads the applicants; writes nothing.
    Without a seed a fresh one is drawn, returned with the selection to draw it again."""
    wanted = _whole(size, "size", 1, SIZE_MAX)
    conference = await db.get(Conference, conference_id)
    if conference is None:
        raise not_found("event")
    choices = {a["key"]: list(a["choices"]) for a in conference.attributes}
    keys = _balance_by(balance_by, choices)
    limits = _quotas(quotas, choices)
    luck = secrets.randbelow(SEED_MAX + 1) if seed is None else _whole(seed, "seed", 0, SEED_MAX)
    rows = await db.execute(
        select(Registration.id, Registration.attributes)  # type: ignore[call-overload]
        .where(col(Registration.conference_id) == conference_id)
        .order_by(col(Registration.id))
    )
    applicants = [(rid, dict(given or {})) for rid, given in rows]
    if not applicants:
        raise Refused("conflict", "No one has registered yet.")
    return Asked(conference_id, wanted, keys, choices, limits, luck, applicants)


# A selected registrant withdrew while the panel was drawn: it is no longer `size`, nor
# balanced, and must be drawn again (`live.api.events.draw_panel` does, once or twice).
WITHDRAWN_MEANWHILE = "Someone withdrew while the panel was drawn; run the selection again."


async def save_selection(db: AsyncSession, asked: Asked, drawn: Drawn) -> Selection:
    """Stores a drawn panel: the selected, and the waiting list with each one's place; it
    replaces the last selection. Whoever registered after the draw was read stays applied;
    whoever withdrew meanwhile is left off the waiting list, and a selected one who did is
    refused (`WITHDRAWN_MEANWHILE`): nothing is stored."""
    rows = list(
        await db.scalars(
            select(Registration).where(col(Registration.conference_id) == asked.conference_id)
        )
    )
    present = {r.id for r in rows}
    if not present.issuperset(drawn.selected):
        raise Refused("conflict", WITHDRAWN_MEANWHILE)
    selected = set(drawn.selected)
    waitlisted = [rid for rid in drawn.waitlisted if rid in present]
    place = {rid: p for p, rid in enumerate(waitlisted, start=1)}
    for r in rows:
        if r.id in selected or r.id in place:
            r.status = "selected" if r.id in selected else "waitlisted"
            r.place = place.get(r.id)
            db.add(r)
    await db.flush()
    return Selection(
        drawn.selected, waitlisted, drawn.targets, drawn.missed, asked.seed, asked.size
    )


async def run_selection(
    db: AsyncSession,
    conference_id: str,
    *,
    size: Any,
    balance_by: Any,
    quotas: Any = None,
    seed: Any = None,
) -> Selection:
    """Selects a panel of `size` from every registration of the event, balanced on the keys
    `balance_by`, and stores who is selected and the waiting list's order; a new selection
    replaces the last. The draw runs in a worker thread while `db` stays open: on SQLite a
    caller that holds the write lock meanwhile can instead read with `ask_selection`, draw
    with `Asked.draw` in a thread, and write with `save_selection`."""
    asked = await ask_selection(
        db, conference_id, size=size, balance_by=balance_by, quotas=quotas, seed=seed
    )
    return await save_selection(db, asked, await asyncio.to_thread(asked.draw))


def selection_json(sel: Selection) -> dict[str, Any]:
    """The API's answer: who is selected and waitlisted, where the shares were missed, the
    targets per choice, and the seed that draws the same panel again."""
    return {
        "selected": sel.selected,
        "waitlisted": sel.waitlisted,
        "missed": [
            {"key": t.key, "choice": t.choice, "share": round(t.share, 4), "count": t.count}
            for t in sel.missed
        ],
        "targets": [t.as_json() for t in sel.targets],
        "seed": sel.seed,
        "size": sel.size,
    }
