"""The video services that rooms' calls run on: Jitsi Meet (with or without token
authentication), any service reached by a link per call, and BigBlueButton.

Samla is not a video server. Each breakout room (and, when the moderator wants one, the
plenary) gets its own call on the one service the organiser configures; a person asks Samla
for their room's call and is sent there with a link made for them. A call's name is an HMAC
of the session and the room under SECRET_KEY: the same for everyone in the room, stable
across instances and restarts, and not to be guessed from another room's."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache, partial
from typing import Protocol
from urllib.parse import quote, urlencode, urlsplit

import jwt
from cachetools import TTLCache

from live.settings import Settings
from live.templating import Templates
from rooms.errors import Refused

# A link is made when a person asks for it and used at once; a token that outlived the day
# would let a forwarded link into the call long after its room closed. Four hours covers a
# long session (Jitsi checks the token when the person joins, not while they stay).
TOKEN_LIFETIME = 4 * 3600
# The service's clock may run a little behind Samla's: the token is good from a minute ago.
CLOCK_SKEW = 60
CALL_PREFIX = "samla-"
CALL_NAME_CHARS = 20  # base32: 100 bits, not to be guessed
# How long BigBlueButton has to answer `create` before the person is told to try again.
BBB_TIMEOUT = 5.0
# A call this instance made is not made again for this long, however many ask: when rooms
# open everyone clicks at once. Short, because BigBlueButton ends a meeting nobody joined
# within minutes, or a minute after the last person left; the next link then makes it again.
CREATED_FOR = 30.0
CREATED_MAX = 10_000  # calls remembered as made; past it, the oldest are made again
# BigBlueButton's `create` runs in threads of its own, so a slow or absent server keeps
# people waiting for their call, never the logins, archives and registrations that share
# asyncio's default threads.
CREATE_THREADS = 4
_CREATES = ThreadPoolExecutor(CREATE_THREADS, thread_name_prefix="samla-bbb-create")


class VideoService(Protocol):
    """A video service: where a person joins a call, as themselves."""

    @property
    def origin(self) -> str:
        """The service's origin (scheme, host, port): what the page may frame."""
        ...

    def url_for(self, call: str, name: str, is_moderator: bool) -> str:
        """The link that takes this person (their display name) into this call."""
        ...

    async def prepare(self, call: str, title: str) -> None:
        """Makes sure the call exists before anyone is sent to it (BigBlueButton)."""
        ...


def call_name(secret_key: str, session_id: str, room_id: str | None) -> str:
    """The call of a session's room (None: its plenary): "samla-" and 20 base32 letters."""
    message = f"samla call\x00{session_id}\x00{room_id or 'plenary'}".encode()
    mac = hmac.new(secret_key.encode(), message, hashlib.sha256).digest()
    return CALL_PREFIX + base64.b32encode(mac).decode().lower()[:CALL_NAME_CHARS]


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@dataclass(frozen=True)
class Jitsi:
    """A Jitsi Meet deployment: a call is a room there (`https://meet.example/<call>`). With
    token authentication each link carries `?jwt=`: HS256 under the app secret, for this
    call and this person only, expiring within hours."""

    base: str
    app_id: str | None = None
    secret: str | None = field(default=None, repr=False)
    lifetime: int = TOKEN_LIFETIME

    @property
    def origin(self) -> str:
        return _origin(self.base)

    @property
    def subject(self) -> str:
        """`sub`: the tenant of a deployment served under one (https://host/tenant), else
        the deployment's host, lower-cased as Jitsi compares it."""
        parts = urlsplit(self.base)
        tenant = parts.path.strip("/").rpartition("/")[2]
        return (tenant or parts.hostname or "").lower()

    def url_for(self, call: str, name: str, is_moderator: bool) -> str:
        room = f"{self.base.rstrip('/')}/{quote(call)}"
        if self.secret is None:
            # No token to carry the name: Jitsi reads it from the link's fragment, which
            # never reaches a server.
            return f"{room}#userInfo.displayName={quote(json.dumps(name))}"
        return f"{room}?jwt={self.token(call, name, is_moderator)}"

    def token(self, call: str, name: str, is_moderator: bool, now: float | None = None) -> str:
        moment = int(time.time() if now is None else now)
        user: dict[str, str] = {"name": name}
        claims: dict[str, object] = {
            "iss": self.app_id,
            "aud": "jitsi",
            "sub": self.subject,
            "room": call,
            "iat": moment,
            "nbf": moment - CLOCK_SKEW,
            "exp": moment + self.lifetime,
            "context": {"user": user},
        }
        if is_moderator:
            # Jitsi's token plugins differ in where they look: both say so.
            user["moderator"] = "true"
            claims["moderator"] = True
        assert self.secret is not None
        return jwt.encode(claims, self.secret, algorithm="HS256")

    async def prepare(self, call: str, title: str) -> None:
        """A Jitsi room exists once someone enters it."""


