"""Each instance's minutes sockets by document, and the relay between them: an update or an
awareness message goes to the document's other sockets here at once and, through the
broker, to those on every other instance (never back to its sender).

A socket has a bounded queue of messages. A message goes straight into an idle socket's
transport, framed once for all of them (as the hub's fan-out does); a socket that cannot
take it now queues it, and one whose queue is full has fallen behind: it is closed, and its
client resyncs on reconnect (sync step 1 and 2 with the stored document), so a slow client
never slows the room."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from starlette.status import (
    WS_1008_POLICY_VIOLATION,
    WS_1012_SERVICE_RESTART,
    WS_1013_TRY_AGAIN_LATER,
)
from websockets.frames import Frame, Opcode

from live.broker import MINUTES_PREFIX, Broker, minutes_channel
from live.minutes import protocol
from live.store import Store
from live.wire import SamlaWebSockets
from rooms import minutes

log = logging.getLogger("samla.minutes")

# A socket's queue: a second of everyone in a lively room typing (ten people at a few
# keystrokes a second each), several times over. Past it the socket is closed.
QUEUE_MAX = 256
# How a broker message starts: the instance that sent it, then the socket it came from.
_ID_BYTES = 8


def binary_frame(data: bytes) -> bytes:
    """A binary message as the bytes of one unmasked frame (server to client)."""
    return Frame(Opcode.BINARY, data).serialize(mask=False, extensions=[])


@dataclass(eq=False)
class Scribe:
    """One minutes socket: who it is, and what waits to be sent to it."""

    document_id: str
    session_id: str
    send: Callable[[bytes], Awaitable[None]]
    close: Callable[[int, str], Awaitable[None]]
    wire: SamlaWebSockets | None = None
    participant_id: str | None = None
    login_id: str | None = None
    id: bytes = field(default_factory=lambda: secrets.token_bytes(_ID_BYTES))
    queue: deque[bytes] = field(default_factory=deque)
    sending: bool = False
    # Whether the client has answered the server's sync step 1 (its step 2: what it typed
    # while away, which no rate limit refuses).
    answered: bool = False
    closing: tuple[int, str] | None = None
    # The awareness clients this socket speaks for, with their last clocks: when it closes,
    # the others are told they left.
    aware: dict[int, int] = field(default_factory=dict)
    # Messages framed for the transport, written together at the end of this turn of the
    # loop: a room typing at once makes one write per socket per turn, not one per keystroke
    # (a write is a system call, and each keystroke goes to everyone else in the room).
    batch: list[tuple[bytes, bytes]] = field(default_factory=list)
    _woken: asyncio.Event = field(default_factory=asyncio.Event)

    def push(self, data: bytes, frame: bytes | None = None) -> None:
        """Sends a message: straight into the transport at the end of this turn of the loop
        when the socket is idle and can take it then, else through its queue; a socket whose
        queue is full is dropped."""
        if self.closing is not None:
            return
        if self.wire is not None and not self.queue and not self.sending:
            if not self.batch:
                asyncio.get_running_loop().call_soon(self._write_batch)
            self.batch.append((data, frame or binary_frame(data)))
            return
        self._enqueue(data)

    def _write_batch(self) -> None:
        batch, self.batch = self.batch, []
        if self.closing is not None or not batch:
            return
        wire = self.wire
        idle = not self.queue and not self.sending
        if wire is not None and idle and wire.write_framed(b"".join(f for _, f in batch)):
            return
        for data, _ in batch:
            self._enqueue(data)

    def _enqueue(self, data: bytes) -> None:
        if self.closing is not None:
            return
        if len(self.queue) >= QUEUE_MAX:
            self.drop()
            return
        self.queue.append(data)
        self._woken.set()

    def end(self, code: int, reason: str) -> None:
        """Asks the writer to close the socket with this code and reason."""
        if self.closing is None:
            self.closing = (code, _short(reason))
            self.queue.clear()
            self._woken.set()
            if self.wire is not None:
                self.wire.close_soon()  # a client that stopped reading never sees the close

    def drop(self) -> None:
        """Ends a socket that fell behind, now: its client reconnects and resyncs."""
        self.queue.clear()
        if self.wire is not None:
            self.closing = (WS_1013_TRY_AGAIN_LATER, "too far behind")
            self.wire.abort()
        else:
            self.end(WS_1013_TRY_AGAIN_LATER, "Too far behind; reconnect to catch up.")

    async def serve(self) -> None:
        """The socket's writer: its queue, in order, until it is to close."""
        while True:
            await self._woken.wait()
            self._woken.clear()
            if self.closing is not None:
                with contextlib.suppress(Exception):
                    await self.close(*self.closing)
                return
            self.sending = True
            try:
                while self.queue and self.closing is None:
                    await self.send(self.queue.popleft())
            finally:
                self.sending = False


