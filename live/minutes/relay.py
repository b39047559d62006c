"""Each instance's minutes sockets by document, and the relay between them: an update or an
awareness message goes to the document's other sockets here at once and, through the
broker, to those on every other instance (never back to its sender).

A socket has a bounded queue of messages. A message goes straight into an idle socket's
transport, framed once for all of them (as the hub's fan-out does); a socket that cannot
take it now queues it, and one whose queue is full has fallen behind: it is closed, and its
client resyncs on reconnect (sync step 1 and 2 with the stored document), so a slow client
never slows the room.

Each instance keeps the document's awareness states (the last of each client, bounded) and
gives them to a socket as it connects, in one message: nobody is asked for theirs. Each
stored update travels with the document's version that holds it; at every reconcile round
an instance compares the versions it heard with the store, and brings the sockets of a
document whose versions went missing (a lost publish) level with the store. Sockets whose
person no longer sits in the room (moved, or the rooms opened or closed) are closed (1013):
they reconnect and are let in again, or refused."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from pycrdt import YMessageType
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
# How a broker message starts: the instance that sent it, the socket it came from, and the
# document's version that stored it (0: not an update).
_ID_BYTES = 8
_VERSION_BYTES = 8
_HEADER = 2 * _ID_BYTES + _VERSION_BYTES
# The awareness states kept of one document: its clients' last (bytes of their JSON, in
# all), forgetting those not renewed for a while (a client renews its state every 15 s).
STATES_BYTES = 512 * 1024
STATE_TTL = 60.0
MOVED = "No longer in this room; reconnect."


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
    room_id: str | None = None  # a room's minutes (None: the plenary's)
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


@dataclass
class Heard:
    """The versions of a document this instance has relayed: all up to `floor`, and those
    in `above`; `stalled` is the floor of the previous round when it was behind the store."""

    floor: int
    above: set[int] = field(default_factory=set)
    stalled: int | None = None

    def hear(self, version: int) -> None:
        if version > self.floor:
            self.above.add(version)
            self._advance()

    def level(self, version: int) -> None:
        """Everything up to `version` is known (sent as stored)."""
        self.floor = max(self.floor, version)
        self.above = {v for v in self.above if v > self.floor}
        self._advance()
        self.stalled = None

    def _advance(self) -> None:
        while self.floor + 1 in self.above:
            self.floor += 1
            self.above.discard(self.floor)


@dataclass
class States:
    """A document's awareness states: client → (clock, state as JSON, when it came)."""

    entries: OrderedDict[int, tuple[int, str, float]] = field(default_factory=OrderedDict)
    size: int = 0

    def put(self, client: int, clock: int, state: str) -> None:
        old = self.entries.pop(client, None)
        if old is not None:
            self.size -= len(old[1])
            if old[0] > clock:  # an older state overtaken on the way: keep the newer
                self.entries[client] = old
                self.size += len(old[1])
                return
        if state == "null":
            return
        self.entries[client] = (clock, state, time.monotonic())
        self.size += len(state)
        while self.size > STATES_BYTES:
            _, (_, dropped, _) = self.entries.popitem(last=False)
            self.size -= len(dropped)

    def message(self) -> bytes | None:
        """Every live state, as one awareness message (None: there are none)."""
        now = time.monotonic()
        for client in [c for c, (_, _, at) in self.entries.items() if now - at > STATE_TTL]:
            self.size -= len(self.entries.pop(client)[1])
        if not self.entries:
            return None
        return protocol.awareness(
            protocol.awareness_entries((c, k, s) for c, (k, s, _) in self.entries.items())
        )


