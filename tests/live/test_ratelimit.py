"""Rate limits: per participant and kind, in this process or shared by every instance."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from live.ratelimit import Limiter
from rooms.errors import Refused

from ..conftest import RedisServer, eventually


async def _hits_allowed(limiter: Limiter, what: str, who: str, tries: int) -> int:
    allowed = 0
    for _ in range(tries):
        try:
            await limiter.hit(what, "5/minute", who, "Too fast.")
        except Refused as refused:
            assert refused.code == "rate_limited" and refused.message == "Too fast."
            assert refused.retry_after is not None and 1 <= refused.retry_after <= 60
        else:
            allowed += 1
    return allowed


async def test_each_participant_and_kind_has_its_own_allowance() -> None:
    limiter = Limiter(None)
    assert await _hits_allowed(limiter, "note", "anna", 8) == 5
    # Anna's other kinds, and other people, are not held back by her notes.
    assert await _hits_allowed(limiter, "question", "anna", 8) == 5
    assert await _hits_allowed(limiter, "note", "bo", 8) == 5
    # Past the limit, a refusal says when to try again: one note frees up in 60 / 5 s.
    with pytest.raises(Refused) as refused:
        await limiter.hit("note", "5/minute", "anna", "Too fast.")
    assert refused.value.retry_after == 12


async def test_with_redis_every_instance_counts_against_the_same_allowance(
    redis_server: RedisServer,
) -> None:
    first, second = Limiter(redis_server.url), Limiter(redis_server.url)
    who = uuid.uuid4().hex  # the Redis server lives for the whole test run
    try:
        assert await _hits_allowed(first, "note", who, 3) == 3
        assert await _hits_allowed(second, "note", who, 4) == 2
        assert await _hits_allowed(first, "note", who, 1) == 0
    finally:
        await first.close()
        await second.close()


async def test_an_allowance_comes_back_as_time_passes() -> None:
    """A full bucket frees one hit per period / amount (here one each 2 s): not sooner, and
    one at a time. The margins are whole seconds, not fractions, so a busy machine cannot
    turn a pass into a failure; a limiter that never frees, frees early or frees all at
    once still fails."""
    limiter = Limiter(None)
    rate = "3/6 seconds"

    async def allowed() -> bool:
        try:
            await limiter.hit("vote", rate, "anna", "Too fast.")
        except Refused as refused:
            assert refused.retry_after == 2  # ceil(6 / 3)
            return False
        return True

    loop = asyncio.get_running_loop()
    started = loop.time()
    assert [await allowed() for _ in range(3)] == [True, True, True]
    assert not await allowed()
    await eventually(allowed, timeout=15, every=0.05)
    # The bucket leaks one hit per 2 s of the loop's clock: no sooner can one come back.
    assert loop.time() - started >= 1.99
    # Right after, the next is refused: a second hit frees up only 2 s after the first did.
    assert not await allowed()
