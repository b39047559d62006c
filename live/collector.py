"""When Python collects its cyclic garbage: never in the middle of a storm.

With thousands of sockets open, Python's full (oldest-generation) collection walks every
object they hold: at 2,000 sockets it stopped the loop for 180 ms, at 5,000 for about half
a second, and its own heuristics start it whenever enough has been allocated, a vote storm
included. So Samla leaves what start-up built out of every collection (`gc.freeze`), keeps
the young generations' collections, which take about a millisecond, and runs the full one
itself: once the broker has brought no change, and no crowd of sockets has been sent its
snapshots, for a few seconds after either, or at the latest every ten minutes. Sockets'
objects are freed by reference counting as they close (live/wire.py and live/guard.py break
the cycles uvicorn and `websockets` make; tests/live/test_connections.py checks it); a full
collection finds only the rare cycle, so deferring it costs next to no memory."""

from __future__ import annotations

import gc
import time

from live.services import Samla

# A full collection waits for this long a quiet spell (no change shown here)…
QUIET = 3.0
# …but never longer than this.
LONGEST = 600.0
# Young collections as Python makes them; the oldest only when `collect_when_quiet` says.
THRESHOLDS = (700, 10, 1_000_000_000)

_last_full = time.monotonic()


def settle() -> None:
    """At the end of start-up: what exists now lives as long as Samla does."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)


async def collect_when_quiet(samla: Samla) -> None:
    """A full collection, when the broker and the snapshots have been quiet for a while
    after a change (10,000 people sent into rooms bring one message, then seconds of
    snapshots: a full collection among them stopped the loop for a second and more)."""
    global _last_full
    now = time.monotonic()
    last = max(samla.hub.last_message, samla.hub.snapshots.last_read)
    changed = last > _last_full  # since the last full collection
    quiet = now - last >= QUIET
    if (changed and quiet) or now - _last_full >= LONGEST:
        gc.collect()
        _last_full = time.monotonic()
