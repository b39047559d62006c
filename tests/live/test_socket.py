"""The sockets' edges: origins, frame limits, bad messages, authorisation, signing out."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.conftest import ORGANISER_EMAIL, ORGANISER_PASSWORD, Api, Served
from tests.live.pages import csrf_of, join_by_form, page_socket


async def test_a_socket_from_an_origin_not_allowed_is_refused(served: Served, api: Api) -> None:
    session = await api.make_session()
    async with httpx.AsyncClient(base_url=served.base) as browser:
        await join_by_form(browser, session["code"], "Anna")
        with pytest.raises(InvalidStatus) as refused:
            async with page_socket(
                served.base, browser, f"/s/{session['id']}/ws", origin="https://evil.example"
            ):
                pass
        assert refused.value.response.status_code == 403


async def test_a_cookie_socket_to_the_event_stream_needs_an_allowed_origin(
    served: Served, api: Api
) -> None:
    session = await api.make_session()
    async with httpx.AsyncClient(base_url=served.base) as browser:
        await join_by_form(browser, session["code"])
        cookie = "; ".join(f"{k}={v}" for k, v in browser.cookies.items())
        url = f"{served.ws_base}/api/v1/sessions/{session['id']}/events"
        with pytest.raises(InvalidStatus):
            async with websockets.connect(url, additional_headers={"Cookie": cookie}):
                pass
        headers = {"Cookie": cookie, "Origin": served.base}
        async with websockets.connect(url, additional_headers=headers) as ws:
            assert json.loads(await ws.recv())["type"] == "snapshot"


async def test_a_frame_over_the_limit_closes_with_1009(
    api: Api, stream: Callable[..., Any]
) -> None:
    session = await api.make_session()
    joined = await api.join(session)
    async with stream(session["id"], joined["token"]) as s:
        await s.next()
        await s.send(json.dumps({"type": "rename", "name": "x" * 70_000}))
        with pytest.raises(ConnectionClosed) as closed:
            await s.next()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


async def test_bad_messages_get_an_error_and_the_socket_stays_usable(
    api: Api, stream: Callable[..., Any]
) -> None:
    session = await api.make_session()
    joined = await api.join(session)
    async with stream(session["id"], joined["token"]) as s:
        await s.next()
        for bad in [
            "{not json",
            "[1, 2]",
            json.dumps({"type": "no.such.thing"}),
            json.dumps({"name": "no type"}),
            json.dumps({"type": "x" * 100}),
        ]:
            await s.send(bad)
            frame = await s.next()
            assert frame["type"] == "error" and frame["error"]["code"] == "invalid", bad
        await s.ws.send(b"\x00\x01binary")
        assert (await s.next())["error"]["code"] == "invalid"
        await s.send({"type": "rename", "name": "Anna"})
        renamed = await s.until(lambda f: f["type"] == "participant.renamed")
        assert renamed["name"] == "Anna"


async def test_a_participant_may_not_send_what_only_others_may(
    api: Api, stream: Callable[..., Any]
) -> None:
    session = await api.make_session()
    async with stream(session["id"], session["moderator_token"]) as s:
        snapshot = await s.next()
        assert snapshot["you"]["role"] == "moderator"
        await s.send({"type": "rename", "name": "Mod"})  # a participant's action
        frame = await s.next()
        assert frame["type"] == "error" and frame["error"]["code"] == "forbidden"


async def test_the_event_stream_refuses_strangers_and_other_sessions(
    api: Api, served: Served
) -> None:
    one, two = await api.make_session("One"), await api.make_session("Two")
    joined = await api.join(one)
    url = f"{served.ws_base}/api/v1/sessions/{two['id']}/events"
    for headers in [
        {"Authorization": f"Bearer {joined['token']}"},
        {"Authorization": "Bearer p_forged"},
    ]:
        async with websockets.connect(url, additional_headers=headers) as ws:
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


async def test_signing_out_closes_the_open_sockets_of_that_login(served: Served, api: Api) -> None:
    session = await api.make_session()  # created by the organiser the browser signs in as
    async with httpx.AsyncClient(base_url=served.base) as browser:
        login = await browser.get("/login")
        r = await browser.post(
            "/login",
            data={
                "csrf": csrf_of(login.text),
                "email": ORGANISER_EMAIL,
                "password": ORGANISER_PASSWORD,
            },
        )
        assert r.status_code == 303
        page = await browser.get(f"/s/{session['id']}/moderator")
        assert page.status_code == 200 and session["code"] in page.text
        async with page_socket(served.base, browser, f"/s/{session['id']}/ws?view=moderator") as ws:
            assert 'id="presence"' in await ws.next()
            r = await browser.post("/logout", data={"csrf": csrf_of(page.text)})
            assert r.status_code == 303
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    await ws.next()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
        again = await browser.get(f"/s/{session['id']}/moderator")
        assert again.status_code in (303, 403) or "/login" in str(again.url)


async def test_forms_without_the_csrf_token_are_refused(served: Served, api: Api) -> None:
    session = await api.make_session()
    async with httpx.AsyncClient(base_url=served.base) as browser:
        await browser.get(f"/j/{session['code']}")
        r = await browser.post(f"/j/{session['code']}", data={"name": "Anna"})
        assert r.status_code == 403
    r = await api.call("GET", f"/api/v1/sessions/{session['id']}", session["moderator_token"])
    assert r.json()["participants"] == 0


async def test_pages_forbid_inline_script_and_third_parties(served: Served) -> None:
    async with httpx.AsyncClient(base_url=served.base) as browser:
        r = await browser.get("/")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "http://" not in r.text.replace(served.base, "") and "https://" not in r.text
    assert "<script>" not in r.text


async def test_the_page_socket_answers_a_bad_message_with_a_notice(
    served: Served, api: Api
) -> None:
    session = await api.make_session()
    async with httpx.AsyncClient(
        base_url=served.base, headers={"Accept-Language": "sv"}
    ) as browser:
        await join_by_form(browser, session["code"], "Anna")
        async with page_socket(served.base, browser, f"/s/{session['id']}/ws") as ws:
            assert 'id="presence"' in await ws.next()
            await ws.ws.send(json.dumps({"type": "no.such.thing", "HEADERS": {}}))
            notice = await ws.until('id="notice"')
            assert 'hx-swap-oob="morph"' in notice and "no.such.thing" in notice
            await ws.ws.send(json.dumps({"type": "rename", "name": "<b>Anna</b>", "HEADERS": {}}))
            reply = await ws.until("&lt;b&gt;Anna")
            assert 'id="you"' in reply and "&lt;b&gt;Anna&lt;/b&gt;" in reply and "<b>" not in reply


async def test_deleting_a_session_closes_its_sockets(api: Api, stream: Callable[..., Any]) -> None:
    session = await api.make_session()
    joined = await api.join(session)
    async with stream(session["id"], joined["token"]) as s:
        await s.next()
        r = await api.call(
            "DELETE", f"/api/v1/sessions/{session['id']}", await api.organiser_token()
        )
        assert r.status_code == 204
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await s.next()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


async def test_an_organiser_signs_in_creates_a_session_and_gets_its_moderator_link(
    served: Served, api: Api
) -> None:
    await api.organiser_token()  # the account exists
    async with httpx.AsyncClient(base_url=served.base) as browser:
        login = await browser.get("/login")
        wrong = await browser.post(
            "/login",
            data={"csrf": csrf_of(login.text), "email": ORGANISER_EMAIL, "password": "nope"},
        )
        assert wrong.status_code == 401
        await browser.post(
            "/login",
            data={
                "csrf": csrf_of(login.text),
                "email": ORGANISER_EMAIL,
                "password": ORGANISER_PASSWORD,
            },
        )
        page = await browser.get("/organiser")
        assert page.status_code == 200
        made = await browser.post(
            "/organiser",
            data={
                "csrf": csrf_of(page.text),
                "title": "Gruppsamtal",
                "attributes": "sektor: Sektor = Civilsamhälle, Offentlig sektor",
            },
        )
        assert made.status_code == 200 and "Gruppsamtal" in made.text
        link = made.text.split('value="', 2)[2].split('"')[0]
        assert "/moderate?key=m_" in link
    async with httpx.AsyncClient(base_url=served.base) as moderator:
        r = await moderator.get(link.replace(served.base, ""), follow_redirects=True)
        assert r.status_code == 200 and "Gruppsamtal" in r.text and "/qr.svg" in r.text
        sid = link.split("/s/")[1].split("/")[0]
        qr = await moderator.get(f"/s/{sid}/qr.svg")
        assert qr.headers["content-type"].startswith("image/svg+xml") and b"<svg" in qr.content
        bad = await moderator.get(f"/s/{sid}/moderate?key=m_not-the-key")
        assert bad.status_code == 403


async def test_a_socket_the_store_cannot_serve_is_asked_to_come_back_with_1013(
    served: Served, api: Api, stream: Callable[..., Any]
) -> None:
    session = await api.make_session()
    joined = await api.join(session)
    hub = served.samla.hub

    async def unreachable(conn: Any) -> str:
        raise OSError("database is unreachable")

    async def break_store() -> None:
        hub.snapshot = unreachable

    await served.run(break_store)
    async with stream(session["id"], joined["token"]) as s:
        with pytest.raises(ConnectionClosed) as closed:
            await s.next()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013
