"""The reconnect storm: every stream of an instance dropped at once and reopened.

After an instance restarts (or a venue's network blinks) every phone it served reconnects at
the same moment, and each needs a snapshot before its screen is right again. The scenario
(`python -m bench.run --scenario reconnect`) prepares the vote storm's session (N
participants, an open poll) on each server, opens N streams, then aborts the streams of one
instance at once — no close frame, as a dropped network — and reopens them straight away,
`--reconnect-concurrency` at a time (default 500). On one instance (and on the baseline) that
is every stream; with `--instances K` it is the streams of the first instance (participants
i with i mod K = 0), and the baseline drops the same participants' streams.

Measured per server: the time from the drop until every reopened stream had its snapshot,
each stream's time from its connect to its snapshot (p50/p99), how many snapshots showed the
wrong state, streams of the other instances that closed meanwhile, the server's CPU and its
memory after the storm against before. `--profile` records Samla's first instance with py-spy
from the drop until the last snapshot. `--storms K` drops and reopens the same streams K times
(the figures above are the first storm's) and gives the memory after each, and each later
storm's time: whether what a storm leaves behind grows."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.distributed import SamlaCluster, samla_target
from bench.profile import Profiler
from bench.targets import Baseline, SamlaServer, Target, bounded, gather_limited
from bench.wire import Stream, open_stream

if TYPE_CHECKING:
    from bench.run import Options

# The target: reopened within twice the baseline's time.
RATIO_MAX = 2.0


@dataclass
class Reconnect:
    target: str
    participants: int
    instances: int = 1
    streams_open: int = 0
    first_open_seconds: float = 0.0  # the N streams opened before, --connect-concurrency at once
    dropped: int = 0
    reopened: int = 0
    reopen_failures: int = 0
    wrong_snapshots: int = 0
    others_closed: int = 0  # streams not dropped that closed during the storm
    all_snapshots_seconds: float = 0.0  # from the drop until the last reopened snapshot
    snapshots_per_second: float = 0.0
    open_ms: dict[str, float | str] = field(default_factory=dict)  # connect -> snapshot
    since_drop_ms: dict[str, float | str] = field(default_factory=dict)  # drop -> snapshot
    server_cpu_s: float = 0.0
    services_cpu_s: float = 0.0
    rss_idle_kib: int = 0
    rss_after_kib: int = 0
    # --storms K: after each storm, and how long each took (drop -> every snapshot).
    rss_after_storms_kib: list[int] = field(default_factory=list)
    storms_seconds: list[float] = field(default_factory=list)
    later_failures: int = 0  # streams of the later storms that failed or showed the wrong state
    load_average: str = ""
    database: dict[str, float] = field(default_factory=dict)  # PostgreSQL's counters, per stream
    statements: dict[str, int] = field(default_factory=dict)  # SAMLA_BENCH_PG_STATEMENTS=1
    notes: list[str] = field(default_factory=list)
    profile: str = ""
    memory_trace: str = ""


async def measure(target: Target, opts: Options) -> Reconnect:
    from bench.run import summary_ms

    n = opts.participants
    result = Reconnect(target.name, n)
    result.load_average = " ".join(f"{x:.2f}" for x in os.getloadavg())
    await target.start()
    result.instances = len(target.pids())
    await target.prepare(n, "votes")
    progress = target.progress
    assert progress is not None

    async def connect(i: int) -> Stream | str:
        try:
            return await open_stream(
                target.host, target.stream_port(i), target.stream_path, target.tokens[i],
                progress, timeout=60.0,
            )  # fmt: skip
        except (OSError, TimeoutError, ConnectionError) as exc:
            return f"{type(exc).__name__}: {exc}"

    t0 = time.monotonic()
    opened = await gather_limited(opts.connect_concurrency, [connect(i) for i in range(n)])
    result.first_open_seconds = round(time.monotonic() - t0, 2)
    streams: dict[int, Stream] = {i: s for i, s in enumerate(opened) if isinstance(s, Stream)}
    result.streams_open = len(streams)
    if len(streams) < n:
        why = next(s for s in opened if isinstance(s, str))
        result.notes.append(f"{n - len(streams)} streams failed to open first, e.g. {why}")
    await asyncio.sleep(opts.idle)
    result.rss_idle_kib = target.rss()

    # The same participants on every server: those the first instance serves.
    dropped = [i for i in streams if i % opts.instances == 0]
    kept = [s for i, s in streams.items() if i % opts.instances != 0]
    result.dropped = len(dropped)
    profiler = None
    if opts.profile:
        REPORTS.mkdir(exist_ok=True)
        out = REPORTS / f"{opts.stamp}-{target.name}.pyspy.txt"
        profiler = Profiler(target.pids()[0], out)
        await asyncio.sleep(0.5)  # py-spy attaches
    cluster = target if isinstance(target, SamlaCluster) else None
    before = await cluster.database_counters("drop") if cluster is not None else {}
    cpu, cpu_services = target.cpu(), target.services_cpu()

    drop = time.monotonic()
    abort(streams, dropped)
    began: dict[int, float] = {}

    async def reopen(i: int) -> tuple[int, Stream | str]:
        began[i] = time.monotonic()
        return i, await connect(i)

    again = await gather_limited(opts.reconnect_concurrency, [reopen(i) for i in dropped])
    opens, since = [], []
    failures: list[str] = []
    for i, s in again:
        if isinstance(s, str):
            failures.append(s)
            continue
        at = s.steps[0][1] if s.steps else time.monotonic()
        opens.append(at - began[i])
        since.append(at - drop)
        if s.best != target.expected_progress:
            result.wrong_snapshots += 1
        streams[i] = s
    if profiler is not None:
        result.profile = await asyncio.to_thread(profiler.stop)
    result.server_cpu_s = round(target.cpu() - cpu, 2)
    result.services_cpu_s = round(target.services_cpu() - cpu_services, 2)
    result.reopened = len(opens)
    result.reopen_failures = len(failures)
    if failures:
        result.notes.append(f"{len(failures)} streams failed to reopen, e.g. {failures[0]}")
    result.all_snapshots_seconds = round(max(since, default=0.0), 3)
    if result.all_snapshots_seconds:
        result.snapshots_per_second = round(len(opens) / result.all_snapshots_seconds, 1)
    result.open_ms = summary_ms(opens, len(failures))
    result.since_drop_ms = summary_ms(since, len(failures))
    result.others_closed = sum(1 for s in kept if s.closed.done())
    await asyncio.sleep(opts.idle)
    result.rss_after_kib = target.rss()
    if cluster is not None and opens:
        # PostgreSQL's statistics reach its view within a second or so of each transaction.
        after = await cluster.database_counters("done")
        result.database = {
            f"{k} per reopened stream": round((after[k] - before.get(k, 0)) / len(opens), 2)
            for k in after
        }
        result.statements = cluster.statements_between("drop", "done")
    result.rss_after_storms_kib.append(result.rss_after_kib)
    result.storms_seconds.append(result.all_snapshots_seconds)
    # --trace-memory with three storms or more: what the later storms (all but the first two)
    # left allocated, by where it was allocated.
    traced = target if isinstance(target, SamlaServer) and target.trace_memory else None
    if opts.storms < 3:
        traced = None
    for k in range(2, opts.storms + 1):
        took, failed = await storm_again(target, streams, dropped, connect, opts)
        result.storms_seconds.append(took)
        result.later_failures += failed
        await asyncio.sleep(opts.idle)
        result.rss_after_storms_kib.append(target.rss())
        if traced is not None and k in (2, opts.storms):
            os.kill(traced.pid, signal.SIGUSR2)
    if traced is not None:
        result.memory_trace = await read_trace(traced)
    for s in streams.values():
        s.close()
    return result


def abort(streams: dict[int, Stream], dropped: list[int]) -> None:
    """Drops these streams at once, without a close frame, as a network that blinks."""
    for i in dropped:
        transport = streams[i].transport
        if transport is not None:
            transport.abort()


async def read_trace(target: SamlaServer) -> str:
    """The tracemalloc comparison the server writes after its second signal."""
    trace = target.stats_path.with_suffix(".memory.txt")
    for _ in range(600):
        if trace.exists():
            return trace.read_text()
        await asyncio.sleep(0.1)
    return "the server wrote no memory trace within 60 s"


async def storm_again(
    target: Target,
    streams: dict[int, Stream],
    dropped: list[int],
    connect: Callable[[int], Awaitable[Stream | str]],
    opts: Options,
) -> tuple[float, int]:
    """The same streams dropped and reopened once more: its time, and the streams that failed
    to reopen or showed the wrong state."""
    drop = time.monotonic()
    abort(streams, dropped)
    again = await gather_limited(opts.reconnect_concurrency, [connect(i) for i in dropped])
    failed = 0
    for i, s in zip(dropped, again, strict=True):
        if isinstance(s, str) or s.best != target.expected_progress:
            failed += 1
        if isinstance(s, Stream):
            streams[i] = s
    return round(time.monotonic() - drop, 3), failed


REPORTS = Path(__file__).resolve().parent / "reports"

ROWS = [
    ("instances", "instances"),
    ("streams open", "streams_open"),
    ("first open of all streams, s", "first_open_seconds"),
    ("streams dropped at once", "dropped"),
    ("reopened with a snapshot", "reopened"),
    ("reopen failures", "reopen_failures"),
    ("snapshots with the wrong state", "wrong_snapshots"),
    ("other streams closed meanwhile", "others_closed"),
    ("drop -> every snapshot, s", "all_snapshots_seconds"),
    ("snapshots per second", "snapshots_per_second"),
    ("connect -> snapshot, ms", "open_ms"),
    ("drop -> snapshot, ms", "since_drop_ms"),
    ("server CPU in the storm, s", "server_cpu_s"),
    ("Redis + PostgreSQL CPU, s", "services_cpu_s"),
    ("RSS with idle streams, KiB", "rss_idle_kib"),
    ("RSS after the storm, KiB", "rss_after_kib"),
    ("RSS after each storm, KiB", "rss_after_storms_kib"),
    ("drop -> every snapshot, each storm, s", "storms_seconds"),
    ("later storms: failed or wrong", "later_failures"),
    ("PostgreSQL", "database"),
    ("machine load average at start", "load_average"),
]


def render(opts: Options, results: list[Reconnect], started: str) -> str:
    lines = [
        f"Samla reconnect storm — {started} UTC",
        f"N={opts.participants} streams, Samla on {opts.instances} instance(s) "
        + ("(SQLite)" if opts.instances < 2 else "(Redis and PostgreSQL)")
        + f"; the first instance's streams dropped at once and reopened, "
        f"{opts.reconnect_concurrency} at a time",
        "",
    ]
    width = 36
    lines.append(f"{'':{width}}" + "".join(f"{r.target:>26}" for r in results))
    for label, attr in ROWS:
        values = [getattr(r, attr) for r in results]
        if any(isinstance(v, dict) for v in values):
            for key in dict.fromkeys(k for v in values for k in v):
                cells = "".join(f"{v.get(key, '-')!s:>26}" for v in values)
                lines.append(f"{label + ' ' + key:{width}}" + cells)
        else:
            lines.append(f"{label:{width}}" + "".join(f"{v!s:>26}" for v in values))
    for r in results:
        for note in r.notes:
            lines.append(f"note ({r.target}): {note}")
    by = {r.target: r for r in results}
    if "baseline" in by and "samla" in by:
        base, samla = by["baseline"], by["samla"]
        ratio = (
            round(samla.all_snapshots_seconds / base.all_snapshots_seconds, 2)
            if base.all_snapshots_seconds
            else None
        )
        ok = (
            ratio is not None
            and ratio <= RATIO_MAX
            and samla.reopened == samla.dropped
            and not samla.wrong_snapshots
        )
        lines += [
            "",
            "Samla against the baseline (the issue's target):",
            f"  [{'PASS' if ok else 'MISS'}] {samla.dropped} streams reopened in "
            f"{samla.all_snapshots_seconds} s vs {base.all_snapshots_seconds} s = {ratio}x "
            f"(target <= {RATIO_MAX}x; every one with the right snapshot)",
        ]
    for r in results:
        if r.statements:
            lines += ["", f"Statements {r.target}'s database ran from the drop (all instances):"]
            lines += [f"  {count:7d}  {kind}" for kind, count in list(r.statements.items())[:25]]
    for r in results:
        if r.profile:
            lines += ["", f"Where {r.target}'s time went (py-spy, first instance):", r.profile]
        if r.memory_trace:
            lines += ["", f"What {r.target}'s later storms left allocated (tracemalloc):"]
            lines.append(r.memory_trace)
    return "\n".join(lines)


async def run_one(target: Target, opts: Options) -> Reconnect:
    return await bounded(target, opts.stamp, opts.deadline, measure(target, opts))


async def main_async(opts: Options) -> int:
    from bench.run import raise_fd_limit

    # An aborted stream's socket is closed at once: N open, and the reopening ones.
    raise_fd_limit(opts.participants + opts.reconnect_concurrency + 1024)
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
    opts.stamp = f"reconnect-i{opts.instances}-n{opts.participants}-" + started.replace(
        " ", "T"
    ).replace(":", "")
    results: list[Reconnect] = []
    with tempfile.TemporaryDirectory(prefix="samla-bench-") as tmp, contextlib.ExitStack() as on:
        workdir = Path(tmp)
        if opts.only in (None, "baseline"):
            print(f"bench: reconnect, baseline, N={opts.participants} …", flush=True)
            results.append(await run_one(Baseline(workdir, opts.tick), opts))
        if opts.only in (None, "samla"):
            print(f"bench: reconnect, samla, N={opts.participants} …", flush=True)
            results.append(await run_one(samla_target(workdir, opts, on), opts))
    text = render(opts, results, started)
    print(text)
    REPORTS.mkdir(exist_ok=True)
    base = REPORTS / opts.stamp
    base.with_suffix(".txt").write_text(text + "\n")
    report: dict[str, Any] = {"options": asdict(opts), "started_utc": started}
    report["results"] = [asdict(r) for r in results]
    base.with_suffix(".json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(f"\nreport: {base.with_suffix('.txt')} (and .json)")
    return 0
