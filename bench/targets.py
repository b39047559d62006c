"""The two servers the storm is run against: a real `samla serve`, and the bare baseline.

Each is started as its own process on 127.0.0.1 with a fresh state, prepared (accounts,
a session, N participants, an open single-choice poll), and told what a vote is and how
to read the counted total afterwards. The load itself comes from the driver process."""

from __future__ import annotations

import asyncio
import os
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from bench import upvotes
from bench.wire import (
    Http,
    HttpError,
    Progress,
    Stream,
    joined_progress,
    version_progress,
    voters_progress,
)

ROOT = Path(__file__).resolve().parent.parent
OPTIONS = ["Tillit", "Samverkan", "Öppenhet", "Mod"]
ORGANISER = "bench@samla.test"
PASSWORD = "a long benchmark password"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_kib(pid: int) -> int:
    """The process's resident set size, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


REPORTS = Path(__file__).resolve().parent / "reports"
T = TypeVar("T")


async def bounded(target: Target, stamp: str, deadline: float, work: Awaitable[T]) -> T:
    """One server's measurement within its deadline; the server is stopped whatever happens,
    and its own log (errors, access lines) kept beside the report."""
    try:
        return await asyncio.wait_for(work, deadline)
    except TimeoutError:
        raise SystemExit(
            f"bench: {target.name} did not finish within {deadline:.0f} s\n{target.log_tail()}"
        ) from None
    finally:
        await asyncio.to_thread(target.stop)
        if target.log_path is not None and target.log_path.exists():
            REPORTS.mkdir(exist_ok=True)
            shutil.copyfile(target.log_path, REPORTS / f"{stamp}-{target.name}.log")


async def gather_limited(limit: int, jobs: list[Any]) -> list[Any]:
    """Runs coroutines with at most `limit` at a time, in order of the list."""
    sem = asyncio.Semaphore(limit)

    async def one(job: Any) -> Any:
        async with sem:
            return await job

    return await asyncio.gather(*(one(j) for j in jobs))


def raise_fd_limit(needed: int) -> None:
    """Every stream and every vote in flight is a file descriptor of the driver."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        wanted = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        soft = wanted
    if soft < needed:
        raise SystemExit(f"bench: needs {needed} open files, the limit is {soft}")


@dataclass
class Vote:
    method: str
    path: str
    body: Any
    token: str | None
    client: str | None = None


def address_of(i: int) -> str:
    """A distinct client address per simulated participant: Samla limits joins per address
    (a venue's NAT gets a hall's worth), and the storm is a whole country's phones."""
    return f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"


