"""The distributed path: several `samla serve` instances on one Redis and one PostgreSQL.

`--instances K` (K ≥ 2) runs Samla as K processes behind nothing: the driver spreads the
participants over them, participant i's stream and vote going to instance i mod K (as a
sticky load balancer would). Every instance has the same SECRET_KEY, DATABASE_URL (a fresh
PostgreSQL database) and REDIS_URL (a fresh Redis), both started by `bench.services` in
temporary directories and stopped whatever happens. Memory and CPU are the instances' sums;
Redis's and PostgreSQL's CPU are reported apart."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import asyncpg  # type: ignore[import-untyped]

from bench.services import Services
from bench.targets import ROOT, SamlaServer, cpu_seconds, free_port, rss_kib

if TYPE_CHECKING:
    from bench.run import Options


def samla_target(workdir: Path, opts: Options, on: contextlib.ExitStack) -> SamlaServer:
    """One `samla serve` on SQLite, or several on a Redis and a PostgreSQL that `on` stops."""
    if opts.instances < 2:
        return SamlaServer(workdir, opts.instrument, opts.switch_interval, opts.trace_memory)
    services = on.enter_context(Services(workdir))
    return SamlaCluster(
        workdir, services, opts.instances, opts.instrument, opts.switch_interval, opts.trace_memory
    )


class SamlaCluster(SamlaServer):
    """K `samla serve` processes sharing one Redis and one PostgreSQL database."""

    def __init__(
        self,
        workdir: Path,
        services: Services,
        instances: int,
        instrument: bool = False,
        switch_interval: float | None = None,
        trace_memory: bool = False,
    ) -> None:
        super().__init__(workdir, instrument, switch_interval, trace_memory)
        self.services = services
        self.env["DATABASE_URL"] = services.postgres.url
        self.env["REDIS_URL"] = services.redis.url
        self.instances = instances
        self.ports = [self.ws_port] + [free_port() for _ in range(instances - 1)]
        self.others: list[tuple[subprocess.Popen[bytes], Path]] = []

    async def start(self) -> None:
        # The first instance migrates the new database; the others start once it is ready.
        await super().start()
        first_port = self.http_port
        try:
            for port in self.ports[1:]:
                log = self.workdir / f"samla-{port}.log"
                with log.open("wb") as out:
                    process = subprocess.Popen(
                        [
                            sys.executable,
                            "-m",
                            "live.cli",
                            "serve",
                            "--host",
                            self.host,
                            "--port",
                            str(port),
                        ],
                        cwd=ROOT,
                        env=self.process_env(),
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        stdin=subprocess.DEVNULL,
                    )
                self.others.append((process, log))
            for port in self.ports[1:]:
                self.http_port = port
                await self._wait_http("/healthz")
        finally:
            self.http_port = first_port

    def process_env(self) -> dict[str, str]:
        return {**os.environ, **self.env, "PYTHONUNBUFFERED": "1"}

    def stream_port(self, i: int) -> int:
        return self.ports[i % self.instances]

    def vote_port(self, i: int) -> int:
        return self.ports[i % self.instances]

    def pids(self) -> list[int]:
        return [self.pid, *(p.pid for p, _ in self.others)]

    def instance_of(self, i: int) -> int:
        return i % self.instances

    def services_cpu(self) -> float:
        total = self.services.postgres.cpu()
        redis = self.services.redis.pid()
        if redis is not None:
            with contextlib.suppress(OSError, IndexError):
                total += cpu_seconds(redis)
        return total

    def services_rss(self) -> int:
        redis = self.services.redis.pid()
        return rss_kib(redis) if redis is not None else 0

    async def database_counters(self, mark: str) -> dict[str, int]:
        """PostgreSQL's own counters for the database (transactions, rows read); `mark`
        is also written as a statement, so a statement log can be cut at it."""
        pg = self.services.postgres
        conn = await asyncpg.connect(
            host="127.0.0.1", port=pg.port, user=pg.user, database=pg.database
        )
        try:
            await conn.execute(f"SELECT 'samla-bench:{mark}'")
            row = await conn.fetchrow(
                "SELECT xact_commit, xact_rollback, tup_returned, tup_fetched, tup_inserted,"
                " tup_updated, tup_deleted FROM pg_stat_database WHERE datname = $1",
                pg.database,
            )
        finally:
            await conn.close()
        return {k: int(v) for k, v in dict(row or {}).items()}

    def statements_between(self, start: str, end: str) -> dict[str, int]:
        """With SAMLA_BENCH_PG_STATEMENTS=1: the statements PostgreSQL ran between two marks,
        by their first words."""
        return self.services.postgres.statements_between(
            f"samla-bench:{start}", f"samla-bench:{end}"
        )

    def log_tail(self, lines: int = 30) -> str:
        tails = [super().log_tail(lines)]
        for _, log in self.others:
            if log.exists():
                tails.append(f"-- {log.name}")
                tails.append("\n".join(log.read_text(errors="replace").splitlines()[-lines:]))
        return "\n".join(tails)

    def stop(self) -> None:
        try:
            for process, _ in self.others:
                if process.poll() is None:
                    process.terminate()
            for process, _ in self.others:
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=5)
        finally:
            super().stop()
        # One log beside the report: the first instance's, then the others'.
        if self.log_path is not None and self.log_path.exists():
            with self.log_path.open("ab") as merged:
                for _, log in self.others:
                    if log.exists():
                        merged.write(f"\n-- instance on {log.stem}\n".encode())
                        merged.write(log.read_bytes())
