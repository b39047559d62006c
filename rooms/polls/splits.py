"""A poll's results split by a join attribute: what each side (a sector, a region) answered.

Counted from the answers each ballot keeps (`Ballot.attributes`), never from the voters, so
a split is the same before and after the poll closes and unlinks its ballots. A group of
fewer than `MIN_GROUP` voters never shows its counts: its `voters` and every count are None.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import ColumnClause, Label, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from rooms.errors import invalid
from rooms.polls.reading import options_of
from rooms.polls.tables import WITH_OPTIONS, Ballot, BallotChoice, Poll

# The smallest group whose counts are shown: with two, each could tell the other's answer.
MIN_GROUP = 3

Answers = tuple[str | None, ...]  # one choice per attribute asked, None for no answer


def attribute_named(attributes: list[dict[str, Any]], key: Any) -> dict[str, Any]:
    """The session's attribute `key`, or a 422 naming `by` (the query parameter)."""
    for attribute in attributes:
        if attribute["key"] == key:
            return attribute
    asked = ", ".join(a["key"] for a in attributes) or "none"
    raise invalid(f"by: {str(key)[:40]!r} is not one of this session's questions ({asked}).")


async def split_results(
    db: AsyncSession, poll: Poll, attributes: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The poll's results split by each of `attributes`: `[{key, label, groups}]`, a group
    per choice in the attribute's order, then `choice: None` for those who gave no answer
    (only when some did). A group's counts sum, over the groups, to the poll's totals."""
    if not attributes:
        return []
    answers, grouped = answer_columns(col(Ballot.attributes), [a["key"] for a in attributes])
    mine = col(Ballot.poll_id) == poll.id
    voters = _tally(await db.execute(select(*answers, func.count()).where(mine).group_by(*grouped)))
    marks: dict[Answers, dict[str, tuple[int, int]]] = defaultdict(dict)
    labels: list[tuple[str, str]] = []
    if poll.kind in WITH_OPTIONS:
        options = await options_of(db, poll.id)
        labels = [(o.id, o.label) for o in options]
        rows = await db.execute(
            select(*answers, col(BallotChoice.option_id), func.count(), func.sum(BallotChoice.rank))
            .join(Ballot, col(Ballot.id) == col(BallotChoice.ballot_id))
            .where(mine)
            .group_by(*grouped, col(BallotChoice.option_id))
        )
        for *who, option, n, ranks in rows:
            marks[tuple(who)][str(option)] = (int(n), int(ranks or 0))
    elif poll.kind == "scale":
        assert poll.scale_min is not None and poll.scale_max is not None
        labels = [(str(v), str(v)) for v in range(poll.scale_min, poll.scale_max + 1)]
        value = col(Ballot.value)
        rows = await db.execute(
            select(*answers, value, func.count()).where(mine).group_by(*grouped, value)
        )
        for *who, v, n in rows:
            if v is not None:
                marks[tuple(who)][str(v)] = (int(n), 0)
    return [
        {
            "key": a["key"],
            "label": a.get("label", a["key"]),
            "groups": _groups(poll, a["choices"], i, voters, marks, labels),
        }
        for i, a in enumerate(attributes)
    ]


def answer_columns(
    attributes: Any, keys: list[str]
) -> tuple[list[Label[Any]], list[ColumnClause[Any]]]:
    """Each key's answer out of a JSON column, named `a0`, `a1`…, and the names to group by.

    Grouped by name, not by the expression again: PostgreSQL binds the key of each
    `->>` anew and would not know the two for the same expression."""
    named = [attributes[k].as_string().label(f"a{i}") for i, k in enumerate(keys)]
    return named, [literal_column(f"a{i}") for i in range(len(keys))]


def _tally(rows: Any) -> dict[Answers, int]:
    return {tuple(who): int(n) for *who, n in rows}


def _groups(
    poll: Poll,
    choices: list[str],
    index: int,
    voters: dict[Answers, int],
    marks: dict[Answers, dict[str, tuple[int, int]]],
    labels: list[tuple[str, str]],
) -> list[dict[str, Any]]:
    """One attribute's groups: the combinations of every attribute's answers summed down to
    this one's (one query serves every attribute of the session)."""
    counted: dict[str | None, int] = defaultdict(int)
    per: dict[str | None, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for who, n in voters.items():
        counted[who[index]] += n
    for who, found in marks.items():
        for oid, (n, ranks) in found.items():
            per[who[index]][oid][0] += n
            per[who[index]][oid][1] += ranks
    # Answers no longer among the choices (an event's question edited) keep their own group,
    # after the choices, so the groups still add up to the totals.
    others = sorted(c for c in counted if c is not None and c not in choices)
    order: list[str | None] = [*choices, *others]
    if counted.get(None):
        order.append(None)
    return [_group(poll, c, counted.get(c, 0), per.get(c, {}), labels) for c in order]


def _group(
    poll: Poll,
    choice: str | None,
    voters: int,
    found: dict[str, list[int]],
    labels: list[tuple[str, str]],
) -> dict[str, Any]:
    shown = voters >= MIN_GROUP
    options = []
    for oid, label in labels:
        n, ranks = found.get(oid) or (0, 0)
        item: dict[str, Any] = {"id": oid, "label": label, "count": n if shown else None}
        if poll.kind == "ranking":
            # Borda, as the totals count it: first place earns k-1 points, last earns 0.
            item["score"] = n * (len(labels) - 1) - ranks if shown else None
        options.append(item)
    group: dict[str, Any] = {
        "choice": choice,
        "voters": voters if shown else None,
        "options": options,
    }
    if poll.kind == "scale":
        total = sum(int(oid) * (found.get(oid) or (0, 0))[0] for oid, _ in labels)
        group["mean"] = round(total / voters, 2) if shown and voters else None
    return group
