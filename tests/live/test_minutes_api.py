"""A room's shared minutes from the outside: pycrdt documents as clients speaking the Yjs sync
protocol over the real socket, the plain text over the API, and every refusal."""

from __future__ import annotations

import asyncio
import contextlib
import random
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from pycrdt import (
    Decoder,
    Doc,
    Encoder,
    Text,
    TransactionEvent,
    YMessageType,
    YSyncMessageType,
    create_awareness_message,
    create_update_message,
)
from pycrdt import write_var_uint as var_uint
from sqlalchemy import select
from sqlmodel import col
from websockets.exceptions import ConnectionClosed, InvalidStatus

from live.demo import fill
from live.demo.breakout import GROUP_SESSION
from live.minutes.relay import QUEUE_MAX, Scribe
from live.store import Store
from rooms import minutes
from rooms.models import Session
from tests.conftest import Api, Served, eventually, make_settings
from tests.live.pages import join_by_form

Made = dict[str, Any]


def _sync(step: int, payload: bytes) -> bytes:
    return bytes([YMessageType.SYNC, step]) + var_uint(len(payload)) + payload


def clocks(state: bytes) -> dict[int, int]:
    """A state vector as {client id: clock}."""
    decoder = Decoder(state)
    return {
        decoder.read_var_uint(): decoder.read_var_uint() for _ in range(decoder.read_var_uint())
    }


class Writer:
    """A person writing the minutes: a pycrdt document kept in sync over the socket, that
    edits while disconnected too and merges on reconnect (sync step 1 and 2)."""

    def __init__(self, url: str, token: str, headers: dict[str, str] | None = None) -> None:
        self.url = url
        self.headers = headers or {"Authorization": f"Bearer {token}"}
        self.doc: Doc[Text] = Doc()
        self.text = self.doc.get(minutes.TEXT, type=Text)
        self.ws: Any = None
        self.reader: asyncio.Task[None] | None = None
        self.received = 0
        self.closed: tuple[int, str] | None = None
        self.synced = asyncio.Event()
        self.awareness: list[bytes] = []  # every awareness message received
        self.aware = asyncio.Event()
        self._remote = False
        self.doc.observe(self._changed)

    def _changed(self, event: TransactionEvent) -> None:
        if self._remote or self.ws is None:
            return  # a remote change, or offline: the next sync sends it
        update = event.update
        task = asyncio.get_running_loop().create_task(self._send(create_update_message(update)))
        task.add_done_callback(lambda t: t.cancelled() or t.exception())

    async def _send(self, message: bytes) -> None:
        if self.ws is not None:
            with contextlib.suppress(ConnectionClosed):
                await self.ws.send(message)

    async def connect(self) -> None:
        self.synced.clear()
        self.closed = None
        self.ws = await websockets.connect(
            self.url,
            additional_headers=self.headers,
            max_size=2**22,
            compression=None,
        )
        self.reader = asyncio.create_task(self._read())
        await self._send(_sync(YSyncMessageType.SYNC_STEP1, self.doc.get_state()))

    async def _read(self) -> None:
        ws = self.ws
        try:
            async for message in ws:
                self.received += 1
                assert isinstance(message, bytes)
                await self._handle(message)
        except ConnectionClosed:
            pass
        if ws.close_code is not None:
            self.closed = (ws.close_code, ws.close_reason or "")

    async def _handle(self, message: bytes) -> None:
        decoder = Decoder(message)
        kind = decoder.read_var_uint()
        if kind == YMessageType.AWARENESS:
            self.awareness.append(message)
            self.aware.set()
        if kind != YMessageType.SYNC:
            return
        step = decoder.read_var_uint()
        payload = decoder.read_message()
        assert payload is not None
        if step == YSyncMessageType.SYNC_STEP1:
            reply = _sync(YSyncMessageType.SYNC_STEP2, self.doc.get_update(payload))
            await self._send(reply)
            return
        self._remote = True
        try:
            self.doc.apply_update(payload)
        finally:
            self._remote = False
        if step == YSyncMessageType.SYNC_STEP2:
            self.synced.set()

    async def disconnect(self) -> None:
        ws, self.ws = self.ws, None
        if ws is not None:
            await ws.close()
        if self.reader is not None:
            await self.reader

    async def wait_closed(self, timeout: float = 5.0) -> tuple[int, str]:
        assert self.reader is not None
        await asyncio.wait_for(self.reader, timeout)
        assert self.closed is not None
        return self.closed

    def edit(self, rng: random.Random) -> None:
        """Inserts a few letters, or deletes a few, at a random place."""
        length = len(self.text)
        if length > 20 and rng.random() < 0.3:
            start = rng.randrange(length - 3)
            del self.text[start : start + rng.randint(1, 3)]
        else:
            word = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz ") for _ in range(3))
            self.text.insert(rng.randint(0, length), word)

    def own_clock(self) -> int:
        return clocks(self.doc.get_state()).get(self.doc.client_id, 0)


