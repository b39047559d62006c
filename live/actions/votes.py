"""Group commit for a vote storm: the answers of one session, from the API and from browsers
alike, share write transactions (`live/actions/batching.py`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from live.actions.batching import Kind
from rooms import polls
from rooms.errors import Refused
from rooms.models import Outcome

Answer = tuple[str, str, dict[str, Any]]  # the poll, the participant, what they answered


# Each batch calls `polls.vote_many` as the module has it then, not as it was at import.
async def _vote_many(
    db: AsyncSession, session_id: str, answers: list[Answer]
) -> Outcome[list[polls.Voted | Refused]]:
    return await polls.vote_many(db, session_id, answers)


async def _vote_one(db: AsyncSession, session_id: str, answer: Answer) -> Outcome[polls.Voted]:
    poll_id, participant_id, given = answer
    return await polls.vote(db, poll_id, participant_id, given, in_session=session_id)


ANSWERS = Kind[Answer, polls.Voted]("answers", _vote_many, _vote_one)
