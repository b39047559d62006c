"""The stage pages: the hall's big screen, opened from its own read-only link with no
sign-in, and its live connection; and, for a signed-in moderator, the way to that link.

The link's secret is checked when the page loads and when its socket opens, and again
every CHECK_EVERY seconds while the socket is open: a revoked link's screens close within
that time, on every instance, with no message between them."""

from __future__ import annotations

import asyncio
import contextlib

from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.status import WS_1008_POLICY_VIOLATION
from starlette.websockets import WebSocket

from live import auth
from live.api.stage import stage_url
from live.errors import refusal_response
from live.hub import Connection
from live.pages.sessions import page, page_language, refused_page, samla_of_page
from live.screens import Audience, Viewer
from live.services import Samla
from live.sockets import run_socket, wire_of
from live.templating import pick_language
from rooms import sessions, stage
from rooms.errors import Refused, not_found
from rooms.models import Session

# Seconds between the checks of an open stage socket's link: how long a revoked link's
# screen may still show (one small read per screen, and a hall has one or two).
CHECK_EVERY = 10.0
_SECRET_MAX = 80


async def _by_link(samla: Samla, secret: str) -> Session | None:
    if len(secret) > _SECRET_MAX:
        return None
    async with samla.store.read() as db:
        return await stage.session_by_link(db, samla.settings.secret_key, secret)


async def stage_page(request: Request) -> Response:
    """/stage/{secret}: the hall's screen; anyone with the link sees it, nobody can act."""
    samla = samla_of_page(request)
    session = await _by_link(samla, request.path_params["secret"])
    if session is None:
        return refused_page(request, not_found("stage link"))
    return await _stage(request, session, f"/stage/{request.path_params['secret']}/ws")


async def _stage(request: Request, session: Session, socket: str) -> Response:
    samla = samla_of_page(request)
    viewer = Viewer(Audience(session.id, "presenter", None, page_language(request)), None)
    panels = await samla.hub.render_panels(viewer)
    response = page(
        request,
        "stage/page.html",
        session=session,
        viewer=viewer,
        join_url=str(request.url_for("join_page", code=session.code)),
        join_host=request.url.netloc,
        panels=panels,
        ws_url=f"{socket}?v={panels.version}",
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"  # the link is the key: never pass it on
    return response


async def stage_socket(ws: WebSocket) -> None:
    """The stage's live connection: the presenter's panels, and nothing it may send."""
    samla: Samla = ws.app.state.samla
    if not auth.origin_allowed(ws, samla.settings.allowed_origins):
        await ws.close(WS_1008_POLICY_VIOLATION)  # before accept: the handshake is refused
        return
    secret = ws.path_params["secret"]
    session = await _by_link(samla, secret)
    conn = None if session is None else _connection(ws, session)
    checking = asyncio.create_task(_keep_checking(ws, samla, secret)) if conn else None
    try:
        await run_socket(ws, samla, conn)
    finally:
        if checking is not None:
            checking.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await checking


def _connection(ws: WebSocket, session: Session) -> Connection:
    locale = pick_language(ws.headers.get("accept-language"), auth.cookie(ws).get("lang"))
    conn = Connection(
        session_id=session.id,
        role="presenter",
        kind="html",
        locale=locale,
        send=ws.send_text,
        close=lambda code, reason: ws.close(code, reason),
        wire=wire_of(ws),
    )
    shown = ws.query_params.get("v", "")
    if shown.isdigit() and len(shown) < 19:
        conn.page_version = int(shown)
    return conn


async def _keep_checking(ws: WebSocket, samla: Samla, secret: str) -> None:
    while True:
        await asyncio.sleep(CHECK_EVERY)
        if await _by_link(samla, secret) is None:
            with contextlib.suppress(Exception):
                await ws.close(WS_1008_POLICY_VIOLATION, "this stage link was revoked")
            return


# -- for the session's moderators -----------------------------------------------------------


async def _moderated(request: HTTPConnection) -> Session:
    samla = samla_of_page(request)  # type: ignore[arg-type]
    async with samla.store.read() as db:
        session = await sessions.session_by_id(db, request.path_params["sid"])
        for who in await auth.browser_identities(db, request, session.id):
            if auth.role_in(who, session) == "moderator":
                return session
    raise Refused("forbidden", "Only this session's moderators may open its stage link.")


async def open_stage(request: Request) -> Response:
    """/s/{sid}/stage: a moderator is taken to the stage's link (to show or to copy)."""
    try:
        session = await _moderated(request)
    except Refused as exc:
        return refused_page(request, exc)
    return RedirectResponse(stage_url(request, session.id, session.stage_salt), 303)


async def stage_link(request: Request) -> Response:
    """/s/{sid}/stage-link: the link as JSON, for the console's copy button."""
    try:
        session = await _moderated(request)
    except Refused as exc:
        return refusal_response(exc)
    return JSONResponse(
        {"stage_url": stage_url(request, session.id, session.stage_salt)},
        headers={"Cache-Control": "no-store"},
    )


def routes() -> list[BaseRoute]:
    return [
        Route("/stage/{secret}", stage_page, name="stage_page"),
        WebSocketRoute("/stage/{secret}/ws", stage_socket),
        Route("/s/{sid}/stage", open_stage, name="open_stage"),
        Route("/s/{sid}/stage-link", stage_link, name="stage_link"),
    ]
