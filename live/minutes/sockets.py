"""The minutes' sync sockets: the y-websocket protocol on a room's (or the plenary's) stored
document.

On connect the server sends sync step 1 (the stored state) and, in one message, the
awareness states it keeps of the document's writers; a client's step 1 is answered with
step 2 from the store; a client's update (step 2 or update) is checked, stored, then
relayed to the document's other sockets; awareness is relayed (its last state kept in
memory), never stored. A refusal closes the socket with a reason: 1009 for an update or a
document too large, 1013 to come back later (too fast, the store busy, moved out of the
room), 1008 for anything else (not in the room, a closed room, a malformed message).
Nothing refused is stored."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.routing import BaseRoute, WebSocketRoute
from starlette.status import (
    WS_1003_UNSUPPORTED_DATA,
    WS_1008_POLICY_VIOLATION,
    WS_1009_MESSAGE_TOO_BIG,
    WS_1013_TRY_AGAIN_LATER,
)
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from live import auth
from live.broker import MINUTES_PREFIX
from live.hub import Hub
from live.minutes import protocol
from live.minutes.access import Access, plenary_access, room_access
from live.minutes.relay import Relay, Scribe
from live.minutes.writing import Clerk, Unsaved
from live.services import Samla
from live.sockets import wire_of
from live.store import Store
from rooms import minutes
from rooms.errors import Refused

# Typing makes one update per keystroke: forty a second, with a burst of as many, is more
# than anyone types (a paste is one update); a script is stopped.
UPDATES = "40/second"
# Awareness (a cursor that moves) and questions for it (answered here), as often.
AWARENESS = "40/second"
# A client asks for what it lacks (sync step 1) on connect and now and then after; each
# reads the whole document, so a client asking in a loop is stopped.
SYNCS = "30/minute"
# How many awareness clients one socket may speak for (a browser tab is one).
AWARE_MAX = 8

Find = Callable[[AsyncSession, list[auth.Identity], str], Awaitable[Access]]


class Desk:
    """The minutes' live side of one instance: its sockets' relay and its clerk."""

    def __init__(self, relay: Relay, clerk: Clerk) -> None:
        self.relay = relay
        self.clerk = clerk

    def stop(self) -> None:
        """Asks every minutes socket to come back (Samla is restarting)."""
        self.relay.stop()


def routes() -> list[BaseRoute]:
    return [
        WebSocketRoute("/api/v1/rooms/{rid}/minutes/sync", room_socket),
        WebSocketRoute("/api/v1/sessions/{sid}/minutes/sync", plenary_socket),
    ]


async def room_socket(ws: WebSocket) -> None:
    """/api/v1/rooms/{rid}/minutes/sync — a room's minutes."""
    await _serve(ws, room_access, ws.path_params["rid"])


async def plenary_socket(ws: WebSocket) -> None:
    """/api/v1/sessions/{sid}/minutes/sync — the session's plenary minutes."""
    await _serve(ws, plenary_access, ws.path_params["sid"])


async def _identities(
    db: AsyncSession, ws: WebSocket, session_id: str | None
) -> list[auth.Identity]:
    token = auth.bearer(ws)
    if token is None:
        return await auth.browser_identities(db, ws, session_id)
    found = await auth.identify(db, token)
    if found is None:
        raise Refused("unauthorized", "That token is unknown or has been revoked.")
    return [found]


async def _access(ws: WebSocket, samla: Samla, find: Find, key: str) -> Access:
    if not 0 < len(key) <= 40 or not key.isprintable():
        raise minutes_not_found()
    async with samla.store.read() as db:
        people = await _identities(db, ws, None)
        if not people:
            raise Refused("unauthorized", "Join the session first (or send a Bearer token).")
        return await find(db, people, key)


def minutes_not_found() -> Refused:
    return Refused("not_found", "There are no such minutes.")


async def _serve(ws: WebSocket, find: Find, key: str) -> None:
    samla: Samla = ws.app.state.samla
    desk: Desk = ws.app.state.minutes
    if auth.bearer(ws) is None and not auth.origin_allowed(ws, samla.settings.allowed_origins):
        # Cookies ride along with a browser's socket from any page: no Origin, no entry.
        await ws.close(WS_1008_POLICY_VIOLATION)
        return
    await ws.accept()
    try:
        access = await _access(ws, samla, find, key)
    except Refused as exc:
        # Accepted and then closed, so the client sees why and does not retry.
        await ws.close(WS_1008_POLICY_VIOLATION, exc.message)
        return
    scribe = Scribe(
        document_id=access.target.id,
        session_id=access.target.session_id,
        send=ws.send_bytes,
        close=lambda code, reason: ws.close(code, reason),
        wire=wire_of(ws),
        participant_id=access.participant_id,
        login_id=access.login_id,
        room_id=access.target.room_id,
    )
    await desk.relay.join(scribe)
    writer = asyncio.create_task(scribe.serve(), name="samla-minutes-writer")
    writer.add_done_callback(lambda _: _stop_reading(ws))
    try:
        async with samla.store.read() as db:
            whole = await minutes.stored(db, access.target.id)
        desk.relay.seen(access.target.id, whole.version)
        scribe.push(protocol.step1(whole.state_vector()))
        del whole
        _push_awareness(desk, scribe)
        while scribe.closing is None:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                break
            data = message.get("bytes")
            if data is None:
                scribe.end(WS_1003_UNSUPPORTED_DATA, "Send the Yjs sync protocol, in binary.")
                break
            await _handle(samla, desk, access, scribe, data)
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass  # a client going away is not an error
    finally:
        await desk.relay.leave(scribe)
        if scribe.closing is None:
            writer.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(writer, timeout=samla.settings.close_timeout)


