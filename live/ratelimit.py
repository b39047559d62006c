"""Rate limits per participant (never per address: a hall shares one), shared through Redis."""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from rooms.errors import Refused


class Limiter:
    def __init__(self, redis_url: str | None) -> None:
        if redis_url is None:
            self._storage = storage_from_string("async+memory://")
        else:
            # redis-py, which Samla already uses, rather than a second Redis client.
            self._storage = storage_from_string("async+" + redis_url, implementation="redispy")
        self._limiter = MovingWindowRateLimiter(self._storage)
        self._items: dict[str, RateLimitItem] = {}

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
