"""Reading polls: by id, per session and place, who may see what, and the exact totals."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from rooms.breakout import room_of
from rooms.errors import forbidden, not_found
from rooms.locks import Lock, locked
from rooms.models import Participant, Role
from rooms.polls.tables import (
    SUMMARY_ITEMS,
    WITH_OPTIONS,
    Ballot,
    BallotChoice,
    BallotWord,
    Poll,
    PollOption,
    PollVoter,
)
from rooms.sessions import writable


async def poll_by_id(db: AsyncSession, poll_id: Any) -> Poll:
    found = await db.get(Poll, poll_id) if isinstance(poll_id, str) and poll_id else None
    if found is None:
        raise not_found("poll")
    return found


async def options_of(db: AsyncSession, poll_id: str) -> list[PollOption]:
    rows = await db.scalars(
        select(PollOption)
        .where(col(PollOption.poll_id) == poll_id)
        .order_by(col(PollOption.position))
    )
    return list(rows)


async def polls_of(db: AsyncSession, session_id: str) -> list[Poll]:
    rows = await db.scalars(
        select(Poll).where(col(Poll.session_id) == session_id).order_by(col(Poll.created_at))
    )
    return list(rows)


async def describe_polls(db: AsyncSession, session_id: str, role: Role) -> list[dict[str, Any]]:
    """Every poll; a participant is not told of drafts (the moderator may still change them)."""
    return [
        {
            "id": p.id,
            "question": p.question,
            "kind": p.kind,
            "status": p.status,
            "room_id": p.room_id,
        }
        for p in await polls_of(db, session_id)
        if role != "participant" or p.status != "draft"
    ]


async def check_place(db: AsyncSession, poll: Poll, participant_id: str) -> None:
    """Only the people in a poll's place (the plenary or its room) may see or answer it."""
    if await room_of(db, poll.session_id, participant_id) != poll.room_id:
        where = "the plenary" if poll.room_id is None else "another breakout room"
        raise forbidden(f"This poll belongs to {where}; only the people there can answer it.")


async def check_participant(db: AsyncSession, poll: Poll, participant: Participant) -> None:
    if participant.session_id != poll.session_id:
        raise forbidden("This poll is in another session.")
    await check_place(db, poll, participant.id)


def results_visible(poll: Poll, role: Role) -> bool:
    """Whether this audience may see the poll's results now (counts of answers always)."""
    if role == "moderator":
        return True
    if poll.status == "draft":
        return False
    return poll.show_results == "live" or (
        poll.show_results == "closed" and poll.status == "closed"
    )


async def results(db: AsyncSession, poll: Poll, *, moderator: bool = False) -> dict[str, Any]:
    """The poll's totals, counted from the stored ballots (never from a running counter)."""
    voters = int(await db.scalar(select(func.count()).where(col(Ballot.poll_id) == poll.id)) or 0)
    out: dict[str, Any] = {
        "poll_id": poll.id,
        "status": poll.status,
        "kind": poll.kind,
        "question": poll.question,
        "voters": voters,
        "options": [],
    }
    if poll.kind in WITH_OPTIONS:
        options = await options_of(db, poll.id)
        rows = (
            await db.execute(
                select(col(BallotChoice.option_id), func.count(), func.sum(col(BallotChoice.rank)))
                .join(Ballot, col(Ballot.id) == col(BallotChoice.ballot_id))
                .where(col(Ballot.poll_id) == poll.id)
                .group_by(col(BallotChoice.option_id))
            )
        ).all()
        counted = {oid: (int(n), int(ranks or 0)) for oid, n, ranks in rows}
        listed = []
        for o in options:
            n, ranks = counted.get(o.id, (0, 0))
            item: dict[str, Any] = {"id": o.id, "label": o.label, "count": n}
            if poll.kind == "ranking":
                # Borda: with k options, first place earns k-1 points, last earns 0.
                item["score"] = n * (len(options) - 1) - ranks
                item["average_position"] = round(ranks / n + 1, 2) if n else None
            listed.append(item)
        out["options"] = listed
    elif poll.kind == "scale":
        assert poll.scale_min is not None and poll.scale_max is not None
        scale_rows = (
            await db.execute(
                select(col(Ballot.value), func.count())
                .where(col(Ballot.poll_id) == poll.id)
                .group_by(col(Ballot.value))
            )
        ).all()
        by_value = {int(v): int(n) for v, n in scale_rows if v is not None}
        out["options"] = [
            {"id": str(v), "value": v, "label": _scale_label(poll, v), "count": by_value.get(v, 0)}
            for v in range(poll.scale_min, poll.scale_max + 1)
        ]
        total = sum(v * n for v, n in by_value.items())
        out["mean"] = round(total / voters, 2) if voters else None
        out["scale"] = {
            "min": poll.scale_min,
            "max": poll.scale_max,
            "min_label": poll.min_label,
            "max_label": poll.max_label,
        }
    elif poll.kind == "wordcloud":
        word_rows = (
            await db.execute(
                select(col(BallotWord.word), func.count())
                .join(Ballot, col(Ballot.id) == col(BallotWord.ballot_id))
                .where(col(Ballot.poll_id) == poll.id)
                .group_by(col(BallotWord.word))
            )
        ).all()
        hidden = set(poll.hidden_words)
        words = sorted(((str(w), int(n)) for w, n in word_rows), key=lambda wn: (-wn[1], wn[0]))
        if moderator:
            out["words"] = [{"word": w, "count": n, "hidden": w in hidden} for w, n in words]
        else:
            out["words"] = [{"word": w, "count": n} for w, n in words if w not in hidden]
        out["hidden_words"] = sorted(hidden) if moderator else []
    else:
        answers = await db.scalars(
            select(Ballot).where(col(Ballot.poll_id) == poll.id).order_by(col(Ballot.id))
        )
        out["answers"] = [
            {"id": b.id, "text": b.text, "hidden": b.hidden}
            for b in answers
            if moderator or not b.hidden
        ]
    return out


