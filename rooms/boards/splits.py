"""Notes' upvotes split by a join attribute: which side (a sector, a region) liked a note.

Upvotes are kept per participant, so the upvoters' answers to the session's questions are
joined from their rows. As with polls, a group of fewer than `MIN_GROUP` upvoters never shows
its count (None)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from rooms.boards.tables import NoteUpvote
from rooms.models import Participant
from rooms.polls.splits import MIN_GROUP, answer_columns


async def upvote_splits(
    db: AsyncSession, note_ids: Sequence[str], attributes: list[dict[str, Any]]
) -> dict[str, list[dict[str, Any]]]:
    """Per note, its upvotes split by each of `attributes`: `[{key, label, groups: [{choice,
    upvotes}]}]`, a group per choice in the attribute's order, then `choice: None` for those
    who gave no answer (only when some did). One query for every note and attribute."""
    if not note_ids or not attributes:
        return {}
    answers, grouped = answer_columns(col(Participant.attributes), [a["key"] for a in attributes])
    note = col(NoteUpvote.note_id)
    rows = await db.execute(
        select(note, *answers, func.count())
        .join(Participant, col(Participant.id) == col(NoteUpvote.participant_id))
        .where(note.in_(list(note_ids)))
        .group_by(note, *grouped)
    )
    counted: dict[str, dict[int, dict[str | None, int]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(int))
    )
    for nid, *who, n in rows:
        for i, choice in enumerate(who):
            counted[str(nid)][i][choice] += int(n)
    return {
        nid: [
            {
                "key": a["key"],
                "label": a.get("label", a["key"]),
                "groups": _groups(a["choices"], counted[nid][i]) if nid in counted else [],
            }
            for i, a in enumerate(attributes)
        ]
        for nid in note_ids
    }


def _groups(choices: list[str], counted: dict[str | None, int]) -> list[dict[str, Any]]:
    others = sorted(c for c in counted if c is not None and c not in choices)
    order: list[str | None] = [*choices, *others]
    if counted.get(None):
        order.append(None)
    return [
        {"choice": c, "upvotes": n if (n := counted.get(c, 0)) >= MIN_GROUP else None}
        for c in order
    ]
