"""The connection registry: each open socket, the sessions this instance shows, who is here."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field

from live.screens import Audience
from live.wire import SamlaWebSockets
from rooms.models import PLENARY, Event, Role

Send = Callable[[str], Awaitable[None]]
Close = Callable[[int, str], Awaitable[None]]
# A frame waiting in a socket's outbox, with the session version it shows (None: a change
# with no version of its own, such as who is here): a snapshot read at that version or a
# later one already holds it.
Queued = tuple[str, int | None]


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
    # The session's own organiser, when their account is signed in on it.
    organiser_id: str | None = None
    room_id: str | None = None
    # The socket's protocol when it offers `write_framed` (live/wire.py): frames can then be
    # written to it straight from the fan-out while its writer is idle.
    wire: SamlaWebSockets | None = None
    version: int = -1  # the version of the socket's latest snapshot (-1: none read yet)
    # The version the page showed when its socket opened (its first paint, or the newest it
    # was sent before a reconnect): a first snapshot at that version redraws nothing.
    page_version: int = -1
    outbox: list[Queued] = field(default_factory=list)
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
        """The sockets that see the same shared panels: session, role, room and language."""
        return Audience(
            self.session_id, self.role, self.room_id, self.locale, self.organiser_id is not None
        )

    def sees(self, event: Event) -> bool:
        """Whether this socket may be shown the event (its roles and its room)."""
        if event.roles is not None and self.role not in event.roles:
            return False
        if event.room_id is None or self.role != "participant":
            return True
        return event.room_id == (self.room_id or PLENARY)


@dataclass(eq=False)
class Watch:
    """One session as this instance shows it: its sockets, who is here, and where its
    stream of versions stands (kept by live/hub/repair.py)."""

    connections: set[Connection] = field(default_factory=set)
    watermark: int = 0  # every version up to this one has been released here
    pending: dict[int, list[Event]] = field(default_factory=dict)
    gap_since: float | None = None
    store_version_seen: int = 0  # the store's version at the previous reconcile round
    watermark_seen: int = 0  # the watermark at the previous reconcile round
    fan_out_cost: float = 0.0  # seconds the last fan-out held the loop
    present: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))


class Registry:
    """The sessions this instance shows, by id, each with its sockets and presence counts."""

    __slots__ = ("watches",)

    def __init__(self) -> None:
        self.watches: dict[str, Watch] = {}

    def get(self, session_id: str) -> Watch | None:
        """The session's watch, if this instance shows it."""
        return self.watches.get(session_id)

    def open(self, session_id: str) -> Watch:
        """A new watch for a session not shown here yet."""
        watch = self.watches[session_id] = Watch()
        return watch

    def arrive(self, watch: Watch, conn: Connection) -> bool:
        """Counts the socket in; answers whether its participant just became present."""
        watch.connections.add(conn)
        if conn.participant_id is None:
            return False
        watch.present[conn.participant_id] += 1
        return watch.present[conn.participant_id] == 1

    def leave(self, conn: Connection) -> tuple[bool, bool] | None:
        """Counts the socket out, all at once (no await: many sockets of a session may leave
        together, and each must see the others' bookkeeping). Answers whether its participant
        is gone and whether the session is no longer shown here; None if it was not in."""
        watch = self.watches.get(conn.session_id)
        if watch is None or conn not in watch.connections:
            return None
        watch.connections.discard(conn)
        pid = conn.participant_id
        gone = False
        if pid is not None:
            watch.present[pid] -= 1
            if watch.present[pid] <= 0:
                del watch.present[pid]
                gone = True
        last = not watch.connections and self.watches.get(conn.session_id) is watch
        if last:
            del self.watches[conn.session_id]
        return gone, last

    def all(self) -> Iterator[Connection]:
        """Every open socket on this instance."""
        for watch in self.watches.values():
            yield from watch.connections

    def presence(self) -> dict[str, set[str]]:
        """Who is here on this instance, by session (what the broker's entries must say)."""
        return {sid: set(w.present) for sid, w in self.watches.items() if w.present}

    def count(self) -> int:
        """How many sockets are open on this instance."""
        return sum(len(w.connections) for w in self.watches.values())
