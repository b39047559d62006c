"""The services the distributed scenario runs Samla on: one Redis and one PostgreSQL, each
started fresh in a temporary directory on 127.0.0.1 and stopped whatever happens.

`Services` is a context manager: leaving it (normally, on an exception, on SIGINT or SIGTERM
of the driver) stops both and removes their directories. Redis runs as the driver's child
and dies with it; PostgreSQL's server is a daemon of `pg_ctl`, so it is also stopped at exit."""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from bench.targets import free_port

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the driver dies, however it dies."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class Redis:
    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise SystemExit("bench: redis-server is not installed (the distributed scenario)")
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
                "--maxclients",
                "1000",
                "--dir",
                str(self.directory),
            ],
            stdout=(self.directory / "redis.log").open("wb"),
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
        self.process = None


def _statement_kind(text: str) -> str:
    """A statement by what it does: its verb, its tables and its conditions' columns."""
    verb = text.split(None, 1)[0].upper() if text.strip() else "?"
    tables = re.findall(r"\b(?:FROM|JOIN|INTO|UPDATE)\s+\"?(\w+)", text, re.IGNORECASE)
    where = re.findall(r"(\w+\.\w+)\s*(?:=|IN|<|>)", text.split("WHERE", 1)[-1])
    parts = [verb, ",".join(dict.fromkeys(tables))]
    if "WHERE" in text:
        parts.append("where " + ",".join(dict.fromkeys(where))[:60])
    return " ".join(p for p in parts if p)


def _as_postgres(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: its tools run as the `postgres` system user then."""
    if os.geteuid() == 0:
        return ["su", "postgres", "-s", "/bin/sh", "-c", " ".join(cmd)]
    return cmd


class Postgres:
    user = "samla"
    database = "samla"

    def __init__(self) -> None:
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
        if not found:
            raise SystemExit("bench: PostgreSQL is not installed (the distributed scenario)")
        self.bin = found[-1].parent
        self.version = self.bin.parent.name
        self.port = free_port()
        # Not under root's private folders: the postgres user must enter it.
        self.directory = Path(tempfile.mkdtemp(prefix="samla-bench-pg-"))
        self.started = False

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://{self.user}@127.0.0.1:{self.port}/{self.database}"

    def start(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres")
        subprocess.run(
            _as_postgres(
                [
                    str(self.bin / "initdb"),
                    "-D",
                    str(self.directory),
                    "-A",
                    "trust",
                    "-U",
                    self.user,
                ]
            ),
            check=True,
            capture_output=True,
            timeout=120,
        )
        # Defaults otherwise (fsync on): what an operator runs. Enough connections for
        # two instances' pools (20 + 10 overflow + 4 for the hub each) and the tools.
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1"
        options += " -c max_connections=200"
        if os.environ.get("SAMLA_BENCH_PG_STATEMENTS") == "1":  # diagnosis: every statement
            options += " -c log_statement=all -c log_line_prefix=%p:"
        self.started = True
        subprocess.run(
            _as_postgres(
                [
                    str(self.bin / "pg_ctl"),
                    "-D",
                    str(self.directory),
                    "-w",
                    "-t",
                    "60",
                    "-o",
                    f"'{options}'",
                    "-l",
                    str(self.directory / "log"),
                    "start",
                ]
            ),
            check=True,
            capture_output=True,
            timeout=90,
        )
        subprocess.run(
            [
                str(self.bin / "createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                self.user,
                self.database,
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )

    def statements_between(self, start: str, end: str) -> dict[str, int]:
        """From the statement log: how many of each statement ran between two marks."""
        counts: dict[str, int] = {}
        with contextlib.suppress(OSError):
            text = (self.directory / "log").read_text(errors="replace")
            text = text.split(start, 1)[-1].split(end, 1)[0]
            # Each entry starts with "<pid>:"; a statement's further lines do not.
            for entry in re.split(r"\n(?=\d+:)", text):
                if "LOG:  statement: " in entry or "LOG:  execute " in entry:
                    key = _statement_kind(entry.split(": ", 2)[-1])
                    counts[key] = counts.get(key, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: -kv[1]))

    def cpu(self) -> float:
        """CPU seconds of the postmaster, its backends, and the backends that have ended."""
        total = 0.0
        pids = self.pids()
        for pid in pids:
            with contextlib.suppress(OSError, IndexError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += sum(int(f) for f in fields[11:13])
                if pid == pids[0]:
                    total += sum(int(f) for f in fields[13:15])  # its children that ended
        return total / os.sysconf("SC_CLK_TCK")

    def pids(self) -> list[int]:
        """The postmaster and its backends (for their CPU and memory)."""
        pidfile = self.directory / "postmaster.pid"
        with contextlib.suppress(OSError, ValueError):
            main = int(pidfile.read_text().split()[0])
            children = Path(f"/proc/{main}/task/{main}/children").read_text().split()
            return [main, *(int(c) for c in children)]
        return []

    def stop(self) -> None:
        if self.started:
            subprocess.run(
                _as_postgres(
                    [
                        str(self.bin / "pg_ctl"),
                        "-D",
                        str(self.directory),
                        "-m",
                        "immediate",
                        "-w",
                        "-t",
                        "30",
                        "stop",
                    ]
                ),
                capture_output=True,
                timeout=60,
            )
            self.started = False
        shutil.rmtree(self.directory, ignore_errors=True)


def _raise_on_term(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


class Services:
    """One Redis and one PostgreSQL for the run; stopped on leaving, on SIGTERM and at exit."""

    def __init__(self, workdir: Path) -> None:
        self.redis = Redis(workdir)
        self.postgres = Postgres()
        self._stopped = False

    def __enter__(self) -> Services:
        atexit.register(self.stop)
        # SIGTERM becomes an exception, so every `finally` (servers, services) runs.
        signal.signal(signal.SIGTERM, _raise_on_term)
        try:
            self.redis.start()
            self.postgres.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        try:
            self.redis.stop()
        finally:
            self.postgres.stop()
