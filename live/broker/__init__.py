"""The pub/sub seam between instances: one `Broker` protocol, backends chosen by URL."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

CHANNEL_PREFIX = "samla:"
CONTROL_CHANNEL = CHANNEL_PREFIX + "control"

# A broker hands every message of a subscribed channel to the hub, and tells it when a
# lost link is back (messages may have been missed meanwhile: the hub resnapshots).
Deliver = Callable[[str, bytes], None]
Resync = Callable[[], Awaitable[None]]

# Presence entries expire unless their instance refreshes them: an instance that dies
# stops counting its people within this many seconds.
PRESENCE_TTL = 30.0


def session_channel(session_id: str) -> str:
    """The one place channel names are made, prefixed so a shared Redis never collides."""
    return f"{CHANNEL_PREFIX}session:{session_id}"


class Broker(Protocol):
    async def start(self, deliver: Deliver, resync: Resync) -> None: ...

    async def stop(self) -> None: ...

    async def subscribe(self, channel: str) -> None: ...

    async def unsubscribe(self, channel: str) -> None: ...

    async def publish(self, channel: str, payload: bytes) -> None: ...

    async def set_present(self, session_id: str, members: set[str], present: bool) -> None:
        """Marks people of a session as here (or gone) on this instance."""

    async def refresh_present(self, sessions: dict[str, set[str]]) -> None:
        """Renews every entry this instance holds, before they expire."""

    async def count_present(self, session_id: str) -> int: ...

    def reachable(self) -> bool:
        """Whether messages reach the other instances now (always, within one process)."""


def broker_for(redis_url: str | None) -> Broker:
    """The in-process broker without a URL; Redis with one (imported only then)."""
    if redis_url is None:
        from live.broker.memory import MemoryBroker

        return MemoryBroker()
    from live.broker.redis import RedisBroker

    return RedisBroker(redis_url)
