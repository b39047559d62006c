"""The WebSocket endpoints: the browser's (HTML fragments for htmx) and the JSON event stream.

Both authorise on the handshake, send a snapshot first, then live updates from the hub.
Every message a client sends is validated and authorised; a bad one gets an error frame
and the socket stays usable. Close codes follow the htmx ws extension, which reconnects
only on 1006, 1011, 1012 and 1013: 1008 refuses, 1013 asks to come back."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import Mapping
from typing import Any

from starlette.status import WS_1008_POLICY_VIOLATION
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from live import auth
from live.actions import Actor, allowed, perform
from live.errors import parse_object
from live.hub import Connection
from live.services import Samla
from live.templating import pick_language
from live.wire import EXTENSION, SamlaWebSockets
from rooms import sessions
from rooms.errors import Refused
from rooms.models import ROLES, Role

log = logging.getLogger("samla.socket")

TYPE_MAX = 40

# Messages a participant may send per minute over all sockets, beyond each feature's own
# limits: generous for people, a wall for scripts.
MESSAGES_PER_MINUTE = "240/minute"


async def browser_socket(ws: WebSocket) -> None:
    """/s/{sid}/ws?view=participant|moderator|presenter — the htmx page's live connection."""
    samla: Samla = ws.app.state.samla
    if not auth.origin_allowed(ws, samla.settings.allowed_origins):
        await ws.close(WS_1008_POLICY_VIOLATION)  # before accept: the handshake is refused
        return
    await run_socket(ws, samla, await _browser_connection(ws, samla))


async def _browser_connection(ws: WebSocket, samla: Samla) -> Connection | None:
    # A function of its own, so the rows read here are freed once the socket runs: a
    # socket lives for hours, and thousands of them keep whatever their frame holds.
    view = ws.query_params.get("view", "participant")
    locale = pick_language(ws.headers.get("accept-language"), auth.cookie(ws).get("lang"))
    if view == "participant":
        conn = await _browser_participant(ws, samla, locale)
    else:
        conn = await _browser_other(ws, samla, view, locale)
    shown = ws.query_params.get("v", "")
    if conn is not None and shown.isdigit() and len(shown) < 19:
        conn.page_version = int(shown)
    return conn


async def _browser_participant(ws: WebSocket, samla: Samla, locale: str) -> Connection | None:
    """A participant's page, as a hall of phones reopens them after a restart: as
    `_participant_stream`, with the token the browser's cookie holds for this session."""
    session_id = ws.path_params["sid"]
    token = auth.held_token(ws, "p", session_id)
    who = await auth.voter(samla.store.read, token) if token is not None else None
    if who is None or who.session_id != session_id:
        return None
    return _participant_connection(ws, who, "html", locale)


async def _browser_other(ws: WebSocket, samla: Samla, view: str, locale: str) -> Connection | None:
    """A moderator's, a presenter's or a room observer's page: whoever the cookie's tokens
    make them in this session."""
    session_id = ws.path_params["sid"]
    async with samla.store.read() as db:
        try:
            session = await sessions.session_by_id(db, session_id)
        except Refused:
            return None
        people = await auth.browser_identities(db, ws, session_id)
    if view == OBSERVER:
        return _observer_for(ws, session, people, locale)
    if view in ROLES:
        return _connection_for(ws, session, people, view, "html", locale)
    return None


# A moderator who joins a breakout room sees it live as its people do (?view=room&room=…).
OBSERVER = "room"
_ROOM_ID = re.compile(r"[A-Za-z0-9_-]{1,40}")


def _observer_for(
    ws: WebSocket, session: Any, people: list[auth.Identity], locale: str
) -> Connection | None:
    room_id = ws.query_params.get("room", "")
    if not _ROOM_ID.fullmatch(room_id):  # PostgreSQL cannot even compare a NUL byte
        return None
    for who in people:
        if auth.role_in(who, session) == "moderator":
            return Connection(
                session_id=session.id,
                role="participant",
                kind="html",
                locale=locale,
                send=ws.send_text,
                close=lambda code, reason: ws.close(code, reason),
                room_id=room_id,
                login_id=who.login_id,
                wire=wire_of(ws),
            )
    return None


