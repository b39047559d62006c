"""The stage through the API: what the hall's screen shows, who may choose it, its link."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import websockets

from tests.conftest import Api


async def _ok(api: Api, method: str, path: str, token: str, body: Any = None) -> Any:
    r = await api.call(method, path, token, **({} if body is None else {"json": body}))
    assert r.status_code < 300, f"{method} {path}: {r.status_code} {r.text}"
    return r.json() if r.content else None


async def _stage(api: Api, session: dict[str, Any], body: dict[str, Any]) -> httpx.Response:
    path = f"/api/v1/sessions/{session['id']}/stage"
    return await api.call("POST", path, session["moderator_token"], json=body)


async def _hall(api: Api, url: str) -> httpx.Response:
    """The stage link opened as a hall's computer would: no cookie, no token."""
    async with httpx.AsyncClient(timeout=30) as hall:
        return await hall.get(url)


async def _poll(api: Api, session: dict[str, Any], options: list[str]) -> dict[str, Any]:
    body = {"question": "Vad behövs mest?", "kind": "single", "options": options}
    mod = session["moderator_token"]
    poll: dict[str, Any] = await _ok(
        api, "POST", f"/api/v1/sessions/{session['id']}/polls", mod, body
    )
    await _ok(api, "POST", f"/api/v1/polls/{poll['id']}/open", mod)
    return poll


async def test_the_stage_link_opens_the_join_screen_with_no_sign_in_and_no_site_chrome(
    api: Api,
) -> None:
    session = await api.make_session("Välkommen och inledning")
    url = session["stage_url"]
    assert url.startswith(api.served.base + "/stage/")
    r = await _hall(api, url)
    assert r.status_code == 200
    html = r.text
    assert 'data-show="join"' in html
    assert session["code"][:4] in html.replace(" ", "") and "/qr.svg" in html
    assert 'class="top"' not in html and "/lang/sv" not in html and 'class="skip"' not in html
    assert f"/stage/{url.rsplit('/', 1)[1]}/ws" in html
    assert r.headers["cache-control"] == "no-store"


async def test_a_made_up_or_other_sessions_stage_link_is_not_found(api: Api) -> None:
    one, other = await api.make_session(), await api.make_session()
    secret = one["stage_url"].rsplit("/", 1)[1]
    mac = secret.split(".", 1)[1]
    bad_links = (
        f"{other['id']}.{mac}",
        f"{one['id']}.{'0' * 32}",
        one["id"],
        "x" * 300,
        f"{one['id']}.%C3%A9",  # not ASCII: no comparison can even be made
    )
    for bad in bad_links:
        r = await _hall(api, f"{api.served.base}/stage/{bad}")
        assert r.status_code == 404, bad


async def test_a_moderator_puts_a_poll_on_the_stage_and_reveals_its_results(api: Api) -> None:
    session = await api.make_session()
    poll = await _poll(api, session, ["Tydliga roller", "Långsiktig finansiering"])
    anna = await api.join(session, "Anna")
    vote = {"choices": [poll["options"][0]["id"]]}
    await _ok(api, "POST", f"/api/v1/polls/{poll['id']}/votes", anna["token"], vote)

    r = await _stage(api, session, {"show": "poll", "id": poll["id"]})
    assert r.status_code == 200 and r.json() == {"show": "poll", "id": poll["id"]}
    html = (await _hall(api, session["stage_url"])).text
    assert 'data-show="poll"' in html and "Vad behövs mest?" in html
    assert 'data-voters="1"' in html
    assert "Tydliga roller" not in html  # hidden until revealed: the question and count only

    r = await _stage(api, session, {"show": "poll", "id": poll["id"], "reveal_results": True})
    assert r.status_code == 200
    html = (await _hall(api, session["stage_url"])).text
    assert "Tydliga roller" in html and "100" in html

    # Without an id, the stage follows the current poll.
    r = await _stage(api, session, {"show": "poll"})
    assert r.status_code == 200 and r.json() == {"show": "poll", "id": None}
    assert "Vad behövs mest?" in (await _hall(api, session["stage_url"])).text

    # Revealed while following the current poll: the reveal is for that poll, which stays
    # on the stage; the next poll opened shows no results before it is revealed too.
    r = await _stage(api, session, {"show": "poll", "reveal_results": True})
    assert r.status_code == 200 and r.json() == {"show": "poll", "id": poll["id"]}
    body = {"question": "Nästa fråga?", "kind": "single", "options": ["Hemlig A", "Hemlig B"]}
    mod = session["moderator_token"]
    nxt = await _ok(api, "POST", f"/api/v1/sessions/{session['id']}/polls", mod, body)
    await _ok(api, "POST", f"/api/v1/polls/{nxt['id']}/open", mod)
    html = (await _hall(api, session["stage_url"])).text
    assert "Hemlig A" not in html


