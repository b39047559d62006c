"""The hub: one instance's live side, in named parts wired together here.

Publishing side: committed changes are gathered per session and sent through the broker at
most once per tick, bursts collapsed by event key (`coalesce`, in the format of `messages`).
Receiving side: every instance releases a session's events in version order (`repair`),
renders each stale panel once per audience (`fanout`) and puts the same frame in every
socket's bounded outbox (`outbox`), whose overflow policy is a snapshot (`snapshots`); so
does every socket of a session whose instance finds itself behind the store (`repair`).
Who is connected to what, and who is here, is the registry's (`connections`)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any, Protocol

from starlette.status import WS_1008_POLICY_VIOLATION, WS_1012_SERVICE_RESTART

from live import auth
from live.broker import CONTROL_CHANNEL, Broker, session_channel
from live.hub import messages
from live.hub.coalesce import SLOWEST_UPDATES, Coalescer
from live.hub.connections import Connection, Registry
from live.hub.fanout import FanOut
from live.hub.outbox import Outboxes, OverflowPolicy, close
from live.hub.repair import Repair, release
from live.hub.snapshots import Snapshots
from live.screens import Painted, Panel, Screens, Viewer
from live.store import Store
from live.templating import Templates
from rooms import sessions
from rooms.models import Event

__all__ = ["SLOWEST_UPDATES", "Connection", "Hub", "OverflowPolicy"]

log = logging.getLogger("samla.hub")


class Relay(Protocol):
    """A kind of channel whose messages are not a session's events (the shared minutes'
    raw y-websocket messages): they go straight to it, undecoded and unordered."""

    def receive(self, channel: str, payload: bytes) -> None:
        """A message of one of its channels."""

    async def resync(self) -> None:
        """The broker's link is back: messages may have been lost meanwhile."""

    def control(self, message: dict[str, Any]) -> None:
        """A control message (a participant removed, a login ended, a session deleted,
        people's seats changed)."""

    async def reconcile(self) -> None:
        """A reconcile round: what was lost on the way is made good from the store."""


class Watching:
    """`Hub.watching`: a socket attached for the life of an `async with` block.

    A class rather than an `asynccontextmanager`, whose suspended generator would cost
    every open socket about half a kilobyte more for hours."""

    __slots__ = ("conn", "hub")

    def __init__(self, hub: Hub, conn: Connection) -> None:
        self.hub = hub
        self.conn = conn

    async def __aenter__(self) -> Connection:
        try:
            await self.hub._attach(self.conn)
        except BaseException:
            await self.hub._detach(self.conn)  # what was counted before it failed
            raise
        return self.conn

    async def __aexit__(self, *_: object) -> None:
        await self.hub._detach(self.conn)


