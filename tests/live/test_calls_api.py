"""Calls in rooms through the public API: whose link into which call, with what token, and
the moderator's choice of calls at hall tables and in the plenary."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import jwt
import pytest

from live.calls import call_name
from tests.conftest import Api, Served, open_stream
from tests.live.test_calls import serve_bbb
from tests.live.test_parity import Case, World, _differences, _with, make_world

JITSI = "https://meet.samla.test"
APP_ID = "samla-test"
APP_SECRET = "a jitsi app secret, long and random enough"


@pytest.fixture
async def jitsi(served_factory: Callable[..., Served]) -> AsyncIterator[Api]:
    served = served_factory(jitsi_url=JITSI, jitsi_app_id=APP_ID, jitsi_app_secret=APP_SECRET)
    async with httpx.AsyncClient(base_url=served.base, timeout=30) as client:
        yield Api(served, client)


def _claims(url: str, **options: Any) -> dict[str, Any]:
    """The token of a Jitsi link, verified as the deployment verifies it."""
    token = url.partition("?jwt=")[2]
    found: dict[str, Any] = jwt.decode(
        token, APP_SECRET, algorithms=["HS256"], audience="jitsi", issuer=APP_ID, **options
    )
    return found


async def _rooms(
    api: Api, people: int = 4, **opening: Any
) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """A session with people in two rooms: the session, who joined, and the rooms."""
    session = await api.make_session("Samverkan")
    joined = [await api.join(session, f"Person {i}") for i in range(people)]
    body = {"count": 2, "assignment": "random", **opening}
    r = await api.call(
        "POST", f"/api/v1/sessions/{session['id']}/rooms", session["moderator_token"], json=body
    )
    assert r.status_code == 201, r.text
    return session, joined, r.json()["rooms"]


def _in(room: dict[str, Any], joined: list[dict[str, Any]]) -> dict[str, Any]:
    return next(j for j in joined if j["participant_id"] in room["participant_ids"])


async def _call(api: Api, rid: str, token: str | None) -> httpx.Response:
    return await api.call("GET", f"/api/v1/rooms/{rid}/call", token)


async def test_a_person_in_a_room_gets_a_link_with_a_token_for_that_call_and_their_name(
    jitsi: Api,
) -> None:
    session, joined, rooms = await _rooms(jitsi)
    a, b = rooms
    person = _in(a, joined)
    r = await _call(jitsi, a["id"], person["token"])
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    url = r.json()["url"]
    call = call_name(jitsi.served.settings.secret_key, session["id"], a["id"])
    assert urlsplit(url).path == f"/{call}" and url.startswith(f"{JITSI}/{call}?jwt=")
    claims = _claims(url)
    assert claims["room"] == call
    assert claims["context"]["user"]["name"] == person["name"]
    assert claims["sub"] == "meet.samla.test"
    assert claims["nbf"] <= time.time() < claims["exp"]
    assert 0 < claims["exp"] - claims["iat"] <= 24 * 3600
    assert "moderator" not in claims
    # Past its end it no longer verifies: checked as a second after `exp` would check it.
    with pytest.raises(jwt.ExpiredSignatureError):
        _claims(
            url,
            leeway=-(claims["exp"] - time.time() + 1),
            options={"verify_iat": False, "verify_nbf": False},
        )
    # Everyone in the room meets in the same call; the other room's is another.
    mate = [j for j in joined if j["participant_id"] in a["participant_ids"]][-1]
    again = _claims((await _call(jitsi, a["id"], mate["token"])).json()["url"])
    assert again["room"] == call and again["context"]["user"]["name"] == mate["name"]
    other = _claims((await _call(jitsi, b["id"], _in(b, joined)["token"])).json()["url"])
    assert other["room"] != call


async def test_a_person_of_another_room_or_session_is_refused_and_a_moderator_enters(
    jitsi: Api,
) -> None:
    session, joined, (a, b) = await _rooms(jitsi)
    r = await _call(jitsi, a["id"], _in(b, joined)["token"])
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    stranger = await jitsi.join(await jitsi.make_session("Annat"), "Främling")
    assert (await _call(jitsi, a["id"], stranger["token"])).status_code == 403
    assert (await _call(jitsi, a["id"], None)).status_code == 401
    assert (await _call(jitsi, a["id"], "p_unknown")).status_code == 401
    assert (await _call(jitsi, "nosuchroom", session["moderator_token"])).status_code == 404
    r = await _call(jitsi, a["id"], session["moderator_token"])
    assert r.status_code == 200, r.text
    claims = _claims(r.json()["url"])
    assert claims["room"] == call_name(jitsi.served.settings.secret_key, session["id"], a["id"])
    assert claims["moderator"] is True
    organiser = await _call(jitsi, a["id"], await jitsi.organiser_token())
    assert organiser.status_code == 200, organiser.text


async def test_without_a_video_service_there_is_no_call(api: Api) -> None:
    session, joined, (a, _) = await _rooms(api)
    r = await _call(api, a["id"], _in(a, joined)["token"])
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    assert (await _call(api, a["id"], None)).status_code == 401
    r = await api.call("GET", f"/api/v1/sessions/{session['id']}/call", joined[0]["token"])
    assert r.status_code == 404


async def test_a_table_in_the_hall_has_a_call_only_when_the_moderator_gives_tables_one(
    jitsi: Api, stream: Callable[..., Any]
) -> None:
    session, joined, (table, online) = await _rooms(jitsi, places=["Bord 1"])
    assert (table["place"], online["place"]) == ("Bord 1", None)
    at_table = _in(table, joined)
    r = await _call(jitsi, table["id"], at_table["token"])
    assert r.status_code == 404 and "table" in r.json()["error"]["message"]
    assert (await _call(jitsi, online["id"], _in(online, joined)["token"])).status_code == 200
    path = f"/api/v1/sessions/{session['id']}/calls"
    async with open_stream(jitsi.served)(session["id"], at_table["token"]) as events:
        await events.next()  # the snapshot
        r = await jitsi.call("POST", path, session["moderator_token"], json={"hall_tables": True})
        assert r.status_code == 200, r.text
        assert r.json() == {"hall_tables": True, "plenary": False}
        told = await events.until(lambda f: f.get("type") == "session.calls")
        assert (told["hall_tables"], told["plenary"]) == (True, False)
    r = await _call(jitsi, table["id"], at_table["token"])
    assert r.status_code == 200 and _claims(r.json()["url"])["context"]["user"]["name"]


async def test_the_calls_choice_is_the_moderators_and_checked(jitsi: Api) -> None:
    session, joined, _ = await _rooms(jitsi)
    path = f"/api/v1/sessions/{session['id']}/calls"
    r = await jitsi.call("POST", path, joined[0]["token"], json={"plenary": True})
    assert r.status_code == 403
    r = await jitsi.call("POST", path, session["moderator_token"], json={"plenary": "yes"})
    assert r.status_code == 422 and "plenary" in r.json()["error"]["message"]
    r = await jitsi.call("POST", path, session["moderator_token"], json=[1])
    assert r.status_code == 422
    r = await jitsi.call("POST", path, session["moderator_token"], json={"plenary": True})
    assert r.json() == {"hall_tables": False, "plenary": True}
    # A choice left out stays as it was.
    r = await jitsi.call("POST", path, session["moderator_token"], json={"hall_tables": True})
    assert r.json() == {"hall_tables": True, "plenary": True}
    closed = await jitsi.call(
        "POST", f"/api/v1/sessions/{session['id']}/close", session["moderator_token"]
    )
    assert closed.status_code == 200
    r = await jitsi.call("POST", path, session["moderator_token"], json={"plenary": False})
    assert r.status_code == 409 and r.json()["error"]["code"] == "session_closed"


async def test_a_plenary_call_is_for_the_sessions_members_when_it_has_one(jitsi: Api) -> None:
    token = await jitsi.organiser_token()
    r = await jitsi.call(
        "POST",
        "/api/v1/sessions",
        token,
        json={"title": "Forum", "calls": {"plenary": True}},
    )
    assert r.status_code == 201, r.text
    session = r.json()
    assert session["calls"] == {"hall_tables": False, "plenary": True}
    person = await jitsi.join(session, "Ada")
    path = f"/api/v1/sessions/{session['id']}/call"
    r = await jitsi.call("GET", path, person["token"])
    assert r.status_code == 200, r.text
    claims = _claims(r.json()["url"])
    assert claims["room"] == call_name(jitsi.served.settings.secret_key, session["id"], None)
    assert claims["context"]["user"]["name"] == "Ada"
    moderator = _claims((await jitsi.call("GET", path, session["moderator_token"])).json()["url"])
    assert moderator["room"] == claims["room"] and moderator["moderator"] is True
    stranger = await jitsi.join(await jitsi.make_session("Annat"), "Främling")
    assert (await jitsi.call("GET", path, stranger["token"])).status_code == 403
    assert (await jitsi.call("GET", path, None)).status_code == 401
    without = await jitsi.make_session("Utan")
    assert without["calls"] == {"hall_tables": False, "plenary": False}
    r = await jitsi.call(
        "GET", f"/api/v1/sessions/{without['id']}/call", without["moderator_token"]
    )
    assert r.status_code == 404
    bad = await jitsi.call(
        "POST", "/api/v1/sessions", token, json={"title": "X", "calls": {"plenary": 1}}
    )
    assert bad.status_code == 422 and "calls.plenary" in bad.json()["error"]["message"]


async def test_a_closed_room_has_no_call_any_more(jitsi: Api) -> None:
    session, joined, (a, _) = await _rooms(jitsi)
    await jitsi.call(
        "POST", f"/api/v1/sessions/{session['id']}/rooms/close", session["moderator_token"]
    )
    assert (await _call(jitsi, a["id"], _in(a, joined)["token"])).status_code == 403
    r = await _call(jitsi, a["id"], session["moderator_token"])
    assert r.status_code == 409 and r.json()["error"]["code"] == "conflict"


async def test_fifty_people_asking_at_once_make_bigbluebutton_create_the_call_once(
    served_factory: Callable[..., Served],
) -> None:
    with serve_bbb() as (fake, base):
        served = served_factory(bbb_url=base, bbb_secret=fake.secret)
        async with httpx.AsyncClient(base_url=served.base, timeout=60) as client:
            api = Api(served, client)
            session, joined, (room,) = await _rooms(api, people=50, count=1)
            answers = await asyncio.gather(*(_call(api, room["id"], j["token"]) for j in joined))
            assert [a.status_code for a in answers] == [200] * 50, answers[0].text
            call = call_name(served.settings.secret_key, session["id"], room["id"])
            [created] = fake.creates()
            assert created["meetingID"] == call
            links = [dict(parse_qsl(urlsplit(a.json()["url"]).query)) for a in answers]
            assert {(q["meetingID"], q["role"]) for q in links} == {(call, "VIEWER")}
            assert {q["fullName"] for q in links} == {j["name"] for j in joined}
            # The moderator entering a moment later finds the call made.
            r = await _call(api, room["id"], session["moderator_token"])
            assert r.status_code == 200 and "MODERATOR" in r.json()["url"]
            assert len(fake.creates()) == 1


async def test_a_person_asking_for_links_in_a_loop_is_refused_for_a_while(jitsi: Api) -> None:
    session, joined, (a, _) = await _rooms(jitsi)
    person = _in(a, joined)
    for _ in range(30):
        assert (await _call(jitsi, a["id"], person["token"])).status_code == 200
    # A bucket of 30 a minute frees one every two seconds: the next few find it full.
    answers = [await _call(jitsi, a["id"], person["token"]) for _ in range(5)]
    refused = next(r for r in answers if r.status_code == 429)
    assert refused.json()["error"]["code"] == "rate_limited"
    assert "asking for the call very often" in refused.json()["error"]["message"]
    assert int(refused.headers["retry-after"]) >= 1
    # Everyone else still gets theirs.
    mate = next(j for j in joined if j["participant_id"] in a["participant_ids"] and j != person)
    assert (await _call(jitsi, a["id"], mate["token"])).status_code == 200
    assert (await _call(jitsi, a["id"], session["moderator_token"])).status_code == 200


async def test_the_calls_are_in_the_api_document(jitsi: Api) -> None:
    document = (await jitsi.client.get("/api/v1/openapi.json")).json()
    assert "get" in document["paths"]["/api/v1/rooms/{rid}/call"]
    assert "get" in document["paths"]["/api/v1/sessions/{sid}/call"]
    assert "post" in document["paths"]["/api/v1/sessions/{sid}/calls"]
    assert "calls" in document["components"]["schemas"]["SessionBody"]["properties"]


async def _choose_calls(w: World, plenary: Any = True) -> tuple[dict[str, Any], Any]:
    body = {"plenary": plenary}
    return dict(body), ("POST", f"/api/v1/sessions/{w.sid}/calls", body)


async def test_choosing_calls_is_refused_alike_over_the_socket_and_the_api(
    served: Served, api: Api
) -> None:
    """The console's form (a socket message) and the endpoint are one action: the same
    refusals of a wrong field, a participant and a closed session."""
    case = Case("session.calls", "moderator", _choose_calls, _with(_choose_calls, 5), "plenary")
    differences = await _differences(served, await make_world(api), case)
    assert not differences, "\n".join(differences)
