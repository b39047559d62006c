"""A poll's results split by a join attribute: what each side (a sector, a region) answered;
and the rule, shared with the notes' upvote splits, for which groups a split lists and which
it hides.

Counted from the answers each ballot keeps (`Ballot.attributes`), never from the voters, so
a split is the same before and after the poll closes and unlinks its ballots.

The rule: whether a person voted, or which notes they upvoted, must never show, also not to
a moderator who knows from the room how many people hold each answer.

1. Every split lists the same groups, built once per split from the session
   (`listed_groups`): every choice of the attribute held by at least one participant of the
   session, in the attribute's order; then any former choice (no longer among the choices)
   held by a participant or, for a poll, by one of its ballots; then "No answer" (`choice`
   None) whenever a participant of the session has none (or, for a poll, a ballot). A choice
   nobody holds is left out: there is nobody to protect. A poll's ballot keeps the answer
   its voter gave, so a choice only a ballot still holds is listed too, and the groups add
   up to the totals. Every note and every poll of the session lists exactly these groups,
   whatever their counts.
2. Polls: the population of a group is the poll's voters in it. A group of fewer than
   `MIN_GROUP` voters, none included, is "small"; if any group is small, the smallest
   group that is not (the later one among equals) is hidden too, "protects". So the hidden
   groups always hold a group of `MIN_GROUP` or more, and at least two groups; with no
   group to protect them, every group is hidden. Which groups are hidden then depends only
   on which groups are small and on the sizes of the others: a small group of 0, 1 or 2
   voters looks exactly the same. With no group small, nothing is hidden and the groups'
   counts add up exactly to the totals.
3. Upvotes (`rooms/boards/splits.py`): the population of a group is the participants of the
   session holding that answer, not a note's upvoters. Groups of fewer than `MIN_GROUP`
   participants are "small" and the smallest other group "protects", as above, so the same
   groups are hidden on every note of the session; a shown group shows its upvotes, also
   when 0, 1 or 2 (it is large enough that nobody is singled out).

A hidden group shows its `voters` (`upvotes`) and every count as None, and `hidden` says why.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from typing import Any, Literal

from sqlalchemy import ColumnClause, Label, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from rooms.errors import invalid
from rooms.models import Participant
from rooms.polls.reading import options_of
from rooms.polls.tables import WITH_OPTIONS, Ballot, BallotChoice, Poll

# The smallest group whose counts are shown: with two, each could tell the other's answer.
MIN_GROUP = 3

Answers = tuple[str | None, ...]  # one choice per attribute asked, None for no answer
# Why a group shows no counts: too few people in it, or hidden so that the totals minus the
# shown groups cannot give away a group that is.
Hidden = Literal["small", "protects"]


def hidden_groups(sizes: Sequence[int]) -> list[Hidden | None]:
    """For a split's groups of `sizes` people (in the split's order), which are hidden and
    why; None for a group shown.

    A group of fewer than `MIN_GROUP`, none included, is "small". If any is, the smallest
    group that is not (the later one among equals) is hidden as "protects"; with none such,
    every group is hidden. Only which groups are small counts, never how small: 0, 1 and 2
    give the same answer. "No answer" is a group like any other."""
    hidden: list[Hidden | None] = ["small" if n < MIN_GROUP else None for n in sizes]
    shown = [i for i, why in enumerate(hidden) if why is None]
    if shown and len(shown) < len(hidden):
        hidden[min(shown, key=lambda i: (sizes[i], -i))] = "protects"
    return hidden


def listed_groups(choices: Sequence[str], held: Collection[str | None]) -> list[str | None]:
    """The groups a split lists, of the answers `held` by someone (rule 1): the choices held,
    in their order, then the former choices held, then None (no answer) if held."""
    others = sorted(c for c in held if c is not None and c not in choices)
    order: list[str | None] = [c for c in choices if c in held]
    order += others
    if None in held:
        order.append(None)
    return order


async def held_answers(
    db: AsyncSession, session_ids: Iterable[str], keys: list[str]
) -> dict[str, dict[Answers, int]]:
    """Per session, how many of its participants hold each combination of answers to `keys`
    (one query for every session and key)."""
    answers, grouped = answer_columns(col(Participant.attributes), keys)
    sid = col(Participant.session_id)
    rows = await db.execute(
        select(sid, *answers, func.count())
        .where(sid.in_(list(session_ids)))
        .group_by(sid, *grouped)
    )
    out: dict[str, dict[Answers, int]] = defaultdict(dict)
    for session_id, *who, n in rows:
        out[str(session_id)][tuple(who)] = int(n)
    return out


def summed(tally: dict[Answers, int], index: int) -> dict[str | None, int]:
    """A tally of answer combinations summed down to one attribute's answers."""
    out: dict[str | None, int] = defaultdict(int)
    for who, n in tally.items():
        out[who[index]] += n
    return out


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
    """The poll's results split by each of `attributes`: `[{key, label, groups}]`, the
    groups the session lists (the module's rule 1: the same whoever voted), then `choice:
    None` for no answer. A group is `{choice, voters, hidden, options, …}`: `hidden` is None,
    "small" or "protects" (`hidden_groups`), and a hidden group's `voters` and counts are
    None. With nothing hidden, the groups' counts sum to the poll's totals."""
    if not attributes:
        return []
    keys = [a["key"] for a in attributes]
    answers, grouped = answer_columns(col(Ballot.attributes), keys)
    mine = col(Ballot.poll_id) == poll.id
    voters = _tally(await db.execute(select(*answers, func.count()).where(mine).group_by(*grouped)))
    held = (await held_answers(db, [poll.session_id], keys)).get(poll.session_id, {})
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
            "groups": _groups(poll, a["choices"], i, voters, held, marks, labels),
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
    held: dict[Answers, int],
    marks: dict[Answers, dict[str, tuple[int, int]]],
    labels: list[tuple[str, str]],
) -> list[dict[str, Any]]:
    """One attribute's groups: the combinations of every attribute's answers summed down to
    this one's (one query serves every attribute of the session). `held` is what the
    session's participants hold, `voters` what the ballots keep: a group either holds is
    listed, so the groups still add up to the totals after an answer was changed."""
    counted = summed(voters, index)
    per: dict[str | None, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for who, found in marks.items():
        for oid, (n, ranks) in found.items():
            per[who[index]][oid][0] += n
            per[who[index]][oid][1] += ranks
    order = listed_groups(choices, {*summed(held, index), *counted})
    hidden = hidden_groups([counted.get(c, 0) for c in order])
    return [
        _group(poll, c, counted.get(c, 0), why, per.get(c, {}), labels)
        for c, why in zip(order, hidden, strict=True)
    ]


def _group(
    poll: Poll,
    choice: str | None,
    voters: int,
    hidden: Hidden | None,
    found: dict[str, list[int]],
    labels: list[tuple[str, str]],
) -> dict[str, Any]:
    shown = hidden is None
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
        "hidden": hidden,
        "options": options,
    }
    if poll.kind == "scale":
        total = sum(int(oid) * (found.get(oid) or (0, 0))[0] for oid, _ in labels)
        group["mean"] = round(total / voters, 2) if shown and voters else None
    return group