async def event_stream(ws: WebSocket) -> None:
    """/api/v1/sessions/{sid}/events — JSON events for integrations and the load tool."""
    samla: Samla = ws.app.state.samla
    if auth.bearer(ws) is None and not auth.origin_allowed(ws, samla.settings.allowed_origins):
        # Cookies ride along with a browser's socket from any page: no Origin, no entry.
        await ws.close(WS_1008_POLICY_VIOLATION)
        return
    await run_socket(ws, samla, await _stream_connection(ws, samla))


async def _stream_connection(ws: WebSocket, samla: Samla) -> Connection | None:
    token = auth.bearer(ws)
    session_id = ws.path_params["sid"]
    if token is not None and token.startswith("p_"):
        return await _participant_stream(ws, samla, token, session_id)
    async with samla.store.read() as db:
        try:
            session = await sessions.session_by_id(db, session_id)
        except Refused:
            session = None
        if session is None:
            return None
        if token is not None:
            found = await auth.identify(db, token)
            people = [found] if found else []
        else:
            people = await auth.browser_identities(db, ws, session_id)
    view = ws.query_params.get("view")
    for who in people:
        role = auth.role_in(who, session)
        if role is not None:
            wanted = view if view in ROLES and role == "moderator" else role
            return _connection_for(ws, session, [who], wanted, "json", "en")
    return None


async def _participant_stream(
    ws: WebSocket, samla: Samla, token: str, session_id: str
) -> Connection | None:
    """A participant's stream, as a whole crowd reopens them after a restart: whose token it
    is comes from what this instance keeps (`auth.voter`), and whether they are still in
    the session is read with the socket's snapshot, which refuses them if not."""
    who = await auth.voter(samla.store.read, token)
    if who is None or who.session_id != session_id:
        return None
    return _participant_connection(ws, who, "json", "en")


def _participant_connection(ws: WebSocket, who: auth.Voter, kind: str, locale: str) -> Connection:
    return Connection(
        session_id=who.session_id,
        role="participant",
        kind=kind,
        locale=locale,
        send=ws.send_text,
        close=lambda code, reason: ws.close(code, reason),
        wire=wire_of(ws),
        participant_id=who.participant_id,
    )


def _connection_for(
    ws: WebSocket, session: Any, people: list[auth.Identity], view: str, kind: str, locale: str
) -> Connection | None:
    """The connection for the first identity allowed to show `view` of this session."""
    for who in people:
        role = auth.role_in(who, session)
        if role is None or (view == "participant") != (role == "participant"):
            continue
        shown: Role = "presenter" if view == "presenter" else role
        return Connection(
            session_id=session.id,
            role=shown,
            kind=kind,
            locale=locale,
            send=ws.send_text,
            close=lambda code, reason: ws.close(code, reason),
            wire=wire_of(ws),
            participant_id=who.participant.id if who.participant else None,
            login_id=who.login_id,
            organiser_id=owner_of(who, session),
        )
    return None


def owner_of(who: auth.Identity, session: Any) -> str | None:
    """The organiser id of `who` when they are one of the session's organisers, signed in."""
    return who.organiser_id if who.organises(session) else None


def wire_of(ws: WebSocket) -> SamlaWebSockets | None:
    """The socket's protocol, when the server is Samla's own (live/wire.py)."""
    return (ws.scope.get("extensions") or {}).get(EXTENSION)


