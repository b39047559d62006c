"""Rate limits per participant (never per address: a hall shares one).

Embedded, the limits are leaky buckets in this process (aiolimiter), one per participant
and kind, forgotten once idle for their whole period (cachetools' TTLCache), so checking
one costs the same with ten or ten thousand participants. With Redis, every instance
shares sliding-window counters through it (limits)."""

from __future__ import annotations

import math
import time

import redis.asyncio
from aiolimiter import AsyncLimiter
from cachetools import TTLCache
from limits import RateLimitItem, parse
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.storage import storage_from_string

from rooms.errors import Refused

# Buckets kept per rate; past this, the least recently used are forgotten first.
BUCKETS_MAX = 200_000


class Limiter:
    def __init__(self, redis_url: str | None) -> None:
        self._pool: redis.asyncio.ConnectionPool | None = None
        self._shared: SlidingWindowCounterRateLimiter | None = None
        if redis_url is not None:
            # limits' async Redis storage defaults to the coredis client, which Samla does not
            # install; redis-py, which it does, is chosen, with a pool of ours to close.
            self._pool = redis.asyncio.ConnectionPool.from_url(redis_url)
            storage = storage_from_string(  # its options are typed as plain values only
                "async+" + redis_url,
                implementation="redispy",
                connection_pool=self._pool,  # type: ignore[arg-type]
            )
            self._shared = SlidingWindowCounterRateLimiter(storage)
        self._items: dict[str, RateLimitItem] = {}
        self._buckets: dict[str, TTLCache[tuple[str, str], AsyncLimiter]] = {}

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()

    async def hit(self, what: str, rate: str, who: str, message: str) -> None:
        """Counts one `what` by `who` against `rate` ("20/minute"); refuses past it."""
        item = self._items.get(rate)
        if item is None:
            item = self._items[rate] = parse(rate)
        if self._shared is not None:
            await self._hit_shared(item, what, who, message)
            return
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
