"""What a reopened event stream costs, and that what it no longer reads is still right: a
participant's token is known without a read, the room and the membership are read with the
snapshot, and the shared body is serialised once per audience and version."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import websockets
from sqlalchemy import delete, select

from live import sockets
from live.app import JOBS as SAMLA_JOBS
from live.hub import Connection
from rooms.models import Participant
from tests.conftest import Api, Served, eventually
from tests.live.pages import join_by_form, page_socket

JOBS = {f"samla-{job.name}" for job in SAMLA_JOBS}


async def _nothing(*_: Any) -> None:
    return None


async def _open_rooms(api: Api, session: dict[str, Any], count: int) -> list[dict[str, Any]]:
    r = await api.call(
        "POST",
        f"/api/v1/sessions/{session['id']}/rooms",
        session["moderator_token"],
        json={"count": count, "assignment": "random"},
    )
    assert r.status_code == 201, r.text
    rooms: list[dict[str, Any]] = r.json()["rooms"]
    return rooms


async def _snapshot(stream: Callable[..., Any], session_id: str, token: str) -> dict[str, Any]:
    async with stream(session_id, token) as s:
        frame: dict[str, Any] = await s.next()
    assert frame["type"] == "snapshot"
    return frame


def _counting_reads(served: Served) -> list[str]:
    """Every transaction the test's own store opens from now on, by kind; not those of
    Samla's periodic jobs (the round clock reads every second, whoever is connected)."""
    store = served.samla.store
    opened: list[str] = []
    for kind in ("read", "hub_read", "write"):
        inner = getattr(store, kind)

        def counted(inner: Any = inner, kind: str = kind) -> Any:
            @asynccontextmanager
            async def wrapped() -> AsyncIterator[Any]:
                task = asyncio.current_task()
                if task is None or task.get_name() not in JOBS:
                    opened.append(kind)
                async with inner() as db:
                    yield db

            return wrapped()

        setattr(store, kind, counted)
    return opened


async def test_a_reopened_participant_stream_opens_one_read_transaction(
    api: Api, stream: Any, served: Served
) -> None:
    session = await api.make_session()
    watcher, person = await api.join(session, "A"), await api.join(session, "B")
    # The session is watched here (its version is known), and the person is here already:
    # who is here does not change, so nothing else is read meanwhile.
    async with (
        stream(session["id"], watcher["token"]) as w,
        stream(session["id"], person["token"]) as p,
    ):
        await w.next()
        await p.next()
        coalescer = served.samla.hub.coalescer

        async def on_its_loop() -> bool:
            return coalescer.quiet()

        async def quiet() -> bool:
            return bool(await served.run(on_its_loop))

        await eventually(quiet)  # the joins' changes have gone out (their summaries read)
        opened = _counting_reads(served)
        frame = await _snapshot(stream, session["id"], person["token"])
    assert frame["you"]["participant_id"] == person["participant_id"]
    # The token's owner was kept at join; the version, the membership and the room are one
    # read, the snapshot's.
    assert opened == ["read"]


async def test_a_person_moved_to_a_room_reconnects_to_the_rooms_snapshot(
    api: Api, stream: Any
) -> None:
    session = await api.make_session()
    joined = [await api.join(session, f"P{i}") for i in range(4)]
    mover = joined[0]
    before = await _snapshot(stream, session["id"], mover["token"])
    assert before["you"]["room_id"] is None
    rooms = await _open_rooms(api, session, 2)
    seated = next(r for r in rooms if mover["participant_id"] in r["participant_ids"])
    other = next(r for r in rooms if r is not seated)
    after = await _snapshot(stream, session["id"], mover["token"])
    assert after["you"]["room_id"] == seated["id"]
    r = await api.call(
        "POST",
        f"/api/v1/rooms/{other['id']}/members",
        session["moderator_token"],
        json={"participant_id": mover["participant_id"]},
    )
    assert r.status_code == 200, r.text
    moved = await _snapshot(stream, session["id"], mover["token"])
    assert moved["you"]["room_id"] == other["id"]
    assert moved["version"] > after["version"] > before["version"]


