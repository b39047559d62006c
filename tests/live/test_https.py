"""HTTPS done right: the full origin (scheme, host, port) is checked on sockets and forms, and
behind a trusted proxy that says https the cookie is Secure and HSTS is sent (never on http)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from websockets.exceptions import InvalidStatus

from tests.conftest import Api, Served
from tests.live.pages import csrf_of, join_by_form, page_socket

HTTPS = {"X-Forwarded-Proto": "https"}
HSTS = "max-age=31536000"


@pytest.fixture
async def browser_client(served: Served) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=served.base, timeout=30) as client:
        yield client


async def _socket_opens(base: str, client: httpx.AsyncClient, sid: str, origin: str) -> bool:
    try:
        async with page_socket(base, client, f"/s/{sid}/ws", origin=origin) as ws:
            await ws.next()
            return True
    except InvalidStatus as refused:
        assert refused.response.status_code == 403
        return False


async def test_a_cookie_socket_from_https_is_refused_on_an_http_server(
    served: Served, api: Api, browser_client: httpx.AsyncClient
) -> None:
    session = await api.make_session()
    await join_by_form(browser_client, session["code"], "Anna")
    host = served.base.removeprefix("http://")
    assert not await _socket_opens(served.base, browser_client, session["id"], f"https://{host}")
    other_port = f"http://127.0.0.1:{served.port + 1}"
    assert not await _socket_opens(served.base, browser_client, session["id"], other_port)
    assert await _socket_opens(served.base, browser_client, session["id"], served.base)


async def _post_join_form(client: httpx.AsyncClient, code: str, origin: str) -> httpx.Response:
    page = await client.get(f"/j/{code}")
    return await client.post(
        f"/j/{code}", data={"csrf": csrf_of(page.text), "name": "Bo"}, headers={"Origin": origin}
    )


async def test_a_form_from_another_origin_is_refused_and_from_its_own_passes(
    served: Served, api: Api, browser_client: httpx.AsyncClient
) -> None:
    session = await api.make_session()
    host = served.base.removeprefix("http://")
    for foreign in ("https://evil.example", f"https://{host}", "null"):
        r = await _post_join_form(browser_client, session["code"], foreign)
        assert r.status_code == 403, (foreign, r.text)
    r = await _post_join_form(browser_client, session["code"], served.base)
    assert r.status_code == 303


async def test_with_allowed_origins_only_those_origins_are_accepted(
    served_factory: Callable[..., Served],
) -> None:
    # http, so the test's client (on plain http) gets its cookie back: see the last test.
    allowed = "http://samla.example"
    served = served_factory(allowed_origins=(allowed,))
    async with httpx.AsyncClient(base_url=served.base, timeout=30) as client:
        session = await Api(served, client).make_session()
        async with httpx.AsyncClient(base_url=served.base, timeout=30) as browser:
            await join_by_form(browser, session["code"], "Anna")
            sid = session["id"]
            assert not await _socket_opens(served.base, browser, sid, served.base)
            assert not await _socket_opens(served.base, browser, sid, "https://evil.example")
            assert await _socket_opens(served.base, browser, sid, allowed)
        async with httpx.AsyncClient(base_url=served.base, timeout=30) as other:
            r = await _post_join_form(other, session["code"], served.base)
            assert r.status_code == 403
            r = await _post_join_form(other, session["code"], allowed)
            assert r.status_code == 303


async def test_behind_a_proxy_that_says_https_the_cookie_is_secure_and_hsts_is_sent(
    served: Served, api: Api, browser_client: httpx.AsyncClient
) -> None:
    session = await api.make_session()
    r = await browser_client.get(f"/j/{session['code']}", headers=HTTPS)
    assert r.status_code == 200
    assert r.headers["strict-transport-security"] == HSTS
    assert "secure" in r.headers["set-cookie"].lower()
    # The API's own way (Bearer) too, and the join link it builds is https.
    bearer = {"Authorization": f"Bearer {await api.organiser_token()}", **HTTPS}
    r = await api.client.post("/api/v1/sessions", json={"title": "T"}, headers=bearer)
    assert r.status_code == 201
    assert r.headers["strict-transport-security"] == HSTS
    assert r.json()["join_url"].startswith("https://")


async def test_on_plain_http_there_is_no_secure_cookie_and_no_hsts(
    served: Served, api: Api, browser_client: httpx.AsyncClient
) -> None:
    session = await api.make_session()
    r = await browser_client.get(f"/j/{session['code']}")
    assert r.status_code == 200
    assert "strict-transport-security" not in r.headers
    assert "secure" not in r.headers["set-cookie"].lower()
    r = await api.call("GET", f"/api/v1/sessions/{session['id']}", session["moderator_token"])
    assert "strict-transport-security" not in r.headers


async def test_an_untrusted_proxy_cannot_claim_https(
    served_factory: Callable[..., Served],
) -> None:
    served = served_factory(forwarded_allow_ips="10.9.8.7")
    async with httpx.AsyncClient(base_url=served.base, timeout=30) as client:
        r = await client.get("/", headers=HTTPS)
        assert r.status_code == 200
        assert "strict-transport-security" not in r.headers
        assert "secure" not in r.headers.get("set-cookie", "").lower()


async def test_when_every_allowed_origin_is_https_the_cookie_is_always_secure(
    served_factory: Callable[..., Served],
) -> None:
    served = served_factory(allowed_origins=("https://samla.example",))
    async with httpx.AsyncClient(base_url=served.base, timeout=30) as client:
        r = await client.get("/")
        assert "secure" in r.headers["set-cookie"].lower()
        assert "strict-transport-security" not in r.headers  # never on plain http
