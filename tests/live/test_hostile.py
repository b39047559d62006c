"""Hostile bodies, texts and ids never reach a server error: each is a 4xx in the API's error
shape, the same on SQLite and on PostgreSQL (which cannot store or even compare a NUL byte)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from tests.conftest import Api, Postgres, Served, open_stream
from tests.live.pages import page_socket
from tests.live.test_postgres import _database


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_served(request: pytest.FixtureRequest, served_factory: Callable[..., Served]) -> Served:
    if request.param == "sqlite":
        return served_factory()
    postgres: Postgres = request.getfixturevalue("postgres")
    return served_factory(database_url=asyncio.run(_database(postgres)))


@pytest.fixture
async def hapi(store_served: Served) -> AsyncIterator[Api]:
    async with httpx.AsyncClient(base_url=store_served.base, timeout=30) as client:
        yield Api(store_served, client)


def refused(r: httpx.Response, status: int, code: str, names: str | None = None) -> None:
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["code"] == code and error["message"]
    if names is not None:
        assert names in error["message"], error["message"]


def raw(body: str) -> dict[str, Any]:
    return {"content": body.encode()}


async def test_deep_json_is_refused_not_a_recursion_error(hapi: Api) -> None:
    organiser = await hapi.organiser_token()
    deep = "[" * 2000 + "]" * 2000
    r = await hapi.call("POST", "/api/v1/sessions", organiser, **raw(deep))
    refused(r, 422, "invalid", "nested")
    nested = '{"title": ' + '{"a": ' * 100 + "1" + "}" * 101
    r = await hapi.call("POST", "/api/v1/sessions", organiser, **raw(nested))
    refused(r, 422, "invalid", "nested")
    r = await hapi.call("POST", "/api/v1/join", **raw('{"code": ' + "[" * 5000 + "]" * 5000 + "}"))
    refused(r, 422, "invalid")


async def test_half_a_surrogate_pair_is_refused_naming_the_field(hapi: Api) -> None:
    organiser = await hapi.organiser_token()
    r = await hapi.call("POST", "/api/v1/sessions", organiser, **raw('{"title": "a\\ud800b"}'))
    refused(r, 422, "invalid", "title")
    body = '{"title": "Ok", "attributes": [{"key": "k", "choices": ["x", "\\udfff"]}]}'
    r = await hapi.call("POST", "/api/v1/sessions", organiser, **raw(body))
    refused(r, 422, "invalid", "attributes[0].choices[1]")
    r = await hapi.call("POST", "/api/v1/join", **raw('{"code": "1", "\\ud83d": 1}'))
    refused(r, 422, "invalid", "surrogate")
    # A whole pair is one emoji, welcome as ever.
    r = await hapi.call("POST", "/api/v1/sessions", organiser, **raw('{"title": "\\ud83d\\ude00"}'))
    assert r.status_code == 201 and r.json()["title"] == "\U0001f600"


async def test_numbers_json_cannot_hold_and_oversize_bodies_are_refused(hapi: Api) -> None:
    organiser = await hapi.organiser_token()
    for body in ('{"title": NaN}', '{"title": "x", "n": 1e999}', '{"title": Infinity}'):
        r = await hapi.call("POST", "/api/v1/sessions", organiser, **raw(body))
        refused(r, 422, "invalid")
    big = '{"title": "' + "x" * 70_000 + '"}'
    refused(await hapi.call("POST", "/api/v1/sessions", organiser, **raw(big)), 413, "too_large")


async def test_a_template_name_that_is_not_text_is_refused_naming_the_field(hapi: Api) -> None:
    session = await hapi.make_session()
    sid, moderator = session["id"], session["moderator_token"]
    for path, field in [
        (f"/api/v1/sessions/{sid}/boards", "template"),
        (f"/api/v1/sessions/{sid}/room-boards", "template"),
        (f"/api/v1/sessions/{sid}/rooms", "board_template"),
    ]:
        for value in ({"NULL": "x"}, ["free"], 7):
            body = {"title": "T", "count": 1, "assignment": "random", field: value}
            refused(await hapi.call("POST", path, moderator, json=body), 422, "invalid", field)


ODD_IDS = [
    "/api/v1/sessions/%00",
    "/api/v1/sessions/ab%00cd",
    "/api/v1/sessions/ab%00cd/questions",
    "/api/v1/boards/%00",
    "/api/v1/polls/%00/results",
    "/api/v1/sessions/%E2%80%AE",
    "/api/v1/sessions/" + "x" * 300,
]


async def test_an_id_that_cannot_be_an_id_is_not_found(hapi: Api) -> None:
    session = await hapi.make_session()
    for path in ODD_IDS:
        r = await hapi.call("GET", path, session["moderator_token"])
        refused(r, 404, "not_found")
        refused(await hapi.call("GET", path), 404, "not_found")  # the browser's way in, too


async def test_nul_in_a_page_path_or_a_join_code_is_not_found(hapi: Api) -> None:
    for page in ("/s/ab%00cd/qr.svg", "/s/ab%00cd", "/j/12%0034", "/t/ab%00cd"):
        r = await hapi.client.get(page)
        assert r.status_code == 404, (page, r.text)
    session = await hapi.make_session()
    for code in (session["code"] + "\x00", "\x00", "12\x0034"):
        refused(await hapi.call("POST", "/api/v1/join", json={"code": code}), 404, "not_found")


async def test_nul_in_a_login_email_is_refused(hapi: Api) -> None:
    await hapi.organiser_token()
    for email in ("organiser@samla.test\x00", "\x00", "a\x00b@samla.test"):
        body = {"email": email, "password": "a long test password"}
        refused(await hapi.call("POST", "/api/v1/auth/token", json=body), 422, "invalid", "email")


async def test_nul_in_ids_inside_bodies_is_refused_or_not_found(hapi: Api) -> None:
    session = await hapi.make_session()
    sid, moderator = session["id"], session["moderator_token"]
    me = await hapi.join(session, "Anna")
    await hapi.join(session, "Bo")
    rooms = await hapi.call(
        "POST", f"/api/v1/sessions/{sid}/rooms", moderator, json={"count": 1, "assignment": "self"}
    )
    assert rooms.status_code == 201, rooms.text
    rid = rooms.json()["rooms"][0]["id"]
    r = await hapi.call(
        "POST", f"/api/v1/rooms/{rid}/members", moderator, json={"participant_id": "\x00"}
    )
    assert r.status_code in (404, 422), r.text
    body = {"question": "Q?", "kind": "single", "options": ["a", "b"], "room_id": "\x00"}
    r = await hapi.call("POST", f"/api/v1/sessions/{sid}/polls", moderator, json=body)
    assert r.status_code in (404, 422), r.text
    r = await hapi.call(
        "POST", f"/api/v1/sessions/{sid}/boards", moderator, json={"title": "B", "room_id": "\x00"}
    )
    assert r.status_code in (404, 422), r.text
    board = await hapi.call(
        "POST", f"/api/v1/sessions/{sid}/boards", moderator, json={"title": "B", "columns": ["c"]}
    )
    bid = board.json()["id"]
    r = await hapi.call(
        "POST", f"/api/v1/boards/{bid}/notes", me["token"], json={"text": "x", "column": "\x00"}
    )
    assert r.status_code in (404, 422), r.text
    poll = await hapi.call(
        "POST",
        f"/api/v1/sessions/{sid}/polls",
        moderator,
        json={"question": "Q?", "kind": "single", "options": ["a", "b"]},
    )
    pid = poll.json()["id"]
    await hapi.call("POST", f"/api/v1/polls/{pid}/open", moderator)
    r = await hapi.call(
        "POST", f"/api/v1/polls/{pid}/votes", me["token"], json={"choices": ["\x00"]}
    )
    assert r.status_code in (404, 422), r.text


async def test_texts_with_nul_are_cleaned_and_stored(hapi: Api) -> None:
    session = await hapi.make_session("Sam\x00verkan")
    assert session["title"] == "Samverkan"
    joined = await hapi.join(session, "An\x00na")
    assert joined["name"] == "Anna"
    r = await hapi.call(
        "POST",
        f"/api/v1/sessions/{session['id']}/questions",
        joined["token"],
        json={"text": "Va\x00rför?"},
    )
    assert r.status_code == 201 and r.json()["text"] == "Varför?"


async def test_a_hostile_socket_message_is_refused_and_the_socket_stays_usable(
    hapi: Api,
) -> None:
    session = await hapi.make_session()
    me = await hapi.join(session, "Anna")
    async with open_stream(hapi.served)(session["id"], me["token"]) as s:
        await s.next()  # the snapshot
        for message in (
            '{"type": "ping", "x": ' + "[" * 3000 + "]" * 3000 + "}",
            '{"type": "ping", "x": ' + "[" * 40 + "]" * 40 + "}",
            '{"type": "ping", "x": "\\ud800"}',
            '{"type": "ping", "x": NaN}',
        ):
            await s.send(message)
            frame = await s.until(lambda f: f["type"] in ("error", "ack"))
            assert frame["type"] == "error" and frame["error"]["code"] == "invalid", frame
        await s.send({"type": "ping"})
        assert (await s.until(lambda f: f["type"] in ("error", "ack")))["for"] == "pong"


async def test_a_moderator_socket_for_a_room_that_cannot_be_an_id_is_refused(hapi: Api) -> None:
    served = hapi.served
    session = await hapi.make_session()
    mod = session["moderator_token"]
    async with httpx.AsyncClient(base_url=served.base) as browser:
        await browser.get(f"/s/{session['id']}/moderate?key={mod}", follow_redirects=True)
        async with page_socket(
            served.base, browser, f"/s/{session['id']}/ws?view=room&room=%00x"
        ) as inside:
            with pytest.raises(ConnectionClosed) as closed:
                await inside.next()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
        # The moderator's own socket still works: nothing was broken by the refusal.
        async with page_socket(served.base, browser, f"/s/{session['id']}/ws?view=moderator") as ws:
            await ws.next()
