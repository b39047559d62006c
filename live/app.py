"""The app factory: routes, middleware, and a lifespan that opens the store, then the broker."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route, Router
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket

from live import actions, assets, calls, collector, jobs, mail, retention
from live.actions import boards as board_actions
from live.actions import breakout as breakout_actions
from live.actions import calls as call_actions
from live.actions import polls as poll_actions
from live.actions import questions as question_actions
from live.actions import sessions as session_actions
from live.actions import stage as stage_actions
from live.api import archive as api_archive
from live.api import base as api
from live.api import boards as api_boards
from live.api import breakout as api_breakout
from live.api import calls as api_calls
from live.api import event_archive as api_event_archive
from live.api import events as api_events
from live.api import minutes as api_minutes
from live.api import polls as api_polls
from live.api import questions as api_questions
from live.api import reports as api_reports
from live.api import sessions as api_sessions
from live.api import stage as api_stage
from live.broker import broker_for
from live.errors import error_body
from live.hub import Hub
from live.minutes import actions as minutes_actions
from live.minutes import sockets as minutes_sockets
from live.pages import api_doc
from live.pages import breakout as breakout_pages
from live.pages import calls as call_pages
from live.pages import events as event_pages
from live.pages import organiser as organiser_pages
from live.pages import registrations as registration_pages
from live.pages import report_editor as report_editor_pages
from live.pages import sessions as session_pages
from live.pages import stage as stage_pages
from live.pages import statement as statement_pages
from live.ratelimit import Limiter
from live.screens import Screens
from live.screens import boards as board_screens
from live.screens import breakout as breakout_screens
from live.screens import console as console_screens
from live.screens import participants as participant_screens
from live.screens import polls as poll_screens
from live.screens import questions as question_screens
from live.screens import sessions as session_screens
from live.screens import stage as stage_screens
from live.services import Samla
from live.settings import Settings
from live.sockets import event_stream
from live.store import CHECKPOINT_EVERY, Store, migrate
from live.templating import Templates
from rooms import breakout

log = logging.getLogger("samla")

# Samla as it is assembled: every route, panel and action is listed here.
ENDPOINTS = [
    *api_sessions.ENDPOINTS,
    *api_polls.ENDPOINTS,
    *api_boards.ENDPOINTS,
    *api_questions.ENDPOINTS,
    *api_breakout.ENDPOINTS,
    *api_calls.ENDPOINTS,
    *api_archive.ENDPOINTS,
    *api_stage.ENDPOINTS,
    *api_events.ENDPOINTS,
    *api_event_archive.ENDPOINTS,
    *api_reports.ENDPOINTS,
    *api_minutes.ENDPOINTS,
]
ACTIONS = actions.table(
    session_actions.ACTIONS,
    board_actions.ACTIONS,
    breakout_actions.ACTIONS,
    call_actions.ACTIONS,
    poll_actions.ACTIONS,
    question_actions.ACTIONS,
    stage_actions.ACTIONS,
    minutes_actions.ACTIONS,
)
JOBS = (
    jobs.Every(CHECKPOINT_EVERY, "checkpoint", jobs.checkpoint),
    jobs.Every(1.0, "collect", collector.collect_when_quiet),
    jobs.Every(jobs.CLOCK_INTERVAL, "breakout clock", jobs.keep_time),
)
_FEATURES = (
    session_screens,
    board_screens,
    breakout_screens,
    poll_screens,
    question_screens,
    participant_screens,
    stage_screens,
    console_screens,
)


SCREENS = Screens(
    panels=tuple(p for f in _FEATURES for p in f.PANELS),
    summaries={k: v for f in _FEATURES for k, v in f.SUMMARIES.items()},
    placer=breakout.room_of,
    many_placer=breakout.rooms_of_people,
    replies={k: v for f in _FEATURES for k, v in f.REPLIES.items()},
    forms={k: v for f in _FEATURES for k, v in f.FORMS.items()},
)

COOKIE_NAME = "samla"
COOKIE_MAX_AGE = 30 * 24 * 3600
# No inline script, no third party: htmx and its ws extension are served from /static.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    # Moderator links carry their key in the URL: never send it to another site. (With
    # no-referrer, Chromium would send "Origin: null" on our own forms.)
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]


# Only ever sent over https (a browser ignores it on http anyway): a year, so a visitor who
# once reached Samla over https never again sends its cookie over plain http.
HSTS = (b"strict-transport-security", b"max-age=31536000")


def is_https(scope: Scope) -> bool:
    """Whether the browser reached Samla over https. Behind a proxy, uvicorn's proxy headers
    set the scheme from X-Forwarded-Proto when the proxy is trusted (FORWARDED_ALLOW_IPS)."""
    return scope.get("scheme") in ("https", "wss")


class SecurityHeaders:
    def __init__(
        self,
        app: ASGIApp,
        headers: list[tuple[bytes, bytes]] | None = None,
        by_path: list[tuple[re.Pattern[str], list[tuple[bytes, bytes]]]] | None = None,
    ) -> None:
        self.app = app
        # The pages' own (live/calls.py adds what framing a call needs): else the base.
        self.headers = SECURITY_HEADERS if headers is None else headers
        # Addresses that send others instead (live/calls.py: the framed call's).
        self.by_path = by_path or []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        own = next((h for path, h in self.by_path if path.fullmatch(scope["path"])), None)
        chosen = self.headers if own is None else own
        headers = [*chosen, HSTS] if is_https(scope) else chosen

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *headers]
            await send(message)

        await self.app(scope, receive, with_headers)


class SessionCookie:
    """Starlette's signed session cookie, marked Secure when the request came over https,
    or always when every allowed origin is https. Starlette's middleware takes `https_only`
    once, so there is one of each and the request's scheme chooses."""

    def __init__(self, app: ASGIApp, secret_key: str, *, always_secure: bool) -> None:
        options: dict[str, Any] = {
            "secret_key": secret_key,
            "session_cookie": COOKIE_NAME,
            "max_age": COOKIE_MAX_AGE,
            "same_site": "lax",
        }
        self.plain = SessionMiddleware(app, https_only=always_secure, **options)
        self.secure = SessionMiddleware(app, https_only=True, **options)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        chosen = self.secure if is_https(scope) else self.plain
        await chosen(scope, receive, send)