@dataclass(frozen=True)
class LinkTemplate:
    """Any other service whose link names the call: CALL_LINK_TEMPLATE with `{call}`."""

    template: str

    @property
    def origin(self) -> str:
        return _origin(self.template.replace("{call}", "call"))

    def url_for(self, call: str, name: str, is_moderator: bool) -> str:
        return self.template.replace("{call}", quote(call))

    async def prepare(self, call: str, title: str) -> None:
        """The service makes its call when the link is opened."""


class Once:
    """Makes each call at most once a while: whoever asks for a call being made waits on
    that one making, and a call made is not made again for `ttl` seconds; one that failed is
    made again by the next to ask. The making runs in `pool`. Thread-safe and tied to no
    event loop (an instance's service may be shared by loops in one process)."""

    def __init__(self, pool: ThreadPoolExecutor, ttl: float, size: int) -> None:
        self._pool = pool
        self._lock = threading.Lock()
        self._making: dict[str, Future[None]] = {}
        self._made: TTLCache[str, bool] = TTLCache(size, ttl)

    async def make(self, call: str, making: Callable[[], None]) -> None:
        with self._lock:
            if call in self._made:
                return
            future = self._making.get(call)
            if future is None:
                future = self._making[call] = self._pool.submit(self._run, call, making)
        waiting = asyncio.wrap_future(future)
        # A person who leaves before the call is made does not stop it for the others.
        waiting.add_done_callback(_seen)
        await asyncio.shield(waiting)

    def _run(self, call: str, making: Callable[[], None]) -> None:
        try:
            making()
            with self._lock:
                self._made[call] = True
        finally:
            with self._lock:
                del self._making[call]


def _seen(waiting: asyncio.Future[None]) -> None:
    """Its failure is told to whoever still waits; none is left unretrieved."""
    if not waiting.cancelled():
        waiting.exception()


@dataclass(frozen=True)
class BigBlueButton:
    """A BigBlueButton server (2.4.6 or later, for joining by role without a password):
    `create` makes the meeting (again harmlessly when it exists), then each person's `join`
    link names their role. Every API call carries the checksum of the call's name, its query
    and the shared secret. This instance makes each call once a while (`Once`), however
    many ask at once."""

    base: str
    secret: str = field(repr=False)
    checksum: str = "sha256"
    made: Once = field(
        default_factory=lambda: Once(_CREATES, CREATED_FOR, CREATED_MAX),
        compare=False,
        repr=False,
    )

    @property
    def origin(self) -> str:
        return _origin(self.base)

    def _api(self, call: str, params: Sequence[tuple[str, str]]) -> str:
        query = urlencode(params, quote_via=quote)
        digest = hashlib.new(self.checksum, f"{call}{query}{self.secret}".encode()).hexdigest()
        return f"{self.base.rstrip('/')}/api/{call}?{query}&checksum={digest}"

    def url_for(self, call: str, name: str, is_moderator: bool) -> str:
        role = "MODERATOR" if is_moderator else "VIEWER"
        params = [("fullName", name), ("meetingID", call), ("role", role), ("redirect", "true")]
        return self._api("join", params)

    def create_url(self, call: str, title: str) -> str:
        return self._api("create", [("name", title), ("meetingID", call), ("record", "false")])

    async def prepare(self, call: str, title: str) -> None:
        await self.made.make(call, partial(self._create, call, title))

    def _create(self, call: str, title: str) -> None:
        url = self.create_url(call, title)
        try:
            with urllib.request.urlopen(url, timeout=BBB_TIMEOUT) as answer:  # noqa: S310 (https, or http to localhost: checked at start)
                body = answer.read(64 * 1024)
        except (urllib.error.URLError, TimeoutError, OSError):
            raise _unreachable() from None
        if b"<returncode>SUCCESS</returncode>" not in body:
            raise _unreachable()


