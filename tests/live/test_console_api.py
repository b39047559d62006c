"""Polls reused through the API: a poll duplicated as a draft, and polls brought over from
another session of the same organiser (never from someone else's)."""

from __future__ import annotations

from typing import Any

import httpx

from rooms import accounts
from tests.conftest import ORGANISER_EMAIL, ORGANISER_PASSWORD, Api
from tests.live.pages import csrf_of

OTHER_EMAIL = "annan@example.org"
OTHER_PASSWORD = "ett annat långt lösenord"


async def ok(api: Api, method: str, path: str, token: str, body: Any = None) -> Any:
    r = await api.call(method, path, token, **({} if body is None else {"json": body}))
    assert r.status_code < 300, f"{method} {path}: {r.status_code} {r.text}"
    return r.json() if r.content else None


async def test_a_duplicate_is_a_new_draft_with_the_same_question_kind_and_options(
    api: Api,
) -> None:
    session = await api.make_session()
    sid, mod = session["id"], session["moderator_token"]
    body = {
        "question": "Ska vi ses igen?",
        "kind": "multiple",
        "options": ["Ja", "Nej", "Kanske"],
        "max_choices": 2,
        "allow_change": True,
        "show_results": "closed",
    }
    poll = await ok(api, "POST", f"/api/v1/sessions/{sid}/polls", mod, body)
    await ok(api, "POST", f"/api/v1/polls/{poll['id']}/open", mod)
    person = await api.join(session, "Anna")
    choice = poll["options"][0]["id"]
    await ok(
        api, "POST", f"/api/v1/polls/{poll['id']}/votes", person["token"], {"choices": [choice]}
    )

    r = await api.call("POST", f"/api/v1/polls/{poll['id']}/duplicate", mod)
    assert r.status_code == 201, r.text
    copy = r.json()
    assert copy["id"] != poll["id"] and copy["status"] == "draft"
    for key in ("question", "kind", "max_choices", "allow_change", "show_results", "session_id"):
        assert copy[key] == poll[key], key
    assert [o["label"] for o in copy["options"]] == ["Ja", "Nej", "Kanske"]
    results = await ok(api, "GET", f"/api/v1/polls/{copy['id']}/results", mod)
    assert results["voters"] == 0  # no answer comes along

    # A participant may not, and a poll of another session is not this one's to copy.
    r = await api.call("POST", f"/api/v1/polls/{poll['id']}/duplicate", person["token"])
    assert r.status_code == 403, r.text
    r = await api.call("POST", "/api/v1/polls/nosuchpoll/duplicate", mod)
    assert r.status_code == 404, r.text


async def test_polls_are_reused_from_another_session_of_the_same_organiser(api: Api) -> None:
    org = await api.organiser_token()
    earlier = await api.make_session("Förra årets forum")
    ranked = await ok(
        api,
        "POST",
        f"/api/v1/sessions/{earlier['id']}/polls",
        org,
        {"question": "Vad är viktigast?", "kind": "ranking", "options": ["Tid", "Pengar", "Folk"]},
    )
    scale = await ok(
        api,
        "POST",
        f"/api/v1/sessions/{earlier['id']}/polls",
        org,
        {
            "question": "Hur nöjd är du?",
            "kind": "scale",
            "scale": {"min": 1, "max": 7, "min_label": "Inte alls", "max_label": "Mycket"},
        },
    )
    session = await api.make_session("I år")
    path = f"/api/v1/sessions/{session['id']}/polls/import"
    wanted = {"from_session_id": earlier["id"], "poll_ids": [scale["id"], ranked["id"]]}
    # A moderator link reaches its own session only: reusing is the organiser's.
    r = await api.call("POST", path, session["moderator_token"], json=wanted)
    assert r.status_code == 403, r.text
    r = await api.call("POST", path, org, json=wanted)
    assert r.status_code == 201, r.text
    brought = r.json()["polls"]
    # In the order they were made there, as drafts here, options and scale as they were.
    assert [p["question"] for p in brought] == ["Vad är viktigast?", "Hur nöjd är du?"]
    assert all(p["status"] == "draft" and p["session_id"] == session["id"] for p in brought)
    assert [o["label"] for o in brought[0]["options"]] == ["Tid", "Pengar", "Folk"]
    assert brought[1]["scale"]["max"] == 7 and brought[1]["scale"]["min_label"] == "Inte alls"
    listed = (await ok(api, "GET", f"/api/v1/sessions/{session['id']}", org))["polls"]
    assert {p["question"] for p in listed} == {"Vad är viktigast?", "Hur nöjd är du?"}

    # A poll that is not the named session's, an empty choice, the session itself.
    mine = brought[0]["id"]
    refused = [
        ({"from_session_id": earlier["id"], "poll_ids": [mine]}, 404),
        ({"from_session_id": earlier["id"], "poll_ids": []}, 422),
        ({"from_session_id": earlier["id"], "poll_ids": "p1"}, 422),
        ({"from_session_id": session["id"], "poll_ids": [mine]}, 422),
        ({"from_session_id": "nosuchsession", "poll_ids": [scale["id"]]}, 404),
    ]
    for body, status in refused:
        r = await api.call("POST", path, org, json=body)
        assert r.status_code == status, (body, r.text)
    person = await api.join(session, "Anna")
    r = await api.call("POST", path, person["token"], json=wanted)
    assert r.status_code == 403, r.text
    # Nothing refused was written.
    listed = (await ok(api, "GET", f"/api/v1/sessions/{session['id']}", org))["polls"]
    assert len(listed) == 2


