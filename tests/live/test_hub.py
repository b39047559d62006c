"""The live core, once in-process and once through a real redis-server, with the same assertions."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from live.broker import session_channel
from live.hub import SLOWEST_UPDATES
from rooms import lifecycle, sessions
from rooms.models import Event
from tests.conftest import Api, Served, eventually
from tests.live.pages import join_by_form, page_socket

pytestmark = pytest.mark.parametrize(
    "broker_kind", [pytest.param("memory", id="memory"), pytest.param("redis", id="redis")]
)


@pytest.fixture(autouse=True)
async def crossed_redis(
    broker_kind: str, served: Served, request: pytest.FixtureRequest
) -> AsyncIterator[None]:
    """In the Redis variants, proves that what the hub published went through redis-server:
    a client of its own, subscribed to every session channel, must receive as many messages
    as the hub published (an in-process broker swapped in delivers none of them)."""
    if broker_kind != "redis":
        yield
        return
    listener = Redis.from_url(request.getfixturevalue("redis_server").url)
    pubsub = listener.pubsub()
    await pubsub.psubscribe(session_channel("*"))
    carried: list[bytes] = []

    async def listen() -> None:
        async for message in pubsub.listen():
            if message["type"] == "pmessage":
                carried.append(message["data"])

    reading = asyncio.create_task(listen())
    hub = served.samla.hub
    before = hub.stats["published"]
    try:
        yield
        published = hub.stats["published"] - before

        async def all_carried() -> bool:
            return len(carried) >= published

        assert published > 0, "the test published nothing: it cannot prove Redis carried it"
        await eventually(all_carried, timeout=10)
        assert all(json.loads(m)["s"] for m in carried)
    finally:
        reading.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reading
        await pubsub.aclose()
        await listener.aclose()


async def test_the_event_stream_starts_with_a_snapshot_then_versions_only_rise(
    api: Api, stream: Callable[..., Any]
) -> None:
    """The moderator is told each join with its name; a participant how many have joined,
    once a tick, and never who."""
    session = await api.make_session()
    first = await api.join(session, "Anna")
    async with (
        stream(session["id"], first["token"]) as s,
        stream(session["id"], session["moderator_token"]) as mod,
    ):
        snapshot = await s.next()
        assert snapshot["type"] == "snapshot"
        assert snapshot["session"]["participants"] == 1
        assert snapshot["you"]["participant_id"] == first["participant_id"]
        assert (await mod.next())["type"] == "snapshot"
        names = [f"Person {i}" for i in range(20)]
        await asyncio.gather(*(api.join(session, n) for n in names))
        seen: set[str] = set()
        while len(seen) < len(names):
            frame = await mod.next()
            if frame["type"] == "participant.joined":
                seen.add(frame["name"])
        assert seen == set(names)
        counted = await s.until(lambda f: f.get("joined") == len(names) + 1)
        assert counted["type"] == "participants.count"
        for frames in (s.frames, mod.frames):
            versions = [f["version"] for f in frames]
            assert versions == sorted(set(versions)), versions
        assert not [f for f in s.frames if f["type"] == "participant.joined"]
        # Twenty joins at once are fewer counts than joins: a burst is told once a tick.
        assert len([f for f in s.frames if f["type"] == "participants.count"]) < len(names)


async def test_the_page_shows_how_many_are_here_live_as_people_come_and_go(
    served: Served, api: Api
) -> None:
    session = await api.make_session()
    async with (
        httpx.AsyncClient(base_url=served.base) as anna,
        httpx.AsyncClient(base_url=served.base) as bo,
    ):
        await join_by_form(anna, session["code"], "Anna")
        async with page_socket(served.base, anna, f"/s/{session['id']}/ws") as first:
            await first.here(1)
            await join_by_form(bo, session["code"], "Bo")
            async with page_socket(served.base, bo, f"/s/{session['id']}/ws") as second:
                await second.here(2)
                await first.here(2)
            await first.here(1)


async def test_a_socket_that_falls_behind_gets_a_snapshot_not_a_backlog(
    served: Served, api: Api, stream: Callable[..., Any]
) -> None:
    session = await api.make_session()
    watcher = await api.join(session)
    hub = served.samla.hub
    async with stream(session["id"], watcher["token"]) as s:
        await s.next()

        async def overflow() -> tuple[bool, int]:
            conn = next(hub.connections.all())
            # What the transport does when its client stops reading and its buffer passes
            # the high-water mark: frames can no longer be written straight to it.
            conn.wire.pause_writing()
            # Fill the outbox past its bound in one turn of the loop: the writer cannot run.
            for i in range(hub.outbox_limit + 5):
                hub.push(conn, json.dumps({"type": "filler", "version": 0, "i": i}))
            state = conn.needs_snapshot, len(conn.outbox)
            conn.wire.resume_writing()  # the client reads again
            return state

        assert await served.run(overflow) == (True, 0)
        frame = await s.until(lambda f: f["type"] == "snapshot")
        assert frame["session"]["id"] == session["id"]
        assert not any(f["type"] == "filler" for f in s.frames)


async def test_a_paused_socket_gets_its_frames_through_its_outbox_in_order(
    served: Served, api: Api, stream: Callable[..., Any]
) -> None:
    """Frames go straight into a socket that can take them; one whose client has stopped
    reading keeps them queued, and gets every one, in order, once it reads again."""
    session = await api.make_session()
    watcher = await api.join(session)
    hub = served.samla.hub
    async with stream(session["id"], watcher["token"]) as s:
        await s.next()

        async def push(numbers: range, paused: bool) -> int:
            conn = next(hub.connections.all())
            if paused:
                conn.wire.pause_writing()
            for i in numbers:
                hub.push(conn, json.dumps({"type": "filler", "version": 0, "i": i}))
            return len(conn.outbox)

        assert await served.run(lambda: push(range(3), paused=False)) == 0
        assert await served.run(lambda: push(range(3, 8), paused=True)) == 5

        async def resume() -> None:
            conn = next(hub.connections.all())
            conn.wire.resume_writing()

        await served.run(resume)
        await s.until(lambda f: f.get("i") == 7)
        assert [f["i"] for f in s.frames if f["type"] == "filler"] == list(range(8))


async def test_a_change_committed_but_never_published_reaches_every_screen(
    served: Served, api: Api, stream: Callable[..., Any]
) -> None:
    """An instance that commits and dies before publishing: the others find the newer
    version in the store and resnapshot within a few reconcile rounds."""
    session = await api.make_session()
    watcher = await api.join(session)
    store = served.samla.store
    async with stream(session["id"], watcher["token"]) as s:
        first = await s.next()

        async def commit_without_publishing() -> None:
            async with store.write() as db:
                outcome = await lifecycle.join(db, code=session["code"], name="Silent")
                await sessions.bump_version(db, outcome.session_id, len(outcome.events))

        await served.run(commit_without_publishing)
        frame = await s.until(lambda f: f["type"] == "snapshot", timeout=10)
        assert frame["version"] > first["version"]
        assert frame["session"]["participants"] == 2


async def test_a_burst_crosses_the_broker_as_few_messages(
    served: Served, api: Api, stream: Callable[..., Any]
) -> None:
    session = await api.make_session()
    watcher = await api.join(session)
    hub = served.samla.hub
    async with stream(session["id"], watcher["token"]) as s:
        await s.next()
        before = hub.stats["published"]
        started = time.monotonic()
        # 200 changes sharing one key, committed as fast as the loop allows.
        await served.run(lambda: _burst(served, session["id"], 200))
        frame = await s.until(lambda f: f["type"] == "burst.tick" and f["n"] == 199)
        elapsed = time.monotonic() - started
        published = hub.stats["published"] - before
        # One message per tick at most (plus the leading edge), never one per change.
        assert published <= elapsed / served.settings.tick + 2, (published, elapsed)
        assert published < 200 / 4
        assert frame["version"] > 0


async def test_a_session_slow_to_show_gets_its_changes_less_often(
    served: Served, api: Api, stream: Callable[..., Any]
) -> None:
    """When showing a session's changes takes this instance long (a hall of thousands),
    they go out less often than once per tick: the fan-out keeps to its share of the loop."""
    session = await api.make_session()
    watcher = await api.join(session)
    hub = served.samla.hub
    async with stream(session["id"], watcher["token"]) as s:
        await s.next()

        async def slow() -> None:
            hub.connections.watches[session["id"]].fan_out_cost = 5.0  # measured again by the next

        # The watcher's arrival (presence) may still be on its way out: let it go first.
        await asyncio.sleep(5 * served.settings.tick)
        await served.run(slow)
        before = hub.stats["published"]
        started = time.monotonic()
        await served.run(lambda: _burst(served, session["id"], 1))  # goes out at once
        await s.until(lambda f: f["type"] == "burst.tick")
        await served.run(slow)
        await served.run(lambda: _burst(served, session["id"], 20))
        await s.until(lambda f: f["type"] == "burst.tick" and f["n"] == 19)
        elapsed = time.monotonic() - started
        published = hub.stats["published"] - before
        # The rest waited 5 / FAN_OUT_SHARE = 20 s after the first, cut to SLOWEST_UPDATES.
        assert SLOWEST_UPDATES - served.settings.tick <= elapsed < 3 * SLOWEST_UPDATES, elapsed
        assert published == 2, published


async def _burst(served: Served, session_id: str, count: int) -> None:
    samla = served.samla
    for n in range(count):

        async def action(db: Any, n: int = n) -> Any:
            from rooms.models import Outcome

            return Outcome(session_id, None, (Event("burst.tick", {"n": n}, key="burst"),))

        await samla.change(action)