def _scale_label(poll: Poll, value: int) -> str:
    if value == poll.scale_min and poll.min_label:
        return f"{value} ({poll.min_label})"
    if value == poll.scale_max and poll.max_label:
        return f"{value} ({poll.max_label})"
    return str(value)


async def results_for(
    db: AsyncSession, poll_id: Any, role: Role, participant: Participant | None
) -> dict[str, Any]:
    """The results as one member may see them (GET /api/v1/polls/{pid}/results)."""
    poll = await poll_by_id(db, poll_id)
    if participant is not None:
        await check_participant(db, poll, participant)
    if not results_visible(poll, role):
        if poll.status == "draft":
            raise forbidden("This poll has not been opened yet.")
        when = "once it closes" if poll.show_results == "closed" else "to the moderator only"
        raise forbidden(f"This poll's results are shown {when}.")
    return await results(db, poll, moderator=role == "moderator")


async def changeable(db: AsyncSession, poll_id: Any) -> Poll:
    poll = await poll_by_id(db, poll_id)
    await writable(db, poll.session_id)
    return poll


async def poll_locked(db: AsyncSession, poll_id: Any, lock: Lock) -> Poll:
    """The poll read afresh under a row lock, after its session's (see rooms/locks.py)."""
    poll = await locked(db, Poll, poll_id, lock) if isinstance(poll_id, str) and poll_id else None
    if poll is None:
        raise not_found("poll")
    return poll


async def poll_in_session(db: AsyncSession, poll_id: Any, session_id: str) -> Poll:
    """The poll, if it belongs to this session (a member acts only on their own polls)."""
    poll = await poll_by_id(db, poll_id)
    if poll.session_id != session_id:
        raise forbidden("This poll is in another session.")
    return poll


async def live_results(db: AsyncSession, session_id: str, poll_id: Any) -> dict[str, Any] | None:
    """A poll's totals as everyone may see them, for a live update (None: no such poll here).

    Every tick of a storm repeats the whole list: long text lists are cut, with their full
    length given (GET .../results has them all)."""
    poll = await db.get(Poll, poll_id)
    if poll is None or poll.session_id != session_id:
        return None
    found = await results(db, poll)
    for key in ("answers", "words"):
        if len(found.get(key, ())) > SUMMARY_ITEMS:
            found[f"{key}_total"] = len(found[key])
            found[key] = found[key][:SUMMARY_ITEMS]
    return found


async def rooms_with_polls(db: AsyncSession, session_id: str) -> set[str]:
    """The rooms of the session that have polls of their own (drafts aside)."""
    found = await db.scalars(
        select(col(Poll.room_id))
        .where(
            col(Poll.session_id) == session_id,
            col(Poll.status) != "draft",
            col(Poll.room_id).is_not(None),
        )
        .distinct()
    )
    return {r for r in found if r is not None}


async def shown_polls(db: AsyncSession, session_id: str, room_id: str | None) -> list[Poll]:
    """The polls of one place that are not drafts: open ones first, then the newest closed."""
    rows = await db.scalars(
        select(Poll).where(
            col(Poll.session_id) == session_id,
            col(Poll.status) != "draft",
            col(Poll.room_id).is_(None) if room_id is None else col(Poll.room_id) == room_id,
        )
    )
    found = list(rows)
    found.sort(key=lambda p: (p.status != "open", -(p.opened_at or p.created_at).timestamp()))
    return found[:5]


async def options_by_poll(db: AsyncSession, polls: list[Poll]) -> dict[str, list[PollOption]]:
    return {p.id: await options_of(db, p.id) for p in polls}


async def own_answers(
    db: AsyncSession, participant_id: str, poll_ids: list[str]
) -> tuple[set[str], dict[str, dict[str, Any]]]:
    """Which of these polls a participant has answered, and what they answered where the
    answer is still theirs (while the poll is open)."""
    answered = set(
        await db.scalars(
            select(col(PollVoter.poll_id)).where(
                col(PollVoter.participant_id) == participant_id,
                col(PollVoter.poll_id).in_(poll_ids),
            )
        )
    )
    ballots = await db.scalars(
        select(Ballot).where(
            col(Ballot.voter_id) == participant_id, col(Ballot.poll_id).in_(poll_ids)
        )
    )
    mine = {b.poll_id: await _answer_of(db, b) for b in ballots}
    return answered, mine


async def _answer_of(db: AsyncSession, ballot: Ballot) -> dict[str, Any]:
    choices = list(
        await db.scalars(
            select(col(BallotChoice.option_id))
            .where(col(BallotChoice.ballot_id) == ballot.id)
            .order_by(col(BallotChoice.rank))
        )
    )
    words = list(
        await db.scalars(select(col(BallotWord.word)).where(col(BallotWord.ballot_id) == ballot.id))
    )
    return {"choices": choices, "value": ballot.value, "text": ballot.text, "words": words}