class Relay:
    """The minutes sockets of this instance by document, and their traffic between instances."""

    def __init__(self, store: Store, broker: Broker) -> None:
        self.store = store
        self.broker = broker
        self.instance = secrets.token_bytes(_ID_BYTES)
        self.documents: dict[str, set[Scribe]] = {}
        self.heard: dict[str, Heard] = {}
        self.states: dict[str, States] = {}
        self._checks: set[asyncio.Task[None]] = set()
        self.stats = {"relayed": 0, "received": 0, "dropped": 0, "resynced": 0}

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
            gone = protocol.awareness_gone(scribe.aware)
            self.remember_awareness(scribe.document_id, gone)
            await self.relay(scribe, gone)
        if not here:
            del self.documents[scribe.document_id]
            self.heard.pop(scribe.document_id, None)
            self.states.pop(scribe.document_id, None)
            await self.broker.unsubscribe(minutes_channel(scribe.document_id))

    def seen(self, document_id: str, version: int) -> None:
        """A socket of the document read it as stored at `version`: the first sets what
        this instance counts its relayed versions from."""
        if document_id in self.documents and document_id not in self.heard:
            self.heard[document_id] = Heard(version)

    def awareness_of(self, document_id: str) -> bytes | None:
        """The document's awareness states as one message, for a socket that connects."""
        states = self.states.get(document_id)
        return states.message() if states is not None else None

    def remember_awareness(self, document_id: str, message: bytes) -> None:
        """Keeps the states of an awareness message (as relayed) of an open document."""
        if document_id not in self.documents:
            return
        try:
            payload = protocol.read(message).payload
            entries = protocol.read_awareness(payload).entries
        except protocol.Malformed:
            return
        states = self.states.setdefault(document_id, States())
        for client, clock, state in entries:
            states.put(client, clock, protocol.state_json(state))

    def count(self) -> int:
        return sum(len(here) for here in self.documents.values())

    # -- traffic ----------------------------------------------------------------------------

    async def relay(self, sender: Scribe, message: bytes, version: int = 0) -> None:
        """Sends a message to the document's other sockets, here and on every instance
        (an update with the document's version that stored it)."""
        self._fan_out(sender.document_id, sender.id, message)
        heard = self.heard.get(sender.document_id)
        if version and heard is not None:
            heard.hear(version)
        channel = minutes_channel(sender.document_id)
        head = self.instance + sender.id + version.to_bytes(_VERSION_BYTES, "big")
        await self.broker.publish(channel, head + message)

    def receive(self, channel: str, payload: bytes) -> None:
        """A message from the broker: to this instance's sockets of the document (what this
        instance sent itself went to them already)."""
        if len(payload) <= _HEADER or payload[:_ID_BYTES] == self.instance:
            return
        self.stats["received"] += 1
        document_id = channel.removeprefix(MINUTES_PREFIX)
        version = int.from_bytes(payload[2 * _ID_BYTES : _HEADER], "big")
        message = payload[_HEADER:]
        heard = self.heard.get(document_id)
        if version and heard is not None:
            heard.hear(version)
        if message[:1] == bytes([YMessageType.AWARENESS]):
            self.remember_awareness(document_id, message)
        self._fan_out(document_id, payload[_ID_BYTES : 2 * _ID_BYTES], message)

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
            await self._resync_document(document_id)

    async def _resync_document(self, document_id: str) -> None:
        try:
            async with self.store.read() as db:
                whole = await minutes.stored(db, document_id)
        except Exception:
            log.exception("minutes %s could not be read to resync", document_id)
            return
        assert whole.update is not None
        self.stats["resynced"] += 1
        self.push_all(document_id, protocol.update(whole.update))
        heard = self.heard.get(document_id)
        if heard is not None:
            heard.level(whole.version)

    async def reconcile(self) -> None:
        """A reconcile round: each open document whose stored version this instance has
        not relayed (a publish lost, a writer stopped between its commit and its relay),
        and still has not a round later, is sent to its sockets as stored; and every
        participant's socket of a room is checked to still sit in it."""
        documents = list(self.documents)
        if not documents:
            return
        async with self.store.read() as db:
            versions = await minutes.versions(db, documents)
        for document_id in documents:
            heard = self.heard.get(document_id)
            stored = versions.get(document_id, 0)
            if heard is None:
                if document_id in self.documents:
                    self.heard[document_id] = Heard(stored)
                continue
            if stored <= heard.floor:
                heard.stalled = None
            elif heard.stalled == heard.floor:
                log.info("minutes %s missed versions; resyncing its sockets", document_id)
                await self._resync_document(document_id)
            else:
                heard.stalled = heard.floor
        await self.check_seats([s for s in self.all() if s.room_id and s.participant_id])

    async def check_seats(self, scribes: list[Scribe]) -> None:
        """Closes (1013) the sockets among these whose participant no longer sits in
        their room: they reconnect and are let in again, or refused."""
        pairs = {(s.room_id, s.participant_id) for s in scribes}
        if not pairs:
            return
        async with self.store.read() as db:
            seated = await minutes.seated(db, pairs)
        for scribe in scribes:
            if (scribe.room_id, scribe.participant_id) not in seated:
                scribe.end(WS_1013_TRY_AGAIN_LATER, MOVED)

    def _seats_changed(self, session_id: str, participants: list[str] | None) -> None:
        named = set(participants) if participants is not None else None
        scribes = [
            s
            for s in self.all()
            if s.session_id == session_id
            and s.room_id is not None
            and s.participant_id is not None
            and (named is None or s.participant_id in named)
        ]
        if scribes:
            task = asyncio.create_task(self._check_logged(scribes), name="samla-minutes-seats")
            self._checks.add(task)
            task.add_done_callback(self._checks.discard)

    async def _check_logged(self, scribes: list[Scribe]) -> None:
        try:
            await self.check_seats(scribes)
        except Exception:
            log.exception("minutes sockets' seats could not be checked")

    def control(self, message: dict[str, Any]) -> None:
        """The hub's control messages: a removed participant, an ended login and a deleted
        session close their minutes sockets too; after people changed seats, their room
        sockets are checked."""
        seats = message.get("seats")
        if isinstance(seats, str):
            named = message.get("participants")
            self._seats_changed(seats, named if isinstance(named, list) else None)
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