@dataclass
class Target:
    """A server under test: its process, its ports, and the storm's requests."""

    name: str
    workdir: Path
    host: str = "127.0.0.1"
    ws_port: int = field(default_factory=free_port)
    http_port: int = 0
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    tokens: list[str | None] = field(default_factory=list)
    option_ids: list[str] = field(default_factory=list)
    progress: Progress | None = None
    stream_path: str = "/"
    stream_kind: type[Stream] = Stream  # the client side of the server's stream protocol
    expected_progress: int = 0  # the progress number every snapshot should show

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def _spawn(self, argv: list[str], env: dict[str, str]) -> None:
        self.log_path = self.workdir / f"{self.name}.log"
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            argv,
            cwd=ROOT,
            env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()

    def stream_port(self, i: int) -> int:
        """The port participant i's stream opens on (several instances: spread over them)."""
        return self.ws_port

    def vote_port(self, i: int) -> int:
        """The port participant i's vote goes to."""
        return self.http_port

    def pids(self) -> list[int]:
        """The server's processes: their memory and CPU are the server's."""
        return [self.pid]

    def rss(self) -> int:
        return sum(rss_kib(pid) for pid in self.pids())

    def cpu(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.pids())

    def services_cpu(self) -> float:
        """CPU of the services the server runs on (Redis, PostgreSQL), if any."""
        return 0.0

    def log_tail(self, lines: int = 30) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    async def _wait_http(self, path: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.log_tail()}")
            http = Http(self.host, self.http_port)
            try:
                status, _ = await http.request("GET", path)
                if status == 200:
                    return
            except (OSError, HttpError):
                pass
            finally:
                http.close()
            await asyncio.sleep(0.1)
        raise RuntimeError(f"{self.name} did not start:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)

    # -- what each server does -----------------------------------------------------------

    async def start(self) -> None:
        raise NotImplementedError

    async def prepare(self, n: int, scenario: str) -> None:
        raise NotImplementedError

    def vote(self, i: int) -> Vote:
        raise NotImplementedError

    def choice(self, i: int) -> str:
        return self.option_ids[i % len(self.option_ids)]

    async def counted(self, http: Http) -> tuple[int, dict[str, int]]:
        """The server's own count after the storm: voters and per-option counts."""
        raise NotImplementedError


class Baseline(Target):
    def __init__(self, workdir: Path, tick: float) -> None:
        super().__init__("baseline", workdir)
        self.http_port = free_port()
        self.tick = tick
        self.stream_path = "/events"

    async def start(self) -> None:
        self._spawn(
            [
                sys.executable,
                "-m",
                "bench.baseline",
                "--port",
                str(self.ws_port),
                "--vote-port",
                str(self.http_port),
                "--tick",
                str(self.tick),
                "--options",
                str(len(OPTIONS)),
            ],
            {},
        )
        await self._wait_http("/results")

    async def prepare(self, n: int, scenario: str) -> None:
        self.tokens = [None] * n
        self.option_ids = [f"o{i}" for i in range(len(OPTIONS))]
        if scenario in ("votes", "upvotes"):  # an upvote is counted as a vote for one option
            self.progress = voters_progress("baseline-poll")
        else:  # the counter's version starts at 1 and rises by one per vote
            self.progress = version_progress(1)

    def vote(self, i: int) -> Vote:
        return Vote("POST", "/vote", {"choices": [self.choice(i)]}, None)

    async def counted(self, http: Http) -> tuple[int, dict[str, int]]:
        found = await http.json("GET", "/results")
        return int(found["voters"]), {o["id"]: int(o["count"]) for o in found["options"]}


class SamlaServer(Target):
    """`python -m live.cli serve` with a fresh SQLite file; votes through the public API."""

    def __init__(
        self,
        workdir: Path,
        instrument: bool = False,
        switch_interval: float | None = None,
        trace_memory: bool = False,
    ) -> None:
        super().__init__("samla", workdir)
        self.http_port = self.ws_port
        self.env = {
            "DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'samla.db'}",
            "SECRET_KEY": secrets.token_urlsafe(32),
        }
        self.instrument = instrument or switch_interval is not None or trace_memory
        self.trace_memory = trace_memory
        self.stats_path = workdir / "samla-stats.json"
        if self.instrument:
            self.env["SAMLA_BENCH_STATS"] = str(self.stats_path)
        if switch_interval is not None:
            self.env["SAMLA_BENCH_SWITCH_INTERVAL"] = str(switch_interval)
        if trace_memory:
            self.env["SAMLA_BENCH_TRACEMALLOC"] = "1"
        self.session: dict[str, Any] = {}
        self.poll_id = ""
        self.scenario = "votes"
        self.base_joined = 0
        self.base_placed = 0
        self.placed = -1  # the join storm's joiners seated in a room
        self.board_id = ""  # the upvote storm's board and note (bench/upvotes.py)
        self.note_id = ""

    async def start(self) -> None:
        add = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "live.cli", "organiser", "add", ORGANISER],
            input=(PASSWORD + "\n").encode(),
            cwd=ROOT,
            capture_output=True,
            timeout=120,
            env={**os.environ, **self.env},
        )
        if add.returncode != 0:
            raise RuntimeError(f"samla organiser add failed: {add.stdout!r} {add.stderr!r}")
        module = ["bench.instrumented"] if self.instrument else ["live.cli", "serve"]
        self._spawn(
            [sys.executable, "-m", *module, "--host", self.host, "--port", str(self.ws_port)],
            self.env,
        )
        await self._wait_http("/healthz")

    async def prepare(self, n: int, scenario: str) -> None:
        self.scenario = scenario
        http = Http(self.host, self.http_port)
        try:
            organiser = (
                await http.json(
                    "POST", "/api/v1/auth/token", {"email": ORGANISER, "password": PASSWORD}
                )
            )["token"]
            self.session = await http.json(
                "POST", "/api/v1/sessions", {"title": "Vote storm"}, organiser
            )
        finally:
            http.close()
        sid = self.session["id"]
        self.stream_path = f"/api/v1/sessions/{sid}/events"
        self.tokens = await self._join(n)
        moderator = self.session["moderator_token"]
        http = Http(self.host, self.http_port)
        try:
            if scenario == "votes":
                poll = await http.json(
                    "POST",
                    f"/api/v1/sessions/{sid}/polls",
                    {
                        "question": "Vad bär samverkan?",
                        "kind": "single",
                        "options": OPTIONS,
                        "show_results": "live",
                    },
                    moderator,
                )
                self.poll_id = poll["id"]
                self.option_ids = [o["id"] for o in poll["options"]]
                await http.json("POST", f"/api/v1/polls/{self.poll_id}/open", None, moderator)
                self.progress = voters_progress(self.poll_id)
            elif scenario == "upvotes":
                await upvotes.prepare(self, http, moderator)
            else:
                if scenario == "joins":
                    # Rooms are open while the hall arrives: every joiner is placed at once.
                    rooms = await http.json(
                        "POST",
                        f"/api/v1/sessions/{sid}/rooms",
                        {"count": max(2, n // 10), "assignment": "random"},
                        moderator,
                    )
                    self.base_placed = sum(len(r["participant_ids"]) for r in rooms["rooms"])
                described = await http.json("GET", f"/api/v1/sessions/{sid}", None, moderator)
                self.base_joined = int(described["participants"])
                self.option_ids = ["-"]
                self.progress = joined_progress(self.base_joined)
        finally:
            http.close()

    async def _join(self, n: int, concurrency: int = 16) -> list[str | None]:
        conns = [Http(self.host, self.http_port) for _ in range(concurrency)]
        free: asyncio.Queue[Http] = asyncio.Queue()
        for c in conns:
            free.put_nowait(c)

        async def join_one(i: int) -> str:
            http = await free.get()
            try:
                joined = await http.json(
                    "POST", "/api/v1/join", {"code": self.session["code"]}, client=address_of(i)
                )
                return str(joined["token"])
            finally:
                free.put_nowait(http)

        try:
            return list(await gather_limited(concurrency, [join_one(i) for i in range(n)]))
        finally:
            for c in conns:
                c.close()

    def vote(self, i: int) -> Vote:
        if self.scenario == "upvotes":
            return upvotes.vote(self, i)
        if self.scenario == "votes":
            return Vote(
                "POST",
                f"/api/v1/polls/{self.poll_id}/votes",
                {"choices": [self.choice(i)]},
                self.tokens[i],
            )
        return Vote("POST", "/api/v1/join", {"code": self.session["code"]}, None, address_of(i))

    async def counted(self, http: Http) -> tuple[int, dict[str, int]]:
        moderator = self.session["moderator_token"]
        if self.scenario == "upvotes":
            return await upvotes.counted(self, http)
        if self.scenario == "votes":
            found = await http.json("GET", f"/api/v1/polls/{self.poll_id}/results", None, moderator)
            return int(found["voters"]), {o["id"]: int(o["count"]) for o in found["options"]}
        described = await http.json(
            "GET", f"/api/v1/sessions/{self.session['id']}", None, moderator
        )
        joined = int(described["participants"]) - self.base_joined
        if self.scenario == "joins":
            seated = sum(len(r["participant_ids"]) for r in described["rooms"])
            self.placed = seated - self.base_placed
        return joined, {"-": joined}
