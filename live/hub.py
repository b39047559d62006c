"""The hub: who is connected to what, coalescing, rendering once per audience, outboxes.

Publishing side: committed changes are gathered per session and sent through the broker
at most once per tick, bursts collapsed by event key. Receiving side: every instance
releases a session's events in version order, renders each stale panel once per audience
and puts the same frame in every socket's bounded outbox. A socket whose outbox overflows
drops what it had and gets a snapshot (one that cannot take even that in time is aborted);
so does every socket of a session whose instance finds itself behind the store (a lost
message, a Redis restart)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from live import auth
from live.broker import CONTROL_CHANNEL, Broker, session_channel
from live.screens import PRESENCE, Audience, Panel, Screens, Viewer
from live.store import Store
from live.templating import Templates
from live.wire import SamlaWebSockets, framed
from rooms import credentials, sessions
from rooms.errors import Refused
from rooms.models import PLENARY, Event, Role
from rooms.sessions import describe

log = logging.getLogger("samla.hub")

# A session's events waiting for an earlier version are released anyway, after a fresh
# snapshot, once the gap has lasted this long (the earlier message was lost).
GAP_PATIENCE = 2.0
# How long a rendered snapshot may be reused for other sockets of the same audience.
SNAPSHOT_REUSE = 0.5
# The share of the loop's time that showing one session's changes may take. A session's
# changes go out at most once per tick, and less often when showing them to its sockets
# takes this instance long: a hall of thousands keeps half the loop for its votes.
FAN_OUT_SHARE = 0.5
# However slow one fan-out was (a stall, a heavy render), the next update waits no longer.
SLOWEST_UPDATES = 1.0
# Close codes the htmx ws extension understands: it reconnects on 1012 and 1013 only.
WS_1008_POLICY_VIOLATION = 1008
WS_1012_SERVICE_RESTART = 1012
WS_1013_TRY_AGAIN_LATER = 1013

Send = Callable[[str], Awaitable[None]]
Close = Callable[[int, str], Awaitable[None]]


@dataclass(eq=False, slots=True)
class Connection:
    """One open socket: who it is, what it shows, and what waits to be sent to it.

    Thousands stay open and idle for hours, so it is kept small: slots, plain lists for
    the (short, bounded) queues, and a bare future for the writer to sleep on instead of
    an asyncio.Event with its own queue of waiters."""

    session_id: str
    role: Role
    kind: str  # "html" or "json"
    locale: str
    send: Send
    close: Close
    participant_id: str | None = None
    login_id: str | None = None
    room_id: str | None = None
    # The socket's protocol when it offers `write_framed` (live/wire.py): frames can then be
    # written to it straight from the fan-out while its writer is idle.
    wire: SamlaWebSockets | None = None
    version: int = -1  # the newest session version this socket has been sent
    outbox: list[str] = field(default_factory=list)
    direct: list[str] = field(default_factory=list)  # replies to this socket's own messages
    needs_snapshot: bool = True
    closing: tuple[int, str] | None = None
    # Armed when the outbox overflows: the socket is aborted unless it has caught up by then.
    deadline: asyncio.TimerHandle | None = None
    _woken: bool = False
    _waiter: asyncio.Future[None] | None = None

    def wake(self) -> None:
        """Something is waiting to be sent (or the socket is to close): rouse the writer."""
        self._woken = True
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def sleep(self) -> None:
        """The writer waits here until woken."""
        if not self._woken:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        self._woken = False

    @property
    def audience(self) -> Audience:
        return Audience(self.session_id, self.role, self.room_id, self.locale)

    def sees(self, event: Event) -> bool:
        if event.roles is not None and self.role not in event.roles:
            return False
        if event.room_id is None or self.role != "participant":
            return True
        return event.room_id == (self.room_id or PLENARY)


def _caught_up(conn: Connection) -> bool:
    """The socket has sent all it owes and its client is reading what it was sent."""
    writable = conn.wire is None or conn.wire.writable.is_set()
    return writable and not conn.needs_snapshot and not conn.outbox


@dataclass(eq=False)
class Watch:
    """One session as this instance shows it."""

    connections: set[Connection] = field(default_factory=set)
    watermark: int = 0  # every version up to this one has been released here
    pending: dict[int, list[Event]] = field(default_factory=dict)
    gap_since: float | None = None
    store_version_seen: int = 0  # the store's version at the previous reconcile round
    watermark_seen: int = 0  # the watermark at the previous reconcile round
    fan_out_cost: float = 0.0  # seconds the last fan-out held the loop
    present: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))


@dataclass(eq=False)
class Outgoing:
    """A session's committed changes waiting for the next tick."""

    versions: list[int] = field(default_factory=list)
    events: dict[str, tuple[int, Event]] = field(default_factory=dict)
    presence: bool = False
    scheduled: bool = False