def _short(reason: str) -> str:
    """A close reason within the protocol's 123 bytes."""
    data = reason.encode()
    if len(data) <= 123:
        return reason
    return data[:120].decode(errors="ignore") + "…"


class Relay:
    """The minutes sockets of this instance by document, and their traffic between instances."""

    def __init__(self, store: Store, broker: Broker) -> None:
        self.store = store
        self.broker = broker
        self.instance = secrets.token_bytes(_ID_BYTES)
        self.documents: dict[str, set[Scribe]] = {}
        self.stats = {"relayed": 0, "received": 0, "dropped": 0}

    # -- who is here ------------------------------------------------------------------------

    async def join(self, scribe: Scribe) -> None:
        """Counts the socket in its document; the first subscribes to the document's channel
        (before the socket reads the store, so nothing stored after it is missed)."""
        here = self.documents.get(scribe.document_id)
        if here is None:
            here = self.documents[scribe.document_id] = set()
            here.add(scribe)
            await self.broker.subscribe(minutes_channel(scribe.document_id))
        else:
            here.add(scribe)

    async def leave(self, scribe: Scribe) -> None:
        """Forgets the socket; tells the others its awareness clients left; the last one
        unsubscribes."""
        here = self.documents.get(scribe.document_id)
        if here is None or scribe not in here:
            return
        here.discard(scribe)
        if scribe.aware:
            await self.relay(scribe, protocol.awareness_gone(scribe.aware))
        if not here:
            del self.documents[scribe.document_id]
            await self.broker.unsubscribe(minutes_channel(scribe.document_id))

    def count(self) -> int:
        return sum(len(here) for here in self.documents.values())

    # -- traffic ----------------------------------------------------------------------------

    async def relay(self, sender: Scribe, message: bytes) -> None:
        """Sends a message to the document's other sockets, here and on every instance."""
        self._fan_out(sender.document_id, sender.id, message)
        channel = minutes_channel(sender.document_id)
        await self.broker.publish(channel, self.instance + sender.id + message)

    def receive(self, channel: str, payload: bytes) -> None:
        """A message from the broker: to this instance's sockets of the document (what this
        instance sent itself went to them already)."""
        if len(payload) <= 2 * _ID_BYTES or payload[:_ID_BYTES] == self.instance:
            return
        self.stats["received"] += 1
        document_id = channel.removeprefix(MINUTES_PREFIX)
        self._fan_out(document_id, payload[_ID_BYTES : 2 * _ID_BYTES], payload[2 * _ID_BYTES :])

    def _fan_out(self, document_id: str, sender: bytes, message: bytes) -> None:
        here = self.documents.get(document_id)
        if not here:
            return
        frame = binary_frame(message)
        for scribe in here:
            if scribe.id != sender:
                scribe.push(message, frame)
        self.stats["relayed"] += 1

    def push_all(self, document_id: str, message: bytes) -> None:
        """Sends a message to every socket of the document on this instance."""
        self._fan_out(document_id, b"", message)

    async def resync(self) -> None:
        """The broker's link is back (messages may have been lost meanwhile): every socket
        here gets its document as stored, which brings it level with the truth."""
        for document_id in list(self.documents):
            try:
                async with self.store.read() as db:
                    whole = await minutes.document(db, document_id)
            except Exception:
                log.exception("minutes %s could not be read to resync", document_id)
                continue
            self.push_all(document_id, protocol.update(whole))

    def control(self, message: dict[str, Any]) -> None:
        """The hub's control messages: a removed participant, an ended login and a deleted
        session close their minutes sockets too."""
        for scribe in self.all():
            if message.get("removed") and scribe.participant_id == message["removed"]:
                scribe.end(WS_1008_POLICY_VIOLATION, "removed from the session")
            if message.get("logout") and scribe.login_id == message["logout"]:
                scribe.end(WS_1008_POLICY_VIOLATION, "signed out")
            if message.get("deleted") and scribe.session_id == message["deleted"]:
                scribe.end(WS_1008_POLICY_VIOLATION, "session deleted")

    def all(self) -> Iterable[Scribe]:
        return [scribe for here in self.documents.values() for scribe in here]

    def stop(self) -> None:
        """Asks every socket to come back (1012): Samla is restarting."""
        for scribe in self.all():
            scribe.end(WS_1012_SERVICE_RESTART, "Samla is restarting")