class OddPaths:
    """A path with a control character (a NUL byte, which PostgreSQL cannot even compare)
    names nothing Samla has: not found, before any route or query sees it."""

    ODD = re.compile(r"[\x00-\x1f\x7f]")

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan" or not self.ODD.search(scope["path"]):
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": ""})
        elif scope["path"].startswith("/api/"):
            body = error_body("not_found", "Nothing is at that address.")
            await JSONResponse(body, 404)(scope, receive, send)
        else:
            await PlainTextResponse("This page does not exist.", 404)(scope, receive, send)


class Direct:
    """Bearer clients go straight to the API, past the browser's cookie middleware and the
    pages' routes: a vote storm is thousands of them a second, each paying for every layer
    it passes. Bearer event streams go straight to their endpoint, which matters for
    memory too: thousands stay open for hours, and every layer they pass through keeps a
    frame alive for as long as they do (about 2 KiB each). Requests without a Bearer token
    (a browser's, authorised by its cookie) take the ordinary way."""

    STREAM = re.compile(r"/api/v1/sessions/([^/]+)/events")

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # The API's own routes, their errors in the API's shape, the security headers; a large
        # answer (an archive's JSON, a list) compressed like the pages, a small one as it is.
        self.api = GZipMiddleware(
            SecurityHeaders(
                ExceptionMiddleware(
                    Router(routes=[r for r in api.routes(ENDPOINTS) if isinstance(r, Route)]),
                    handlers={HTTPException: _http_error},
                )
            ),
            compresslevel=assets.PAGE_GZIP_LEVEL,
            exclude_content_types=assets.NOT_GZIPPED,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan" and any(
            name == b"authorization" for name, _ in scope["headers"]
        ):
            if scope["type"] == "http" and scope["path"].startswith("/api/"):
                # url_for still finds every route (a new session's join page, say).
                scope.setdefault("router", scope["app"].router)
                await self.api(scope, receive, send)
                return
            found = self.STREAM.fullmatch(scope["path"])
            if scope["type"] == "websocket" and found is not None:
                scope["path_params"] = {"sid": found[1]}
                await event_stream(WebSocket(scope, receive, send))
                return
        await self.app(scope, receive, send)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    codes = {404: "not_found", 405: "invalid", 401: "unauthorized", 403: "forbidden"}
    if request.url.path.startswith("/api/"):
        code = codes.get(exc.status_code, "invalid")
        return JSONResponse(error_body(code, str(exc.detail)), exc.status_code)
    if exc.status_code == 404:
        return session_pages.page(request, "error.html", 404, message="This page does not exist.")
    return PlainTextResponse(str(exc.detail), exc.status_code)


