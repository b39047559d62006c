"""Who goes to which room: the balanced deal of a round, and the room for one more person.

A round balances by one attribute or by several at once (sector and level and region).
By one, people are dealt round-robin, which is already the most even mix. By several, an
integer program (HiGHS) counts how many of each kind of person go to each room, so that
sizes differ by at most one and every room's count for each answer of each attribute is
the floor or the ceiling of its proportional share; where the people do not allow that, it
keeps the sum of the misses smallest. A greedy deal is its starting point and its fallback
when the solver runs out of time."""

from __future__ import annotations

import math
import random
import time
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from hashlib import blake2b

import highspy
import numpy as np

from rooms.breakout.tables import Room
from rooms.models import Participant

# A person's answers, one per balance attribute (None: gave none).
Answers = tuple[str | None, ...]
# Where the solver stops looking and the best deal found so far is used. The limit bounds
# the wait of a hard case (the moderator waits for the rooms, and the session's writes for
# the transaction). A round of a hundred people needs a few tenths of a second; the limit
# leaves it several times that, so a machine busy with other work still finds the balance
# rather than falling back to the greedy deal (as a 1 s limit did under a load of 10).
SOLVE_SECONDS_MAX = 6.0
SOLVE_SECONDS_MIN = 4.0
SOLVE_SECONDS_PER_VARIABLE = 0.0005
# A block gets at least this long (while the time lasts) to improve on the greedy deal:
# most blocks need a few hundredths of a second, a hard one a few tenths.
SOLVE_SECONDS_FLOOR = 0.2
# Rooms per program (see `_split`): fifteen rooms of 24 kinds of people solve in about
# a tenth of a second; two hundred and fifty at once do not finish in three.
BLOCK_ROOMS = 10


def keys_of(balance_by: str | None) -> tuple[str, ...]:
    """The balance attributes of a round, from its stored comma-joined form."""
    return tuple(k for k in (balance_by or "").split(",") if k)


def _short(choice: str | None) -> str:
    # Eight hex digits tell apart an attribute's 30 choices at most; ten attributes fit the
    # seat's 120 characters, which a choice's own text (up to 120) would not.
    return "" if choice is None else blake2b(choice.encode(), digest_size=4).hexdigest()


def tag_of(attributes: Mapping[str, str], balance_by: str | None) -> str | None:
    """What a seat remembers of its person's answers for the round's balance attributes,
    so that a late joiner is balanced with one grouped count: by one attribute the answer
    itself, by several a short digest of each answer."""
    keys = keys_of(balance_by)
    if not keys:
        return None
    if len(keys) == 1:
        return attributes.get(keys[0])
    return "|".join(_short(attributes.get(k)) for k in keys)


def answers_of(tag: str | None, n_keys: int) -> Answers:
    """A seat's tag as one answer per balance attribute."""
    if n_keys <= 1:
        return (tag,)
    parts = (tag or "").split("|")
    if len(parts) != n_keys:
        return (None,) * n_keys
    return tuple(p or None for p in parts)


def choices_of(tag: str | None, keys: tuple[str, ...], asked: Mapping[str, list[str]]) -> Answers:
    """A seat's tag as the choices it stands for, one per balance attribute (None: no
    answer, or a choice the session no longer asks)."""
    parts = answers_of(tag, len(keys))
    if len(keys) <= 1:
        return parts
    out: list[str | None] = []
    for key, part in zip(keys, parts, strict=True):
        by_digest = {_short(c): c for c in asked.get(key, [])}
        out.append(by_digest.get(part) if part else None)
    return tuple(out)


def tags(people: list[Participant], balance_by: str | None) -> dict[str, str | None]:
    if not keys_of(balance_by):
        return {}
    return {p.id: tag_of(p.attributes, balance_by) for p in people}


@dataclass
class Count:
    """A room's size, and how many in it gave each answer of each balance attribute
    (keyed by the attribute's position and the answer)."""

    size: int
    by_answer: defaultdict[tuple[int, str | None], int]


def counts_of(
    rooms: list[Room], seated: Mapping[str, list[str]], answers: Mapping[str, Answers]
) -> dict[str, Count]:
    counts = {room.id: Count(len(seated[room.id]), defaultdict(int)) for room in rooms}
    for room in rooms:
        for pid in seated[room.id]:
            for i, answer in enumerate(answers.get(pid, ())):
                counts[room.id].by_answer[i, answer] += 1
    return counts


