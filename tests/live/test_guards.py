"""The browser's guards: where Samla sends a browser after signing in or choosing a language
(never to another site), and closing a session from the moderator's page (its moderator only)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from live.pages.sessions import own_path
from tests.conftest import ORGANISER_EMAIL, ORGANISER_PASSWORD, Api, Served
from tests.live.pages import csrf_of, join_by_form

# Targets a crafted link could carry in `next=`: each leads a browser to another host if
# Samla redirects to it as given. Browsers read a backslash as a slash and drop tabs.
FOREIGN = [
    "//evil.example/organiser",
    "https://evil.example/organiser",
    "http:evil.example",
    "/\\evil.example/organiser",
    "\\\\evil.example/organiser",
    "/\t/evil.example/organiser",
    "evil.example/organiser",
]


def lands_on(served: Served, response: httpx.Response) -> tuple[str, str]:
    """The host and path a browser would go to, reading the Location as browsers do."""
    assert response.status_code == 303, response.text
    location = response.headers["location"].replace("\\", "/").replace("\t", "")
    target = urlsplit(urljoin(served.base + "/login", location))
    return target.netloc, target.path


async def sign_in(served: Served, client: httpx.AsyncClient, target: str) -> httpx.Response:
    form = await client.get("/login", params={"next": target})
    assert form.status_code == 200, form.text
    return await client.post(
        "/login",
        params={"next": target},
        data={
            "csrf": csrf_of(form.text),
            "email": ORGANISER_EMAIL,
            "password": ORGANISER_PASSWORD,
        },
    )


async def test_signing_in_never_sends_the_browser_to_another_site(served: Served, api: Api) -> None:
    await api.organiser_token()  # the account exists
    for target in FOREIGN:
        async with httpx.AsyncClient(base_url=served.base) as browser:
            signed = await sign_in(served, browser, target)
            assert lands_on(served, signed)[0] == f"127.0.0.1:{served.port}", target


async def test_signing_in_goes_on_to_the_page_asked_for_on_this_site(
    served: Served, api: Api
) -> None:
    session = await api.make_session()
    wanted = f"/s/{session['id']}/moderator"
    async with httpx.AsyncClient(base_url=served.base) as browser:
        asked = await browser.get(wanted)  # not signed in: sent to sign in first
        assert lands_on(served, asked)[1] == "/login"
        assert asked.headers["location"].endswith("?next=" + wanted.replace("/", "%2F")) or (
            asked.headers["location"].endswith("?next=" + wanted)
        )
        signed = await sign_in(served, browser, wanted)
        assert lands_on(served, signed) == (f"127.0.0.1:{served.port}", wanted)
        page = await browser.get(wanted)
        assert page.status_code == 200 and session["title"] in page.text


async def test_choosing_a_language_never_sends_the_browser_to_another_site(
    served: Served,
) -> None:
    async with httpx.AsyncClient(base_url=served.base) as browser:
        for target in FOREIGN:
            chosen = await browser.get("/lang/sv", params={"next": target})
            assert lands_on(served, chosen)[0] == f"127.0.0.1:{served.port}", target


async def test_choosing_a_language_returns_to_the_page_it_was_chosen_on(served: Served) -> None:
    async with httpx.AsyncClient(base_url=served.base) as browser:
        chosen = await browser.get("/lang/sv", params={"next": "/organiser"})
        assert lands_on(served, chosen) == (f"127.0.0.1:{served.port}", "/organiser")


# -- closing a session from the moderator's page ------------------------------------------


@asynccontextmanager
async def moderator_browser(
    served: Served, session: dict[str, str]
) -> AsyncIterator[httpx.AsyncClient]:
    """A browser that followed the moderator link."""
    async with httpx.AsyncClient(base_url=served.base) as browser:
        opened = await browser.get(
            f"/s/{session['id']}/moderate",
            params={"key": session["moderator_token"]},
            follow_redirects=True,
        )
        assert opened.status_code == 200, opened.text
        assert f'action="/s/{session["id"]}/close"' in opened.text
        yield browser


async def status_of(api: Api, session: dict[str, str]) -> str:
    r = await api.call("GET", f"/api/v1/sessions/{session['id']}", session["moderator_token"])
    assert r.status_code == 200, r.text
    return str(r.json()["status"])


async def test_the_moderator_closes_the_session_from_their_page(served: Served, api: Api) -> None:
    session = await api.make_session()
    await api.join(session, "Anna")
    async with moderator_browser(served, session) as browser:
        page = await browser.get(f"/s/{session['id']}/moderator")
        closed = await browser.post(f"/s/{session['id']}/close", data={"csrf": csrf_of(page.text)})
        assert lands_on(served, closed)[1] == f"/s/{session['id']}/moderator"
        assert await status_of(api, session) == "closed"
        # Closed means closed: nobody new joins, and the page no longer offers to close it.
        r = await api.call("POST", "/api/v1/join", json={"code": session["code"]})
        assert r.status_code == 409 and r.json()["error"]["code"] == "session_closed"
        again = await browser.get(f"/s/{session['id']}/moderator")
        assert f'action="/s/{session["id"]}/close"' not in again.text


async def test_closing_from_the_page_needs_the_pages_form_token(served: Served, api: Api) -> None:
    session = await api.make_session()
    async with moderator_browser(served, session) as browser:
        forged = await browser.post(f"/s/{session['id']}/close", data={"csrf": "guessed"})
        assert forged.status_code == 403
        assert await status_of(api, session) == "open"


async def test_a_participant_cannot_close_the_session_from_the_page(
    served: Served, api: Api
) -> None:
    session = await api.make_session()
    async with httpx.AsyncClient(base_url=served.base) as browser:
        await join_by_form(browser, session["code"], "Anna")
        token = csrf_of((await browser.get("/login")).text)  # this browser's own form token
        tried = await browser.post(f"/s/{session['id']}/close", data={"csrf": token})
        assert tried.status_code in (303, 403)
        if tried.status_code == 303:  # sent to sign in as organiser, not to the console
            assert lands_on(served, tried)[1] == "/login"
    assert await status_of(api, session) == "open"


async def test_another_sessions_moderator_cannot_close_it_from_the_page(
    served: Served, api: Api
) -> None:
    mine, theirs = await api.make_session("Mitt"), await api.make_session("Deras")
    async with moderator_browser(served, mine) as browser:
        page = await browser.get(f"/s/{mine['id']}/moderator")
        tried = await browser.post(f"/s/{theirs['id']}/close", data={"csrf": csrf_of(page.text)})
        assert tried.status_code in (303, 403)
        if tried.status_code == 303:
            assert lands_on(served, tried)[1] == "/login"
    assert await status_of(api, theirs) == "open"


@pytest.mark.parametrize("target", FOREIGN)
def test_no_hostile_next_target_counts_as_a_path_of_samla(target: str) -> None:
    # Starlette percent-encodes a Location header, which hides a weak guard from the tests
    # above; the guard itself must refuse what a browser would read as another host.
    assert not own_path(target)


def test_a_path_of_samla_is_kept_as_next_target() -> None:
    assert own_path("/organiser?tab=archive")
