"""Notes' upvotes split by a join attribute: which side (a sector, a region) liked a note.

Upvotes are kept per participant, so the upvoters' answers to the session's questions are
joined from their rows. The groups and which of them are hidden follow the rule in
`rooms/polls/splits.py` (rule 3): every note of a session lists the same groups, those its
participants hold, and hides the same ones, judged by how many participants of the session
hold each answer, never by a note's upvotes. A group fewer than `MIN_GROUP` participants
hold never shows its upvotes ("small"), and the smallest other group is hidden with it
("protects"); a shown group shows its upvotes whatever they are, 0, 1 and 2 included. So
whether one person upvoted a note never changes what its split looks like, beyond the
counts of the groups that are shown."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from rooms.boards.tables import Note, NoteUpvote
from rooms.models import Participant
from rooms.polls.splits import (
    Answers,
    Hidden,
    answer_columns,
    held_answers,
    hidden_groups,
    listed_groups,
    summed,
)


async def upvote_splits(
    db: AsyncSession, note_ids: Sequence[str], attributes: list[dict[str, Any]]
) -> dict[str, list[dict[str, Any]]]:
    """Per note, its upvotes split by each of `attributes`: `[{key, label, groups: [{choice,
    upvotes, hidden}]}]`, the groups its session lists (the choices its participants hold, in
    the attribute's order, then `choice: None` for no answer when a participant gave none),
    the same for every note of the session, upvoted or not. A hidden group (`hidden` "small"
    or "protects", the same on every note) has `upvotes` None; with nothing hidden the
    groups add up to the note's upvotes. Three queries for every note and attribute."""
    if not note_ids or not attributes:
        return {}
    keys = [a["key"] for a in attributes]
    found = await db.execute(
        select(col(Note.id), col(Note.session_id)).where(col(Note.id).in_(list(note_ids)))
    )
    session_of = {str(nid): str(sid) for nid, sid in found}
    held = await held_answers(db, set(session_of.values()), keys)
    answers, grouped = answer_columns(col(Participant.attributes), keys)
    note = col(NoteUpvote.note_id)
    rows = await db.execute(
        select(note, *answers, func.count())
        .join(Participant, col(Participant.id) == col(NoteUpvote.participant_id))
        .where(note.in_(list(note_ids)))
        .group_by(note, *grouped)
    )
    upvoted: dict[str, dict[Answers, int]] = defaultdict(dict)
    for nid, *who, n in rows:
        upvoted[str(nid)][tuple(who)] = int(n)
    # The groups and what they hide, once per session and attribute.
    listed: dict[tuple[str, int], tuple[list[str | None], list[Hidden | None]]] = {}
    for sid in set(session_of.values()):
        for i, a in enumerate(attributes):
            people = summed(held.get(sid, {}), i)
            order = listed_groups(a["choices"], set(people))
            listed[sid, i] = order, hidden_groups([people.get(c, 0) for c in order])
    return {
        nid: [
            {
                "key": a["key"],
                "label": a.get("label", a["key"]),
                "groups": _groups(*listed[session_of[nid], i], summed(upvoted[nid], i))
                if nid in session_of
                else [],
            }
            for i, a in enumerate(attributes)
        ]
        for nid in note_ids
    }


def _groups(
    order: list[str | None], hidden: list[Hidden | None], counted: dict[str | None, int]
) -> list[dict[str, Any]]:
    return [
        {"choice": c, "upvotes": None if why else counted.get(c, 0), "hidden": why}
        for c, why in zip(order, hidden, strict=True)
    ]