async def room_with(
    api: Api, people: int, rooms: int = 1
) -> tuple[Made, list[dict[str, Any]], list[dict[str, Any]]]:
    """A session whose `people` participants are placed in `rooms` open rooms."""
    session = await api.make_session("Protokoll i grupp")
    joined = [await api.join(session, f"Skribent {i}") for i in range(people)]
    r = await api.call(
        "POST",
        f"/api/v1/sessions/{session['id']}/rooms",
        session["moderator_token"],
        json={"count": rooms, "assignment": "random"},
    )
    assert r.status_code == 201, r.text
    return session, joined, r.json()["rooms"]


def sync_url(served: Served, room_id: str) -> str:
    return f"{served.ws_base}/api/v1/rooms/{room_id}/minutes/sync"


async def stored(served: Served, document_id: str) -> bytes:
    async def read() -> bytes:
        async with served.samla.store.read() as db:
            return await minutes.document(db, document_id)

    found: bytes = await served.run(read)
    return found


def text_of(update: bytes) -> str:
    return minutes.text_of(update)


async def connected(served: Served, room_id: str, token: str) -> Writer:
    writer = Writer(sync_url(served, room_id), token)
    await writer.connect()
    await asyncio.wait_for(writer.synced.wait(), 5)
    return writer


async def test_what_one_writes_reaches_the_other_and_the_api(served: Served, api: Api) -> None:
    session, (anna, bo), (room,) = await room_with(api, 2)
    a = await connected(served, room["id"], anna["token"])
    b = await connected(served, room["id"], bo["token"])
    a.text.insert(0, "Vi pratade om samverkan.")
    await eventually(lambda: _equal(b, "Vi pratade om samverkan."))
    b.text.insert(len(b.text), " Nästa steg: en gemensam plan.")
    want = "Vi pratade om samverkan. Nästa steg: en gemensam plan."
    await eventually(lambda: _equal(a, want))
    r = await api.call("GET", f"/api/v1/rooms/{room['id']}/minutes", anna["token"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["room_id"] == room["id"] and body["text"] == want
    assert body["updated_at"].endswith("Z")
    r = await api.call("GET", f"/api/v1/rooms/{room['id']}/minutes", session["moderator_token"])
    assert r.status_code == 200 and r.json()["text"] == want
    await a.disconnect()
    await b.disconnect()


async def _equal(writer: Writer, text: str) -> bool:
    return str(writer.text) == text


async def test_a_late_writer_gets_the_stored_minutes_first(served: Served, api: Api) -> None:
    _, (anna, bo), (room,) = await room_with(api, 2)
    a = await connected(served, room["id"], anna["token"])
    a.text.insert(0, "Deltagare: sex personer.")
    await eventually(lambda: _stored_is(served, room["id"], "Deltagare: sex personer."))
    await a.disconnect()
    b = await connected(served, room["id"], bo["token"])
    assert str(b.text) == "Deltagare: sex personer."
    await b.disconnect()


async def _stored_is(served: Served, room_id: str, text: str) -> bool:
    return text_of(await stored(served, room_id)) == text


async def test_minutes_text_is_refused_to_others(served: Served, api: Api) -> None:
    session, (anna, _bo), rooms = await room_with(api, 2, rooms=2)
    mine = next(r for r in rooms if anna["participant_id"] in r["participant_ids"])
    other = next(r for r in rooms if r is not mine)
    path = f"/api/v1/rooms/{other['id']}/minutes"
    assert (await api.call("GET", path)).status_code == 401
    forbidden = await api.call("GET", path, anna["token"])
    assert forbidden.status_code == 403
    assert forbidden.json()["error"]["code"] == "forbidden"
    assert "not in this room" in forbidden.json()["error"]["message"]
    missing = await api.call("GET", "/api/v1/rooms/nosuchroom/minutes", anna["token"])
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    stranger_session = await api.make_session("Ett annat samtal")
    stranger = await api.join(stranger_session, "Främling")
    assert (
        await api.call("GET", f"/api/v1/rooms/{mine['id']}/minutes", stranger["token"])
    ).status_code == 403
    empty = await api.call("GET", f"/api/v1/rooms/{mine['id']}/minutes", anna["token"])
    assert empty.json() == {"room_id": mine["id"], "text": "", "updated_at": None}
    del session


async def test_a_socket_for_a_room_one_is_not_in_is_closed_with_1008(
    served: Served, api: Api
) -> None:
    _, (anna, _bo), rooms = await room_with(api, 2, rooms=2)
    other = next(r for r in rooms if anna["participant_id"] not in r["participant_ids"])
    writer = Writer(sync_url(served, other["id"]), anna["token"])
    await writer.connect()
    code, reason = await writer.wait_closed()
    assert code == 1008 and "not in this room" in reason
    assert await stored(served, other["id"]) == minutes.EMPTY


async def test_a_malformed_update_is_refused_and_the_minutes_are_unharmed(
    served: Served, api: Api
) -> None:
    _, (anna, bo), (room,) = await room_with(api, 2)
    a = await connected(served, room["id"], anna["token"])
    a.text.insert(0, "Beslut: vi ses igen.")
    await eventually(lambda: _stored_is(served, room["id"], "Beslut: vi ses igen."))
    before = await stored(served, room["id"])
    b = await connected(served, room["id"], bo["token"])
    await b.ws.send(_sync(YSyncMessageType.SYNC_UPDATE, b"\x05garbage that is no update"))
    code, reason = await b.wait_closed()
    assert code == 1008 and "not a Yjs update" in reason
    not_protocol = await connected(served, room["id"], bo["token"])
    await not_protocol.ws.send(b"\x00\x07")
    code, reason = await not_protocol.wait_closed()
    assert code == 1008 and "protocol" in reason
    assert await stored(served, room["id"]) == before
    await a.disconnect()


async def test_an_update_over_64_kb_is_refused_with_1009(served: Served, api: Api) -> None:
    _, (anna,), (room,) = await room_with(api, 1)
    a = await connected(served, room["id"], anna["token"])
    a.text.insert(0, "Kort början.")
    await eventually(lambda: _stored_is(served, room["id"], "Kort början."))
    before = await stored(served, room["id"])
    a.text.insert(0, "x" * (70 * 1024))  # one paste, one update
    code, _ = await a.wait_closed()
    assert code == 1009
    assert await stored(served, room["id"]) == before


async def test_minutes_past_one_megabyte_are_refused_with_1009(served: Served, api: Api) -> None:
    _, (anna,), (room,) = await room_with(api, 1)
    a = await connected(served, room["id"], anna["token"])
    page = ("Ett stycke protokoll, langt nog. " * 1600)[:50_000]  # 50 KB a paste
    for _ in range(20):
        a.text.insert(len(a.text), page)
    size = len(page) * 20
    await eventually(lambda: _stored_length(served, room["id"], size), timeout=15)
    before = await stored(served, room["id"])
    a.text.insert(len(a.text), page)  # past 1 MB
    code, reason = await a.wait_closed()
    assert code == 1009 and "full" in reason
    assert await stored(served, room["id"]) == before


async def _stored_length(served: Served, room_id: str, length: int) -> bool:
    return len(text_of(await stored(served, room_id))) == length


async def test_after_the_rooms_close_the_minutes_are_read_only(served: Served, api: Api) -> None:
    session, (anna,), (room,) = await room_with(api, 1)
    a = await connected(served, room["id"], anna["token"])
    a.text.insert(0, "Sammanfattning.")
    await eventually(lambda: _stored_is(served, room["id"], "Sammanfattning."))
    await a.disconnect()
    r = await api.call(
        "POST", f"/api/v1/sessions/{session['id']}/rooms/close", session["moderator_token"]
    )
    assert r.status_code == 200, r.text
    reader = await connected(served, room["id"], anna["token"])
    assert str(reader.text) == "Sammanfattning."
    reader.text.insert(0, "Tillägg: ")
    code, reason = await reader.wait_closed()
    assert code == 1008 and "closed" in reason
    assert text_of(await stored(served, room["id"])) == "Sammanfattning."
    r = await api.call("GET", f"/api/v1/rooms/{room['id']}/minutes", anna["token"])
    assert r.json()["text"] == "Sammanfattning."


async def test_twenty_writers_converge_and_no_acknowledged_edit_is_lost(
    served: Served, api: Api
) -> None:
    _, joined, (room,) = await room_with(api, 20)
    writers = [await connected(served, room["id"], j["token"]) for j in joined]
    rng = random.Random(20)

    async def write(i: int, writer: Writer) -> None:
        mine = random.Random(rng.random())
        for n in range(100):
            if i % 4 == 0 and n in (30, 70):
                await writer.disconnect()
                for _ in range(10):  # offline: kept, sent at the next sync
                    writer.edit(mine)
                await writer.connect()
                await asyncio.wait_for(writer.synced.wait(), 10)
            writer.edit(mine)
            await asyncio.sleep(mine.uniform(0.02, 0.06))  # a brisk typist: 15-50 a second

    await asyncio.gather(*(write(i, w) for i, w in enumerate(writers)))
    await _converged(served, room["id"], writers)
    for w in writers:
        await w.disconnect()


async def _converged(served: Served, document_id: str, writers: list[Writer]) -> None:
    async def all_equal() -> bool:
        truth = text_of(await stored(served, document_id))
        return all(str(w.text) == truth for w in writers)

    try:
        await eventually(all_equal, timeout=30, every=0.2)
    except AssertionError:
        truth = text_of(await stored(served, document_id))
        seen = [(len(str(w.text)), w.closed, w.received) for w in writers]
        raise AssertionError(f"stored {len(truth)} characters; writers: {seen}") from None
    state = clocks(minutes.state_of(await stored(served, document_id)))
    for w in writers:
        assert state.get(w.doc.client_id, 0) >= w.own_clock() > 0
        assert w.closed is None or w.ws is None


def awareness_message(client: int, clock: int, state: str) -> bytes:
    encoder = Encoder()
    encoder.write_var_uint(1)
    encoder.write_var_uint(client)
    encoder.write_var_uint(clock)
    encoder.write_var_string(state)
    return create_awareness_message(encoder.to_bytes())


async def test_awareness_is_relayed_never_stored_and_cleared_when_one_leaves(
    served: Served, api: Api
) -> None:
    _, (anna, bo), (room,) = await room_with(api, 2)
    a = await connected(served, room["id"], anna["token"])
    b = await connected(served, room["id"], bo["token"])
    b.aware.clear()
    # Anna's client says she is Bo: the others see the name she shows, her own.
    here = '{"user": {"name": "Bo", "color": "#30bced"}, "cursor": null}'
    await a.ws.send(awareness_message(a.doc.client_id, 1, here))
    await asyncio.wait_for(b.aware.wait(), 5)
    told = '{"user": {"color": "#30bced", "name": "Skribent 0"}, "cursor": null}'
    assert b.awareness[-1] == awareness_message(a.doc.client_id, 1, told)
    assert await stored(served, room["id"]) == minutes.EMPTY
    b.aware.clear()
    await a.disconnect()
    await asyncio.wait_for(b.aware.wait(), 5)
    # At her last clock: her browser, coming back, sends its state at a newer one.
    assert b.awareness[-1] == awareness_message(a.doc.client_id, 1, "null")
    await b.disconnect()


async def test_plenary_minutes_are_switched_on_by_a_moderator_and_written_by_members(
    served: Served, api: Api
) -> None:
    session = await api.make_session("Plenum")
    anna = await api.join(session, "Anna")
    path = f"/api/v1/sessions/{session['id']}/minutes"
    url = f"{served.ws_base}{path}/sync"
    off = await api.call("GET", path, anna["token"])
    assert off.status_code == 404 and "switches them on" in off.json()["error"]["message"]
    early = Writer(url, anna["token"])
    await early.connect()
    code, reason = await early.wait_closed()
    assert code == 1008 and "switches them on" in reason
    refused = await api.call("POST", path, anna["token"], json={"plenary": True})
    assert refused.status_code == 403
    bad = await api.call("POST", path, session["moderator_token"], json={"plenary": "yes"})
    assert bad.status_code == 422
    on = await api.call("POST", path, session["moderator_token"], json={"plenary": True})
    assert on.status_code == 200 and on.json() == {"session_id": session["id"], "plenary": True}
    writer = Writer(url, anna["token"])
    await writer.connect()
    await asyncio.wait_for(writer.synced.wait(), 5)
    writer.text.insert(0, "Öppning: välkomna.")
    await eventually(lambda: _plenary_is(api, path, anna["token"], "Öppning: välkomna."))
    await api.call("POST", path, session["moderator_token"], json={"plenary": False})
    writer.text.insert(0, "Sent: ")
    code, reason = await writer.wait_closed()
    assert code == 1008 and "switched off" in reason
    read = await api.call("GET", path, anna["token"])
    assert read.json()["text"] == "Öppning: välkomna."
    assert read.json()["session_id"] == session["id"]


async def _plenary_is(api: Api, path: str, token: str, text: str) -> bool:
    r = await api.call("GET", path, token)
    return r.status_code == 200 and r.json()["text"] == text


async def test_a_moderator_collects_a_passage_onto_a_plenary_board(
    served: Served, api: Api
) -> None:
    session, (anna,), (room,) = await room_with(api, 1)
    moderator = session["moderator_token"]
    r = await api.call(
        "POST",
        f"/api/v1/sessions/{session['id']}/boards",
        moderator,
        json={"title": "Från grupperna", "columns": ["Idéer", "Hinder"]},
    )
    assert r.status_code == 201, r.text
    board = r.json()
    a = await connected(served, room["id"], anna["token"])
    a.text.insert(0, "Vi vill ha en gemensam kontaktperson.\nOch  mer tid för samtal.")
    await eventually(lambda: _stored_length(served, room["id"], len(str(a.text))))
    path = f"/api/v1/rooms/{room['id']}/minutes/collect"
    body = {"board_id": board["id"], "column_id": board["columns"][1]["id"]}
    passage = "gemensam kontaktperson. Och mer tid"
    r = await api.call("POST", path, moderator, json={**body, "text": passage})
    assert r.status_code == 201, r.text
    note = r.json()
    assert note["text"] == passage and note["column"] == board["columns"][1]["id"]
    r = await api.call("GET", f"/api/v1/boards/{board['id']}", moderator)
    assert [n["text"] for n in r.json()["notes"]] == [passage]
    first = await api.call(
        "POST", path, moderator, json={"board_id": board["id"], "text": "Vi vill"}
    )
    assert first.status_code == 201 and first.json()["column"] == board["columns"][0]["id"]
    missing = await api.call("POST", path, moderator, json={**body, "text": "Något annat."})
    assert missing.status_code == 422 and "not in the room's minutes" in missing.text
    assert (
        await api.call("POST", path, anna["token"], json={**body, "text": "Vi"})
    ).status_code == 403
    too_long = await api.call("POST", path, moderator, json={**body, "text": "x" * 5000})
    assert too_long.status_code == 422
    await a.disconnect()
    # Once the rooms have closed, their minutes can still be collected from.
    closed = await api.call("POST", f"/api/v1/sessions/{session['id']}/rooms/close", moderator)
    assert closed.status_code == 200, closed.text
    after = await api.call(
        "POST", path, moderator, json={"board_id": board["id"], "text": "mer tid för samtal."}
    )
    assert after.status_code == 201, after.text
    r = await api.call("GET", f"/api/v1/boards/{board['id']}", moderator)
    assert [n["text"] for n in r.json()["notes"]][-1] == "mer tid för samtal."


async def test_the_demos_rooms_have_swedish_minutes(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    await fill(settings, "http://127.0.0.1:8000")
    store = Store(settings.database_url)
    try:
        async with store.read() as db:
            group = await db.scalar(select(Session).where(col(Session.title) == GROUP_SESSION))
            assert group is not None
            texts = await minutes.texts_of_session(db, group.id)
    finally:
        await store.close()
    assert len(texts) == 3
    assert all(text.startswith("Minnesanteckningar, grupp") for text in texts.values())
    assert any("Nästa steg" in text for text in texts.values())


async def test_a_browser_writes_with_its_cookie_from_its_own_origin_only(
    served: Served, api: Api
) -> None:
    session = await api.make_session("Med webbläsare")
    async with httpx.AsyncClient(base_url=served.base) as browser:
        await join_by_form(browser, session["code"], "Anna")
        r = await api.call(
            "POST",
            f"/api/v1/sessions/{session['id']}/rooms",
            session["moderator_token"],
            json={"count": 1, "assignment": "random"},
        )
        (room,) = r.json()["rooms"]
        cookie = "; ".join(f"{k}={v}" for k, v in browser.cookies.items())
        url = sync_url(served, room["id"])
        writer = Writer(url, "", {"Cookie": cookie, "Origin": served.base})
        await writer.connect()
        await asyncio.wait_for(writer.synced.wait(), 5)
        writer.text.insert(0, "Från webbläsaren.")
        await eventually(lambda: _stored_is(served, room["id"], "Från webbläsaren."))
        await writer.disconnect()
        elsewhere = Writer(url, "", {"Cookie": cookie, "Origin": "https://evil.example"})
        with pytest.raises(InvalidStatus):
            await elsewhere.connect()
        nobody = Writer(url, "", {"Origin": served.base})
        await nobody.connect()
        code, reason = await nobody.wait_closed()
        assert code == 1008 and "Join the session first" in reason


async def test_typing_past_the_rate_limit_closes_with_1013_and_nothing_is_lost(
    served: Served, api: Api
) -> None:
    _, (anna,), (room,) = await room_with(api, 1)
    a = await connected(served, room["id"], anna["token"])
    for n in range(120):  # a script, not a person: all at once
        a.text.insert(len(a.text), f"{n % 10}")
    code, reason = await a.wait_closed()
    assert code == 1013 and "Too fast" in reason
    assert len(text_of(await stored(served, room["id"]))) < 120
    await a.connect()  # its client comes back, and what it kept merges
    await asyncio.wait_for(a.synced.wait(), 5)
    want = str(a.text)
    assert len(want) == 120
    await eventually(lambda: _stored_is(served, room["id"], want))
    await a.disconnect()


async def test_a_socket_that_falls_behind_is_closed_without_holding_up_the_others() -> None:
    stuck = asyncio.Event()

    async def never(data: bytes) -> None:
        await stuck.wait()  # a client that stopped reading

    async def close(code: int, reason: str) -> None:
        return None

    slow = Scribe("room", "session", never, close)
    quick_sent: list[bytes] = []

    async def sent(data: bytes) -> None:
        quick_sent.append(data)

    quick = Scribe("room", "session", sent, close)
    writers = [asyncio.create_task(slow.serve()), asyncio.create_task(quick.serve())]
    for n in range(QUEUE_MAX + 2):
        message = n.to_bytes(4, "big")
        slow.push(message)
        quick.push(message)
        await asyncio.sleep(0)
    assert slow.closing is not None and slow.closing[0] == 1013
    await eventually(lambda: _all_sent(quick_sent, QUEUE_MAX + 2))
    stuck.set()
    await asyncio.wait_for(writers[0], 5)
    writers[1].cancel()


async def _all_sent(sent: list[bytes], count: int) -> bool:
    return len(sent) == count


async def test_a_removed_participants_minutes_socket_is_closed(served: Served, api: Api) -> None:
    session, (anna, bo), (room,) = await room_with(api, 2)
    a = await connected(served, room["id"], anna["token"])
    r = await api.call(
        "DELETE",
        f"/api/v1/sessions/{session['id']}/participants/{anna['participant_id']}",
        session["moderator_token"],
    )
    assert r.status_code == 200, r.text
    code, reason = await a.wait_closed()
    assert code == 1008 and "removed" in reason
    b = await connected(served, room["id"], bo["token"])
    r = await api.call("DELETE", f"/api/v1/sessions/{session['id']}", await api.organiser_token())
    assert r.status_code == 204, r.text
    code, reason = await b.wait_closed()
    assert code == 1008 and "deleted" in reason


async def test_two_rooms_typing_at_once_each_keep_their_own_minutes(
    served: Served, api: Api
) -> None:
    _, people, rooms = await room_with(api, 4, rooms=2)
    writers = []
    for room in rooms:
        for pid in room["participant_ids"]:
            token = next(p["token"] for p in people if p["participant_id"] == pid)
            writers.append((room["id"], await connected(served, room["id"], token)))

    async def type_in(n: int, writer: Writer) -> None:
        for k in range(30):
            writer.text.insert(len(writer.text), f"{n}.{k} ")
            await asyncio.sleep(0.01)  # a person's pace

    await asyncio.gather(*(type_in(n, w) for n, (_, w) in enumerate(writers)))
    for room in rooms:
        mine = [w for room_id, w in writers if room_id == room["id"]]

        async def same(room_id: str = room["id"], mine: list[Writer] = mine) -> bool:
            truth = text_of(await stored(served, room_id))
            return all(str(w.text) == truth for w in mine)

        await eventually(same)
        words = text_of(await stored(served, room["id"])).split()
        assert len(words) == 30 * len(mine)
    for _, w in writers:
        await w.disconnect()
