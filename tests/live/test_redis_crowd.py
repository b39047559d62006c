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


async def _clients(url: str, name: str) -> int:
    """How many connections to Redis are open under this client name."""
    probe = RedisBroker(url)._redis
    try:
        listed = await probe.client_list()
        return sum(1 for c in listed if c.get("name") == name)
    finally:
        await probe.aclose()


async def test_a_stopped_broker_and_limiter_open_no_connection_to_redis(
    redis_server: RedisServer,
) -> None:
    """Sockets close as Samla shuts down, after its broker and limiter have: their presence,
    their session's last publish and a request's last rate-limit hit must not open a
    connection to Redis that nobody will close (the process would not stop cleanly)."""
    name = f"samla-{uuid.uuid4().hex[:8]}"
    url = f"{redis_server.url}?client_name={name}"
    session_id = uuid.uuid4().hex
    instance = Instance(url, session_channel(session_id), 1)
    limiter = Limiter(url)
    await instance.broker.start(instance.deliver, instance.resync)
    await instance.broker.set_present(session_id, {"p1"}, True)
    await limiter.hit("notes", "5/minute", "p1", "Too many notes.")
    assert await _clients(redis_server.url, name) > 0
    await instance.broker.stop()
    await limiter.close()
    assert await _clients(redis_server.url, name) == 0

    await instance.broker.set_present(session_id, {"p1"}, False)
    await instance.broker.publish(session_channel(session_id), b"after the end")
    await instance.broker.subscribe(session_channel("another"))
    await instance.broker.refresh_present({session_id: {"p2"}})
    assert await instance.broker.count_present(session_id) == 1  # as this instance holds it
    await limiter.hit("notes", "5/minute", "p1", "Too many notes.")  # counted here instead
    await asyncio.sleep(0.1)
    assert await _clients(redis_server.url, name) == 0