def _stop_reading(ws: WebSocket) -> None:
    """The writer ended (it closed the socket, or sending failed): end the reader too."""
    if ws.client_state == WebSocketState.CONNECTED:
        task = asyncio.ensure_future(ws.close(WS_1008_POLICY_VIOLATION))
        task.add_done_callback(lambda t: t.cancelled() or t.exception())


async def _handle(samla: Samla, desk: Desk, access: Access, scribe: Scribe, data: bytes) -> None:
    try:
        message = protocol.read(data)
        if message.kind == "step1":
            await _answer_step1(samla, access, scribe, message.payload)
        elif message.kind == "step2" and not scribe.answered:
            scribe.answered = True
            await _write(samla, desk, access, scribe, message.payload, limited=False)
        elif message.kind in ("step2", "update"):
            await _write(samla, desk, access, scribe, message.payload)
        elif message.kind == "awareness":
            await _aware(samla, desk, access, scribe, message.payload)
        elif message.kind == "query":
            await _hit(samla, "minutes.awareness", AWARENESS, access)
            _push_awareness(desk, scribe)
    except protocol.Malformed:
        scribe.end(WS_1008_POLICY_VIOLATION, "That is not a message of the Yjs sync protocol.")
    except Refused as exc:
        scribe.end(close_code(exc), exc.message)


def close_code(refusal: Refused) -> int:
    """How a socket closes for a refusal: 1009 too large, 1013 come back later, else 1008."""
    if refusal.code == "too_large":
        return WS_1009_MESSAGE_TOO_BIG
    if refusal.code == "rate_limited" or isinstance(refusal, Unsaved):
        return WS_1013_TRY_AGAIN_LATER
    return WS_1008_POLICY_VIOLATION


async def _hit(samla: Samla, what: str, rate: str, access: Access) -> None:
    await samla.limiter.hit(what, rate, access.who, "Too fast for the minutes; reconnect shortly.")


def _push_awareness(desk: Desk, scribe: Scribe) -> None:
    """Everyone's awareness state, as this instance keeps it, in one message."""
    states = desk.relay.awareness_of(scribe.document_id)
    if states is not None:
        scribe.push(states)


async def _answer_step1(samla: Samla, access: Access, scribe: Scribe, state: bytes) -> None:
    await _hit(samla, "minutes.sync", SYNCS, access)
    async with samla.store.read() as db:
        whole = await minutes.document(db, access.target.id)
    scribe.push(protocol.step2(minutes.missing(whole, state)))


async def _write(
    samla: Samla, desk: Desk, access: Access, scribe: Scribe, update: bytes, limited: bool = True
) -> None:
    if update == minutes.EMPTY:
        return  # a client with nothing new says so at every sync
    if limited:
        await _hit(samla, "minutes", UPDATES, access)
    minutes.check_update(update)  # before it waits for a batch
    edit = minutes.Edit(update, access.participant_id, scribe.id.hex())
    stored = await desk.clerk.write(access.target, edit)
    if isinstance(stored, Refused):
        raise stored
    await desk.relay.relay(scribe, protocol.update(update), version=stored)


async def _aware(samla: Samla, desk: Desk, access: Access, scribe: Scribe, update: bytes) -> None:
    if len(update) > protocol.AWARENESS_MAX:
        raise Refused("too_large", "An awareness message may be at most 8 KB.")
    found = protocol.read_awareness(update)
    await _hit(samla, "minutes.awareness", AWARENESS, access)
    scribe.aware.update(found.clocks)
    if len(scribe.aware) > AWARE_MAX:
        raise Refused("invalid", "One socket speaks for one writer's awareness.")
    message = protocol.awareness(found.named(access.name))
    desk.relay.remember_awareness(scribe.document_id, message)
    await desk.relay.relay(scribe, message)


def open_desk(store: Store, hub: Hub) -> Desk:
    """The instance's minutes desk, its relay receiving its channels from the hub's broker."""
    relay = Relay(store, hub.broker)
    hub.relays[MINUTES_PREFIX] = relay
    return Desk(relay, Clerk(store))