class Hub:
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
        self.tick = tick
        self.outbox_limit = outbox_limit
        self.slow_socket_timeout = slow_socket_timeout
        self.reconcile_interval = reconcile_interval
        self._watches: dict[str, Watch] = {}
        self._outgoing: dict[str, Outgoing] = {}
        self._last_flush: dict[str, float] = {}
        self._flushing: set[asyncio.Task[None]] = set()
        self._flush_locks: dict[str, asyncio.Lock] = {}
        self._inbox: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        # Shared snapshot parts by audience and version, so that a whole session
        # resnapshotted at once is rendered once per audience; short-lived, because
        # the count of who is here changes without a version.
        self._snapshots: dict[tuple[Audience, str, int], tuple[float, str | dict[str, Any]]] = {}
        # When the broker last brought this instance a change to show (see live/collector.py).
        self.last_message = 0.0
        self.stats = {"published": 0, "received": 0, "frames": 0, "snapshots": 0, "renders": 0}

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        await self.broker.start(self._deliver, self.resync_all)
        await self.broker.subscribe(CONTROL_CHANNEL)
        self._tasks = [
            asyncio.create_task(self._process_inbox(), name="samla-hub-inbox"),
            asyncio.create_task(self._reconcile_forever(), name="samla-hub-reconcile"),
        ]

    async def stop(self) -> None:
        for watch in self._watches.values():
            for conn in list(watch.connections):
                self.close(conn, WS_1012_SERVICE_RESTART, "Samla is restarting")
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.broker.stop()

    # -- publishing ------------------------------------------------------------------------

    def publish(self, session_id: str, first_version: int, events: tuple[Event, ...]) -> None:
        """Queues a committed change (its events carry versions first_version, +1, …)."""
        out = self._outgoing.setdefault(session_id, Outgoing())
        for offset, event in enumerate(events):
            version = first_version + offset
            out.versions.append(version)
            out.events[event.key or f"#{version}"] = (version, event)
        self._schedule(session_id, out)

    def _nudge_presence(self, session_id: str) -> None:
        out = self._outgoing.setdefault(session_id, Outgoing())
        out.presence = True
        self._schedule(session_id, out)

    def _schedule(self, session_id: str, out: Outgoing) -> None:
        if out.scheduled:
            return
        out.scheduled = True
        # Leading edge: a lone change goes out on the next turn of the loop; in a burst
        # the next flush waits for the tick, collecting everything that came meanwhile.
        task = asyncio.create_task(self._flush(session_id, self.next_flush(session_id)))
        self._flushing.add(task)
        task.add_done_callback(self._flushing.discard)

    def next_flush(self, session_id: str) -> float:
        """Seconds until a change of this session could next go out (0: at once)."""
        interval = self.tick
        watch = self._watches.get(session_id)
        if watch is not None:
            interval = max(interval, min(watch.fan_out_cost / FAN_OUT_SHARE, SLOWEST_UPDATES))
        return max(0.0, self._last_flush.get(session_id, 0.0) + interval - time.monotonic())

    async def _flush(self, session_id: str, delay: float) -> None:
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
        wire: list[list[Any]] = []
        for version, event in sorted(out.events.values(), key=lambda pair: pair[0]):
            data = event.data
            fill = self.screens.summary_for(event.type)
            if fill is not None:
                try:
                    async with self.store.hub_read() as db:
                        data = await fill(db, session_id, event)
                except Exception:
                    log.exception("summary of %s failed", event.type)
            roles = sorted(event.roles) if event.roles is not None else None
            wire.append([version, event.type, data, event.room_id, roles])
        message = {"s": session_id, "v": out.versions, "e": wire, "p": out.presence}
        self.stats["published"] += 1
        await self.broker.publish(session_channel(session_id), json.dumps(message).encode())

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

    async def attach(self, conn: Connection) -> None:
        watch = self._watches.get(conn.session_id)
        if watch is None:
            watch = Watch()
            self._watches[conn.session_id] = watch
            # Subscribe before reading the version: nothing committed after it is missed.
            await self.broker.subscribe(session_channel(conn.session_id))
            async with self.store.read() as db:
                found = await sessions.versions(db, [conn.session_id])
            watch.watermark = watch.store_version_seen = found.get(conn.session_id, 0)
            watch.watermark_seen = watch.watermark
        if conn.participant_id is not None:
            async with self.store.read() as db:
                conn.room_id = await self.screens.place(db, conn.session_id, conn.participant_id)
            watch.present[conn.participant_id] += 1
            if watch.present[conn.participant_id] == 1:
                await self.broker.set_present(conn.session_id, {conn.participant_id}, True)
                self._nudge_presence(conn.session_id)
        watch.connections.add(conn)
        conn.needs_snapshot = True
        conn.wake()

    async def detach(self, conn: Connection) -> None:
        watch = self._watches.get(conn.session_id)
        if watch is None or conn not in watch.connections:
            return
        # Decide everything before the first await: many sockets of a session may be
        # detaching at once, and each must see the others' bookkeeping.
        watch.connections.discard(conn)
        pid = conn.participant_id
        gone = False
        if pid is not None:
            watch.present[pid] -= 1
            if watch.present[pid] <= 0:
                del watch.present[pid]
                gone = True
        last = not watch.connections and self._watches.get(conn.session_id) is watch
        if last:
            del self._watches[conn.session_id]
        if gone:
            assert pid is not None
            await self.broker.set_present(conn.session_id, {pid}, False)
            self._nudge_presence(conn.session_id)
        if last and conn.session_id not in self._watches:
            await self.broker.unsubscribe(session_channel(conn.session_id))

    def push(self, conn: Connection, frame: str) -> None:
        """Sends a frame to one socket (see `push_many`)."""
        self.push_many((conn,), frame)

    def push_many(
        self, conns: Iterable[Connection], frame: str, version: int | None = None
    ) -> None:
        """Sends the same frame to every socket in `conns`, in one pass: straight into each
        socket whose writer is idle and that can take it now, else through its outbox. A
        socket that has fallen too far behind gets a snapshot instead. With `version`, each
        socket is noted as having been sent that version."""
        data: bytes | None = None  # the frame's bytes, made once for all (see live/wire.py)
        written = 0
        for conn in conns:
            if version is not None:
                conn.version = version
            if conn.needs_snapshot:
                continue  # the coming snapshot carries this change too
            wire = conn.wire
            # Straight in when its writer is asleep with nothing queued (written inline
            # here, once per frame: this loop runs for every socket of a session).
            if (
                wire is not None
                and conn._waiter is not None
                and not conn._woken
                and not conn.outbox
                and not conn.direct
                and conn.closing is None
            ):
                if data is None:
                    data = framed(frame)
                if wire.write_framed(data):
                    written += 1
                    continue
            if len(conn.outbox) >= self.outbox_limit:
                self._fell_behind(conn)
            else:
                conn.outbox.append(frame)
            conn.wake()
        self.stats["frames"] += written

    def _fell_behind(self, conn: Connection) -> None:
        """The socket's outbox overflowed: it drops its backlog and owes a snapshot. One that
        overflows again before it has caught up, or has not caught up (taken its snapshot,
        emptied its outbox, its transport writable again) within `slow_socket_timeout`, is
        aborted: its client has stopped reading, and a browser that reads again reconnects
        (1006) to a fresh snapshot. Its kernel buffer and socket are freed at once."""
        conn.outbox.clear()
        conn.needs_snapshot = True
        if conn.deadline is not None:
            self.drop(conn)
            return
        loop = asyncio.get_running_loop()
        conn.deadline = loop.call_later(self.slow_socket_timeout, self._overdue, conn)

    def _overdue(self, conn: Connection) -> None:
        conn.deadline = None
        if not _caught_up(conn):
            self.drop(conn)

    def drop(self, conn: Connection) -> None:
        """Ends a socket that cannot keep up, now, without waiting for its client."""
        if conn.deadline is not None:
            conn.deadline.cancel()
            conn.deadline = None
        conn.outbox.clear()
        if conn.wire is not None:
            conn.wire.abort()
        else:
            self.close(conn, WS_1013_TRY_AGAIN_LATER, "too far behind")

    def push_direct(self, conn: Connection, frame: str) -> None:
        """Queues a reply to this socket's own message; it survives a coming snapshot."""
        if frame and len(conn.direct) < self.outbox_limit:
            conn.direct.append(frame)
            conn.wake()

    async def render_panels(self, viewer: Viewer) -> str:
        """Every panel of the viewer's role, for a page's first paint."""
        async with self.store.read() as db:
            parts = []
            for p in self.screens.panels_for(viewer.audience.role):
                context = await p.load(db, viewer)
                if PRESENCE in p.triggers:
                    context["here"] = await self.broker.count_present(viewer.audience.session_id)
                parts.append(
                    self.templates.render(
                        p.template, viewer.audience.locale, oob=False, viewer=viewer, **context
                    )
                )
        return "".join(parts)

    async def render_for(self, conn: Connection, p: Panel) -> str:
        async with self.store.read() as db:
            return await self._render(db, p, Viewer(conn.audience, conn.participant_id))

    def close(self, conn: Connection, code: int, reason: str) -> None:
        conn.closing = (code, reason)
        conn.wake()
        if conn.wire is not None:
            # A writer blocked on a client that stopped reading never gets to send the close.
            conn.wire.close_soon()

    async def serve(self, conn: Connection) -> None:
        """The socket's writer: sends its snapshot, then its outbox, until it closes.

        A client that stops reading blocks only its own writer; its outbox overflows into
        a snapshot, and the socket is aborted if it does not catch up (`_fell_behind`)."""
        while True:
            if conn.deadline is not None and _caught_up(conn):
                conn.deadline.cancel()
                conn.deadline = None
            await conn.sleep()
            if conn.closing is not None:
                await conn.close(*conn.closing)
                return
            if conn.needs_snapshot:
                conn.needs_snapshot = False
                conn.outbox.clear()
                try:
                    frame = await self.snapshot(conn)
                except Refused:
                    await conn.close(WS_1008_POLICY_VIOLATION, "session deleted")
                    return
                except Exception:
                    # The store is unreachable for now: ask the client to come back later
                    # (the htmx extension reconnects on 1013) rather than fail it for good.
                    log.exception("snapshot of session %s failed", conn.session_id)
                    await conn.close(WS_1013_TRY_AGAIN_LATER, "try again shortly")
                    return
                await conn.send(frame)
                # An idle socket's writer sleeps in this frame for hours: keep no snapshot.
                del frame
                self.stats["snapshots"] += 1
            while conn.outbox and conn.closing is None:
                await conn.send(conn.outbox.pop(0))
                self.stats["frames"] += 1
            while conn.direct and conn.closing is None:
                await conn.send(conn.direct.pop(0))

    async def snapshot(self, conn: Connection) -> str:
        """Everything the socket shows, as of one consistent read of the store. What all
        sockets of an audience share is built once per version and reused briefly, so a
        whole session resnapshotted at once costs one render per audience."""
        async with self.store.read() as db:
            session = await sessions.session_by_id(db, conn.session_id)
            conn.version = session.version
            viewer = Viewer(conn.audience, conn.participant_id)
            key = (conn.audience, conn.kind, session.version)
            now = time.monotonic()
            cached = self._snapshots.get(key)
            if cached is not None and now - cached[0] < SNAPSHOT_REUSE:
                shared = cached[1]
            else:
                shared = await self._shared_snapshot(db, conn, session)
                if len(self._snapshots) > 512:
                    self._snapshots.clear()
                self._snapshots[key] = (now, shared)
            mine = [p for p in self.screens.panels_for(conn.role) if p.personal]
            if conn.kind == "json":
                assert isinstance(shared, dict)
                you = {
                    "role": conn.role,
                    "participant_id": conn.participant_id,
                    "room_id": conn.room_id,
                }
                personal = {p.name: await p.load(db, viewer) for p in mine if p.json}
                return json.dumps({**shared, **personal, "you": you})
            assert isinstance(shared, str)
            return shared + "".join([await self._render(db, p, viewer) for p in mine])

    async def _shared_snapshot(
        self, db: Any, conn: Connection, session: Any
    ) -> str | dict[str, Any]:
        viewer = Viewer(conn.audience, None)
        shown = [p for p in self.screens.panels_for(conn.role) if not p.personal]
        if conn.kind == "html":
            return "".join([await self._render(db, p, viewer) for p in shown])
        body: dict[str, Any] = {"type": "snapshot", "version": session.version}
        body["session"] = await describe(db, session, conn.role)
        body["here"] = await self.broker.count_present(conn.session_id)
        for p in shown:
            if p.json:
                body[p.name] = await p.load(db, viewer)
        return body

    async def _render(self, db: Any, p: Panel, viewer: Viewer) -> str:
        context = await p.load(db, viewer)
        if PRESENCE in p.triggers:
            context["here"] = await self.broker.count_present(viewer.audience.session_id)
        self.stats["renders"] += 1
        return self.templates.render(
            p.template, viewer.audience.locale, oob=True, viewer=viewer, **context
        )

    # -- receiving -------------------------------------------------------------------------

    def _deliver(self, channel: str, payload: bytes) -> None:
        self.last_message = time.monotonic()
        self._inbox.put_nowait((channel, payload))

    async def _process_inbox(self) -> None:
        while True:
            channel, payload = await self._inbox.get()
            try:
                message = json.loads(payload)
                if channel == CONTROL_CHANNEL:
                    self._control(message)
                else:
                    await self._receive(message)
            except Exception:
                log.exception("a message on %s could not be handled", channel)

    def _control(self, message: dict[str, Any]) -> None:
        if message.get("removed"):
            auth.forget_participant(message["removed"])
        for watch in self._watches.values():
            for conn in watch.connections:
                if message.get("removed") and conn.participant_id == message["removed"]:
                    self.close(conn, WS_1008_POLICY_VIOLATION, "removed from the session")
                if message.get("logout") and conn.login_id == message["logout"]:
                    self.close(conn, WS_1008_POLICY_VIOLATION, "signed out")
                if message.get("deleted") and conn.session_id == message["deleted"]:
                    self.close(conn, WS_1008_POLICY_VIOLATION, "session deleted")

    async def _receive(self, message: dict[str, Any]) -> None:
        session_id = message["s"]
        watch = self._watches.get(session_id)
        if watch is None:
            return
        self.stats["received"] += 1
        by_version: dict[int, list[Event]] = defaultdict(list)
        for version, type_, data, room_id, roles in message["e"]:
            by_version[version].append(
                Event(type_, data, room_id=room_id, roles=frozenset(roles) if roles else None)
            )
        for version in message["v"]:
            if version > watch.watermark:
                watch.pending.setdefault(version, []).extend(by_version.get(version, ()))
        released: list[tuple[int, Event]] = []
        while watch.watermark + 1 in watch.pending:
            watch.watermark += 1
            released.extend((watch.watermark, e) for e in watch.pending.pop(watch.watermark))
        watch.gap_since = (watch.gap_since or time.monotonic()) if watch.pending else None
        if released or message.get("p"):
            started = time.monotonic()
            await self._fan_out(session_id, watch, released, bool(message.get("p")))
            watch.fan_out_cost = time.monotonic() - started

    async def _fan_out(
        self, session_id: str, watch: Watch, released: list[tuple[int, Event]], presence: bool
    ) -> None:
        events = [e for _, e in released]
        if any(e.type == "participants.moved" for e in events):
            await self._relocate(session_id, watch)
        # The JSON stream: each event once, serialised once, to every socket that may see it.
        json_conns = [c for c in watch.connections if c.kind == "json" and not c.needs_snapshot]
        for version, event in released:
            to = [c for c in json_conns if version > c.version and c.sees(event)]
            if to:
                frame = json.dumps({"type": event.type, "version": version, **event.data})
                self.push_many(to, frame, version)
        # The browser: stale panels, rendered once per audience.
        triggers = [*events, Event(PRESENCE)] if presence else events
        groups: dict[Audience, list[Connection]] = defaultdict(list)
        for conn in watch.connections:
            if conn.kind == "html" and not conn.needs_snapshot:
                groups[conn.audience].append(conn)
        if not groups:
            return
        async with self.store.hub_read() as db:
            for audience, conns in groups.items():
                visible = [e for e in triggers if conns[0].sees(e)]
                stale = [p for p in self.screens.panels_for(audience.role) if p.stale(visible)]
                if not stale:
                    continue
                viewer = Viewer(audience, None)
                shared = "".join(
                    [await self._render(db, p, viewer) for p in stale if not p.personal]
                )
                alike = []  # the sockets whose frame is the shared part alone
                for conn in conns:
                    personal = await self._personal(db, conn, stale, visible)
                    if personal:
                        self.push(conn, shared + personal)
                    else:
                        alike.append(conn)
                if shared:
                    self.push_many(alike, shared)

    async def _personal(
        self, db: Any, conn: Connection, stale: list[Panel], events: list[Event]
    ) -> str:
        mine = [
            p
            for p in stale
            if p.personal
            and any(
                e.type in p.triggers and e.data.get("participant_id") in (None, conn.participant_id)
                for e in events
            )
        ]
        viewer = Viewer(conn.audience, conn.participant_id)
        return "".join([await self._render(db, p, viewer) for p in mine])

    async def _relocate(self, session_id: str, watch: Watch) -> None:
        """After people were moved between rooms, every moved socket starts over."""
        people = [c for c in watch.connections if c.participant_id is not None]
        async with self.store.hub_read() as db:
            rooms = await self.screens.place_many(
                db, session_id, sorted({c.participant_id or "" for c in people})
            )
        for conn in people:
            room = rooms.get(conn.participant_id or "")
            if room != conn.room_id:
                conn.room_id = room
                conn.needs_snapshot = True
                conn.wake()

    # -- repair ----------------------------------------------------------------------------

    async def resync_all(self) -> None:
        """The broker link was lost and is back: whatever was published meanwhile is gone."""
        await self.broker.refresh_present(self._local_presence())
        async with self.store.hub_read() as db:
            found = await sessions.versions(db, list(self._watches))
        for session_id, watch in list(self._watches.items()):
            await self.broker.subscribe(session_channel(session_id))
            self._resnapshot(watch, found.get(session_id, watch.watermark))
            self._nudge_presence(session_id)

    def _resnapshot(self, watch: Watch, version: int) -> None:
        watch.watermark = max(watch.watermark, version)
        watch.pending = {v: e for v, e in watch.pending.items() if v > watch.watermark}
        watch.gap_since = time.monotonic() if watch.pending else None
        for conn in watch.connections:
            conn.outbox.clear()
            conn.needs_snapshot = True
            conn.wake()

    def _local_presence(self) -> dict[str, set[str]]:
        return {sid: set(w.present) for sid, w in self._watches.items() if w.present}

    async def reconcile(self) -> None:
        """Compares each shown session's version with the store; a session whose newer
        version was not heard of since the previous round (its instance died before
        publishing, a message was lost) is resnapshotted. Every socket's credentials are
        checked again too: a session deleted or a login ended while its message was lost
        (Redis was down) closes its sockets here, whatever the broker delivered."""
        if not self._watches:
            return
        # The store first: it is the truth, and it answers while Redis may not.
        async with self.store.hub_read() as db:
            found = await sessions.versions(db, list(self._watches))
            await self._recheck_credentials(db, found)
        await self.broker.refresh_present(self._local_presence())
        now = time.monotonic()
        self._last_flush = {s: t for s, t in self._last_flush.items() if now - t < 60}
        for session_id, watch in list(self._watches.items()):
            stored = found.get(session_id)
            if stored is None:
                for conn in watch.connections:
                    self.close(conn, WS_1008_POLICY_VIOLATION, "session deleted")
                continue
            gap_too_long = watch.gap_since is not None and now - watch.gap_since > GAP_PATIENCE
            # Behind, and no progress for a whole round: what is missing is lost, not late
            # (in a storm the watermark trails the store but keeps moving).
            stalled = watch.watermark == watch.watermark_seen
            if gap_too_long or (watch.store_version_seen > watch.watermark and stalled):
                log.info("session %s is behind the store; resnapshotting", session_id)
                self._resnapshot(watch, stored)
            watch.store_version_seen = stored
            watch.watermark_seen = watch.watermark

    async def _recheck_credentials(self, db: Any, found: dict[str, int]) -> None:
        """Closes the sockets of logins that ended and of participants removed, found in
        the store: a few queries a round for all of this instance's sockets, not one each.
        (The sockets of a deleted session are closed by `reconcile` itself.)"""
        logins = {c.login_id for w in self._watches.values() for c in w.connections if c.login_id}
        people = {pid for sid, w in self._watches.items() if sid in found for pid in w.present}
        ended = await credentials.ended_logins(db, logins) if logins else set()
        removed = await credentials.removed_participants(db, people) if people else set()
        if not ended and not removed:
            return
        for participant_id in removed:
            auth.forget_participant(participant_id)
        for watch in self._watches.values():
            for conn in watch.connections:
                if conn.login_id in ended:
                    self.close(conn, WS_1008_POLICY_VIOLATION, "signed out")
                elif conn.participant_id in removed:
                    self.close(conn, WS_1008_POLICY_VIOLATION, "removed from the session")

    async def _reconcile_forever(self) -> None:
        while True:
            await asyncio.sleep(self.reconcile_interval)
            try:
                await self.reconcile()
            except Exception:
                log.exception("reconciling with the store failed")

    def count_local(self) -> int:
        return sum(len(w.connections) for w in self._watches.values())