async def test_a_removed_participant_is_refused_though_their_token_is_kept(
    api: Api, stream: Any, served: Served
) -> None:
    session = await api.make_session()
    person = await api.join(session, "Borttagen")
    await _snapshot(stream, session["id"], person["token"])  # the token's owner is kept

    async def remove_behind_the_hubs_back() -> None:
        # As if the message that tells every instance to forget the token was lost.
        async with served.samla.store.write() as db:
            await db.execute(delete(Participant).where(Participant.id == person["participant_id"]))

    await served.run(remove_behind_the_hubs_back)
    async with stream(session["id"], person["token"]) as s:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await s.next()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    assert not [f for f in s.frames if f.get("type") == "snapshot"]


async def test_a_participant_removed_by_a_moderator_is_refused(api: Api, stream: Any) -> None:
    session = await api.make_session()
    person = await api.join(session, "Borttagen")
    await _snapshot(stream, session["id"], person["token"])
    r = await api.call(
        "DELETE",
        f"/api/v1/sessions/{session['id']}/participants/{person['participant_id']}",
        session["moderator_token"],
    )
    assert r.status_code in (200, 204), r.text
    async with stream(session["id"], person["token"]) as s:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await s.next()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


async def test_a_token_for_another_session_is_refused(api: Api, stream: Any) -> None:
    first, second = await api.make_session("Ett"), await api.make_session("Två")
    person = await api.join(first, "A")
    async with stream(second["id"], person["token"]) as s:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await s.next()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


async def test_participants_of_an_audience_share_the_body_and_differ_in_you(
    api: Api, stream: Any
) -> None:
    session = await api.make_session()
    a, b = await api.join(session, "A"), await api.join(session, "B")
    async with stream(session["id"], a["token"]) as sa, stream(session["id"], b["token"]) as sb:
        first, second = await sa.next(), await sb.next()
    assert first["you"] == {
        "role": "participant",
        "participant_id": a["participant_id"],
        "room_id": None,
        "room": None,
    }
    assert second["you"]["participant_id"] == b["participant_id"]
    shared = {k: v for k, v in first.items() if k not in ("you", "here")}
    assert shared == {k: v for k, v in second.items() if k not in ("you", "here")}
    assert list(first)[-1] == "you" and {"type", "version", "session", "here"} <= set(first)


async def test_a_message_before_the_first_snapshot_acts_from_the_participants_room(
    api: Api, served: Served
) -> None:
    session = await api.make_session()
    joined = [await api.join(session, f"P{i}") for i in range(2)]
    rooms = await _open_rooms(api, session, 1)
    person = joined[0]
    conn = Connection(
        session_id=session["id"],
        role="participant",
        kind="json",
        locale="en",
        send=_nothing,
        close=_nothing,
        participant_id=person["participant_id"],
    )
    assert conn.version < 0  # no snapshot yet

    async def rename() -> None:
        await sockets._perform(served.samla, conn, "rename", {"type": "rename", "name": "Ny"})

    await served.run(rename)
    assert conn.room_id == rooms[0]["id"]
    assert json.loads(conn.direct[-1]) == {"type": "ack", "for": "rename"}


async def test_a_participants_page_reopens_from_its_cookie_and_shows_their_room(
    api: Api, served: Served
) -> None:
    session = await api.make_session()
    others = [await api.join(session, f"P{i}") for i in range(3)]
    async with httpx.AsyncClient(base_url=served.base) as browser:
        await join_by_form(browser, session["code"], "Anna")
        path = f"/s/{session['id']}/ws"
        async with page_socket(served.base, browser, path) as page:
            assert 'id="you"' in await page.until('id="you"') and "Anna" in page.frames[0]
        rooms = await _open_rooms(api, session, 1)
        assert len(rooms[0]["participant_ids"]) == len(others) + 1
        async with page_socket(served.base, browser, path) as page:
            frame = await page.until('id="you"')
        assert rooms[0]["name"] in frame


async def test_a_removed_participants_page_is_refused_though_their_token_is_kept(
    api: Api, served: Served
) -> None:
    session = await api.make_session()
    async with httpx.AsyncClient(base_url=served.base) as browser:
        await join_by_form(browser, session["code"], "Anna")  # the token's owner is kept
        path = f"/s/{session['id']}/ws"

        async def remove_behind_the_hubs_back() -> None:
            async with served.samla.store.write() as db:
                await db.execute(delete(Participant).where(Participant.session_id == session["id"]))
                left = await db.scalars(
                    select(Participant).where(Participant.session_id == session["id"])
                )
                assert not list(left)

        await served.run(remove_behind_the_hubs_back)
        async with page_socket(served.base, browser, path) as page:
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await page.next()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
