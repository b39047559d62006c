"""`samla serve` with timers on the vote path, for `bench.run --instrument` (diagnosis only).

It wraps, without changing them, the store's write transaction (time waiting for the write
lock vs. time holding it), every aiosqlite call made through a worker thread (long reads and
checkpoints; the store's own statements run on the loop, inside those transactions), the
hub's flush (summary query + publish) and fan-out, Python's garbage collections by
generation, and keeps a loop-lag probe. Every half second it writes the figures to the JSON
file named by SAMLA_BENCH_STATS; SIGUSR1 clears them (the driver sends it as the storm starts). With
SAMLA_BENCH_TRACEMALLOC set, two SIGUSR2 bracket the opening of the streams and the memory
allocated in between is written, by file and by line, beside the stats. With
SAMLA_BENCH_COLLECT set, a full collection is run (and timed) as the storm starts, with every
stream open.
Usage: python -m bench.instrumented --host H --port P."""

from __future__ import annotations

import asyncio
import atexit
import gc
import json
import os
import signal
import sys
import threading
import time
import tracemalloc
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

SAMPLES: dict[str, list[float]] = {}
COUNTS: dict[str, int] = {}


def record(name: str, seconds: float) -> None:
    SAMPLES.setdefault(name, []).append(seconds)


def count(name: str) -> None:
    COUNTS[name] = COUNTS.get(name, 0) + 1


def summary() -> dict[str, Any]:
    out: dict[str, Any] = {"counts": dict(COUNTS)}
    for name, values in list(SAMPLES.items()):
        ordered = sorted(values)
        if not ordered:
            continue
        out[name] = {
            "n": len(ordered),
            "mean_ms": round(1000 * sum(ordered) / len(ordered), 3),
            "p50_ms": round(1000 * ordered[len(ordered) // 2], 3),
            "p99_ms": round(1000 * ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 3),
            "max_ms": round(1000 * ordered[-1], 3),
            "total_s": round(sum(ordered), 3),
        }
    return out


def dump(path: Path) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(summary()))
    tmp.replace(path)


def timed_async(owner: Any, attr: str, name: str) -> None:
    original = getattr(owner, attr)

    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return await original(*args, **kwargs)
        finally:
            record(name, time.perf_counter() - t0)

    setattr(owner, attr, wrapper)


def install() -> None:
    import aiosqlite.core

    from live.hub import Hub
    from live.hub.coalesce import Coalescer
    from live.hub.fanout import FanOut
    from live.store import Store

    original_write = Store.write

    @asynccontextmanager
    async def write(self: Store) -> AsyncIterator[Any]:
        t0 = time.perf_counter()
        async with original_write(self) as db:
            t1 = time.perf_counter()
            record("write_lock_wait", t1 - t0)
            yield db
        record("write_held", time.perf_counter() - t1)

    Store.write = write  # type: ignore[method-assign]
    original_execute = aiosqlite.core.Connection._execute

    async def execute(self: Any, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        count("sqlite_calls")
        t0 = time.perf_counter()
        try:
            return await original_execute(self, fn, *args, **kwargs)
        finally:
            record("sqlite_call", time.perf_counter() - t0)

    aiosqlite.core.Connection._execute = execute  # type: ignore[method-assign]
    timed_async(Coalescer, "flush", "hub_flush")
    time_collections()
    timed_async(FanOut, "fan_out", "hub_fan_out")
    timed_async(Hub, "snapshot", "hub_snapshot")


def time_collections() -> None:
    """How long each of Python's garbage collections held the loop, by generation."""
    started = [0.0]

    def timer(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            record(f"gc_gen{info['generation']}", time.perf_counter() - started[0])

    gc.callbacks.append(timer)


async def lag_probe(every: float = 0.01) -> None:
    while True:
        t0 = time.perf_counter()
        await asyncio.sleep(every)
        record("loop_lag", time.perf_counter() - t0 - every)


def trace_memory(out: Path) -> None:
    """SIGUSR2 twice: where the memory allocated between the two signals was allocated."""
    tracemalloc.start(1)
    taken: list[tracemalloc.Snapshot] = []

    def on_signal(*_: Any) -> None:
        taken.append(tracemalloc.take_snapshot())
        if len(taken) != 2:
            return
        before, after = taken
        lines = []
        for key in ("filename", "lineno"):
            diff = after.compare_to(before, key)
            grown = sum(d.size_diff for d in diff)
            lines.append(f"grown {grown / 1024:.0f} KiB, by {key}:")
            for d in diff[:25]:
                lines.append(f"  {d.size_diff / 1024:9.1f} KiB {d.count_diff:+8d}  {d.traceback}")
        out.with_suffix(".tmp").write_text("\n".join(lines) + "\n")
        out.with_suffix(".tmp").replace(out)

    signal.signal(signal.SIGUSR2, on_signal)


def main() -> None:
    stats = Path(os.environ["SAMLA_BENCH_STATS"])
    if os.environ.get("SAMLA_BENCH_TRACEMALLOC"):
        trace_memory(stats.with_suffix(".memory.txt"))
    switch = os.environ.get("SAMLA_BENCH_SWITCH_INTERVAL")
    if switch:
        sys.setswitchinterval(float(switch))
    install()

    # SIGUSR1 starts the figures afresh: the driver sends it just before the storm.
    def storm_starts(*_: Any) -> None:
        SAMPLES.clear()
        COUNTS.clear()
        if os.environ.get("SAMLA_BENCH_COLLECT"):
            # What a full collection costs with every stream open (it stalls the storm).
            t0 = time.perf_counter()
            collected = gc.collect()
            record("full_collection", time.perf_counter() - t0)
            COUNTS["collected"] = collected
            COUNTS["tracked_objects"] = len(gc.get_objects())
            COUNTS["frozen_objects"] = gc.get_freeze_count()

    signal.signal(signal.SIGUSR1, storm_starts)

    def writer() -> None:
        while True:
            time.sleep(0.5)
            dump(stats)

    threading.Thread(target=writer, daemon=True).start()
    atexit.register(dump, stats)

    from live.cli import main as samla_main
    from live.hub import Hub

    original_start = Hub.start
    probes: list[asyncio.Task[None]] = []

    async def start(self: Hub) -> None:
        await original_start(self)
        probes.append(asyncio.create_task(lag_probe()))

    Hub.start = start  # type: ignore[method-assign]

    raise SystemExit(samla_main(["serve", *sys.argv[1:]]))


if __name__ == "__main__":
    main()
