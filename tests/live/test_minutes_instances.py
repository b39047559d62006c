"""A room's minutes across sockets and instances: writers spread over two `samla serve`
processes on one Redis and one database converge with the store, an instance that lost Redis
or a relayed message catches up, a newcomer learns who is here without asking everyone,
and a person moved to another room stops reading the old room's minutes."""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from live.broker import MINUTES_PREFIX
from live.minutes import protocol
from live.store import Store
from rooms import minutes
from tests.conftest import (
    Api,
    RedisServer,
    Served,
    eventually,
    free_port,
    samla_process,
    wait_healthy,
)
from tests.live.test_minutes_api import Writer, awareness_message, clocks, room_with, sync_url

ROOT = Path(__file__).resolve().parents[2]
EMAIL, PASSWORD = "organiser@samla.test", "a long test password"


@dataclass
class Instances:
    bases: list[str]
    store: Store

    def ws(self, n: int, room_id: str) -> str:
        base = self.bases[n % len(self.bases)].replace("http://", "ws://")
        return f"{base}/api/v1/rooms/{room_id}/minutes/sync"

    async def stored(self, room_id: str) -> bytes:
        async with self.store.read() as db:
            return await minutes.document(db, room_id)


@pytest.fixture
async def instances(tmp_path: Path, own_redis: RedisServer) -> AsyncIterator[Instances]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
    env = {"DATABASE_URL": url, "REDIS_URL": own_redis.url, "SECRET_KEY": "one-secret-for-all"}
    add = subprocess.run(
        [sys.executable, "-m", "live.cli", "organiser", "add", EMAIL],
        input=PASSWORD + "\n",
        text=True,
        capture_output=True,
        cwd=ROOT,
        env={**os.environ, **env},
        timeout=60,
    )
    assert add.returncode == 0, add.stderr
    procs: list[subprocess.Popen[bytes]] = []
    bases = []
    store = Store(url)
    try:
        for _ in range(2):
            port = free_port()
            procs.append(samla_process(port, env, ROOT, tmp_path / f"samla-{port}.log"))
            await asyncio.to_thread(wait_healthy, port)
            bases.append(f"http://127.0.0.1:{port}")
        yield Instances(bases, store)
    finally:
        await store.close()
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


