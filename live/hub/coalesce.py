"""Coalescing: a session's committed changes gathered per tick and sent as one message."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from live.broker import Broker, session_channel
from live.hub import messages
from live.hub.connections import Registry
from live.screens import Screens
from live.store import Store
from rooms.models import Event

log = logging.getLogger("samla.hub")

# The share of the loop's time that showing one session's changes may take. A session's
# changes go out at most once per tick, and less often when showing them to its sockets
# takes this instance long: a hall of thousands keeps three quarters of the loop for its
# votes and joins (at 5,000 sockets an update every quarter second or so; with half, the
# joins of a hall arriving at once waited seconds for their answers behind the updates).
FAN_OUT_SHARE = 0.25
# However slow one fan-out was (a stall, a heavy render), the next update waits no longer.
SLOWEST_UPDATES = 1.0


@dataclass(eq=False)
class Outgoing:
    """A session's committed changes waiting for the next tick."""

    versions: list[int] = field(default_factory=list)
    events: dict[str, tuple[int, Event]] = field(default_factory=dict)
    presence: bool = False
    scheduled: bool = False


class Coalescer:
    """Gathers each session's changes and sends them at most once per tick, bursts collapsed
    by event key, less often while showing them here is slow."""

    def __init__(
        self,
        store: Store,
        screens: Screens,
        broker: Broker,
        registry: Registry,
        tick: float,
        stats: dict[str, int],
    ) -> None:
        self.store = store
        self.screens = screens
        self.broker = broker
        self.registry = registry
        self.tick = tick
        self.stats = stats
        self._outgoing: dict[str, Outgoing] = {}
        self._last_flush: dict[str, float] = {}
        self._flushing: set[asyncio.Task[None]] = set()
        self._flush_locks: dict[str, asyncio.Lock] = {}

    def publish(self, session_id: str, first_version: int, events: tuple[Event, ...]) -> None:
        """Queues a committed change (its events carry versions first_version, +1, …)."""
        out = self._outgoing.setdefault(session_id, Outgoing())
        for offset, event in enumerate(events):
            version = first_version + offset
            out.versions.append(version)
            out.events[event.key or f"#{version}"] = (version, event)
        self._schedule(session_id, out)

    def quiet(self) -> bool:
        """Nothing committed here is waiting to go out, nor going out now."""
        return not self._outgoing and not self._flushing

    def nudge_presence(self, session_id: str) -> None:
        """Who is here in this session changed: the next message says so."""
        out = self._outgoing.setdefault(session_id, Outgoing())
        out.presence = True
        self._schedule(session_id, out)

    def _schedule(self, session_id: str, out: Outgoing) -> None:
        if out.scheduled:
            return
        out.scheduled = True
        # Leading edge: a lone change goes out on the next turn of the loop; in a burst
        # the next flush waits for the tick, collecting everything that came meanwhile.
        task = asyncio.create_task(self.flush(session_id, self.next_flush(session_id)))
        self._flushing.add(task)
        task.add_done_callback(self._flushing.discard)

    def next_flush(self, session_id: str) -> float:
        """Seconds until a change of this session could next go out (0: at once)."""
        interval = self.tick
        watch = self.registry.get(session_id)
        if watch is not None:
            interval = max(interval, min(watch.fan_out_cost / FAN_OUT_SHARE, SLOWEST_UPDATES))
        return max(0.0, self._last_flush.get(session_id, 0.0) + interval - time.monotonic())

    async def flush(self, session_id: str, delay: float) -> None:
        """Sends the session's gathered changes after `delay`, one flush of it at a time."""
        await asyncio.sleep(delay)
        # One flush of a session at a time, so its messages leave in version order.
        lock = self._flush_locks.setdefault(session_id, asyncio.Lock())
        async with lock:
            await self._flush_now(session_id)
        if not lock.locked() and session_id not in self._outgoing:
            self._flush_locks.pop(session_id, None)

    async def _flush_now(self, session_id: str) -> None:
        out = self._outgoing.pop(session_id, None)
        if out is None:
            return
        self._last_flush[session_id] = time.monotonic()
        events: list[tuple[int, Event, dict[str, Any]]] = []
        for version, event in sorted(out.events.values(), key=lambda pair: pair[0]):
            data = event.data
            fill = self.screens.summary_for(event.type)
            if fill is not None:
                try:
                    async with self.store.hub_read() as db:
                        data = await fill(db, session_id, event)
                except Exception:
                    log.exception("summary of %s failed", event.type)
            events.append((version, event, data))
        payload = messages.encode(session_id, out.versions, events, out.presence)
        self.stats["published"] += 1
        await self.broker.publish(session_channel(session_id), payload)

    def forget_old(self, now: float) -> None:
        """Forgets when sessions quiet for a minute last flushed (their next goes at once)."""
        self._last_flush = {s: t for s, t in self._last_flush.items() if now - t < 60}