def _unreachable() -> Refused:
    return Refused("conflict", "The video service did not start the call; try again in a moment.")


@lru_cache(maxsize=8)
def service_for(settings: Settings) -> VideoService | None:
    """The configured service (settings check that at most one is); None: no calls."""
    if settings.jitsi_url:
        return Jitsi(settings.jitsi_url, settings.jitsi_app_id, settings.jitsi_app_secret)
    if settings.call_link_template:
        return LinkTemplate(settings.call_link_template)
    if settings.bbb_url and settings.bbb_secret:
        return BigBlueButton(settings.bbb_url, settings.bbb_secret, settings.bbb_checksum)
    return None


# -- what pages show, and what they may frame ---------------------------------------------------


@dataclass(frozen=True)
class Shown:
    """What templates know of calls (the global `calls`; None without a service): whether
    the call is framed in the room's page, and the service's origin it is framed from."""

    embed: bool
    origin: str


def shown(settings: Settings) -> Shown | None:
    service = service_for(settings)
    return None if service is None else Shown(settings.call_embed, service.origin)


def offer(templates: Templates, settings: Settings) -> None:
    """Tells every page's templates whether there are calls (the global `calls`). Set once
    per app, when it is assembled; panels are rendered for many and know no settings."""
    for env in templates._envs.values():
        env.globals["calls"] = shown(settings)


Header = tuple[bytes, bytes]


def security_headers(base: Sequence[Header], settings: Settings) -> list[Header]:
    """The pages' security headers. With calls framed in the room page, the CSP lets that
    one origin (and Samla's own link that leads there) be framed, and a Permissions-Policy
    lets it use the camera, microphone, screen sharing and full screen; otherwise they are
    the base headers, unchanged."""
    seen = shown(settings)
    if seen is None or not seen.embed:
        return list(base)
    out: list[Header] = []
    for name, value in base:
        if name == b"content-security-policy":
            value += f"; frame-src 'self' {seen.origin}".encode()
        out.append((name, value))
    allowed = f'(self "{seen.origin}")'
    features = ("camera", "microphone", "display-capture", "fullscreen")
    policy = ", ".join(f"{f}={allowed}" for f in features)
    out.append((b"permissions-policy", policy.encode()))
    return out


# Samla's own way into a room's call: the address the room page's frame loads.
FRAMED = re.compile(r"/rooms/[^/]+/call")


def framed_headers(
    base: Sequence[Header], settings: Settings
) -> list[tuple[re.Pattern[str], list[Header]]]:
    """The headers of the one address Samla's room page frames (with calls framed in it),
    by its path: what it answers (the way on to the service, or a page saying why not: the
    room closed, the service away) may be framed by Samla's own pages, so the person reads
    why rather than a refused frame. Every other page stays unframeable."""
    seen = shown(settings)
    if seen is None or not seen.embed:
        return []
    out: list[Header] = []
    for name, value in security_headers(base, settings):
        if name == b"content-security-policy":
            directives = [
                b"frame-ancestors 'self'" if d.startswith(b"frame-ancestors") else d
                for d in value.split(b"; ")
            ]
            value = b"; ".join(directives)
        elif name == b"x-frame-options":
            value = b"SAMEORIGIN"
        out.append((name, value))
    return [(FRAMED, out)]
