"""Rate limits while Redis is away: counted per instance, never a failed write."""

from __future__ import annotations

import logging
import uuid

import pytest

from live import ratelimit
from live.ratelimit import Limiter
from rooms.errors import Refused
from tests.conftest import RedisServer, eventually, free_port

pytestmark = pytest.mark.redis


async def _allowed(limiter: Limiter, who: str, tries: int) -> int:
    allowed = 0
    for _ in range(tries):
        try:
            await limiter.hit("note", "5/minute", who, "Too fast.")
        except Refused as refused:
            assert refused.code == "rate_limited" and refused.retry_after is not None
        else:
            allowed += 1
    return allowed


async def test_without_redis_the_limit_is_counted_in_this_instance(
    own_redis: RedisServer, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ratelimit, "RETRY_SHARED_AFTER", 0.2, raising=False)
    limiter = Limiter(own_redis.url)
    who = uuid.uuid4().hex
    try:
        assert await _allowed(limiter, who, 2) == 2  # shared, through Redis
        own_redis.stop()
        with caplog.at_level(logging.WARNING, logger="samla.ratelimit"):
            # The local allowance is a fresh one: all five, then refusals, never an error.
            assert await _allowed(limiter, who, 8) == 5
        assert limiter.degraded and not await limiter.reachable()
        lost = [r for r in caplog.records if "cannot be reached" in r.getMessage()]
        assert len(lost) == 1, "one warning per outage, not one per hit"
        own_redis.start()  # empty: the shared count starts again
        await eventually(limiter.reachable, timeout=10, every=0.1)
        assert not limiter.degraded
        assert await _allowed(limiter, who, 8) == 5  # shared again
    finally:
        await limiter.close()


async def test_a_redis_that_never_answers_still_lets_people_write() -> None:
    limiter = Limiter(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    try:
        assert await _allowed(limiter, "anna", 7) == 5
        assert limiter.degraded
    finally:
        await limiter.close()
