"""Rate limits per participant (never per address: a hall shares one).

Embedded, the limits are leaky buckets in this process (aiolimiter), one per participant
and kind, forgotten once idle for their whole period (cachetools' TTLCache), so checking
one costs the same with ten or ten thousand participants. With Redis, every instance
shares sliding-window counters through it (limits). Redis is not the truth: while it
cannot be reached, each instance counts in its own buckets instead (a person may then get
one allowance per instance), so a vote or a note is never refused because of it."""

from __future__ import annotations

import logging
import math
import time

import redis.asyncio
from aiolimiter import AsyncLimiter
from cachetools import TTLCache
from limits import RateLimitItem, parse
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.errors import StorageError
from limits.storage import storage_from_string
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.retry import Retry

from rooms.errors import Refused

log = logging.getLogger("samla.ratelimit")

# Buckets kept per rate; past this, the least recently used are forgotten first.
BUCKETS_MAX = 200_000
# After Redis failed, hits are counted here for this long before Redis is tried again:
# shared counting resumes within a second of its return, and an outage costs a failed
# connection attempt once a second rather than once per hit.
RETRY_SHARED_AFTER = 1.0
# A hit waits no longer than this for Redis (seconds); a dead Redis must not stall a vote.
REDIS_TIMEOUT = 2.0
# Connections to Redis per instance; past them a hit waits for one (at most
# REDIS_POOL_WAIT seconds: a busy Redis is not a lost one) rather than fail, so a crowd
# voting at once is still counted in Redis.
REDIS_CONNECTIONS = 32
REDIS_POOL_WAIT = 5.0

# What a lost Redis raises, through limits' wrapper or straight from redis-py.
_UNREACHABLE = (StorageError, RedisError, OSError)


class Limiter:
    def __init__(self, redis_url: str | None) -> None:
        self._pool: redis.asyncio.ConnectionPool | None = None
        self._shared: SlidingWindowCounterRateLimiter | None = None
        if redis_url is not None:
            # limits' async Redis storage defaults to the coredis client, which Samla does not
            # install; redis-py, which it does, is chosen, with a pool of ours to close. A
            # pooled connection may have died with a Redis restart: one retry on a fresh one.
            self._pool = redis.asyncio.BlockingConnectionPool.from_url(
                redis_url,
                max_connections=REDIS_CONNECTIONS,
                timeout=REDIS_POOL_WAIT,
                socket_connect_timeout=REDIS_TIMEOUT,
                socket_timeout=REDIS_TIMEOUT,
                retry=Retry(NoBackoff(), 1),
                retry_on_error=[RedisConnectionError],
            )
            storage = storage_from_string(  # its options are typed as plain values only
                "async+" + redis_url,
                implementation="redispy",
                connection_pool=self._pool,  # type: ignore[arg-type]
                wrap_exceptions=True,
            )
            self._shared = SlidingWindowCounterRateLimiter(storage)
        self._items: dict[str, RateLimitItem] = {}
        self._buckets: dict[str, TTLCache[tuple[str, str], AsyncLimiter]] = {}
        self._local_until = 0.0  # while Redis is away: when to try it again (monotonic)
        self.degraded = False  # Redis failed and has not answered since

    async def close(self) -> None:
        # A hit after this (a request finishing as Samla shuts down) counts here, rather
        # than open a connection to Redis that nobody would close.
        self._shared = None
        if self._pool is not None:
            await self._pool.aclose()

    async def hit(self, what: str, rate: str, who: str, message: str) -> None:
        """Counts one `what` by `who` against `rate` ("20/minute"); refuses past it."""
        item = self._items.get(rate)
        if item is None:
            item = self._items[rate] = parse(rate)
        if self._shared is not None and time.monotonic() >= self._local_until:
            try:
                await self._hit_shared(item, what, who, message)
            except _UNREACHABLE as exc:
                self._lost(exc)
            else:
                self._back()
                return
        await self._hit_local(item, rate, what, who, message)

    async def reachable(self) -> bool:
        """Whether the shared counters can be used (True without Redis); while degraded,
        asks Redis at most once per RETRY_SHARED_AFTER."""
        if self._shared is None or not self.degraded:
            return True
        if time.monotonic() < self._local_until:
            return False
        if await self._shared.storage.check():
            self._back()
            return True
        self._local_until = time.monotonic() + RETRY_SHARED_AFTER
        return False

    def _lost(self, exc: Exception) -> None:
        if not self.degraded:
            log.warning("Redis cannot be reached (%s); rate limits are counted per instance", exc)
        self.degraded = True
        self._local_until = time.monotonic() + RETRY_SHARED_AFTER

    def _back(self) -> None:
        if self.degraded:
            log.info("Redis is back; rate limits are shared again")
        self.degraded = False

    async def _hit_local(
        self, item: RateLimitItem, rate: str, what: str, who: str, message: str
    ) -> None:
        period = item.get_expiry()
        buckets = self._buckets.get(rate)
        if buckets is None:
            buckets = self._buckets[rate] = TTLCache(BUCKETS_MAX, ttl=period)
        key = (what, who)
        bucket = buckets.get(key)
        if bucket is None:
            bucket = AsyncLimiter(item.amount, period)
        buckets[key] = bucket  # kept for another whole period from now
        if not bucket.has_capacity():
            # A full bucket frees one unit within period / amount seconds.
            raise Refused("rate_limited", message, retry_after=math.ceil(period / item.amount))
        await bucket.acquire()  # there is capacity: it takes it without waiting

    async def _hit_shared(self, item: RateLimitItem, what: str, who: str, message: str) -> None:
        assert self._shared is not None
        if await self._shared.hit(item, what, who):
            return
        stats = await self._shared.get_window_stats(item, what, who)
        retry = max(1, math.ceil(stats.reset_time - time.time()))
        raise Refused("rate_limited", message, retry_after=retry)
