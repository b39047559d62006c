"""Fixtures: a real Samla served by uvicorn on 127.0.0.1, a real redis-server, API factories."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import httpx._transports.default as httpx_transports
import pytest
import uvicorn
import websockets
from sqlalchemy import select
from uvicorn._compat import asyncio_run

from live.app import create_app
from live.cli import uvicorn_options
from live.settings import Settings
from live.store import Store, migrate
from rooms import accounts
from rooms.models import Organiser

ORGANISER_EMAIL = "organiser@samla.test"
ORGANISER_PASSWORD = "a long test password"
# A served Samla stops within this many seconds, or its test fails saying where it was.
STOP_WITHIN = 20.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- redis ------------------------------------------------------------------------------------


@dataclass
class RedisServer:
    port: int
    directory: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed; `make test` installs it")
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        pytest.fail("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


def pytest_configure(config: pytest.Config) -> None:
    """httpx builds a TLS context for every client it makes, parsing the whole CA bundle
    (about 70 ms); the tests make hundreds of clients, all to plain http on 127.0.0.1. The
    default context is built once and shared (a context is safe to share); a test that asks
    for another (its own CA, no verification) still gets its own."""
    original = httpx_transports.create_ssl_context
    built: dict[bool, Any] = {}

    def shared(verify: Any = True, cert: Any = None, trust_env: bool = True) -> Any:
        if verify is not True or cert is not None:
            return original(verify=verify, cert=cert, trust_env=trust_env)
        if trust_env not in built:
            built[trust_env] = original(verify=True, cert=None, trust_env=trust_env)
        return built[trust_env]

    httpx_transports.create_ssl_context = shared


# Fixtures that start a real server: any test that uses one, directly or through another
# fixture, is marked for it, so `-m "not redis"` on a machine without redis-server skips
# exactly the tests that would fail there (`redis` is test_instances' own redis-server).
NEEDS_REDIS = frozenset({"redis_server", "own_redis"})
NEEDS_POSTGRES = frozenset({"postgres"})


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        callspec = getattr(item, "callspec", None)
        params = callspec.params if callspec is not None else {}
        if used & NEEDS_REDIS or params.get("broker_kind") == "redis":
            item.add_marker(pytest.mark.redis)
        if used & NEEDS_POSTGRES:
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(free_port(), tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test's own, to stop and start again on the same port."""
    server = RedisServer(free_port(), tmp_path)
    server.start()
    yield server
    server.stop()


# -- a served Samla ---------------------------------------------------------------------------


@dataclass
class Served:
    """One Samla instance served by uvicorn in a thread of the test process."""

    settings: Settings
    port: int
    app: Any = None
    server: uvicorn.Server | None = None
    thread: threading.Thread | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    failure: BaseException | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_base(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def samla(self) -> Any:
        return self.app.state.samla

    async def run(self, make: Callable[[], Awaitable[Any]]) -> Any:
        """Runs a coroutine on the server's own loop (its store and hub live there)."""
        loop = self.samla.hub._tasks[0].get_loop()
        future = asyncio.run_coroutine_threadsafe(_call(make), loop)
        return await asyncio.wrap_future(future)

    def start(self) -> None:
        self.app = create_app(self.settings)
        options = uvicorn_options(self.settings, "127.0.0.1", self.port)
        options["log_level"] = "warning"
        options["timeout_graceful_shutdown"] = 1
        # An idle keep-alive connection closed by the server just as a test's client reuses
        # it fails the request (httpx's ReadError); a test's clients live for the test only.
        options["timeout_keep_alive"] = 120
        config = uvicorn.Config(self.app, **options)  # type: ignore[arg-type]
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self._serve, args=(config,), daemon=True, name=f"samla-{self.port}"
        )
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("Samla did not start")
            time.sleep(0.02)

    def _serve(self, config: uvicorn.Config) -> None:
        """The server's thread: how it ended is kept for `stop` to raise, in the test whose
        server it was (an exception left to the thread would be reported in whichever test
        runs when the thread ends)."""
        try:
            asyncio_run(self._serve_then_close(), loop_factory=config.get_loop_factory())
        except BaseException as exc:
            self.failure = exc

    async def _serve_then_close(self) -> None:
        assert self.server is not None
        await self.server.serve()
        # A connection uvicorn's shutdown gave up on (its graceful period is short here) is
        # closed before the loop is: uvloop will not close a loop with a transport open.
        for connection in list(self.server.server_state.connections):
            transport = getattr(connection, "transport", None)
            if transport is not None:
                transport.abort()
        await asyncio.sleep(0)

    def stop(self) -> None:
        if self.server is None or self.thread is None:
            return
        self.server.should_exit = True
        self.thread.join(timeout=STOP_WITHIN)
        if self.thread.is_alive():
            # Stuck: where, for the report, before uvicorn is told to give up waiting.
            frame = sys._current_frames().get(self.thread.ident or -1)
            stack = "".join(traceback.format_stack(frame)) if frame is not None else "?"
            self.server.force_exit = True
            self.thread.join(timeout=STOP_WITHIN)
            raise RuntimeError(
                f"Samla on port {self.port} did not stop within {STOP_WITHIN} s; "
                f"its thread was at:\n{stack}"
            )
        if self.failure is not None:
            raise RuntimeError(f"Samla on port {self.port} failed") from self.failure