async def _server_error(request: Request, exc: Exception) -> Response:
    log.error("unexpected error on %s", request.url.path, exc_info=exc)
    message = "Something went wrong on our side; please try again."
    if request.url.path.startswith("/api/"):
        return JSONResponse(error_body("error", message), 500)
    return PlainTextResponse(message, 500)


async def health(request: Request) -> Response:
    """200 while this instance can take writes, which it can without Redis (the store is
    the truth): a load balancer keeps it in rotation. The body says what is degraded:
    `{"status": "degraded", "redis": "unreachable"}` while fan-out between instances,
    presence and shared rate limits wait for Redis ("redis": "unused" without REDIS_URL)."""
    samla: Samla = request.app.state.samla
    redis = "unused"
    if samla.settings.redis_url is not None:
        up = samla.hub.broker.reachable() and await samla.limiter.reachable()
        redis = "ok" if up else "unreachable"
    status = "degraded" if redis == "unreachable" else "ok"
    body = {"ok": True, "status": status, "redis": redis, "sockets": samla.hub.count_local()}
    return JSONResponse(body)


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()
    templates = Templates(time_zone=settings.time_zone)
    calls.offer(templates, settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if settings.migrate:
            await asyncio.to_thread(migrate, settings.database_url)
        store = Store(settings.database_url)
        broker = broker_for(settings.redis_url)
        hub = Hub(
            store,
            SCREENS,
            broker,
            templates,
            tick=settings.tick,
            outbox_limit=settings.outbox_limit,
            slow_socket_timeout=settings.slow_socket_timeout,
            reconcile_interval=settings.reconcile_interval,
        )
        app.state.minutes = minutes_sockets.open_desk(store, hub)
        limiter = Limiter(settings.redis_url)
        try:
            await hub.start()
            samla = Samla(settings, store, hub, templates, limiter, ACTIONS)
            app.state.samla = samla
            # The archive's retention: closed sessions are deleted RETENTION_DAYS after closing.
            async with jobs.running(samla, JOBS), retention.running(samla):
                collector.settle()
                yield
        finally:
            await mail.drain()  # the mails on their way are sent, not cut off
            app.state.minutes.stop()
            await hub.stop()
            await limiter.close()
            await store.close()

    routes = [
        *api.routes(ENDPOINTS),
        *minutes_sockets.routes(),
        *session_pages.routes(),
        *breakout_pages.routes(),
        *call_pages.routes(),
        *stage_pages.routes(),
        *event_pages.routes(),
        *organiser_pages.routes(),
        *registration_pages.routes(),
        *report_editor_pages.routes(),
        *statement_pages.routes(),
        *api_doc.routes(ENDPOINTS),
        Route("/healthz", health),
        Mount("/static", assets.StaticAssets(), name="static"),
    ]
    middleware = [
        Middleware(OddPaths),
        Middleware(Direct),
        # Inside Direct: a bearer event stream, open for hours, keeps no frame of it alive.
        # Pages and JSON are gzipped; static files come gzipped already, sockets never are.
        Middleware(
            GZipMiddleware,
            compresslevel=assets.PAGE_GZIP_LEVEL,
            exclude_content_types=assets.NOT_GZIPPED,
        ),
        Middleware(
            SecurityHeaders,
            headers=calls.security_headers(SECURITY_HEADERS, settings),
            by_path=calls.framed_headers(SECURITY_HEADERS, settings),
        ),
        Middleware(
            SessionCookie,
            secret_key=settings.secret_key,
            always_secure=settings.served_over_https,
        ),
    ]
    return Starlette(
        routes=routes,
        middleware=middleware,
        lifespan=lifespan,
        exception_handlers={HTTPException: _http_error, Exception: _server_error},
    )