class Hub:
    """The parts of one instance's live side, and the two loops that drive them."""

    def __init__(
        self,
        store: Store,
        screens: Screens,
        broker: Broker,
        templates: Templates,
        *,
        tick: float = 0.1,
        outbox_limit: int = 64,
        reconcile_interval: float = 4.0,
        slow_socket_timeout: float = 10.0,
    ) -> None:
        self.store = store
        self.screens = screens
        self.broker = broker
        self.templates = templates
        self.reconcile_interval = reconcile_interval
        self.stats = {"published": 0, "received": 0, "frames": 0, "snapshots": 0, "renders": 0}
        self.connections = Registry()
        self.outboxes = Outboxes(outbox_limit, slow_socket_timeout, self.stats)
        self.coalescer = Coalescer(store, screens, broker, self.connections, tick, self.stats)
        self.snapshots = Snapshots(store, screens, broker, templates, self.stats)
        self.fanout = FanOut(store, screens, self.snapshots, self.outboxes)
        self.repair = Repair(store, broker, self.connections, self.coalescer)
        self._inbox: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        # The relays of other channel kinds, by their channel prefix (live/minutes).
        self.relays: dict[str, Relay] = {}
        # When the broker last brought this instance a change to show (see live/collector.py).
        self.last_message = 0.0
        self._announcing: set[asyncio.Task[None]] = set()

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Connects the broker and starts receiving and reconciling."""
        await self.broker.start(self._deliver, self._resync)
        await self.broker.subscribe(CONTROL_CHANNEL)
        self._tasks = [
            asyncio.create_task(self._process_inbox(), name="samla-hub-inbox"),
            asyncio.create_task(self._reconcile_forever(), name="samla-hub-reconcile"),
        ]

    async def stop(self) -> None:
        """Asks every socket to come back (1012), stops the loops, disconnects the broker."""
        for conn in list(self.connections.all()):
            close(conn, WS_1012_SERVICE_RESTART, "Samla is restarting")
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.broker.stop()

    # -- publishing ------------------------------------------------------------------------

    def publish(self, session_id: str, first_version: int, events: tuple[Event, ...]) -> None:
        """Queues a committed change (its events carry versions first_version, +1, …)."""
        self.coalescer.publish(session_id, first_version, events)
        seats = seats_changed(session_id, events)
        if seats is not None:
            # Every instance's relays check who still sits where (the minutes' sockets).
            task = asyncio.create_task(self._announce(seats), name="samla-hub-seats")
            self._announcing.add(task)
            task.add_done_callback(self._announcing.discard)

    def next_flush(self, session_id: str) -> float:
        """Seconds until a change of this session could next go out (0: at once)."""
        return self.coalescer.next_flush(session_id)

    async def announce_logout(self, login_id: str) -> None:
        """A login ended: its sockets close here at once and on the other instances as the
        message arrives. A message lost with Redis is made good by the next reconcile
        round, which finds every ended login in the store."""
        await self._announce({"logout": login_id})

    async def announce_deleted(self, session_id: str) -> None:
        """A session is gone: as `announce_logout`, its sockets close everywhere."""
        await self._announce({"deleted": session_id})

    async def announce_removed(self, participant_id: str) -> None:
        """A moderator removed a participant: as `announce_logout`, their sockets close
        everywhere, and every instance forgets whose their token was."""
        await self._announce({"removed": participant_id})

    async def _announce(self, message: dict[str, Any]) -> None:
        # Here first, without the round trip through the broker (which may be down).
        self._control(message)
        await self.broker.publish(CONTROL_CHANNEL, json.dumps(message).encode())

    # -- connections -----------------------------------------------------------------------

    def watching(self, conn: Connection) -> Watching:
        """The socket's life: `async with hub.watching(conn):` attaches it on enter and
        detaches it on exit, whatever happened."""
        return Watching(self, conn)

    async def _attach(self, conn: Connection) -> None:
        """Shows the session to the socket: subscribes on its first, counts who is here.
        Reads nothing but for a session's first socket: what a socket shows is read with
        its snapshot, a crowd's together (live/hub/snapshots.py)."""
        watch = self.connections.get(conn.session_id)
        if watch is None:
            watch = self.connections.open(conn.session_id)
            # Subscribe before reading the version: nothing committed after it is missed.
            await self.broker.subscribe(session_channel(conn.session_id))
            async with self.store.read() as db:
                found = await sessions.versions(db, [conn.session_id])
            watch.watermark = watch.store_version_seen = found.get(conn.session_id, 0)
            watch.watermark_seen = watch.watermark
        # Which room a participant's socket shows is read with its snapshot, in the same
        # transaction as the version it shows.
        if self.connections.arrive(watch, conn):
            assert conn.participant_id is not None
            await self.broker.set_present(conn.session_id, {conn.participant_id}, True)
            self.coalescer.nudge_presence(conn.session_id)
        conn.needs_snapshot = True
        conn.wake()

    async def _detach(self, conn: Connection) -> None:
        """Forgets the socket: marks its participant gone and unsubscribes with the last."""
        left = self.connections.leave(conn)
        if left is None:
            return
        gone, last = left
        if gone:
            assert conn.participant_id is not None
            await self.broker.set_present(conn.session_id, {conn.participant_id}, False)
            self.coalescer.nudge_presence(conn.session_id)
        if last and self.connections.get(conn.session_id) is None:
            await self.broker.unsubscribe(session_channel(conn.session_id))

    def count_local(self) -> int:
        """How many sockets are open on this instance."""
        return self.connections.count()

    # -- sending ---------------------------------------------------------------------------

    async def serve(self, conn: Connection) -> None:
        """The socket's writer: its snapshot, then its outbox, until it closes."""
        await self.outboxes.serve(conn, self.snapshot)

    def push(self, conn: Connection, frame: str) -> None:
        """Sends a frame to one socket (see `Outboxes.push_many`)."""
        self.outboxes.push_many((conn,), frame)

    def push_direct(self, conn: Connection, frame: str) -> None:
        """Queues a reply to this socket's own message; it survives a coming snapshot."""
        self.outboxes.push_direct(conn, frame)

    @property
    def outbox_limit(self) -> int:
        """How many frames a socket's outbox holds before its overflow policy applies."""
        return self.outboxes.limit

    # -- rendering -------------------------------------------------------------------------

    async def snapshot(self, conn: Connection) -> str:
        """Everything the socket shows, as of one consistent read of the store."""
        return await self.snapshots.snapshot(conn)

    async def render_panels(self, viewer: Viewer) -> Painted:
        """Every panel of the viewer's role, for a page's first paint, with its version."""
        return await self.snapshots.render_panels(viewer)

    async def render_for(self, conn: Connection, p: Panel) -> str:
        """One panel for this socket (a reply to its own message)."""
        return await self.snapshots.render_for(conn, p)

    # -- receiving -------------------------------------------------------------------------

    async def _resync(self) -> None:
        await self.repair.resync_all()
        for relay in self.relays.values():
            await relay.resync()

    def _deliver(self, channel: str, payload: bytes) -> None:
        self.last_message = time.monotonic()
        for prefix, relay in self.relays.items():
            if channel.startswith(prefix):
                relay.receive(channel, payload)
                return
        self._inbox.put_nowait((channel, payload))

    async def _process_inbox(self) -> None:
        while True:
            batch = [await self._inbox.get()]
            await asyncio.sleep(0)  # the broker's reader hands over what it has buffered
            # What came while the last batch was shown goes out together: a session that
            # several instances publish to gets one fan-out for all their messages, so its
            # sockets get one frame per update however many instances took its votes.
            while not self._inbox.empty():
                batch.append(self._inbox.get_nowait())
            ticks: dict[str, messages.Message] = {}
            for channel, payload in batch:
                try:
                    message = json.loads(payload)
                    if channel == CONTROL_CHANNEL:
                        self._control(message)
                    else:
                        self.stats["received"] += 1
                        tick = messages.decode(message)
                        ticks[tick.session_id] = messages.merge(ticks.get(tick.session_id), tick)
                except Exception:
                    log.exception("a message on %s could not be handled", channel)
            for tick in ticks.values():
                try:
                    await self._receive(tick)
                except Exception:
                    log.exception("the changes of session %s could not be shown", tick.session_id)

    def _control(self, message: dict[str, Any]) -> None:
        if message.get("removed"):
            auth.forget_participant(message["removed"])
        for relay in self.relays.values():
            relay.control(message)
        for conn in self.connections.all():
            if message.get("removed") and conn.participant_id == message["removed"]:
                close(conn, WS_1008_POLICY_VIOLATION, "removed from the session")
            if message.get("logout") and conn.login_id == message["logout"]:
                close(conn, WS_1008_POLICY_VIOLATION, "signed out")
            if message.get("deleted") and conn.session_id == message["deleted"]:
                close(conn, WS_1008_POLICY_VIOLATION, "session deleted")

    async def _receive(self, tick: messages.Message) -> None:
        watch = self.connections.get(tick.session_id)
        if watch is None:
            return
        released = release(watch, tick.versions, tick.events)
        if released or tick.presence:
            started = time.monotonic()
            await self.fanout.fan_out(tick.session_id, watch, released, tick.presence)
            watch.fan_out_cost = time.monotonic() - started

    async def _reconcile_forever(self) -> None:
        while True:
            await asyncio.sleep(self.reconcile_interval)
            try:
                await self.repair.reconcile()
            except Exception:
                log.exception("reconciling with the store failed")
            for relay in self.relays.values():
                try:
                    await relay.reconcile()
                except Exception:
                    log.exception("reconciling a relay with the store failed")


# Events after which people may sit elsewhere (moved, or rooms opened or closed).
SEAT_EVENTS = frozenset({"participants.moved", "rooms.opened", "rooms.closed"})


def seats_changed(session_id: str, events: tuple[Event, ...]) -> dict[str, Any] | None:
    """The control message that asks the relays to check seats after these events: for
    the participants they name, or everyone (None) when one names nobody in particular."""
    named: set[str] | None = set()
    found = False
    for event in events:
        if event.type not in SEAT_EVENTS:
            continue
        found = True
        ids = event.data.get("participant_ids")
        if named is not None and isinstance(ids, list):
            named.update(str(i) for i in ids)
        else:
            named = None
    if not found:
        return None
    return {"seats": session_id, "participants": sorted(named) if named is not None else None}