def assign(
    people: list[Participant],
    rooms: list[Room],
    balance_by: str | None,
    rng: random.Random,
    seated: dict[str, list[str]],
    tagged: dict[str, str | None],
) -> dict[str, str]:
    """Which room each person goes to.

    Into empty rooms by one attribute (or none), people are dealt round-robin, sorted by
    their answer: each answer's people are a contiguous run of the deal, so every room gets
    the floor or the ceiling of that answer's share, and sizes differ by at most one, which
    is the most even mix the totals allow. By several attributes the solver deals
    (`balance`). Into rooms that already have people (kept groups, seats prepared by hand),
    each goes where `pick` would put a late joiner."""
    keys = keys_of(balance_by)
    mine = {p.id: tuple(p.attributes.get(k) for k in keys) for p in people}
    if not any(seated.values()):
        if len(keys) > 1:
            return balance(people, rooms, mine, rng)
        return _deal(people, rooms, mine, rng)
    n_keys = len(keys)
    answers = {pid: answers_of(tag, n_keys) for pid, tag in tagged.items()} if keys else {}
    counts = counts_of(rooms, seated, answers)
    placed = {pid for pids in seated.values() for pid in pids}
    totals: Counter[tuple[int, str | None]] = Counter()
    for pid in placed:
        for i, answer in enumerate(answers.get(pid, (None,) * n_keys)):
            totals[i, answer] += 1
    plan: dict[str, str] = {}
    for p in _order(people, mine, rng):
        own = answers_of(tagged.get(p.id), n_keys) if p.id in tagged else mine[p.id]
        chosen = pick(counts, [room.id for room in rooms], own, totals, rng)
        plan[p.id] = chosen
        counts[chosen].size += 1
        for i, answer in enumerate(own):
            counts[chosen].by_answer[i, answer] += 1
            totals[i, answer] += 1
    return plan


def _order(
    people: list[Participant], mine: Mapping[str, Answers], rng: random.Random
) -> list[Participant]:
    """People grouped by their answer for the most skewed attribute, largest group first,
    shuffled within: the order of the one-attribute deal."""
    first = _most_skewed(list(mine.values()))
    by_value: dict[str | None, list[Participant]] = defaultdict(list)
    for p in people:
        by_value[mine[p.id][first] if mine[p.id] else None].append(p)
    order: list[Participant] = []
    for _, group in sorted(by_value.items(), key=lambda kv: (-len(kv[1]), str(kv[0]))):
        rng.shuffle(group)
        order += group
    return order


def _most_skewed(answers: list[Answers]) -> int:
    """The attribute whose answers are least even: the widest gap between the shares of its
    most and least common answer (the one hardest to spread evenly)."""
    if not answers or not answers[0]:
        return 0
    n_keys = len(answers[0])
    gaps = []
    for i in range(n_keys):
        seen = Counter(a[i] for a in answers)
        gaps.append((max(seen.values()) - min(seen.values())) / len(answers))
    return max(range(n_keys), key=lambda i: gaps[i])


def _deal(
    people: list[Participant], rooms: list[Room], mine: Mapping[str, Answers], rng: random.Random
) -> dict[str, str]:
    return {p.id: rooms[i % len(rooms)].id for i, p in enumerate(_order(people, mine, rng))}


def _band(count: float, share: float) -> float:
    """How far a count lies outside the floor and ceiling of its share (0 inside)."""
    return max(0.0, math.floor(share + 1e-9) - count, count - math.ceil(share - 1e-9))


def pick(
    counts: dict[str, Count],
    room_ids: list[str],
    answers: Answers,
    totals: Mapping[tuple[int, str | None], int],
    rng: random.Random,
) -> str:
    """The room for one more person: among the smallest rooms (so sizes never differ by
    more than one), the one where adding them keeps every count of every balance
    attribute's answers closest to its proportional share (room size times that answer's
    share of the people placed, this person included), at random among equals.

    One at a time this cannot always keep every count within one of its share: a room
    gets one newcomer per turn of the smallest rooms, and the next few people may not
    bring what it lacks (tests/rooms/test_breakout_several.py measures how far it goes)."""
    smallest = min(counts[rid].size for rid in room_ids)
    candidates = [rid for rid in room_ids if counts[rid].size == smallest]
    if not answers:
        return rng.choice(candidates)
    after: Counter[tuple[int, str | None]] = Counter(totals)
    for i, answer in enumerate(answers):
        after[i, answer] += 1
    placed = sum(n for (i, _), n in after.items() if i == 0)
    own = {(i, a) for i, a in enumerate(answers)}
    best: list[str] = []
    best_score = math.inf
    for rid in candidates:
        by = counts[rid].by_answer
        score = 0.0
        for which, total in after.items():
            was = by.get(which, 0)
            now = was + (1 if which in own else 0)
            fraction = total / placed
            # The squared distances from the shares, before and after, each divided by the
            # answer's share: a rare answer's miss weighs as much as a common one's, so a
            # room that lacks a rare answer is kept for someone who brings it.
            moved = (now - (smallest + 1) * fraction) ** 2 - (was - smallest * fraction) ** 2
            score += moved / fraction
        score = round(score, 9)
        if score < best_score:
            best, best_score = [rid], score
        elif score == best_score:
            best.append(rid)
    return rng.choice(best)