async def run_socket(ws: WebSocket, samla: Samla, conn: Connection | None) -> None:
    await ws.accept()
    if conn is None:
        # Accepted and then closed, so the browser sees 1008 and does not retry.
        await ws.close(WS_1008_POLICY_VIOLATION, "not a member of this session")
        return
    hub = samla.hub
    async with hub.watching(conn):
        writer = asyncio.create_task(hub.serve(conn))
        writer.add_done_callback(lambda _: _stop_reading(ws))
        try:
            while True:
                message = await ws.receive()
                if message["type"] == "websocket.disconnect":
                    break
                await _handle(samla, conn, message)
        except (WebSocketDisconnect, RuntimeError, OSError):
            pass  # a client going away is not an error
        finally:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await writer


def _stop_reading(ws: WebSocket) -> None:
    """The writer ended (it closed the socket, or sending failed): end the reader too."""
    if ws.client_state == WebSocketState.CONNECTED:
        task = asyncio.ensure_future(ws.close(WS_1008_POLICY_VIOLATION))
        task.add_done_callback(lambda t: t.cancelled() or t.exception())


async def _handle(samla: Samla, conn: Connection, message: Mapping[str, Any]) -> None:
    try:
        body = _parse(message)
        kind = body["type"]
        if kind == "ping":
            samla.hub.push_direct(conn, _ok(conn, "pong"))
            return
        await _perform(samla, conn, kind, body)
    except Refused as exc:
        samla.hub.push_direct(conn, _error(samla, conn, exc.code, exc.message))
    except Exception:
        log.exception("a %s message could not be handled", conn.kind)
        samla.hub.push_direct(
            conn, _error(samla, conn, "error", "Something went wrong; please try again.")
        )


async def _perform(samla: Samla, conn: Connection, kind: str, message: dict[str, Any]) -> None:
    """A message with an action: the same `perform` as its API endpoint, then the reply."""
    act = samla.actions.get(kind)
    if act is None:
        raise Refused("invalid", f"Unknown message type {kind!r}.")
    if conn.participant_id is not None and conn.version < 0:
        # Sent before the socket's first snapshot (text kept while offline): the room it
        # acts in is read now, not taken to be the plenary.
        async with samla.store.read() as db:
            conn.room_id = await samla.hub.screens.place(db, conn.session_id, conn.participant_id)
    actor = Actor(conn.session_id, conn.role, conn.participant_id, conn.room_id, conn.organiser_id)
    allowed(act, actor)  # before the form is read: a refusal for the role says so
    if conn.participant_id is not None:
        await samla.limiter.hit(
            "message",
            MESSAGES_PER_MINUTE,
            conn.participant_id,
            "You are sending messages too fast; wait a moment.",
        )
    screens = samla.hub.screens
    await perform(samla, act, actor, screens.read_form(kind, message))
    reply = screens.reply_to(kind)
    if conn.kind == "html" and reply is not None:
        samla.hub.push_direct(conn, await samla.hub.render_for(conn, reply))
    elif conn.kind == "json":
        samla.hub.push_direct(conn, _ok(conn, kind))


def _parse(message: Mapping[str, Any]) -> dict[str, Any]:
    text = message.get("text")
    if text is None:
        raise Refused("invalid", "Send messages as JSON text, not binary.")
    # The same bounds as the API's bodies: depth, finite numbers, valid Unicode.
    body = parse_object(text, "That message")
    kind = body.get("type")
    if not isinstance(kind, str) or not 0 < len(kind) <= TYPE_MAX:
        raise Refused("invalid", "A message must have a type.")
    body.pop("HEADERS", None)  # what the htmx extension adds about the sending element
    return body


def _ok(conn: Connection, what: str) -> str:
    if conn.kind == "json":
        return json.dumps({"type": "ack", "for": what})
    return ""


def _error(samla: Samla, conn: Connection, code: str, message: str) -> str:
    if conn.kind == "json":
        return json.dumps({"type": "error", "error": {"code": code, "message": message}})
    text = samla.templates.gettext(conn.locale, message)
    return samla.templates.render("_notice.html", conn.locale, oob=True, notice=text, kind="error")
