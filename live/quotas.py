"""What one participant may do per minute, the same whether they send it through the API or
over their socket: both count against the one bucket of each kind of action."""

from __future__ import annotations

from dataclasses import dataclass

from live.ratelimit import Limiter


@dataclass(frozen=True)
class Quota:
    what: str  # the bucket's name: the API and the socket share it
    rate: str
    message: str


# Notes a participant may post per minute: a brisk writer manages a few, a script is stopped.
NOTES_PER_MINUTE = 20
NOTE = Quota(
    "note",
    f"{NOTES_PER_MINUTE}/minute",
    "You are posting notes very fast; wait a moment and try again.",
)
QUESTION = Quota("question", "10/minute", "You are asking very fast; wait a moment and try again.")
UPVOTE = Quota("upvote", "120/minute", "You are upvoting very fast; wait a moment.")
# Answers (and changes of answer) over all polls: far more than a person gives, few enough
# that a script cannot churn the results.
VOTE = Quota("vote", "30/minute", "You are answering too fast; wait a moment.")


async def spend(limiter: Limiter, quota: Quota, participant_id: str) -> None:
    """Counts one action of this participant; refuses (429 `rate_limited`) past the quota."""
    await limiter.hit(quota.what, quota.rate, participant_id, quota.message)
