"""Python's full collections run when the room is quiet, never in the middle of a storm."""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from live import collector


@pytest.fixture
def full_collections() -> Iterator[list[int]]:
    """Counts the oldest generation's collections while the test runs."""
    seen: list[int] = []

    def watch(phase: str, info: dict[str, Any]) -> None:
        if phase == "start" and info["generation"] == 2:
            seen.append(1)

    thresholds = gc.get_threshold()
    gc.callbacks.append(watch)
    yield seen
    gc.callbacks.remove(watch)
    gc.set_threshold(*thresholds)


def _samla(last_message: float, last_read: float = 0.0) -> Any:
    snapshots = SimpleNamespace(last_read=last_read)
    return SimpleNamespace(hub=SimpleNamespace(last_message=last_message, snapshots=snapshots))


def test_after_start_up_only_the_young_generations_collect_by_themselves(
    full_collections: list[int],
) -> None:
    collector.settle()
    assert gc.get_freeze_count() > 0
    full_collections.clear()
    # What thousands of sockets opening allocate, and keep: Python's own thresholds would
    # start several full collections on the way.
    kept = [[] for _ in range(300_000)]
    assert len(kept) == 300_000
    assert full_collections == []


async def test_a_full_collection_waits_for_a_quiet_spell_after_a_change(
    full_collections: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    now = time.monotonic()
    monkeypatch.setattr(collector, "_last_full", now - 10)
    await collector.collect_when_quiet(_samla(now - 0.5))  # a change just now: not yet
    assert full_collections == []
    await collector.collect_when_quiet(_samla(now - collector.QUIET - 1))  # quiet since
    assert len(full_collections) == 1
    await collector.collect_when_quiet(_samla(now - collector.QUIET - 1))  # nothing new
    assert len(full_collections) == 1


async def test_a_full_collection_runs_at_the_latest_after_the_longest_wait(
    full_collections: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    now = time.monotonic()
    monkeypatch.setattr(collector, "_last_full", now - collector.LONGEST - 1)
    await collector.collect_when_quiet(_samla(now))  # busy right now, but it is time
    assert len(full_collections) == 1


async def test_a_crowd_being_sent_its_snapshots_is_not_a_quiet_spell(
    full_collections: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rooms opened for thousands: one message, then seconds of snapshots and no message."""
    now = time.monotonic()
    monkeypatch.setattr(collector, "_last_full", now - 10)
    opened = now - collector.QUIET - 1
    await collector.collect_when_quiet(_samla(opened, last_read=now - 0.2))
    assert full_collections == []
    await collector.collect_when_quiet(_samla(opened, last_read=now - collector.QUIET - 0.5))
    assert len(full_collections) == 1