async def _room_of(base: str, people: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A room with `people` participants placed in it."""
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        token = (
            await client.post("/api/v1/auth/token", json={"email": EMAIL, "password": PASSWORD})
        ).json()["token"]
        organiser = {"Authorization": f"Bearer {token}"}
        session = (
            await client.post(
                "/api/v1/sessions", json={"title": "Två instanser"}, headers=organiser
            )
        ).json()
        joined = [
            (await client.post("/api/v1/join", json={"code": session["code"]})).json()
            for _ in range(people)
        ]
        r = await client.post(
            f"/api/v1/sessions/{session['id']}/rooms",
            json={"count": 1, "assignment": "random"},
            headers={"Authorization": f"Bearer {session['moderator_token']}"},
        )
        assert r.status_code == 201, r.text
        room: dict[str, Any] = r.json()["rooms"][0]
    return room, joined


async def _connected(url: str, token: str) -> Writer:
    writer = Writer(url, token)
    await writer.connect()
    await asyncio.wait_for(writer.synced.wait(), 10)
    return writer


async def test_writers_on_two_instances_converge_with_the_store(instances: Instances) -> None:
    room, joined = await _room_of(instances.bases[0], 20)
    writers = [
        await _connected(instances.ws(n, room["id"]), j["token"]) for n, j in enumerate(joined)
    ]
    rng = random.Random(2)

    async def write(i: int, writer: Writer) -> None:
        mine = random.Random(rng.random())
        for n in range(100):
            if i % 4 == 0 and n in (30, 70):
                await writer.disconnect()
                for _ in range(10):  # offline: kept, sent at the next sync
                    writer.edit(mine)
                # Back through the other instance.
                writer.url = instances.ws(i + n, room["id"])
                await writer.connect()
                await asyncio.wait_for(writer.synced.wait(), 10)
            writer.edit(mine)
            await asyncio.sleep(mine.uniform(0.02, 0.06))  # a brisk typist: 15-50 a second

    await asyncio.gather(*(write(i, w) for i, w in enumerate(writers)))

    async def all_equal() -> bool:
        truth = minutes.text_of(await instances.stored(room["id"]))
        return all(str(w.text) == truth for w in writers)

    await eventually(all_equal, timeout=30, every=0.2)
    state = clocks(minutes.state_of(await instances.stored(room["id"])))
    for w in writers:
        assert state.get(w.doc.client_id, 0) >= w.own_clock() > 0
        assert w.closed is None
    for w in writers:
        await w.disconnect()


async def test_an_instance_that_lost_redis_catches_up_from_the_store(
    instances: Instances, own_redis: RedisServer
) -> None:
    room, (anna, bo) = await _room_of(instances.bases[0], 2)
    a = await _connected(instances.ws(0, room["id"]), anna["token"])
    b = await _connected(instances.ws(1, room["id"]), bo["token"])
    a.text.insert(0, "Före avbrottet.")
    await eventually(lambda: _shows(b, "Före avbrottet."), timeout=10)
    own_redis.stop()
    a.text.insert(len(a.text), " Under avbrottet.")  # stored, but not relayed to b's instance
    want = "Före avbrottet. Under avbrottet."
    await eventually(lambda: _stored_is(instances, room["id"], want), timeout=10)
    own_redis.start()
    await eventually(lambda: _shows(b, want), timeout=20)
    await a.disconnect()
    await b.disconnect()


async def _shows(writer: Writer, text: str) -> bool:
    return str(writer.text) == text


async def _stored_is(instances: Instances, room_id: str, text: str) -> bool:
    return minutes.text_of(await instances.stored(room_id)) == text


def _clients(message: bytes) -> set[int]:
    """The awareness clients an awareness message speaks of."""
    found = protocol.read(message)
    assert found.kind == "awareness"
    return {client for client, _, _ in protocol.read_awareness(found.payload).entries}


async def test_a_newcomer_gets_everyones_awareness_in_one_message_and_asks_nobody(
    served: Served, api: Api
) -> None:
    _, people, (room,) = await room_with(api, 30)
    writers: list[Writer] = []
    for n, person in enumerate(people):
        before = [w.received for w in writers]
        writer = Writer(sync_url(served, room["id"]), person["token"])
        await writer.connect()
        await asyncio.wait_for(writer.synced.wait(), 10)
        if writers:
            await asyncio.wait_for(writer.aware.wait(), 5)
            (states,) = writer.awareness
            assert _clients(states) == {w.doc.client_id for w in writers}
        state = f'{{"user": {{"name": "Skribent {n}", "color": "#30bced"}}}}'
        await writer.ws.send(awareness_message(writer.doc.client_id, 1, state))
        # The others hear of the newcomer once: its own awareness, nothing else.
        for w, count in zip(writers, before, strict=True):
            await eventually(lambda w=w, count=count: _received(w, count + 1), timeout=5)
        writers.append(writer)
    await asyncio.sleep(0.2)  # nothing more is on its way
    counts = [w.received for w in writers]
    assert all(w.closed is None for w in writers)
    for w in writers:
        await w.disconnect()
    assert counts[0] == 2 + len(writers) - 1  # step 1, step 2 and each newcomer's awareness


async def _received(writer: Writer, count: int) -> bool:
    assert writer.received <= count, "a message beyond the newcomer's awareness"
    return writer.received == count


async def _move(api: Api, session: dict[str, Any], room_id: str, participant_id: str) -> None:
    r = await api.call(
        "POST",
        f"/api/v1/rooms/{room_id}/members",
        session["moderator_token"],
        json={"participant_id": participant_id},
    )
    assert r.status_code == 200, r.text


async def test_a_person_moved_to_another_room_stops_reading_the_old_rooms_minutes(
    served: Served, api: Api
) -> None:
    session, (anna, bo), rooms = await room_with(api, 2, rooms=2)
    here, there = rooms[0]["id"], rooms[1]["id"]
    for person in (anna, bo):
        await _move(api, session, here, person["participant_id"])
    a = await _connected(sync_url(served, here), anna["token"])
    b = await _connected(sync_url(served, here), bo["token"])
    await _move(api, session, there, anna["participant_id"])
    code, reason = await a.wait_closed(timeout=1.0)
    assert code == 1013 and "room" in reason
    b.text.insert(0, "Bara för rummet.")
    await asyncio.sleep(0.2)
    assert str(a.text) == "" and b.closed is None
    again = Writer(sync_url(served, here), anna["token"])
    await again.connect()
    code, _ = await again.wait_closed()
    assert code == 1008
    await b.disconnect()


async def test_a_lost_relay_message_and_a_move_reach_the_other_instance(
    served_factory: Any, redis_server: RedisServer
) -> None:
    one: Served = served_factory(redis_server.url)
    two: Served = served_factory(redis_server.url)
    async with httpx.AsyncClient(base_url=one.base, timeout=30) as client:
        api = Api(one, client)
        session, (anna, bo), rooms = await room_with(api, 2, rooms=2)
        here, there = rooms[0]["id"], rooms[1]["id"]
        for person in (anna, bo):
            await _move(api, session, here, person["participant_id"])
        a = await _connected(sync_url(one, here), anna["token"])
        b = await _connected(sync_url(two, here), bo["token"])
        a.text.insert(0, "Första.")
        await eventually(lambda: _shows(b, "Första."), timeout=5)
        # The next relayed message of `one` is lost on the way (stored, never published).
        broker = one.app.state.minutes.relay.broker
        publish = broker.publish
        lost: list[bytes] = []

        async def lossy(channel: str, payload: bytes) -> None:
            if channel.startswith(MINUTES_PREFIX) and not lost:
                lost.append(payload)
                return
            await publish(channel, payload)

        broker.publish = lossy
        a.text.insert(len(a.text), " Andra.")
        await eventually(lambda: _lost(lost), timeout=5)
        broker.publish = publish
        # Within a reconcile round or two (1 s each here), `two` finds the version it missed.
        await eventually(lambda: _shows(b, "Första. Andra."), timeout=4)
        # Moved by a moderator on `one`, Bo's socket on `two` closes.
        await _move(api, session, there, bo["participant_id"])
        code, _ = await b.wait_closed(timeout=1.5)
        assert code == 1013
        await a.disconnect()


async def _lost(lost: list[bytes]) -> bool:
    return bool(lost)
