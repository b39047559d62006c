"""Each socket's bounded outbox, what happens when it overflows, and the writer that drains it."""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Awaitable, Callable, Iterable

from starlette.status import (
    WS_1008_POLICY_VIOLATION,
    WS_1013_TRY_AGAIN_LATER,
)

from live.hub.connections import Connection
from live.hub.snapshots import PARTICIPANT
from live.wire import framed
from rooms.errors import Refused, not_found

log = logging.getLogger("samla.hub")

Snapshot = Callable[[Connection], Awaitable[str]]


class OverflowPolicy(enum.Enum):
    """What a socket whose outbox is full gets instead of the next frame (as Litestar
    names its backlog strategies)."""

    # Drop what is queued and owe a snapshot (it carries every change dropped); abort the
    # socket when even that cannot go out in time: it overflows again, or has not caught up
    # within the slow-socket timeout. A browser that reads again reconnects (1006) to a
    # fresh snapshot, and the socket's kernel buffer is freed at once.
    RESNAPSHOT = "resnapshot"


def caught_up(conn: Connection) -> bool:
    """The socket has sent all it owes and its client is reading what it was sent."""
    writable = conn.wire is None or conn.wire.writable.is_set()
    return writable and not conn.needs_snapshot and not conn.outbox


def close(conn: Connection, code: int, reason: str) -> None:
    """Asks the socket's writer to close it with this code."""
    conn.closing = (code, reason)
    conn.wake()
    if conn.wire is not None:
        # A writer blocked on a client that stopped reading never gets to send the close.
        conn.wire.close_soon()


class Outboxes:
    """Puts frames in sockets (straight into an idle one's transport, else its outbox),
    applies the overflow policy, and runs each socket's writer."""

    __slots__ = ("limit", "policy", "slow_socket_timeout", "stats")

    def __init__(
        self,
        limit: int,
        slow_socket_timeout: float,
        stats: dict[str, int],
        policy: OverflowPolicy = OverflowPolicy.RESNAPSHOT,
    ) -> None:
        self.limit = limit
        self.slow_socket_timeout = slow_socket_timeout
        self.stats = stats
        self.policy = policy

    def push_many(
        self, conns: Iterable[Connection], frame: str, version: int | None = None
    ) -> None:
        """Sends the same frame to every socket in `conns`, in one pass: straight into each
        socket whose writer is idle and that can take it now, else through its outbox. A
        socket that has fallen too far behind gets a snapshot instead. `version` is the
        session version the frame shows: a socket whose snapshot is being read gets it only
        if the snapshot turns out older (`serve`)."""
        data: bytes | None = None  # the frame's bytes, made once for all (see live/wire.py)
        written = 0
        limit = self.limit
        queued = (frame, version)
        for conn in conns:
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
            if len(conn.outbox) >= limit:
                self.overflow(conn)
            else:
                conn.outbox.append(queued)
            conn.wake()
        self.stats["frames"] += written

    def push_direct(self, conn: Connection, frame: str) -> None:
        """Queues a reply to this socket's own message; it survives a coming snapshot."""
        if frame and len(conn.direct) < self.limit:
            conn.direct.append(frame)
            conn.wake()

    def overflow(self, conn: Connection) -> None:
        """The socket's outbox is full: applies the policy (`OverflowPolicy.RESNAPSHOT`)."""
        conn.outbox.clear()
        conn.needs_snapshot = True
        if conn.deadline is not None:
            self.drop(conn)  # overflowed again before it caught up
            return
        loop = asyncio.get_running_loop()
        conn.deadline = loop.call_later(self.slow_socket_timeout, self._overdue, conn)

    def _overdue(self, conn: Connection) -> None:
        conn.deadline = None
        if not caught_up(conn):
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
            close(conn, WS_1013_TRY_AGAIN_LATER, "too far behind")

    async def serve(self, conn: Connection, snapshot: Snapshot) -> None:
        """The socket's writer: sends its snapshot, then its outbox, until it closes.

        A client that stops reading blocks only its own writer; its outbox overflows into
        a snapshot, and the socket is aborted if it does not catch up (`overflow`)."""
        while True:
            if conn.deadline is not None and caught_up(conn):
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
                    frame = await snapshot(conn)
                except Refused as refused:
                    await conn.close(WS_1008_POLICY_VIOLATION, _gone(refused))
                    return
                except Exception:
                    # The store is unreachable for now: ask the client to come back later
                    # (the htmx extension reconnects on 1013) rather than fail it for good.
                    log.exception("snapshot of session %s failed", conn.session_id)
                    await conn.close(WS_1013_TRY_AGAIN_LATER, "try again shortly")
                    return
                # What was queued while the snapshot was read goes after it only if it is
                # newer: the versions a socket is sent only ever increase.
                conn.outbox = [q for q in conn.outbox if q[1] is None or q[1] > conn.version]
                await conn.send(frame)
                # An idle socket's writer sleeps in this frame for hours: keep no snapshot.
                del frame
                self.stats["snapshots"] += 1
            while conn.outbox and conn.closing is None:
                await conn.send(conn.outbox.pop(0)[0])
                self.stats["frames"] += 1
            while conn.direct and conn.closing is None:
                await conn.send(conn.direct.pop(0))


def _gone(refused: Refused) -> str:
    """Why a socket whose snapshot was refused closes: its person, or its session, is gone."""
    if refused.message == not_found(PARTICIPANT).message:
        return "removed from the session"
    return "session deleted"