async def test_the_stage_shows_a_message_a_board_a_question_and_the_rooms(api: Api) -> None:
    session = await api.make_session()
    sid, mod = session["id"], session["moderator_token"]
    anna = await api.join(session, "Anna")

    assert (
        await _stage(api, session, {"show": "message", "text": "Fika till 10.30"})
    ).status_code == 200
    assert "Fika till 10.30" in (await _hall(api, session["stage_url"])).text

    board = await _ok(
        api,
        "POST",
        f"/api/v1/sessions/{sid}/boards",
        mod,
        {"title": "Idéer", "columns": ["Idéer", "Frågor"]},
    )
    column = board["columns"][0]["id"]
    note = {"column": column, "text": "Gemensam ingång"}
    await _ok(api, "POST", f"/api/v1/boards/{board['id']}/notes", anna["token"], note)
    assert (await _stage(api, session, {"show": "board", "id": board["id"]})).status_code == 200
    html = (await _hall(api, session["stage_url"])).text
    assert 'data-show="board"' in html and "Gemensam ingång" in html

    path = f"/api/v1/sessions/{sid}/questions"
    question = await _ok(api, "POST", path, anna["token"], {"text": "Hur når vi fler?"})
    assert (
        await _stage(api, session, {"show": "question", "id": question["id"]})
    ).status_code == 200
    html = (await _hall(api, session["stage_url"])).text
    assert "Hur når vi fler?" in html and "Anna" in html

    await _ok(api, "POST", f"/api/v1/sessions/{sid}/rooms", mod, {"count": 1, "minutes": 10})
    assert (await _stage(api, session, {"show": "rooms"})).status_code == 200
    html = (await _hall(api, session["stage_url"])).text
    assert 'data-show="rooms"' in html and "data-countdown-to" in html


async def test_showing_a_board_or_a_question_the_old_way_puts_it_on_the_stage(api: Api) -> None:
    """One thing at a time: the boards' and questions' own "show" are the stage's action."""
    session = await api.make_session()
    sid, mod = session["id"], session["moderator_token"]
    anna = await api.join(session, "Anna")
    board = await _ok(
        api,
        "POST",
        f"/api/v1/sessions/{sid}/boards",
        mod,
        {"title": "Idéer", "columns": ["Idéer", "Frågor"]},
    )
    await _ok(api, "POST", f"/api/v1/boards/{board['id']}/show", mod)
    assert 'data-show="board"' in (await _hall(api, session["stage_url"])).text

    path = f"/api/v1/sessions/{sid}/questions"
    question = await _ok(api, "POST", path, anna["token"], {"text": "Vem bär ansvaret?"})
    await _ok(api, "POST", f"/api/v1/questions/{question['id']}/show", mod)
    html = (await _hall(api, session["stage_url"])).text
    assert 'data-show="question"' in html and "Vem bär ansvaret?" in html
    shown = await _ok(api, "GET", f"/api/v1/boards/{board['id']}", mod)
    assert shown["shown"] is False  # the board left the stage when the question came