# -- several attributes: the solver ------------------------------------------------------------


def balance(
    people: list[Participant],
    rooms: list[Room],
    mine: Mapping[str, Answers],
    rng: random.Random,
    *,
    seconds: float | None = None,
) -> dict[str, str]:
    """Everyone into empty rooms, balanced by several attributes at once (see the module)."""
    if not people:
        return {}
    kinds = sorted({mine[p.id] for p in people}, key=str)
    of_kind: dict[Answers, list[Participant]] = {k: [] for k in kinds}
    for p in people:
        of_kind[mine[p.id]].append(p)
    totals = [len(of_kind[k]) for k in kinds]
    sizes = _sizes(len(people), len(rooms))
    limit = seconds if seconds is not None else _seconds(len(kinds) * len(rooms))
    counts = _split(kinds, totals, sizes, _shares(kinds, totals), rng, time.monotonic() + limit)
    # Room i of the model is a room of the round at random; who of a kind goes where too.
    order = list(rooms)
    rng.shuffle(order)
    plan: dict[str, str] = {}
    for t, kind in enumerate(kinds):
        group = of_kind[kind]
        rng.shuffle(group)
        at = 0
        for r, room in enumerate(order):
            for p in group[at : at + counts[t][r]]:
                plan[p.id] = room.id
            at += counts[t][r]
    return plan


def _sizes(people: int, rooms: int) -> list[int]:
    """Room sizes that differ by at most one, the larger first."""
    q, m = divmod(people, rooms)
    return [q + 1] * m + [q] * (rooms - m)


def _seconds(variables: int) -> float:
    return min(SOLVE_SECONDS_MAX, SOLVE_SECONDS_MIN + SOLVE_SECONDS_PER_VARIABLE * variables)


def _shares(kinds: list[Answers], totals: list[int]) -> dict[tuple[int, str | None], float]:
    """Each answer's share of the people placed."""
    n = sum(totals)
    share: dict[tuple[int, str | None], float] = defaultdict(float)
    for kind, total in zip(kinds, totals, strict=True):
        for i, a in enumerate(kind):
            share[i, a] += total / n
    return share


