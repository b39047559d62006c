"""Rate limits: per participant and kind, in this process or shared by every instance."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from live.ratelimit import Limiter
from rooms.errors import Refused

from ..conftest import RedisServer


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
    limiter = Limiter(None)
    for _ in range(4):
        await limiter.hit("vote", "4/second", "anna", "Too fast.")
    with pytest.raises(Refused):
        await limiter.hit("vote", "4/second", "anna", "Too fast.")
    await asyncio.sleep(0.3)  # a quarter of a second frees one
    await limiter.hit("vote", "4/second", "anna", "Too fast.")
    with pytest.raises(Refused):
        await limiter.hit("vote", "4/second", "anna", "Too fast.")
