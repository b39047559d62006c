"""An event's public pages over HTTP: the programme, registration and its refusals, the
withdraw link, personal invitations, and joining the event's sessions as one person."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import Api
from tests.live.pages import csrf_of

QUESTIONS = [
    {"key": "sector", "label": "Sector", "choices": ["Public", "Private", "Civil society"]},
    {"key": "level", "label": "Level", "choices": ["Local", "National"]},
]
WITHDRAW = re.compile(r'href="(http://[^"]+/e/[^"]+/withdraw/[^"]+)"')


def at(hours: float) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")


async def make_event(api: Api, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Forum för samverkan",
        "description": "En dag om samverkan.",
        "starts_at": at(-1),
        "ends_at": at(6),
        "attributes": QUESTIONS,
        "registration": {"open": True},
        **fields,
    }
    r = await api.call("POST", "/api/v1/events", await api.organiser_token(), json=body)
    assert r.status_code == 201, r.text
    event: dict[str, Any] = r.json()
    return event


async def add_session(api: Api, event: dict[str, Any], title: str, hours: float) -> dict[str, Any]:
    body = {"title": title, "event_id": event["id"], "starts_at": at(hours)}
    r = await api.call("POST", "/api/v1/sessions", await api.organiser_token(), json=body)
    assert r.status_code == 201, r.text
    session: dict[str, Any] = r.json()
    return session


async def registered(api: Api, event: dict[str, Any]) -> list[dict[str, Any]]:
    r = await api.call(
        "GET", f"/api/v1/events/{event['id']}/registrations", await api.organiser_token()
    )
    assert r.status_code == 200, r.text
    found: list[dict[str, Any]] = r.json()["registrations"]
    return found


def good_form(csrf: str, **changes: str) -> dict[str, str]:
    form = {
        "csrf": csrf,
        "name": "Ada Lind",
        "email": "ada@example.org",
        "attr_sector": "Public",
        "attr_level": "Local",
        "consent": "yes",
    }
    form.update(changes)
    return {k: v for k, v in form.items() if v != "-"}


async def register(
    client: httpx.AsyncClient, event: dict[str, Any], **changes: str
) -> httpx.Response:
    form = await client.get(f"/e/{event['id']}/register")
    assert form.status_code == 200, form.text
    return await client.post(
        f"/e/{event['id']}/register", data=good_form(csrf_of(form.text), **changes)
    )


@pytest.fixture
async def client(api: Api) -> Any:
    async with httpx.AsyncClient(base_url=api.served.base, timeout=30) as c:
        yield c


# -- the event page ---------------------------------------------------------------------------


async def test_the_event_page_shows_now_and_next_with_one_join_each(
    api: Api, client: httpx.AsyncClient
) -> None:
    event = await make_event(api)
    opening = await add_session(api, event, "Öppning i plenum", -0.5)
    panel = await add_session(api, event, "Panelsamtal", 1)
    earlier = await add_session(api, event, "Frukostmöte", -2)
    r = await api.call(
        "POST", f"/api/v1/sessions/{earlier['id']}/close", await api.organiser_token()
    )
    assert r.status_code in (200, 204), r.text
    r = await client.get(f"/e/{event['id']}", headers={"Accept-Language": "en"})
    assert r.status_code == 200
    html = r.text
    assert "Forum för samverkan" in html and "En dag om samverkan." in html
    # Now first: the session on now, then the next, each with its own join link.
    now = html.index('id="slot-now-title"')
    nxt = html.index('id="slot-next-title"')
    assert now < nxt
    assert "Öppning i plenum" in html[now:nxt] and f'href="/j/{opening["code"]}"' in html[now:nxt]
    assert f'href="/j/{panel["code"]}"' in html[nxt:]
    # The closed session is over, and has no join link.
    assert f"/j/{earlier['code']}" not in html
    programme = html[html.index('class="programme"') :]
    assert programme.index("Frukostmöte") < programme.index("Öppning i plenum")
    assert "Ended" in programme
    assert f"/e/{event['id']}/register" in html


async def test_an_unknown_event_is_a_404_page(client: httpx.AsyncClient) -> None:
    r = await client.get("/e/nosuchevent")
    assert r.status_code == 404
    assert "<h1>" in r.text


async def test_an_invited_event_shows_no_join_without_an_invitation(
    api: Api, client: httpx.AsyncClient
) -> None:
    event = await make_event(api, access="invited")
    session = await add_session(api, event, "Samråd", -0.5)
    r = await client.get(f"/e/{event['id']}", headers={"Accept-Language": "en"})
    assert r.status_code == 200
    assert f"/j/{session['code']}" not in r.text
    assert "by invitation" in r.text
    # Its session's join page says so too, without a form.
    r = await client.get(f"/j/{session['code']}", headers={"Accept-Language": "en"})
    assert r.status_code == 403
    assert "By invitation only" in r.text and 'name="name"' not in r.text


# -- registration -------------------------------------------------------------------------------


async def test_registering_confirming_and_withdrawing(api: Api, client: httpx.AsyncClient) -> None:
    event = await make_event(api)
    form = await client.get(f"/e/{event['id']}/register", headers={"Accept-Language": "en"})
    text = form.text
    for wanted in ("<legend>Sector</legend>", "Civil society", "s organisers only."):
        assert wanted in text
    assert "90 days after the event" in text  # RETENTION_DAYS
    r = await register(client, event)
    assert r.status_code == 200, r.text
    assert "you are registered" in r.text.lower() or "du är anmäld" in r.text.lower()
    link = WITHDRAW.search(r.text)
    assert link, r.text
    [row] = await registered(api, event)
    assert row["name"] == "Ada Lind" and row["attributes"] == {"sector": "Public", "level": "Local"}

    path = link.group(1).removeprefix(api.served.base)
    shown = await client.get(path)
    assert shown.status_code == 200 and "Ada Lind" in shown.text
    assert await registered(api, event), "GET deletes nothing"
    done = await client.post(path, data={"csrf": csrf_of(shown.text)})
    assert done.status_code == 200
    assert await registered(api, event) == []
    again = await client.get(path)
    assert again.status_code == 404


async def test_registering_in_swedish_stores_the_locale(
    api: Api, client: httpx.AsyncClient
) -> None:
    event = await make_event(api)
    client.headers["Accept-Language"] = "sv"
    r = await register(client, event)
    assert r.status_code == 200
    assert '<html lang="sv">' in r.text


# Bad input: what is sent, the field it is about, and what the page says there (English).
REFUSALS: list[tuple[dict[str, str], str, str]] = [
    ({"attr_sector": "Pirates"}, "attr_sector", "Choose one of the answers."),
    ({"consent": "-"}, "reg-consent", "Tick the box to agree"),
    ({"name": "A" * 10_000}, "reg-name", "at most 80 characters"),
    ({"name": "  "}, "reg-name", "Write your name."),
    ({"email": "not an address"}, "reg-email", "such as name@example.org"),
    ({"attr_level": "-"}, "attr_level", "Choose one of the answers."),
]


async def test_a_refused_registration_shows_the_error_and_stores_nothing(
    api: Api, client: httpx.AsyncClient
) -> None:
    event = await make_event(api)
    client.headers["Accept-Language"] = "en"
    for changes, field, said in REFUSALS:
        case = f"{sorted(changes)} -> {field}"
        r = await register(client, event, **changes)
        assert r.status_code == 422, case
        html = r.text
        assert 'id="error-summary"' in html and "autofocus" in html, case
        assert html.count('aria-invalid="true"') >= 1 and said in html, case
        # The field is marked (and no other), and what was typed is kept.
        if field.startswith("attr_"):
            assert re.search(rf'id="{field}-\d"[^>]*aria-invalid="true"', html), case
            assert 'id="reg-name"' in html and not re.search(
                r'id="reg-name"[^>]*aria-invalid', html
            ), case
        else:
            assert re.search(rf'id="{field}"[^>]*aria-invalid="true"', html), case
            assert f'id="{field}-error"' in html, case
        if "name" not in changes:
            assert 'value="Ada Lind"' in html, case
        if "email" not in changes:
            assert 'value="ada@example.org"' in html, case
        if field != "attr_sector":
            assert re.search(r'value="Public" required checked', html), case
    assert await registered(api, event) == []


async def test_the_same_email_twice_is_refused_clearly(api: Api, client: httpx.AsyncClient) -> None:
    event = await make_event(api)
    assert (await register(client, event)).status_code == 200
    r = await register(client, event, name="Ada igen", email="ADA@example.org")
    assert r.status_code == 422
    assert re.search(r'id="reg-email"[^>]*aria-invalid="true"', r.text)
    assert "already registered" in r.text or "redan anmäld" in r.text
    assert len(await registered(api, event)) == 1


async def test_a_stale_form_keeps_what_was_typed(api: Api, client: httpx.AsyncClient) -> None:
    event = await make_event(api)
    r = await client.post(f"/e/{event['id']}/register", data=good_form("stale"))
    assert r.status_code == 422
    assert 'value="Ada Lind"' in r.text and 'id="error-summary"' in r.text
    assert await registered(api, event) == []


async def test_after_the_closing_date_there_is_no_form(api: Api, client: httpx.AsyncClient) -> None:
    event = await make_event(api, registration={"open": True, "closes_at": at(-1)})
    r = await client.get(f"/e/{event['id']}/register", headers={"Accept-Language": "en"})
    assert r.status_code == 200
    assert "Registration is closed" in r.text and 'name="email"' not in r.text
    page = await client.get(f"/e/{event['id']}")
    assert f"/e/{event['id']}/register" not in page.text
    r = await client.post(f"/e/{event['id']}/register", data=good_form("x"))
    assert "Registration is closed" in r.text or "Anmälan är stängd" in r.text
    assert await registered(api, event) == []


async def test_an_unknown_withdraw_link_is_a_404_page(api: Api, client: httpx.AsyncClient) -> None:
    event = await make_event(api)
    r = await client.get(f"/e/{event['id']}/withdraw/w_nosuchtoken")
    assert r.status_code == 404
    r = await client.post(f"/e/{event['id']}/withdraw/w_nosuchtoken", data={"csrf": "x"})
    assert r.status_code == 404


# -- invitations and joining as one person ---------------------------------------------------------


async def select_and_invite(api: Api, event: dict[str, Any], size: int) -> list[dict[str, Any]]:
    token = await api.organiser_token()
    r = await api.call(
        "POST",
        f"/api/v1/events/{event['id']}/selection",
        token,
        json={"size": size, "balance_by": ["sector"], "seed": 1},
    )
    assert r.status_code == 200, r.text
    r = await api.call("POST", f"/api/v1/events/{event['id']}/invitations", token)
    assert r.status_code == 200, r.text
    invitations: list[dict[str, Any]] = r.json()["invitations"]
    return invitations


async def participants_of(api: Api, session: dict[str, Any]) -> list[dict[str, Any]]:
    r = await api.call(
        "GET", f"/api/v1/sessions/{session['id']}/participants", await api.organiser_token()
    )
    assert r.status_code == 200, r.text
    found: list[dict[str, Any]] = r.json()["participants"]
    return found


async def test_an_invitation_joins_every_session_of_its_event_without_a_form(
    api: Api, client: httpx.AsyncClient
) -> None:
    event = await make_event(api, access="invited")
    first = await add_session(api, event, "Öppning", -0.5)
    second = await add_session(api, event, "Samtal", 1)
    assert (await register(client, event)).status_code == 200
    [invitation] = await select_and_invite(api, event, 1)
    path = invitation["join_url"].removeprefix(api.served.base)

    phone = httpx.AsyncClient(base_url=api.served.base, headers={"Accept-Language": "en"})
    async with phone:
        r = await phone.get(path)
        assert r.status_code == 303 and r.headers["location"].endswith(f"/e/{event['id']}")
        page = await phone.get(f"/e/{event['id']}")
        assert "Welcome, Ada Lind" in page.text
        assert f'href="/j/{first["code"]}"' in page.text
        for session in (first, second):
            r = await phone.get(f"/j/{session['code']}")
            assert r.status_code == 303, r.text
            assert r.headers["location"].endswith(f"/s/{session['id']}")
            landed = await phone.get(r.headers["location"])
            assert landed.status_code == 200 and "Not you?" not in landed.text
            [person] = await participants_of(api, session)
            assert person["name"] == "Ada Lind"
            assert person["attributes"] == {"sector": "Public", "level": "Local"}


async def test_invitation_links_refused(api: Api, client: httpx.AsyncClient) -> None:
    event = await make_event(api, access="invited")
    r = await client.get("/i/i_nosuchinvitation")
    assert r.status_code == 404
    assert (await register(client, event)).status_code == 200
    bo = await register(client, event, email="bo@example.org", name="Bo", attr_sector="Private")
    assert bo.status_code == 200
    token = await api.organiser_token()

    async def select(quota: dict[str, int]) -> None:
        r = await api.call(
            "POST",
            f"/api/v1/events/{event['id']}/selection",
            token,
            json={"size": 1, "balance_by": ["sector"], "quotas": {"sector": {"Public": quota}}},
        )
        assert r.status_code == 200, r.text

    await select({"min": 1})
    r = await api.call("POST", f"/api/v1/events/{event['id']}/invitations", token)
    [ada] = r.json()["invitations"]
    assert ada["name"] == "Ada Lind"
    await select({"max": 0})  # now Bo is selected, and Ada waits
    path = ada["join_url"].removeprefix(api.served.base)
    r = await client.get(path, headers={"Accept-Language": "en"})
    assert r.status_code == 403
    assert "not among those selected" in r.text


async def test_the_next_session_of_an_open_event_joins_as_before_and_can_be_changed(
    api: Api, client: httpx.AsyncClient
) -> None:
    event = await make_event(api)
    first = await add_session(api, event, "Öppning", -0.5)
    second = await add_session(api, event, "Samtal", 1)
    client.headers["Accept-Language"] = "en"
    form = await client.get(f"/j/{first['code']}")
    assert 'name="name"' in form.text
    r = await client.post(
        f"/j/{first['code']}",
        data={"csrf": csrf_of(form.text), "name": "Cem", "attr_sector": "Private"},
    )
    assert r.status_code == 303
    # The next session: no form, the same person.
    r = await client.get(f"/j/{second['code']}")
    assert r.status_code == 303 and r.headers["location"].endswith(f"/s/{second['id']}")
    landed = await client.get(r.headers["location"])
    assert "You joined as Cem" in landed.text and "Not you?" in landed.text
    [person] = await participants_of(api, second)
    assert person["name"] == "Cem" and person["attributes"] == {"sector": "Private"}
    before = person["id"]
    # Changing: the form, filled in as before; then the same participant (their votes stay
    # theirs) with the new answers.
    change = await client.get(f"/j/{second['code']}?change=1")
    assert change.status_code == 200 and 'value="Cem"' in change.text
    assert re.search(r"<option selected>Private</option>", change.text)
    r = await client.post(
        f"/j/{second['code']}?change=1",
        data={"csrf": csrf_of(change.text), "name": "Dana", "attr_sector": "Public"},
    )
    assert r.status_code == 303, r.text
    [person] = await participants_of(api, second)
    assert person["name"] == "Dana" and person["attributes"] == {"sector": "Public"}
    assert person["id"] == before
    landed = await client.get(f"/s/{second['id']}")
    assert landed.status_code == 200 and "Not you?" not in landed.text


async def test_a_session_outside_events_still_asks_with_the_form(
    api: Api, client: httpx.AsyncClient
) -> None:
    event = await make_event(api)
    inside = await add_session(api, event, "Öppning", -0.5)
    outside = await api.make_session("Fristående")
    form = await client.get(f"/j/{inside['code']}")
    r = await client.post(f"/j/{inside['code']}", data={"csrf": csrf_of(form.text), "name": "Cem"})
    assert r.status_code == 303
    r = await client.get(f"/j/{outside['code']}")
    assert r.status_code == 200 and 'name="name"' in r.text


async def test_an_open_events_invitation_no_longer_valid_leaves_the_join_form(
    api: Api, client: httpx.AsyncClient
) -> None:
    """A browser holding an invitation of an open event whose registrant is no longer
    selected is not refused: anyone joins an open event, so it gets the form."""
    event = await make_event(api)
    session = await add_session(api, event, "Öppning", -0.5)
    assert (await register(client, event)).status_code == 200
    bo = await register(client, event, email="bo@example.org", name="Bo", attr_sector="Private")
    assert bo.status_code == 200
    token = await api.organiser_token()

    async def select(quota: dict[str, int]) -> None:
        r = await api.call(
            "POST",
            f"/api/v1/events/{event['id']}/selection",
            token,
            json={"size": 1, "balance_by": ["sector"], "quotas": {"sector": {"Public": quota}}},
        )
        assert r.status_code == 200, r.text

    await select({"min": 1})
    r = await api.call("POST", f"/api/v1/events/{event['id']}/invitations", token)
    [ada] = r.json()["invitations"]
    phone = httpx.AsyncClient(base_url=api.served.base, headers={"Accept-Language": "en"})
    async with phone:
        assert (await phone.get(ada["join_url"].removeprefix(api.served.base))).status_code == 303
        await select({"max": 0})  # now Bo is selected, and Ada waits
        r = await phone.get(f"/j/{session['code']}")
        assert r.status_code == 200, r.text
        assert 'name="name"' in r.text
        assert await participants_of(api, session) == []
