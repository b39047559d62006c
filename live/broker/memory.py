"""The in-process broker: one instance, no Redis; messages go straight back to the hub."""

from __future__ import annotations

import asyncio
from collections import defaultdict

from live.broker import Deliver, Resync


class MemoryBroker:
    def __init__(self) -> None:
        self._channels: set[str] = set()
        self._deliver: Deliver | None = None
        self._present: defaultdict[str, set[str]] = defaultdict(set)

    async def start(self, deliver: Deliver, resync: Resync) -> None:
        self._deliver = deliver

    async def stop(self) -> None:
        self._deliver = None
        self._channels.clear()

    async def subscribe(self, channel: str) -> None:
        self._channels.add(channel)

    async def unsubscribe(self, channel: str) -> None:
        self._channels.discard(channel)

    async def publish(self, channel: str, payload: bytes) -> None:
        if self._deliver is not None and channel in self._channels:
            # Delivered on a later turn of the loop, as a network broker would.
            asyncio.get_running_loop().call_soon(self._deliver, channel, payload)

    async def set_present(self, session_id: str, members: set[str], present: bool) -> None:
        here = self._present[session_id]
        for member in members:
            if present:
                here.add(member)
            else:
                here.discard(member)
        if not here:
            del self._present[session_id]

    async def refresh_present(self, sessions: dict[str, set[str]]) -> None:
        return None

    async def count_present(self, session_id: str) -> int:
        return len(self._present.get(session_id, ()))

    def reachable(self) -> bool:
        return True