async def test_polls_of_another_organisers_session_are_not_reused(api: Api) -> None:
    session = await api.make_session()

    async def add() -> None:
        async with api.served.samla.store.write() as db:
            await accounts.add_organiser(db, OTHER_EMAIL, OTHER_PASSWORD)

    await api.served.run(add)
    r = await api.client.post(
        "/api/v1/auth/token", json={"email": OTHER_EMAIL, "password": OTHER_PASSWORD}
    )
    other = r.json()["token"]
    theirs = await ok(api, "POST", "/api/v1/sessions", other, {"title": "Någon annans"})
    poll = await ok(
        api,
        "POST",
        f"/api/v1/sessions/{theirs['id']}/polls",
        other,
        {"question": "Hemligt?", "kind": "open"},
    )
    body = {"from_session_id": theirs["id"], "poll_ids": [poll["id"]]}
    path = f"/api/v1/sessions/{session['id']}/polls/import"
    for token in (await api.organiser_token(), session["moderator_token"]):
        r = await api.call("POST", path, token, json=body)
        assert r.status_code == 403, r.text
        assert r.json()["error"]["code"] == "forbidden"


async def test_only_the_organiser_signed_in_sees_their_other_sessions_polls(api: Api) -> None:
    """The reuse list names the organiser's other sessions and their questions: a moderator
    link reaches its own session and sees none of it."""
    org = await api.organiser_token()
    earlier = await api.make_session("Förra årets hemliga forum")
    await ok(
        api,
        "POST",
        f"/api/v1/sessions/{earlier['id']}/polls",
        org,
        {"question": "En fråga från i fjol", "kind": "single", "options": ["Ja", "Nej"]},
    )
    session = await api.make_session("I år")
    base = api.served.base
    async with httpx.AsyncClient(base_url=base, follow_redirects=True) as linked:
        key = session["moderator_token"]
        page = await linked.get(f"/s/{session['id']}/moderate?key={key}")
        assert page.status_code == 200 and 'id="poll-create"' in page.text
        assert "Förra årets hemliga forum" not in page.text
        assert "En fråga från i fjol" not in page.text
    async with httpx.AsyncClient(base_url=base, follow_redirects=True) as signed_in:
        login = await signed_in.get("/login")
        csrf = csrf_of(login.text)
        r = await signed_in.post(
            "/login",
            data={"csrf": csrf, "email": ORGANISER_EMAIL, "password": ORGANISER_PASSWORD},
        )
        assert r.status_code == 200, r.text
        page = await signed_in.get(f"/s/{session['id']}/moderator")
        assert "Förra årets hemliga forum" in page.text
        assert "En fråga från i fjol" in page.text
