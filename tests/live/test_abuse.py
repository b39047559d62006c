"""Joining and socket messages closed to abuse: limits per address on joins and on code
lookups, 8-digit join codes, a moderator removing a participant, and socket actions that
spend the same quotas as the API."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from live import joining
from rooms.models import Session
from tests.conftest import Api, Served, open_stream
from tests.live.pages import csrf_of, join_by_form, page_socket

_addresses = itertools.count(1)


def somewhere() -> dict[str, str]:
    """Headers that make a request come from an address of its own: the test server trusts
    its local proxy (uvicorn's FORWARDED_ALLOW_IPS default), as a deployment trusts its own.
    Each test counts from fresh addresses, so a shared Redis carries nothing between them."""
    n = next(_addresses)
    return {"X-Forwarded-For": f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"}


async def join_from(api: Api, code: str, where: dict[str, str], **body: Any) -> httpx.Response:
    return await api.client.post("/api/v1/join", json={"code": code, **body}, headers=where)


async def joins_from(api: Api, code: str, where: dict[str, str], count: int) -> list[int]:
    """`count` joins from one address, 20 at a time; their statuses in order."""
    limit = asyncio.Semaphore(20)

    async def one() -> int:
        async with limit:
            return (await join_from(api, code, where)).status_code

    return list(await asyncio.gather(*(one() for _ in range(count))))


def assert_rate_limited(r: httpx.Response) -> None:
    assert r.status_code == 429, r.text
    assert r.json()["error"]["code"] == "rate_limited"
    assert int(r.headers["Retry-After"]) >= 1


def a_wrong_code(right: str, n: int) -> str:
    code = f"{(int(right) + 7919 * (n + 1)) % 10**8:08d}"
    assert code != right
    return code


# -- joining --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "broker_kind",
    [pytest.param("memory", id="memory"), pytest.param("redis", id="redis")],
    indirect=True,
)
async def test_joins_from_one_address_pass_up_to_the_burst_then_are_refused(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Per day: a bucket that refills this slowly frees nothing while the test runs.
    monkeypatch.setattr(joining, "JOINS_PER_ADDRESS", "150/day")
    session = await api.make_session()
    hall = somewhere()
    statuses = await joins_from(api, session["code"], hall, 200)
    assert statuses.count(201) == 150 and statuses.count(429) == 50
    assert_rate_limited(await join_from(api, session["code"], hall))
    # Another address is counted on its own.
    assert (await join_from(api, session["code"], somewhere())).status_code == 201
    r = await api.call("GET", f"/api/v1/sessions/{session['id']}", session["moderator_token"])
    assert r.json()["participants"] == 151


async def test_a_hall_of_500_behind_one_address_joins_within_a_minute(api: Api) -> None:
    session = await api.make_session()
    hall = somewhere()
    # As fast as this machine takes them: far inside the minute or two a hall takes.
    statuses = await joins_from(api, session["code"], hall, 500)
    assert statuses == [201] * 500
    # The browser's join form counts against the same allowance, and passes too.
    async with httpx.AsyncClient(base_url=api.served.base, headers=hall) as browser:
        assert "Anna" in await join_by_form(browser, session["code"], "Anna")


@pytest.mark.parametrize(
    "broker_kind",
    [pytest.param("memory", id="memory"), pytest.param("redis", id="redis")],
    indirect=True,
)
async def test_guessing_codes_is_refused_after_the_allowance_even_for_the_right_code(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The real allowance, refilled per day rather than per ten minutes: nothing frees up
    # while a busy machine takes its time over the 300 guesses.
    monkeypatch.setattr(joining, "MISSES_PER_ADDRESS", "100/day")
    session = await api.make_session()
    guesser = somewhere()
    replies = await asyncio.gather(
        *(join_from(api, a_wrong_code(session["code"], n), guesser) for n in range(300))
    )
    statuses = [r.status_code for r in replies]
    assert statuses.count(404) == 100 and statuses.count(429) == 200
    for r in replies:
        if r.status_code == 429:
            assert_rate_limited(r)
    # A right guess now would tell the guesser it was right: it waits like the wrong ones,
    # on the API and on the browser's join page alike.
    assert_rate_limited(await join_from(api, session["code"], guesser))
    async with httpx.AsyncClient(base_url=api.served.base, headers=guesser) as browser:
        page = await browser.get(f"/j/{session['code']}")
        assert page.status_code == 429 and int(page.headers["Retry-After"]) >= 1
    # Everyone else joins as before.
    assert (await join_from(api, session["code"], somewhere())).status_code == 201


async def test_the_join_page_counts_wrong_codes_too(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(joining, "MISSES_PER_ADDRESS", "100/day")
    session = await api.make_session()
    guesser = somewhere()
    async with httpx.AsyncClient(base_url=api.served.base, headers=guesser) as browser:
        pages = [
            (await browser.get(f"/j/{a_wrong_code(session['code'], n)}")).status_code
            for n in range(101)
        ]
    assert pages == [404] * 100 + [429]


async def test_ballot_stuffing_with_fresh_tokens_is_bounded_by_the_join_limit(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(joining, "JOINS_PER_ADDRESS", "30/day")
    session = await api.make_session()
    mod = session["moderator_token"]
    r = await api.call(
        "POST",
        f"/api/v1/sessions/{session['id']}/polls",
        mod,
        json={"question": "Vilket förslag?", "kind": "single", "options": ["A", "B"]},
    )
    poll = r.json()
    assert (await api.call("POST", f"/api/v1/polls/{poll['id']}/open", mod)).status_code == 200
    stuffer = somewhere()
    voted = 0
    for _ in range(60):
        joined = await join_from(api, session["code"], stuffer)
        if joined.status_code != 201:
            assert_rate_limited(joined)
            continue
        r = await api.call(
            "POST",
            f"/api/v1/polls/{poll['id']}/votes",
            joined.json()["token"],
            json={"choices": [poll["options"][0]["id"]]},
        )
        assert r.status_code == 201, r.text
        voted += 1
    assert voted == 30
    results = (await api.call("GET", f"/api/v1/polls/{poll['id']}/results", mod)).json()
    assert results["voters"] == 30


# -- join codes ------------------------------------------------------------------------------


async def test_codes_have_8_digits_shown_in_two_groups_and_typed_with_or_without_spaces(
    api: Api,
) -> None:
    session = await api.make_session()
    code = session["code"]
    assert re.fullmatch(r"\d{8}", code)
    shown = f"{code[:4]} {code[4:]}"
    async with httpx.AsyncClient(base_url=api.served.base) as browser:
        await browser.get(
            f"/s/{session['id']}/moderate", params={"key": session["moderator_token"]}
        )
        page = await browser.get(f"/s/{session['id']}/moderator")
        assert f'<strong class="code">{shown}</strong>' in page.text
        typed = await browser.get("/", params={"code": shown})
        assert typed.status_code == 303 and typed.headers["location"].endswith(f"/j/{code}")
    assert (await join_from(api, shown, somewhere())).status_code == 201
    assert (await join_from(api, f" {code} ", somewhere())).status_code == 201
    codes = {(await api.make_session())["code"] for _ in range(5)} | {code}
    assert len(codes) == 6


async def test_a_session_made_with_a_6_digit_code_is_still_joined_by_it(
    served: Served, api: Api
) -> None:
    session = await api.make_session()

    async def make_old() -> None:
        async with served.samla.store.write() as db:
            stored = await db.get(Session, session["id"])
            assert stored is not None
            stored.code = "482913"
            db.add(stored)

    await served.run(make_old)
    r = await join_from(api, "482 913", somewhere())
    assert r.status_code == 201 and r.json()["session_id"] == session["id"]
    async with httpx.AsyncClient(base_url=served.base) as browser:
        await browser.get(
            f"/s/{session['id']}/moderate", params={"key": session["moderator_token"]}
        )
        page = await browser.get(f"/s/{session['id']}/moderator")
        assert '<strong class="code">482 913</strong>' in page.text


# -- removing a participant ------------------------------------------------------------------


async def _open_poll(api: Api, session: dict[str, Any]) -> dict[str, Any]:
    mod = session["moderator_token"]
    r = await api.call(
        "POST",
        f"/api/v1/sessions/{session['id']}/polls",
        mod,
        json={"question": "Vilket förslag?", "kind": "single", "options": ["A", "B"]},
    )
    poll: dict[str, Any] = r.json()
    assert (await api.call("POST", f"/api/v1/polls/{poll['id']}/open", mod)).status_code == 200
    return poll


async def _vote(api: Api, poll: dict[str, Any], token: str, option: int) -> None:
    r = await api.call(
        "POST",
        f"/api/v1/polls/{poll['id']}/votes",
        token,
        json={"choices": [poll["options"][option]["id"]]},
    )
    assert r.status_code == 201, r.text


async def _ask(api: Api, session: dict[str, Any], token: str, text: str) -> None:
    r = await api.call(
        "POST", f"/api/v1/sessions/{session['id']}/questions", token, json={"text": text}
    )
    assert r.status_code == 201, r.text


async def _questions(api: Api, session: dict[str, Any]) -> list[dict[str, Any]]:
    r = await api.call(
        "GET", f"/api/v1/sessions/{session['id']}/questions", session["moderator_token"]
    )
    found: list[dict[str, Any]] = r.json()["questions"]
    return found


@pytest.fixture
async def quiet(served_factory: Callable[..., Served]) -> AsyncIterator[Api]:
    """A Samla whose reconcile rounds (which re-check every socket's credentials) are ten
    minutes apart: a socket closed within a test was closed by the removal itself."""
    served = served_factory(reconcile_interval=600.0)
    async with httpx.AsyncClient(base_url=served.base, timeout=30) as client:
        yield Api(served, client)


async def test_a_moderator_sees_and_removes_a_participant_whose_ballot_stays_counted(
    quiet: Api,
) -> None:
    api, served = quiet, quiet.served
    session = await api.make_session(
        attributes=[{"key": "sektor", "label": "Sektor", "choices": ["Ideell", "Offentlig"]}]
    )
    sid, mod = session["id"], session["moderator_token"]
    anna = await api.join(session, "Anna", {"sektor": "Ideell"})
    bo = await api.join(session, "Bo")
    poll = await _open_poll(api, session)
    await _vote(api, poll, anna["token"], 0)
    await _vote(api, poll, bo["token"], 1)
    await _ask(api, session, anna["token"], "Hur räcker pengarna?")

    r = await api.call("GET", f"/api/v1/sessions/{sid}/participants", mod)
    assert r.status_code == 200
    listed = r.json()["participants"]
    assert [(p["id"], p["name"], p["attributes"], p["room"]) for p in listed] == [
        (anna["participant_id"], "Anna", {"sektor": "Ideell"}, None),
        (bo["participant_id"], "Bo", {}, None),
    ]
    assert all(p["joined_at"].endswith("Z") for p in listed)
    refused = await api.call("GET", f"/api/v1/sessions/{sid}/participants", bo["token"])
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"

    async with open_stream(served)(sid, anna["token"]) as annas_screen:
        await annas_screen.next()
        r = await api.call(
            "DELETE", f"/api/v1/sessions/{sid}/participants/{anna['participant_id']}", mod
        )
        assert r.status_code == 200, r.text
        assert r.json() == {
            "participant_id": anna["participant_id"],
            "content": "kept",
            "notes": 0,
            "questions": 1,
            "ballots": 1,
        }
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await annas_screen.next()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008

    # Her token ends at once, on every path, the vote's cached one included.
    r = await api.call("GET", f"/api/v1/sessions/{sid}", anna["token"])
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    r = await api.call(
        "POST", f"/api/v1/polls/{poll['id']}/votes", anna["token"], json={"choices": []}
    )
    assert r.status_code == 401
    # Her answer stays counted, without her; her question stays, without her name.
    results = (await api.call("GET", f"/api/v1/polls/{poll['id']}/results", mod)).json()
    assert results["voters"] == 2 and [o["count"] for o in results["options"]] == [1, 1]
    assert [(q["text"], q["author"]) for q in await _questions(api, session)] == [
        ("Hur räcker pengarna?", None)
    ]
    r = await api.call("GET", f"/api/v1/sessions/{sid}/participants", mod)
    assert [p["name"] for p in r.json()["participants"]] == ["Bo"]
    r = await api.call(
        "DELETE", f"/api/v1/sessions/{sid}/participants/{anna['participant_id']}", mod
    )
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


async def test_removing_with_content_remove_takes_their_questions_too(api: Api) -> None:
    session = await api.make_session()
    sid, mod = session["id"], session["moderator_token"]
    anna, bo = await api.join(session, "Anna"), await api.join(session, "Bo")
    await _ask(api, session, anna["token"], "Skräp")
    await _ask(api, session, bo["token"], "Hur räcker pengarna?")
    other = await api.make_session()
    r = await api.call(
        "DELETE",
        f"/api/v1/sessions/{other['id']}/participants/{anna['participant_id']}",
        other["moderator_token"],
    )
    assert r.status_code == 403
    r = await api.call(
        "DELETE",
        f"/api/v1/sessions/{sid}/participants/{anna['participant_id']}?content=everything",
        mod,
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid"
    r = await api.call(
        "DELETE",
        f"/api/v1/sessions/{sid}/participants/{anna['participant_id']}?content=remove",
        mod,
    )
    assert r.status_code == 200 and r.json()["content"] == "removed"
    assert [q["text"] for q in await _questions(api, session)] == ["Hur räcker pengarna?"]


async def test_the_moderators_console_lists_participants_and_removes_one_after_asking(
    quiet: Api,
) -> None:
    api, served = quiet, quiet.served
    session = await api.make_session()
    sid = session["id"]
    async with (
        httpx.AsyncClient(base_url=served.base) as moderator,
        httpx.AsyncClient(base_url=served.base) as anna,
    ):
        await join_by_form(anna, session["code"], "Anna")
        r = await api.call(
            "GET", f"/api/v1/sessions/{sid}/participants", session["moderator_token"]
        )
        anna_id = r.json()["participants"][0]["id"]
        await moderator.get(f"/s/{sid}/moderate", params={"key": session["moderator_token"]})
        console = await moderator.get(f"/s/{sid}/moderator")
        assert 'id="participants"' in console.text and "Anna" in console.text
        remove = f"/s/{sid}/participants/{anna_id}/remove"
        assert remove in console.text
        async with page_socket(served.base, anna, f"/s/{sid}/ws") as annas_page:
            await annas_page.until('id="presence"')
            asked = await moderator.get(remove)
            assert asked.status_code == 200 and "Anna" in asked.text
            still = await api.call("GET", f"/api/v1/sessions/{sid}", session["moderator_token"])
            assert still.json()["participants"] == 1  # asking removed no one
            done = await moderator.post(remove, data={"csrf": csrf_of(asked.text)})
            assert done.status_code == 303
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    await annas_page.next()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
        again = await anna.get(f"/s/{sid}")
        assert again.status_code == 303  # back to the join page
        r = await api.call("GET", f"/api/v1/sessions/{sid}", session["moderator_token"])
        assert r.json()["participants"] == 0
        # A participant cannot reach the page.
        await join_by_form(anna, session["code"], "Anna igen")
        assert (await anna.get(remove)).status_code in (303, 403)


# -- socket messages spend the API's quotas --------------------------------------------------


async def _socket_sends(
    served: Served, session: dict[str, Any], messages: list[dict[str, Any]], refusal: str
) -> list[str]:
    """Sends the messages over a browser's page socket, as the htmx forms do; returns the
    refusal notices that come back (waiting until no more come)."""
    async with httpx.AsyncClient(base_url=served.base) as browser:
        await join_by_form(browser, session["code"], "Anna")
        async with page_socket(served.base, browser, f"/s/{session['id']}/ws") as ws:
            await ws.until('id="presence"')
            for message in messages:
                await ws.ws.send(json.dumps({**message, "HEADERS": {}}))
            notices: list[str] = []
            while True:
                try:
                    frame = await ws.next(timeout=3.0)
                except TimeoutError:
                    return notices
                if 'id="notice"' in frame and refusal in frame:
                    notices.append(frame)


async def test_questions_over_the_socket_are_limited_as_the_api_limits_them(
    served: Served, api: Api
) -> None:
    session = await api.make_session()
    messages = [
        {"type": "question.ask", "text": f"Fråga nummer {i}", "nonce": f"q{i}"} for i in range(30)
    ]
    notices = await _socket_sends(served, session, messages, "You are asking very fast")
    assert len(notices) == 20
    assert len(await _questions(api, session)) == 10


async def test_notes_over_the_socket_are_limited_as_the_api_limits_them(
    served: Served, api: Api
) -> None:
    session = await api.make_session()
    r = await api.call(
        "POST",
        f"/api/v1/sessions/{session['id']}/boards",
        session["moderator_token"],
        json={"title": "Idéer", "columns": ["Idéer"]},
    )
    board = r.json()
    target = f"{board['id']}:{board['columns'][0]['id']}"
    messages = [
        {"type": "note.add", "target": target, "text": f"Lapp {i}", "nonce": f"n{i}"}
        for i in range(30)
    ]
    notices = await _socket_sends(served, session, messages, "You are posting notes very fast")
    assert len(notices) == 10
    r = await api.call("GET", f"/api/v1/boards/{board['id']}", session["moderator_token"])
    assert len(r.json()["notes"]) == 20


async def test_questions_sent_over_a_socket_count_against_the_api_and_back(
    served: Served, api: Api
) -> None:
    session = await api.make_session()
    anna = await api.join(session, "Anna")
    async with open_stream(served)(session["id"], anna["token"]) as s:
        await s.next()
        for i in range(6):
            await s.send({"type": "question.ask", "text": f"Via strömmen {i}"})
            assert (await s.until(lambda f: f["type"] in ("ack", "error")))["type"] == "ack"
        statuses = []
        for i in range(5):
            r = await api.call(
                "POST",
                f"/api/v1/sessions/{session['id']}/questions",
                anna["token"],
                json={"text": f"Via API:t {i}"},
            )
            statuses.append(r.status_code)
        assert statuses == [201] * 4 + [429]
        await s.send({"type": "question.ask", "text": "En till"})
        refused = await s.until(lambda f: f["type"] in ("ack", "error"))
        assert refused["error"]["code"] == "rate_limited"
    assert len(await _questions(api, session)) == 10
