"""The Redis broker: pub/sub fan-out and presence shared by every instance.

One subscriber connection per process carries every channel this instance shows. When
Redis goes away the reader reconnects with backoff; once the link is back it subscribes
again, restores this instance's presence and asks the hub to resnapshot its sockets,
because whatever was published meanwhile is gone."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.client import Pipeline, PubSub
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from live.broker import CHANNEL_PREFIX, PRESENCE_TTL, Deliver, Resync

log = logging.getLogger("samla.broker")

BACKOFF_FIRST = 0.1
BACKOFF_MAX = 3.0
# Connections to Redis per instance, the subscriber's included. Past them a command waits
# for one to come free (at most POOL_WAIT seconds) rather than fail: a crowd arriving at
# once must not lose its presence updates or a session's publish.
POOL_SIZE = 64
POOL_WAIT = 5.0
# What a command raises while Redis is away. Under uvloop, redis-py raises RuntimeError
# ("the handler is closed") when Redis drops a connection as it is being opened (a Redis
# going down or coming back): an outage like any other, not a bug to crash on.
UNREACHABLE = (RedisError, OSError, RuntimeError)


def _presence_key(session_id: str) -> str:
    return f"{CHANNEL_PREFIX}presence:{session_id}"


class RedisBroker:
    def __init__(self, url: str) -> None:
        self.url = url
        # Short timeouts: a dead Redis must be noticed in seconds, not minutes.
        # A pooled connection may have died with a Redis restart: one quick retry on a
        # fresh connection before a command is given up.
        pool = BlockingConnectionPool.from_url(
            url,
            max_connections=POOL_SIZE,
            timeout=POOL_WAIT,
            socket_connect_timeout=2,
            socket_timeout=5,
            health_check_interval=5,
            retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 2),
            retry_on_error=[RedisConnectionError, RedisTimeoutError],
        )
        self._redis = Redis.from_pool(pool)  # closed with the client
        self._channels: set[str] = set()
        self._pubsub: PubSub | None = None
        self._reader: asyncio.Task[None] | None = None
        self._deliver: Deliver | None = None
        self._resync: Resync | None = None
        self._held: dict[str, set[str]] = {}
        # Presence changes not yet written, in the order they were made, and the future
        # their callers wait on: one writer sends whatever gathered as one pipeline.
        self._changes: list[tuple[str, frozenset[str], bool]] = []
        self._written: asyncio.Future[None] | None = None
        self._writer: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()
        # Once stopped, nothing opens a connection again: a socket closing as Samla shuts
        # down (its presence, its session's last publish) would open one nobody closes.
        self._stopped = False

    async def start(self, deliver: Deliver, resync: Resync) -> None:
        self._deliver, self._resync = deliver, resync
        try:
            await self._redis.ping()
        except RedisError as exc:
            raise RuntimeError(
                f"Redis at {self.url} cannot be reached ({exc}); start it or unset REDIS_URL"
            ) from exc
        self._reader = asyncio.create_task(self._read_forever(), name="samla-redis-reader")
        await asyncio.wait_for(self.connected.wait(), timeout=10)

    async def stop(self) -> None:
        self._stopped = True
        for task in (self._reader, self._writer):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._written is not None and not self._written.done():
            self._written.set_result(None)  # nobody is left to write them
        await self._redis.aclose()

    async def subscribe(self, channel: str) -> None:
        self._channels.add(channel)
        if self._pubsub is not None and self.connected.is_set() and not self._stopped:
            with contextlib.suppress(*UNREACHABLE):
                await self._pubsub.subscribe(channel)

    async def unsubscribe(self, channel: str) -> None:
        self._channels.discard(channel)
        if self._pubsub is not None and self.connected.is_set() and not self._stopped:
            with contextlib.suppress(*UNREACHABLE):
                await self._pubsub.unsubscribe(channel)

    async def publish(self, channel: str, payload: bytes) -> None:
        if self._stopped:
            return  # committed already; the other instances find it in the store
        try:
            await self._redis.publish(channel, payload)
        except UNREACHABLE as exc:
            # The change is committed already; other instances find it by comparing
            # versions with the store, so a lost publish costs seconds, never data.
            self._failed(f"publish to {channel}", exc)

    def reachable(self) -> bool:
        # The subscriber's link notices a lost Redis within a second (its reads fail).
        return self.connected.is_set()

    def _failed(self, what: str, exc: Exception) -> None:
        # Once the reader has said the link is lost, every command fails until it is back:
        # a storm publishes every tick, and the outage is logged once, not each time.
        level = logging.WARNING if self.connected.is_set() else logging.DEBUG
        log.log(level, "%s failed: %s", what, exc)

    async def _read_forever(self) -> None:
        backoff = BACKOFF_FIRST
        lost = False
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(*self._channels) if self._channels else await pubsub.ping()
                self._pubsub = pubsub
                self.connected.set()
                if lost:
                    log.info("Redis link is back; resynchronising")
                    lost = False
                    # Pooled command connections died with the old link; start afresh.
                    await self._redis.connection_pool.disconnect()
                    await self._restore_presence()
                    if self._resync is not None:
                        await self._resync()
                backoff = BACKOFF_FIRST
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None and message["type"] == "message":
                        channel = message["channel"]
                        if self._deliver is not None:
                            self._deliver(
                                channel.decode() if isinstance(channel, bytes) else channel,
                                message["data"],
                            )
            except asyncio.CancelledError:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
                raise
            except UNREACHABLE as exc:
                if not lost:
                    log.warning("Redis link lost (%s); reconnecting", exc)
                lost = True
                self.connected.clear()
                self._pubsub = None
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX)

    async def set_present(self, session_id: str, members: set[str], present: bool) -> None:
        """Returns once the change is in Redis (or failed). Changes made meanwhile by other
        sockets go with it: a crowd arriving at once costs a few round trips, not one each."""
        held = self._held.setdefault(session_id, set())
        if present:
            held |= members
        else:
            held -= members
        if not held:
            self._held.pop(session_id, None)
        if self._stopped:
            return  # presence expires in Redis by itself (PRESENCE_TTL)
        self._changes.append((session_id, frozenset(members), present))
        if self._written is None:
            self._written = asyncio.get_running_loop().create_future()
        written = self._written
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_presence(), name="samla-presence")
        # Shielded: a socket that closes while waiting must not cancel the others' write.
        await asyncio.shield(written)

    async def _write_presence(self) -> None:
        while self._changes:
            changes, self._changes = self._changes, []
            written, self._written = self._written, None
            try:
                expires = time.time() + PRESENCE_TTL
                async with self._redis.pipeline(transaction=False) as pipe:
                    for session_id, members, present in changes:
                        _change(pipe, session_id, members, present, expires)
                    await pipe.execute()
            except UNREACHABLE as exc:
                self._failed(f"presence update ({len(changes)} changes)", exc)
            finally:
                if written is not None and not written.done():
                    written.set_result(None)

    async def refresh_present(self, sessions: dict[str, set[str]]) -> None:
        self._held = {sid: set(members) for sid, members in sessions.items() if members}
        if not self._stopped:
            await self._restore_presence()

    async def _restore_presence(self) -> None:
        expires = time.time() + PRESENCE_TTL
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for session_id, members in self._held.items():
                    key = _presence_key(session_id)
                    pipe.zadd(key, dict.fromkeys(members, expires))
                    pipe.expire(key, int(PRESENCE_TTL) * 2)
                await pipe.execute()
        except UNREACHABLE as exc:
            self._failed("presence refresh", exc)

    async def count_present(self, session_id: str) -> int:
        if self._stopped:
            return len(self._held.get(session_id, ()))
        try:
            return int(await self._redis.zcount(_presence_key(session_id), time.time(), "+inf"))
        except UNREACHABLE:
            return len(self._held.get(session_id, ()))


def _change(
    pipe: Pipeline, session_id: str, members: frozenset[str], present: bool, expires: float
) -> None:
    key = _presence_key(session_id)
    if not members:
        return
    if present:
        pipe.zadd(key, dict.fromkeys(members, expires))
        pipe.expire(key, int(PRESENCE_TTL) * 2)
    else:
        pipe.zrem(key, *members)
