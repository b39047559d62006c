"""The shared part of a snapshot is built once per audience and version, however many
sockets ask for it at once (a reconnecting crowd), and a build that fails is not kept."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

import live.hub.snapshots
from live.hub import Connection
from tests.conftest import Api

CROWD = 200


async def _nothing(*_: Any) -> None:
    return None


def socket_of(session_id: str, participant_id: str, kind: str) -> Connection:
    return Connection(
        session_id=session_id,
        role="participant",
        kind=kind,
        locale="en",
        send=_nothing,
        close=_nothing,
        participant_id=participant_id,
    )


# Turns of the event loop a build of the shared part takes at least: as on PostgreSQL,
# where each of its reads waits on the network, the other sockets ask for it meanwhile.
BUILD_TURNS = 100


class Builds:
    """Counts the builds of the shared part, optionally failing the first ones."""

    def __init__(self, snapshots: Any, monkeypatch: pytest.MonkeyPatch, failing: int = 0) -> None:
        # A crowd of 200 may take longer than a cached part lives on a busy machine; what
        # is proved here is that no two builds of one part run at the same time.
        monkeypatch.setattr(live.hub.snapshots, "SNAPSHOT_REUSE", 3600.0)
        self.count = 0
        self.failing = failing
        self._build = snapshots._shared
        monkeypatch.setattr(snapshots, "_shared", self.build)

    async def build(self, *args: Any) -> Any:
        self.count += 1
        number = self.count
        shared = await self._build(*args)
        for _ in range(BUILD_TURNS):
            await asyncio.sleep(0)
        if number <= self.failing:
            raise RuntimeError("the store went away")
        return shared


async def crowd(api: Api, size: int) -> tuple[str, list[str]]:
    session = await api.make_session()
    people = await asyncio.gather(*(api.join(session, f"Person {i}") for i in range(size)))
    return session["id"], [p["participant_id"] for p in people]


@pytest.mark.parametrize("kind", ["json", "html"])
async def test_a_crowd_reconnecting_at_once_builds_the_shared_part_once(
    api: Api, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    session_id, people = await crowd(api, 20)
    hub = api.served.samla.hub
    builds = Builds(hub.snapshots, monkeypatch)
    sockets = [socket_of(session_id, people[i % len(people)], kind) for i in range(CROWD)]
    renders = hub.stats["renders"]

    async def reconnect() -> list[str]:
        return list(await asyncio.gather(*(hub.snapshot(c) for c in sockets)))

    shown = await api.served.run(reconnect)
    assert builds.count == 1
    if kind == "json":
        bodies = [json.loads(s) for s in shown]
        assert {b["session"]["participants"] for b in bodies} == {len(people)}
        assert {b["you"]["participant_id"] for b in bodies} == set(people)
    else:
        # The shared panels once; each socket's own panels for each socket.
        panels = hub.screens.panels_for("participant")
        shared = sum(1 for p in panels if not p.personal)
        own = sum(1 for p in panels if p.personal)
        assert shared > 0
        assert hub.stats["renders"] - renders == shared + CROWD * own
    assert {c.version for c in sockets} == {sockets[0].version}


async def test_a_failed_build_fails_its_waiters_and_the_next_socket_builds_afresh(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    session_id, people = await crowd(api, 5)
    hub = api.served.samla.hub
    builds = Builds(hub.snapshots, monkeypatch, failing=1)
    sockets = [socket_of(session_id, people[i % len(people)], "json") for i in range(CROWD)]

    async def reconnect() -> list[Any]:
        return list(
            await asyncio.gather(*(hub.snapshot(c) for c in sockets), return_exceptions=True)
        )

    shown = await api.served.run(reconnect)
    failed = [s for s in shown if isinstance(s, BaseException)]
    # The failed build's error reached those waiting for it, not only its builder ...
    assert len(failed) >= 2 and all(isinstance(f, RuntimeError) for f in failed)
    # ... and it was not kept: the next socket built afresh, once, for all the rest.
    assert builds.count == 2
    bodies = [json.loads(s) for s in shown if isinstance(s, str)]
    assert len(bodies) == CROWD - len(failed)
    assert {b["session"]["participants"] for b in bodies} == {len(people)}