async def _call(make: Callable[[], Awaitable[Any]]) -> Any:
    return await make()


def make_settings(tmp_path: Path, redis_url: str | None = None, **overrides: Any) -> Settings:
    base = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'samla.db'}",
        redis_url=redis_url,
        secret_key="test-secret-key-long-enough",
        reconcile_interval=1.0,
        tick=0.05,
    )
    return replace(base, **overrides)


@pytest.fixture(params=[pytest.param("memory", id="memory")])
def broker_kind(request: pytest.FixtureRequest) -> str:
    """Overridden with both backends by tests that are about the broker."""
    return str(request.param)


@pytest.fixture(scope="session")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database at the newest schema, made once per test process: each test's
    Samla starts from a copy, and its own migration run then finds nothing to do (a
    migration run from nothing costs about half a second of CPU, on every test)."""
    path = tmp_path_factory.mktemp("migrated") / "samla.db"
    migrate(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture
def served_factory(tmp_path: Path, migrated: Path) -> Iterator[Callable[..., Served]]:
    started: list[Served] = []

    def start(redis_url: str | None = None, **overrides: Any) -> Served:
        settings = make_settings(tmp_path, redis_url, **overrides)
        fresh = tmp_path / "samla.db"
        if settings.database_url == f"sqlite+aiosqlite:///{fresh}" and not fresh.exists():
            shutil.copyfile(migrated, fresh)
        served = Served(settings, free_port())
        served.start()
        started.append(served)
        return served

    yield start
    for served in reversed(started):
        served.stop()


@pytest.fixture
def served(
    served_factory: Callable[..., Served], broker_kind: str, request: pytest.FixtureRequest
) -> Served:
    redis_url = None
    if broker_kind == "redis":
        redis_url = request.getfixturevalue("redis_server").url
    return served_factory(redis_url)


# -- the API ----------------------------------------------------------------------------------


class Api:
    """A thin client of the public API, with the factories tests build on."""

    def __init__(self, served: Served, client: httpx.AsyncClient) -> None:
        self.served = served
        self.client = client
        self._organiser: str | None = None

    async def organiser_token(self) -> str:
        if self._organiser is None:
            store: Store = self.served.samla.store

            async def add() -> None:
                async with store.write() as db:
                    found = await db.scalar(
                        select(Organiser).where(Organiser.email == ORGANISER_EMAIL)
                    )
                    if found is None:
                        await accounts.add_organiser(db, ORGANISER_EMAIL, ORGANISER_PASSWORD)

            await self.served.run(add)
            r = await self.client.post(
                "/api/v1/auth/token",
                json={"email": ORGANISER_EMAIL, "password": ORGANISER_PASSWORD},
            )
            assert r.status_code == 200, r.text
            self._organiser = r.json()["token"]
        return self._organiser

    async def call(
        self, method: str, path: str, token: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return await self.client.request(method, path, headers=headers, **kwargs)

    async def make_session(
        self, title: str = "Samverkan i praktiken", attributes: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"title": title}
        if attributes is not None:
            body["attributes"] = attributes
        r = await self.call("POST", "/api/v1/sessions", await self.organiser_token(), json=body)
        assert r.status_code == 201, r.text
        result: dict[str, Any] = r.json()
        return result

    async def join(
        self,
        session: dict[str, Any],
        name: str | None = None,
        attributes: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"code": session["code"]}
        if name is not None:
            body["name"] = name
        if attributes is not None:
            body["attributes"] = attributes
        r = await self.call("POST", "/api/v1/join", json=body)
        assert r.status_code == 201, r.text
        result: dict[str, Any] = r.json()
        return result


@pytest.fixture
async def api(served: Served) -> AsyncIterator[Api]:
    async with httpx.AsyncClient(base_url=served.base, timeout=30) as client:
        yield Api(served, client)


# -- the event stream -------------------------------------------------------------------------


class Stream:
    """A JSON event-stream client that keeps every frame it receives."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.frames: list[dict[str, Any]] = []

    async def next(self, timeout: float = 5.0) -> dict[str, Any]:
        frame: dict[str, Any] = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
        self.frames.append(frame)
        return frame

    async def until(
        self, check: Callable[[dict[str, Any]], bool], timeout: float = 5.0
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no matching frame; last: {self.frames[-3:]}")
            frame = await self.next(left)
            if check(frame):
                return frame

    async def send(self, body: dict[str, Any] | str) -> None:
        await self.ws.send(body if isinstance(body, str) else json.dumps(body))


def open_stream(served: Served) -> Callable[..., Any]:
    @asynccontextmanager
    async def opener(
        session_id: str, token: str | None, headers: dict[str, str] | None = None
    ) -> AsyncIterator[Stream]:
        all_headers = dict(headers or {})
        if token:
            all_headers["Authorization"] = f"Bearer {token}"
        url = f"{served.ws_base}/api/v1/sessions/{session_id}/events"
        async with websockets.connect(
            url, additional_headers=all_headers, max_size=2**22, compression=None
        ) as ws:
            yield Stream(ws)

    return opener


@pytest.fixture
def stream(served: Served) -> Callable[..., Any]:
    return open_stream(served)


async def eventually(
    check: Callable[[], Awaitable[bool]], timeout: float = 5.0, every: float = 0.05
) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(every)


# -- processes ----------------------------------------------------------------------------


def samla_process(port: int, env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    """A real `samla serve` in its own process (for tests about several instances); its
    output goes to `log`, which the test can show when it fails."""
    full = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "live.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=full,
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def wait_healthy(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"samla on port {port} did not become healthy")


# -- the browser ------------------------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-gpu",
    "--no-first-run",
    "--disable-sync",
]


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    """Debian's headless Chromium, driven by Playwright (never a downloaded browser)."""
    from playwright.async_api import async_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed; `make test` installs it")
    async with async_playwright() as p:
        launched = await p.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            await launched.close()


# -- mail ---------------------------------------------------------------------------------------


class Mailbox:
    """An SMTP server's handler (aiosmtpd) in the test process that keeps what it receives."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        assert isinstance(envelope.content, bytes)
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 Message accepted for delivery"

    def sent(self) -> list[tuple[str, str]]:
        """Each message's recipient and text, in the order they came."""
        out = []
        for m in self.messages:
            body = m.get_body()
            assert body is not None
            out.append((str(m["To"]), str(body.get_content())))
        return out

    def to(self, address: str) -> list[str]:
        """The text of every message sent to this address, in the order they came."""
        return [text for to, text in self.sent() if to == address]


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    """A real SMTP server on 127.0.0.1, and its port (for SMTP_URL)."""
    from aiosmtpd.controller import Controller

    handler, port = Mailbox(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


# -- postgresql ---------------------------------------------------------------------------


@dataclass
class Postgres:
    port: int
    directory: Path
    user: str = "samla"

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://{self.user}@127.0.0.1:{self.port}/{database}"

    async def new_database(self) -> str:
        """The URL of a new, empty database on this cluster."""
        name = f"samla_{next(_databases)}"
        conn = await asyncpg.connect(
            host="127.0.0.1", port=self.port, user=self.user, database="postgres"
        )
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        return self.url(name)


_databases = itertools.count()


def _as_postgres(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run its tools as the `postgres` system user."""
    if os.geteuid() == 0:
        return ["su", "postgres", "-s", "/bin/sh", "-c", " ".join(cmd)]
    return cmd


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not found:
        pytest.fail("PostgreSQL is not installed; `make test` installs it")
    bin_dir = found[-1].parent
    # Not under pytest's temporary folder: the postgres user cannot enter root's.
    data = Path(tempfile.mkdtemp(prefix="samla-pg-"))
    if os.geteuid() == 0:
        shutil.chown(data, "postgres")
    server = Postgres(free_port(), data)
    subprocess.run(
        _as_postgres([str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", server.user]),
        check=True,
        capture_output=True,
    )
    subprocess.run(
        _as_postgres(
            [
                str(bin_dir / "pg_ctl"),
                "-D",
                str(data),
                "-w",
                "-o",
                f"'-p {server.port} -k {data} -c fsync=off'",
                "-l",
                str(data / "log"),
                "start",
            ]
        ),
        check=True,
        capture_output=True,
    )
    try:
        yield server
    finally:
        subprocess.run(
            _as_postgres([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"]),
            capture_output=True,
        )


# -- what people's screens are checked at ------------------------------------------------------

PHONE = {"width": 360, "height": 740}
CONSOLE = {"width": 1280, "height": 800}
STAGE = {"width": 1920, "height": 1080}
STAGE_SMALL = {"width": 1280, "height": 720}


async def axe_violations(page: Any) -> list[str]:
    """axe-core's violations of any impact on the page as it stands, one line each
    ("rule: the first offending element"); an empty list when there are none."""
    from axe_playwright_python.async_playwright import Axe

    results = await Axe().run(page)
    found = []
    for v in results.response.get("violations", []):
        target = v["nodes"][0]["target"] if v.get("nodes") else ""
        found.append(f"{v['id']} ({v.get('impact')}): {target}")
    return found
