"""Events through the public API: the programme, co-organisers, registration, invitations
and closed access, from the outside."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from live import retention
from rooms import accounts
from rooms.events import conferences
from rooms.models import Organiser, Registration
from tests.conftest import Api

SEKTOR = {"key": "sektor", "label": "Sektor", "choices": ["Civilsamhälle", "Offentlig sektor"]}
NIVA = {"key": "niva", "label": "Nivå", "choices": ["Lokal", "Regional", "Nationell"]}


async def make_event(api: Api, **fields: Any) -> dict[str, Any]:
    body = {
        "title": "Samverkansforum 2026",
        "attributes": [SEKTOR, NIVA],
        "registration": {"open": True},
        **fields,
    }
    r = await api.call("POST", "/api/v1/events", await api.organiser_token(), json=body)
    assert r.status_code == 201, r.text
    made: dict[str, Any] = r.json()
    return made


async def event_session(
    api: Api, event: dict[str, Any], title: str, starts_at: str
) -> dict[str, Any]:
    r = await api.call(
        "POST",
        "/api/v1/sessions",
        await api.organiser_token(),
        json={"title": title, "event_id": event["id"], "starts_at": starts_at},
    )
    assert r.status_code == 201, r.text
    made: dict[str, Any] = r.json()
    return made


async def second_organiser(api: Api, email: str) -> str:
    """Another organiser account, signed in through the API; its token."""

    async def add() -> None:
        async with api.served.samla.store.write() as db:
            await accounts.add_organiser(db, email, "another long password")

    await api.served.run(add)
    r = await api.call(
        "POST", "/api/v1/auth/token", json={"email": email, "password": "another long password"}
    )
    assert r.status_code == 200, r.text
    token: str = r.json()["token"]
    return token


def person(n: int, sektor: str = "Civilsamhälle", niva: str = "Lokal") -> dict[str, Any]:
    return {
        "name": f"Person {n}",
        "email": f"person{n}@example.org",
        "attributes": {"sektor": sektor, "niva": niva},
        "consent": True,
    }


async def register(api: Api, event: dict[str, Any], body: dict[str, Any]) -> httpx.Response:
    return await api.call("POST", f"/api/v1/events/{event['id']}/registrations", json=body)


async def listed(api: Api, event: dict[str, Any]) -> list[dict[str, Any]]:
    r = await api.call(
        "GET", f"/api/v1/events/{event['id']}/registrations", await api.organiser_token()
    )
    assert r.status_code == 200, r.text
    found: list[dict[str, Any]] = r.json()["registrations"]
    return found


async def test_an_event_has_a_programme_in_time_order_asking_its_questions(api: Api) -> None:
    event = await make_event(api, starts_at="2026-03-03T08:00:00Z")
    assert event["access"] == "open"
    assert event["registration_url"].endswith(f"/e/{event['id']}/register")
    later = await event_session(api, event, "Gruppsamtal", "2026-03-03T09:30:00Z")
    first = await event_session(api, event, "Välkommen", "2026-03-03T08:00:00+00:00")
    assert first["attributes"] == [SEKTOR, NIVA]  # the event's questions, asked at join
    r = await api.call("GET", f"/api/v1/events/{event['id']}", await api.organiser_token())
    assert r.status_code == 200, r.text
    body = r.json()
    assert [s["id"] for s in body["sessions"]] == [first["id"], later["id"]]
    assert body["sessions"][0]["starts_at"] == "2026-03-03T08:00:00Z"
    assert body["organisers"] == ["organiser@samla.test"]
    assert body["registrations"] == {"applied": 0, "selected": 0, "waitlisted": 0}
    # A session's join with the event's questions; an answer not offered is refused.
    joined = await api.join(first, "Anna", {"sektor": "Civilsamhälle", "niva": "Lokal"})
    assert joined["attributes"] == {"sektor": "Civilsamhälle", "niva": "Lokal"}
    r = await api.call(
        "POST", "/api/v1/join", json={"code": first["code"], "attributes": {"niva": "Global"}}
    )
    assert r.status_code == 422


async def test_a_session_in_an_event_takes_its_questions_from_the_event(api: Api) -> None:
    event = await make_event(api)
    r = await api.call(
        "POST",
        "/api/v1/sessions",
        await api.organiser_token(),
        json={"title": "Pass", "event_id": event["id"], "attributes": [SEKTOR]},
    )
    assert r.status_code == 422
    r = await api.call(
        "POST",
        "/api/v1/sessions",
        await api.organiser_token(),
        json={"title": "Pass", "event_id": "nosuchevent"},
    )
    assert r.status_code == 404


async def test_a_co_organiser_can_do_everything_and_another_organiser_nothing(api: Api) -> None:
    event = await make_event(api)
    session = await event_session(api, event, "Välkommen", "2026-03-03T08:00:00Z")
    partner = await second_organiser(api, "kim@natverket.se")
    stranger = await second_organiser(api, "eve@elsewhere.se")
    eid, sid = event["id"], session["id"]

    # Before being added, the partner is refused like anyone else.
    r = await api.call("GET", f"/api/v1/events/{eid}", partner)
    assert r.status_code == 403
    r = await api.call(
        "POST",
        f"/api/v1/events/{eid}/organisers",
        await api.organiser_token(),
        json={"email": "nobody@nowhere.se"},
    )
    assert r.status_code == 404
    r = await api.call(
        "POST",
        f"/api/v1/events/{eid}/organisers",
        await api.organiser_token(),
        json={"email": "Kim@Natverket.se"},
    )
    assert r.status_code == 201, r.text

    # The co-organiser: the event, its registrations, a new session, a session's moderation,
    # its archive, its duplicate, and deleting it.
    r = await api.call("GET", f"/api/v1/events/{eid}", partner)
    assert r.status_code == 200
    assert r.json()["organisers"] == ["organiser@samla.test", "kim@natverket.se"]
    assert r.json()["created_by"] == "organiser@samla.test"
    assert (
        await api.call("GET", f"/api/v1/events/{eid}/registrations", partner)
    ).status_code == 200
    r = await api.call(
        "POST",
        "/api/v1/sessions",
        partner,
        json={"title": "Uppföljning", "event_id": eid, "starts_at": "2026-04-01T08:00:00Z"},
    )
    assert r.status_code == 201, r.text
    assert (await api.call("GET", f"/api/v1/sessions/{sid}", partner)).status_code == 200
    r = await api.call(
        "POST",
        f"/api/v1/sessions/{sid}/polls",
        partner,
        json={"question": "Hur går det?", "kind": "single", "options": ["Bra", "Dåligt"]},
    )
    assert r.status_code == 201, r.text
    r = await api.call("GET", f"/api/v1/sessions/{sid}/archive?format=json", partner)
    assert r.status_code == 200
    r = await api.call("POST", f"/api/v1/sessions/{sid}/duplicate", partner, json={})
    assert r.status_code == 201, r.text
    listed_ids = {
        s["id"] for s in (await api.call("GET", "/api/v1/sessions", partner)).json()["sessions"]
    }
    assert sid in listed_ids
    events = (await api.call("GET", "/api/v1/events", partner)).json()["events"]
    assert [e["id"] for e in events] == [eid]

    # The stranger: 403 on the event, its sessions and its archive.
    for method, path in [
        ("GET", f"/api/v1/events/{eid}"),
        ("GET", f"/api/v1/events/{eid}/registrations"),
        ("POST", f"/api/v1/events/{eid}/invitations"),
        ("GET", f"/api/v1/sessions/{sid}"),
        ("GET", f"/api/v1/sessions/{sid}/archive?format=json"),
        ("POST", f"/api/v1/sessions/{sid}/close"),
        ("DELETE", f"/api/v1/sessions/{sid}"),
        ("DELETE", f"/api/v1/events/{eid}"),
    ]:
        r = await api.call(method, path, stranger)
        assert r.status_code == 403, (method, path, r.text)
    r = await api.call(
        "POST", f"/api/v1/events/{eid}/organisers", stranger, json={"email": "eve@elsewhere.se"}
    )
    assert r.status_code == 403
    r = await api.call(
        "POST", "/api/v1/sessions", stranger, json={"title": "Intrång", "event_id": eid}
    )
    assert r.status_code == 403
    assert (await api.call("GET", "/api/v1/events", stranger)).json()["events"] == []

    # The co-organiser deletes the session; the event stays.
    assert (await api.call("DELETE", f"/api/v1/sessions/{sid}", partner)).status_code == 204
    assert (await api.call("GET", f"/api/v1/events/{eid}", partner)).status_code == 200


async def test_registration_refuses_bad_input_and_stores_nothing(api: Api) -> None:
    event = await make_event(api, registration={"open": True, "closes_at": "2099-01-01T00:00Z"})
    for body, field in [
        ({**person(1), "attributes": {"sektor": "Kyrkan", "niva": "Lokal"}}, "Kyrkan"),
        ({**person(1), "attributes": {"sektor": "Civilsamhälle"}}, "niva"),
        (
            {**person(1), "attributes": {"sektor": "Civilsamhälle", "niva": "Lokal", "age": "9"}},
            "age",
        ),
        ({**person(1), "consent": False}, "consent"),
        ({k: v for k, v in person(1).items() if k != "consent"}, "consent"),
        ({**person(1), "name": "x" * 10_000}, "name"),
        ({**person(1), "email": "not an address"}, "email"),
        ({**person(1), "email": "a@" + "b" * 300 + ".se"}, "email"),
    ]:
        r = await register(api, event, body)
        assert r.status_code == 422, (body, r.text)
        error = r.json()["error"]
        assert error["code"] == "invalid"
        assert field in error["message"] or field in error["message"].lower(), error
    assert await listed(api, event) == []

    r = await register(api, event, person(1))
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "applied"
    r = await register(api, event, {**person(1), "email": "PERSON1@example.org"})
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "conflict"
    assert len(await listed(api, event)) == 1


async def test_registration_after_the_closing_date_is_refused(api: Api) -> None:
    past = await make_event(api, registration={"open": True, "closes_at": "2020-01-01T00:00Z"})
    r = await register(api, past, person(1))
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "registration_closed"
    shut = await make_event(api, registration={"open": False})
    r = await register(api, shut, person(1))
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "registration_closed"
    assert await listed(api, past) == [] and await listed(api, shut) == []


async def test_a_withdrawn_registrants_row_is_gone(api: Api) -> None:
    event = await make_event(api)
    kept = await register(api, event, person(1))
    gone = await register(api, event, person(2))
    token = gone.json()["withdraw_url"].rsplit("/", 1)[1]
    r = await api.call("POST", "/api/v1/registrations/withdraw", json={"token": token})
    assert r.status_code == 204
    assert [x["id"] for x in await listed(api, event)] == [kept.json()["id"]]
    r = await api.call("POST", "/api/v1/registrations/withdraw", json={"token": token})
    assert r.status_code == 404
    # The email is free again.
    assert (await register(api, event, person(2))).status_code == 201


async def invited_event(api: Api) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    """An invited event with one session, six registrants, four selected and invited."""
    event = await make_event(api, access="invited")
    session = await event_session(api, event, "Dialogmöte", "2026-03-03T08:00:00Z")
    for n, (sektor, niva) in enumerate(
        [("Civilsamhälle", "Lokal"), ("Offentlig sektor", "Regional")] * 3
    ):
        assert (await register(api, event, person(n, sektor, niva))).status_code == 201
    token = await api.organiser_token()
    r = await api.call(
        "POST",
        f"/api/v1/events/{event['id']}/selection",
        token,
        json={"size": 4, "balance_by": ["sektor"], "seed": 7},
    )
    assert r.status_code == 200, r.text
    selected = r.json()["selected"]
    assert len(selected) == 4 and len(r.json()["waitlisted"]) == 2
    r = await api.call("POST", f"/api/v1/events/{event['id']}/invitations", token)
    assert r.status_code == 200, r.text
    invitations: list[dict[str, Any]] = r.json()["invitations"]
    assert sorted(i["registration_id"] for i in invitations) == sorted(selected)
    return event, session, invitations


async def test_an_invited_event_admits_only_its_own_invitations(api: Api) -> None:
    event, session, invitations = await invited_event(api)
    other_event, _, other_invitations = await invited_event(api)
    code = session["code"]

    r = await api.call("POST", "/api/v1/join", json={"code": code, "name": "Gate crasher"})
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "forbidden"
    r = await api.call(
        "POST", "/api/v1/join", json={"code": code, "invite": other_invitations[0]["invite"]}
    )
    assert r.status_code == 403
    r = await api.call("POST", "/api/v1/join", json={"code": code, "invite": "i_forged"})
    assert r.status_code == 403

    invitation = invitations[0]
    assert invitation["join_url"].endswith(f"/i/{invitation['invite']}")
    r = await api.call("POST", "/api/v1/join", json={"code": code, "invite": invitation["invite"]})
    assert r.status_code == 201, r.text
    joined = r.json()
    registrant = next(
        x for x in await listed(api, event) if x["id"] == invitation["registration_id"]
    )
    assert joined["name"] == registrant["name"]
    assert joined["attributes"] == registrant["attributes"]
    # The same invitation again (another device) is the same participant, with a new token.
    r = await api.call("POST", "/api/v1/join", json={"code": code, "invite": invitation["invite"]})
    assert r.status_code == 201
    assert r.json()["participant_id"] == joined["participant_id"]
    assert r.json()["token"] != joined["token"]
    r = await api.call("GET", f"/api/v1/sessions/{session['id']}", session["moderator_token"])
    assert r.json()["participants"] == 1

    # Invitations are the same links when made again.
    again = await api.call(
        "POST", f"/api/v1/events/{event['id']}/invitations", await api.organiser_token()
    )
    assert {i["invite"] for i in again.json()["invitations"]} == {i["invite"] for i in invitations}
    # A registrant who withdrew is gone, and so is their invitation's access.
    mine = invitations[1]
    assert other_event["id"] != event["id"]
    await _delete_registration(api, event, mine["registration_id"])
    r = await api.call("POST", "/api/v1/join", json={"code": code, "invite": mine["invite"]})
    assert r.status_code == 403
    assert mine["registration_id"] not in {x["id"] for x in await listed(api, event)}


async def _delete_registration(api: Api, event: dict[str, Any], rid: str) -> None:
    r = await api.call(
        "DELETE", f"/api/v1/events/{event['id']}/registrations/{rid}", await api.organiser_token()
    )
    assert r.status_code == 204, r.text


async def test_an_open_event_takes_joins_without_an_invitation(api: Api) -> None:
    event = await make_event(api)
    session = await event_session(api, event, "Välkommen", "2026-03-03T08:00:00Z")
    joined = await api.join(session, "Anna")
    assert joined["session_id"] == session["id"]


@pytest.mark.parametrize(
    "body",
    [
        {"title": ""},
        {"title": "x" * 201},
        {"title": "Forum", "access": "secret"},
        {"title": "Forum", "starts_at": "tomorrow"},
        {"title": "Forum", "starts_at": "2026-03-03T10:00Z", "ends_at": "2026-03-03T09:00Z"},
        {"title": "Forum", "registration": {"open": "yes"}},
        {"title": "Forum", "description": "x" * 5000},
    ],
)
async def test_an_event_with_bad_fields_is_refused(api: Api, body: dict[str, Any]) -> None:
    r = await api.call("POST", "/api/v1/events", await api.organiser_token(), json=body)
    assert r.status_code == 422, r.text
    assert (await api.call("GET", "/api/v1/events", await api.organiser_token())).json()[
        "events"
    ] == []


async def test_only_organisers_make_events(api: Api) -> None:
    session = await api.make_session()
    r = await api.call("POST", "/api/v1/events", session["moderator_token"], json={"title": "X"})
    assert r.status_code == 403
    r = await api.call("POST", "/api/v1/events", json={"title": "X"})
    assert r.status_code == 401


async def test_retention_deletes_an_event_with_its_registrations_after_its_days(api: Api) -> None:
    event = await make_event(api, ends_at="2026-03-03T16:00:00Z")
    session = await event_session(api, event, "Välkommen", "2026-03-03T08:00:00Z")
    assert (await register(api, event, person(1))).status_code == 201
    ongoing = await make_event(api)  # no end, no sessions, no start: kept until deleted
    samla = api.served.samla
    ended = datetime(2026, 3, 3, 16, 0, tzinfo=UTC)
    token = await api.organiser_token()
    assert await retention.purge_once(samla, now=ended + timedelta(days=89)) == 0
    assert (await api.call("GET", f"/api/v1/events/{event['id']}", token)).status_code == 200
    assert await retention.purge_once(samla, now=ended + timedelta(days=91)) == 1  # its session
    assert (await api.call("GET", f"/api/v1/events/{event['id']}", token)).status_code == 404
    r = await api.call("GET", f"/api/v1/sessions/{session['id']}", token)
    assert r.status_code == 404

    async def left() -> int:
        async with samla.store.read() as db:
            return len(list(await db.scalars(select(Registration))))

    assert await api.served.run(left) == 0
    assert (await api.call("GET", f"/api/v1/events/{ongoing['id']}", token)).status_code == 200


async def test_a_co_organiser_removed_from_the_event_loses_the_sessions_they_made(
    api: Api,
) -> None:
    event = await make_event(api)
    partner = await second_organiser(api, "kim@natverket.se")
    r = await api.call(
        "POST",
        f"/api/v1/events/{event['id']}/organisers",
        await api.organiser_token(),
        json={"email": "kim@natverket.se"},
    )
    assert r.status_code == 201
    r = await api.call(
        "POST", "/api/v1/sessions", partner, json={"title": "Kims pass", "event_id": event["id"]}
    )
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    assert (await api.call("GET", f"/api/v1/sessions/{sid}", partner)).status_code == 200

    async def remove() -> None:
        async with api.served.samla.store.write() as db:
            kim = await db.scalar(select(Organiser).where(Organiser.email == "kim@natverket.se"))
            assert kim is not None
            await conferences.remove_organiser(db, event["id"], kim.id)

    await api.served.run(remove)
    assert (await api.call("GET", f"/api/v1/sessions/{sid}", partner)).status_code == 403
    assert (await api.call("GET", f"/api/v1/events/{event['id']}", partner)).status_code == 403
    token = await api.organiser_token()
    assert (await api.call("GET", f"/api/v1/sessions/{sid}", token)).status_code == 200


async def test_registrations_from_one_address_are_limited(api: Api) -> None:
    event = await make_event(api)
    for n in range(60):
        r = await register(api, event, person(n))
        assert r.status_code == 201, (n, r.text)
    r = await register(api, event, person(60))
    assert r.status_code == 429
    assert r.json()["error"]["code"] == "rate_limited"
    assert int(r.headers["Retry-After"]) > 0
    assert len(await listed(api, event)) == 60