async def test_what_the_stage_may_show_is_checked(api: Api) -> None:
    session, other = await api.make_session(), await api.make_session()
    theirs = await _poll(api, other, ["Ja", "Nej"])
    anna = await api.join(session, "Anna")
    board = await _ok(
        api,
        "POST",
        f"/api/v1/sessions/{other['id']}/boards",
        other["moderator_token"],
        {"title": "B", "columns": ["A"]},
    )
    refused = [
        ({"show": "slides"}, 422, "show"),
        ({"show": "poll", "id": theirs["id"]}, 403, None),
        ({"show": "poll", "id": "nosuchpoll"}, 404, None),
        ({"show": "board", "id": board["id"]}, 403, None),
        ({"show": "board"}, 422, "id"),
        ({"show": "question"}, 422, "id"),
        ({"show": "message"}, 422, "text"),
        ({"show": "message", "text": "   "}, 422, "text"),
        ({"show": "message", "text": "x" * 281}, 422, "text"),
        ({"show": "poll", "reveal_results": "yes"}, 422, "reveal_results"),
        ({"show": "poll", "id": "x" * 17}, 422, "id"),
    ]
    for body, status, field in refused:
        r = await _stage(api, session, body)
        assert r.status_code == status, (body, r.text)
        if field is not None:
            assert r.json()["error"]["message"].startswith(field), r.text

    # A participant may not choose what the hall sees; the stage stays as it was.
    path = f"/api/v1/sessions/{session['id']}/stage"
    r = await api.call("POST", path, anna["token"], json={"show": "message", "text": "Hej"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    r = await api.call("POST", f"{path}/revoke", anna["token"])
    assert r.status_code == 403
    r = await api.call("POST", path, json={"show": "join"})
    assert r.status_code == 401
    assert 'data-show="join"' in (await _hall(api, session["stage_url"])).text

    # A question waiting for approval is not shown.
    sid, mod = session["id"], session["moderator_token"]
    await _ok(api, "POST", f"/api/v1/sessions/{sid}/questions/settings", mod, {"approval": True})
    q = await _ok(api, "POST", f"/api/v1/sessions/{sid}/questions", anna["token"], {"text": "Hm?"})
    r = await _stage(api, session, {"show": "question", "id": q["id"]})
    assert r.status_code == 403


async def test_a_revoked_stage_link_opens_nothing_and_the_new_one_works(api: Api) -> None:
    session = await api.make_session()
    old = session["stage_url"]
    path = f"/api/v1/sessions/{session['id']}/stage/revoke"
    r = await api.call("POST", path, session["moderator_token"])
    assert r.status_code == 200
    new = r.json()["stage_url"]
    assert new != old and new.startswith(api.served.base + "/stage/")
    assert (await _hall(api, old)).status_code == 404
    assert (await _hall(api, new)).status_code == 200
    async with httpx.AsyncClient(timeout=30) as hall:
        socket_page = await hall.get(new)
        assert socket_page.status_code == 200


async def test_a_signed_in_moderator_is_led_to_the_stage_link_and_others_are_not(api: Api) -> None:
    session = await api.make_session()
    base = api.served.base
    async with httpx.AsyncClient(base_url=base, timeout=30) as desk:
        r = await desk.get(f"/s/{session['id']}/moderate?key={session['moderator_token']}")
        r = await desk.get(f"/s/{session['id']}/stage")
        assert r.status_code == 303 and r.headers["location"] == session["stage_url"]
        r = await desk.get(f"/s/{session['id']}/stage-link")
        assert r.json() == {"stage_url": session["stage_url"]}
    async with httpx.AsyncClient(base_url=base, timeout=30) as stranger:
        assert (await stranger.get(f"/s/{session['id']}/stage")).status_code == 403
        assert (await stranger.get(f"/s/{session['id']}/stage-link")).status_code == 403


async def test_integrations_see_what_the_stage_shows_and_when_it_changes(api: Api) -> None:
    """A moderator's event stream is told `stage.shown`; its presenter view's snapshot says
    what the stage shows."""
    session = await api.make_session()
    sid, mod = session["id"], session["moderator_token"]
    await _stage(api, session, {"show": "message", "text": "Snart börjar vi"})
    url = f"{api.served.ws_base}/api/v1/sessions/{sid}/events"
    auth = {"Authorization": f"Bearer {mod}"}
    async with websockets.connect(f"{url}?view=presenter", additional_headers=auth) as ws:
        snapshot = json.loads(await ws.recv())
        assert snapshot["type"] == "snapshot"
        assert snapshot["stage"]["show"] == "message"
        assert snapshot["stage"]["text"] == "Snart börjar vi"
    async with websockets.connect(url, additional_headers=auth) as ws:
        assert json.loads(await ws.recv())["type"] == "snapshot"
        await _stage(api, session, {"show": "join"})
        while True:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 5))
            if frame["type"] == "stage.shown":
                break
        assert frame["show"] == "join" and frame["id"] is None