def _split(
    kinds: list[Answers],
    totals: list[int],
    sizes: list[int],
    share: Mapping[tuple[int, str | None], float],
    rng: random.Random,
    deadline: float,
    solves: int = 1,
) -> list[list[int]]:
    """Counts of each kind per room. Rooms are alike but for their size, so a program over
    hundreds of them is mostly symmetry, which no solver enjoys: many rooms are first
    split into blocks of at most BLOCK_ROOMS (each block a "room" of their summed size,
    balanced by the same shares), then each block into its rooms. Every count in a block
    lies within the floor and ceiling of its share, so its rooms can have theirs too."""
    if len(sizes) <= BLOCK_ROOMS:
        start = _greedy(kinds, totals, sizes, share, rng)
        left = deadline - time.monotonic()
        if left <= 0:
            return start  # out of time: the fallback deal, as it is
        seconds = max(min(SOLVE_SECONDS_FLOOR, left), left / solves)
        return solve(kinds, totals, sizes, share, start, seconds, rng)
    n_blocks = -(-len(sizes) // BLOCK_ROOMS)
    bounds = [len(sizes) * b // n_blocks for b in range(n_blocks + 1)]
    blocks = [sizes[bounds[b] : bounds[b + 1]] for b in range(n_blocks)]
    outer = _split(kinds, totals, [sum(b) for b in blocks], share, rng, deadline, n_blocks + 1)
    out: list[list[int]] = [[] for _ in kinds]
    for b, block in enumerate(blocks):
        inner = _split(
            kinds,
            [outer[t][b] for t in range(len(kinds))],
            block,
            share,
            rng,
            deadline,
            n_blocks - b,
        )
        for t in range(len(kinds)):
            out[t] += inner[t]
    return out


def _answer_index(kinds: list[Answers]) -> dict[tuple[int, str | None], int]:
    found: dict[tuple[int, str | None], int] = {}
    for kind in kinds:
        for i, a in enumerate(kind):
            found.setdefault((i, a), len(found))
    return found


def _greedy(
    kinds: list[Answers],
    totals: list[int],
    sizes: list[int],
    share: Mapping[tuple[int, str | None], float],
    rng: random.Random,
) -> list[list[int]]:
    """The fallback deal, counts of each kind per room: people one by one, grouped by the
    most skewed attribute, each into the room `pick` would choose, the rooms filling up in
    the order of their sizes (so the larger get the one more)."""
    index = _answer_index(kinds)
    first = _skewed_key(share)
    by_first: dict[str | None, list[int]] = defaultdict(list)
    for t, total in enumerate(totals):
        by_first[kinds[t][first] if kinds[t] else None] += [t] * total
    order: list[int] = []
    for _, group in sorted(by_first.items(), key=lambda kv: (-len(kv[1]), str(kv[0]))):
        rng.shuffle(group)
        order += group
    fraction = np.zeros(len(index))
    for answer, c in index.items():
        fraction[c] = share.get(answer, 0.0)
    have = np.zeros((len(sizes), len(index)))
    filled = np.zeros(len(sizes), dtype=int)
    target = np.array(sizes)
    out = [[0] * len(sizes) for _ in kinds]
    for t in order:
        cols = [index[i, a] for i, a in enumerate(kinds[t])]
        open_ = np.flatnonzero(filled < target)
        low = filled[open_].min()
        candidates = open_[filled[open_] == low]
        was = have[candidates]
        now = was.copy()
        now[:, cols] += 1
        share_was = low * fraction
        share_now = (low + 1) * fraction
        missed = (_bands(now, share_now) - _bands(was, share_was)).sum(axis=1)
        spread = ((now - share_now) ** 2 - (was - share_was) ** 2).sum(axis=1)
        score = np.round(missed, 9) * 1e6 + np.round(spread, 6)
        best = candidates[score <= score.min() + 1e-9]
        r = int(best[rng.randrange(len(best))])
        have[r, cols] += 1
        filled[r] += 1
        out[t][r] += 1
    return out


def _skewed_key(share: Mapping[tuple[int, str | None], float]) -> int:
    """The attribute whose answers are least even: the widest gap between the shares of its
    most and least common answer (the one hardest to spread evenly)."""
    by_key: dict[int, list[float]] = defaultdict(list)
    for (i, _), fraction in share.items():
        by_key[i].append(fraction)
    if not by_key:
        return 0
    return max(sorted(by_key), key=lambda i: max(by_key[i]) - min(by_key[i]))


def _bands(count: np.ndarray, share: np.ndarray) -> np.ndarray:
    low = np.floor(share + 1e-9)
    high = np.ceil(share - 1e-9)
    out: np.ndarray = np.maximum(0.0, np.maximum(low - count, count - high))
    return out


def solve(
    kinds: list[Answers],
    totals: list[int],
    sizes: list[int],
    share_of: Mapping[tuple[int, str | None], float],
    start: list[list[int]],
    seconds: float,
    rng: random.Random,
) -> list[list[int]]:
    """How many of each kind of person go to each room: the integer program.

    Variables: y[t, r] people of kind t in room r (integers), and for every room and answer
    two slacks, over and under. Constraints: every kind is placed in full, every room gets
    its size, and every room's count of every answer lies within the floor and ceiling of
    its share, give or take the slacks. Objective: the least sum of slacks (0 when the
    hard rule holds). `start` (the greedy deal) is the first solution the solver knows, so
    what it returns is never worse; a failed or empty solve returns `start`."""
    index = _answer_index(kinds)
    n, n_rooms, n_kinds, n_answers = sum(totals), len(sizes), len(kinds), len(index)
    if n == 0 or n_rooms == 0:
        return start
    share = [0.0] * n_answers
    for answer, c in index.items():
        share[c] = share_of.get(answer, 0.0)
    n_y = n_kinds * n_rooms
    balance_row0 = n_kinds + n_rooms
    starts: list[int] = []
    rows: list[int] = []
    values: list[float] = []
    for t, kind in enumerate(kinds):
        cols = [index[i, a] for i, a in enumerate(kind)]
        for r in range(n_rooms):
            starts.append(len(rows))
            rows += [t, n_kinds + r] + [balance_row0 + c * n_rooms + r for c in cols]
            values += [1.0] * (2 + len(cols))
    for c in range(n_answers):
        for r in range(n_rooms):
            row = balance_row0 + c * n_rooms + r
            starts += [len(rows), len(rows) + 1]
            rows += [row, row]
            values += [-1.0, 1.0]  # over, under
    n_cols = n_y + 2 * n_answers * n_rooms
    starts.append(len(rows))
    lower = [float(x) for x in totals] + [float(s) for s in sizes]
    upper = list(lower)
    for c in range(n_answers):
        for r in range(n_rooms):
            lower.append(float(math.floor(sizes[r] * share[c] + 1e-9)))
            upper.append(float(math.ceil(sizes[r] * share[c] - 1e-9)))
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n_cols, len(lower)
    lp.col_cost_ = np.array([0.0] * n_y + [1.0] * (n_cols - n_y))
    lp.col_lower_ = np.zeros(n_cols)
    lp.col_upper_ = np.array(
        [float(min(totals[t], sizes[r])) for t in range(n_kinds) for r in range(n_rooms)]
        + [highspy.kHighsInf] * (n_cols - n_y)
    )
    lp.row_lower_, lp.row_upper_ = np.array(lower), np.array(upper)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = np.array(starts, dtype=np.int32)
    lp.a_matrix_.index_ = np.array(rows, dtype=np.int32)
    lp.a_matrix_.value_ = np.array(values)
    lp.integrality_ = [highspy.HighsVarType.kInteger] * n_y + [highspy.HighsVarType.kContinuous] * (
        n_cols - n_y
    )
    h = highspy.Highs()  # type: ignore[no-untyped-call]
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(seconds))
    h.setOptionValue("random_seed", rng.randrange(2**31 - 1))
    h.setOptionValue("mip_rel_gap", 0.0)
    h.passModel(lp)
    h.setSolution(_with_slacks(start, kinds, index, sizes, share))
    h.run()
    found = _counts(h, n_kinds, n_rooms, totals, sizes)
    return found if found is not None else start


def _with_slacks(
    y: list[list[int]],
    kinds: list[Answers],
    index: Mapping[tuple[int, str | None], int],
    sizes: list[int],
    share: list[float],
) -> highspy.HighsSolution:
    """A deal as a full solution of the program: its counts and the slacks they need."""
    n_rooms = len(sizes)
    have = [[0] * n_rooms for _ in index]
    for t, kind in enumerate(kinds):
        for i, a in enumerate(kind):
            for r in range(n_rooms):
                have[index[i, a]][r] += y[t][r]
    over, under = [], []
    for c in range(len(index)):
        for r in range(n_rooms):
            low = math.floor(sizes[r] * share[c] + 1e-9)
            high = math.ceil(sizes[r] * share[c] - 1e-9)
            over += [float(max(0, have[c][r] - high))]
            under += [float(max(0, low - have[c][r]))]
    solution = highspy.HighsSolution()
    values: list[float] = [float(v) for row in y for v in row]
    for o, u in zip(over, under, strict=True):
        values += [o, u]
    # The slack columns alternate over, under per (answer, room), as the program has them.
    solution.col_value = values
    solution.value_valid = True
    return solution


def _counts(
    h: highspy.Highs, n_kinds: int, n_rooms: int, totals: list[int], sizes: list[int]
) -> list[list[int]] | None:
    """The solver's counts, if it found a deal that places everyone in rooms of the sizes."""
    if h.getInfo().primal_solution_status != highspy.SolutionStatus.kSolutionStatusFeasible:
        return None
    values = h.getSolution().col_value
    y = [[round(values[t * n_rooms + r]) for r in range(n_rooms)] for t in range(n_kinds)]
    if any(sum(row) != total for row, total in zip(y, totals, strict=True)):
        return None
    if any(sum(y[t][r] for t in range(n_kinds)) != sizes[r] for r in range(n_rooms)):
        return None
    if any(v < 0 for row in y for v in row):
        return None
    return y
