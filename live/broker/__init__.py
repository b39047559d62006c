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


# A minutes document's channel carries raw y-websocket messages, not the session's events.
MINUTES_PREFIX = CHANNEL_PREFIX + "minutes:"


def minutes_channel(document_id: str) -> str:
    """A minutes document's channel (a room's id, or a session's for its plenary minutes)."""
    return f"{MINUTES_PREFIX}{document_id}"


class Presence(Protocol):
    """Who is here, by session, counted over every instance."""

    async def set_present(self, session_id: str, members: set[str], present: bool) -> None:
        """Marks people of a session as here (or gone) on this instance."""

    async def refresh_present(self, sessions: dict[str, set[str]]) -> None:
        """Renews every entry this instance holds, before they expire."""

    async def count_present(self, session_id: str) -> int:
        """How many people are here in the session, on any instance."""


class Broker(Presence, Protocol):
    """Channels between instances (as broadcaster's backends), and presence."""

    async def start(self, deliver: Deliver, resync: Resync) -> None:
        """Connects; every message of a subscribed channel then goes to `deliver`."""

    async def stop(self) -> None:
        """Disconnects and forgets every subscription."""

    async def subscribe(self, channel: str) -> None:
        """Receives the channel's messages from now on."""

    async def unsubscribe(self, channel: str) -> None:
        """Stops receiving the channel's messages."""

    async def publish(self, channel: str, payload: bytes) -> None:
        """Sends a message to every instance subscribed to the channel, this one included."""

    def reachable(self) -> bool:
        """Whether messages reach the other instances now (always, within one process)."""


def broker_for(redis_url: str | None) -> Broker:
    """The in-process broker without a URL; Redis with one (imported only then)."""
    if redis_url is None:
        from live.broker.memory import MemoryBroker

        return MemoryBroker()
    from live.broker.redis import RedisBroker

    return RedisBroker(redis_url)
