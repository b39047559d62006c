"""Rate limits per participant (never per address: a hall shares one), shared through Redis."""

from __future__ import annotations

import math
import time

import redis.asyncio
from limits import RateLimitItem, parse
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.storage import storage_from_string

from rooms.errors import Refused


class Limiter:
    def __init__(self, redis_url: str | None) -> None:
        self._pool: redis.asyncio.ConnectionPool | None = None
        if redis_url is None:
            self._storage = storage_from_string("async+memory://")
        else:
            # limits' async Redis storage defaults to the coredis client, which Samla does not
            # install; redis-py, which it does, is chosen, with a pool of ours to close.
            self._pool = redis.asyncio.ConnectionPool.from_url(redis_url)
            self._storage = storage_from_string(  # its options are typed as plain values only
                "async+" + redis_url,
                implementation="redispy",
                connection_pool=self._pool,  # type: ignore[arg-type]
            )
        # A sliding window of two counters per key: as fair as a moving window, without
        # a list of every hit to keep and expire (in memory that expiry costs a thread hop
        # per key, which a vote storm of thousands of participants turns into a queue).
        self._limiter = SlidingWindowCounterRateLimiter(self._storage)
        self._items: dict[str, RateLimitItem] = {}

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()

    async def hit(self, what: str, rate: str, who: str, message: str) -> None:
        """Counts one `what` by `who` against `rate` ("20/minute"); refuses past it."""
        item = self._items.get(rate)
        if item is None:
            item = self._items[rate] = parse(rate)
        if await self._limiter.hit(item, what, who):
            return
        stats = await self._limiter.get_window_stats(item, what, who)
        retry = max(1, math.ceil(stats.reset_time - time.time()))
        raise Refused("rate_limited", message, retry_after=retry)
