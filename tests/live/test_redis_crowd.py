"""A crowd arriving at once through a real redis-server: every presence change, every
publish and every rate-limit hit gets through (waiting for a connection, never refused for
the lack of one), so who is here is counted exactly on every instance."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator

import pytest

from live.broker import session_channel
from live.broker.redis import RedisBroker
from live.ratelimit import Limiter
from rooms.errors import Refused
from tests.conftest import RedisServer

CROWD = 2_000


class Instance:
    """One instance's broker, and the messages it was delivered on one channel."""

    def __init__(self, url: str, channel: str, expected: int) -> None:
        self.broker = RedisBroker(url)
        self.channel = channel
        self.received: list[bytes] = []
        self.expected = expected
        self.all_received = asyncio.Event()

    def deliver(self, channel: str, payload: bytes) -> None:
        if channel == self.channel:
            self.received.append(payload)
            if len(self.received) >= self.expected:
                self.all_received.set()

    async def resync(self) -> None:
        return None


@contextlib.asynccontextmanager
async def instances(url: str, channel: str, expected: int) -> AsyncIterator[list[Instance]]:
    started = [Instance(url, channel, expected) for _ in range(2)]
    try:
        for instance in started:
            await instance.broker.start(instance.deliver, instance.resync)
            await instance.broker.subscribe(channel)
        yield started
    finally:
        for instance in started:
            await instance.broker.stop()


def no_failures(caplog: pytest.LogCaptureFixture) -> None:
    failed = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert failed == [], f"{len(failed)} failed, the first: {failed[:1]}"


async def test_a_crowd_arriving_at_once_is_counted_exactly_and_every_publish_arrives(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="samla")
    session_id = uuid.uuid4().hex  # the Redis server lives for the whole test run
    channel = session_channel(session_id)
    people = [f"p{i}" for i in range(CROWD)]
    async with instances(redis_server.url, channel, CROWD) as (first, second):
        arrivals = [first.broker.set_present(session_id, {p}, True) for p in people]
        publishes = [first.broker.publish(channel, str(i).encode()) for i in range(CROWD)]
        await asyncio.gather(*arrivals, *publishes)
        no_failures(caplog)
        assert await first.broker.count_present(session_id) == CROWD
        assert await second.broker.count_present(session_id) == CROWD
        for instance in (first, second):
            await asyncio.wait_for(instance.all_received.wait(), timeout=30)
            assert sorted(instance.received) == sorted(str(i).encode() for i in range(CROWD))

        # Half leave while the other instance's crowd arrives, all at once.
        leaving = [first.broker.set_present(session_id, {p}, False) for p in people[::2]]
        others = [f"q{i}" for i in range(CROWD)]
        arriving = [second.broker.set_present(session_id, {p}, True) for p in others]
        await asyncio.gather(*leaving, *arriving)
        no_failures(caplog)
        assert await second.broker.count_present(session_id) == CROWD // 2 + CROWD


async def test_someone_who_comes_and_goes_at_once_is_gone(redis_server: RedisServer) -> None:
    """Changes made together are written in the order they were made."""
    session_id = uuid.uuid4().hex
    async with instances(redis_server.url, session_channel(session_id), 0) as (first, _):
        changes = []
        for i in range(CROWD // 4):
            changes.append(first.broker.set_present(session_id, {f"p{i}"}, True))
            changes.append(first.broker.set_present(session_id, {f"p{i}"}, False))
        changes.append(first.broker.set_present(session_id, {"stays"}, True))
        await asyncio.gather(*changes)
        assert await first.broker.count_present(session_id) == 1


async def test_a_crowd_of_hits_at_once_is_counted_in_redis(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="samla")
    limiter, other = Limiter(redis_server.url), Limiter(redis_server.url)
    who, rate = uuid.uuid4().hex, f"{CROWD + 1}/minute"
    try:
        await asyncio.gather(*(limiter.hit("vote", rate, who, "Too fast.") for _ in range(CROWD)))
        no_failures(caplog)
        assert not limiter.degraded
        # Every hit was counted in Redis: another instance has one left, then none.
        await other.hit("vote", rate, who, "Too fast.")
        with pytest.raises(Refused):
            await other.hit("vote", rate, who, "Too fast.")
    finally:
        await limiter.close()
        await other.close()
