"""An event from the organiser's pages: created with its times typed in TIME_ZONE, a
programme of sessions, co-organisers added by email (who then see and run everything of it),
refusals that name the field and keep what was typed, and deleting it with what it holds."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from rooms import accounts
from tests.conftest import Api
from tests.live.pages import csrf_of
from tests.live.test_archive_api import ok, signed_in
from tests.live.test_organiser import field_value

KIM = ("kim@natverket.se", "kims long password")
EVA = ("eva@annan.se", "evas long password")

EVENT = {
    "title": "Samverkansforum 2026",
    "description": "Två dagar om samverkan mellan civilsamhälle och offentlig sektor.",
    # Typed in Europe/Stockholm, UTC+1 in March (before summer time).
    "starts_at": "2027-03-03T09:00",
    "ends_at": "2027-03-04T16:00",
    "q-0-label": "Sektor",
    "q-0-choices": "Civilsamhälle\nOffentlig sektor",
    "access": "invited",
    "registration_open": "1",
    "closes_at": "2027-02-20T23:59",
}


async def add_account(api: Api, email: str, password: str) -> None:
    async def add() -> None:
        async with api.served.samla.store.write() as db:
            await accounts.add_organiser(db, email, password)

    await api.served.run(add)


@asynccontextmanager
async def browser_of(api: Api, email: str, password: str) -> AsyncIterator[httpx.AsyncClient]:
    """A browser signed in as another organiser account (made now)."""
    await add_account(api, email, password)
    async with httpx.AsyncClient(base_url=api.served.base, timeout=30) as client:
        login = await client.get("/login")
        r = await client.post(
            "/login", data={"csrf": csrf_of(login.text), "email": email, "password": password}
        )
        assert r.status_code == 303, r.text
        yield client


async def post(client: httpx.AsyncClient, path: str, fields: dict[str, str]) -> httpx.Response:
    page = (await client.get("/organiser")).text
    return await client.post(path, data={"csrf": csrf_of(page), **fields})


async def create_event(client: httpx.AsyncClient, **changes: str) -> str:
    r = await post(client, "/organiser/events/new", EVENT | changes)
    assert r.status_code == 303, r.text
    found = re.fullmatch(r".*/organiser/events/([\w-]+)\?done=created", r.headers["location"])
    assert found is not None, r.headers["location"]
    return found.group(1)


async def add_session(client: httpx.AsyncClient, eid: str, title: str, starts: str) -> str:
    r = await post(
        client, f"/organiser/events/{eid}/sessions", {"title": title, "starts_at": starts}
    )
    assert r.status_code == 200 and f"Session created: {title}" in r.text, r.text
    link = re.search(r'value="http[^"]*/s/([\w-]+)/moderate\?key=m_[^"]+"', r.text)
    assert link is not None
    return link.group(1)


async def described(api: Api, eid: str) -> dict[str, Any]:
    token = await api.organiser_token()
    found: dict[str, Any] = await ok(await api.call("GET", f"/api/v1/events/{eid}", token))
    return found


def event_form(page: str) -> str:
    """The event's own form, apart from the page's other forms (a session's title, …)."""
    return page[page.index('class="org-event-form"') :]


def text_of(page: str) -> str:
    """The page's text, tags gone and spaces collapsed."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


async def test_an_event_is_created_with_its_times_typed_in_the_time_zone(api: Api) -> None:
    async with signed_in(api) as browser:
        page = (await browser.get("/organiser/events/new")).text
        assert 'type="datetime-local"' in page and "Europe/Stockholm" in page
        eid = await create_event(browser)
        shown = await browser.get(f"/organiser/events/{eid}?done=created")
        # The form shows the stored moments back in local time.
        form = event_form(shown.text)
        assert field_value(form, "starts_at") == "2027-03-03T09:00"
        assert field_value(form, "closes_at") == "2027-02-20T23:59"
        assert field_value(form, "q-0-key") == "sektor"
    event = await described(api, eid)
    assert event["title"] == EVENT["title"] and event["description"] == EVENT["description"]
    assert (event["starts_at"], event["ends_at"]) == (
        "2027-03-03T08:00:00Z",
        "2027-03-04T15:00:00Z",
    )
    assert event["registration"] == {"open": True, "closes_at": "2027-02-20T22:59:00Z"}
    assert event["access"] == "invited" and event["organisers"] == ["organiser@samla.test"]
    assert event["attributes"] == [
        {"key": "sektor", "label": "Sektor", "choices": ["Civilsamhälle", "Offentlig sektor"]}
    ]


async def test_a_wrong_field_is_named_beside_it_and_everything_typed_is_kept(api: Api) -> None:
    typed = EVENT | {
        "title": "  ",
        "starts_at": "3 mars kl 9",
        "ends_at": "2027-03-04T16:00",
        "closes_at": "2027-02-20T23:59",
        "q-1-label": "Nivå",
        "q-1-choices": "",
    }
    async with signed_in(api) as browser:
        r = await post(browser, "/organiser/events/new", typed)
        assert r.status_code == 422
        assert 'id="event-title" name="title"' in r.text
        assert re.search(r'id="title-error">Write the event(&#39;|\')s title\.<', r.text)
        assert 'id="starts_at-error">Write a date and a time, such as 2026-03-03 09:00.<' in r.text
        assert 'aria-invalid="true" aria-describedby="starts_at-error"' in r.text
        assert "Question 2: Write at least one choice, one a line." in r.text
        for name in ("starts_at", "ends_at", "description", "q-0-choices", "q-1-label"):
            assert field_value(r.text, name) == typed[name]
        # The end before the start is named at the end.
        r = await post(
            browser,
            "/organiser/events/new",
            EVENT | {"ends_at": "2027-03-02T09:00"},
        )
        assert r.status_code == 422 and 'id="ends_at-error">The end is before the start.<' in r.text
        # A title of 10,000 characters is named, not cut short in silence.
        r = await post(browser, "/organiser/events/new", EVENT | {"title": "x" * 10_000})
        assert r.status_code == 422
        assert 'id="title-error">The title is too long: at most 200 characters.<' in r.text
        # Swedish too.
        r = await browser.post(
            "/organiser/events/new",
            data={"csrf": csrf_of(r.text), **typed},
            headers={"Accept-Language": "sv"},
        )
        assert "Skriv evenemangets rubrik." in r.text
    listed = await ok(await api.call("GET", "/api/v1/events", await api.organiser_token()))
    assert listed["events"] == []  # nothing refused was made


async def test_sessions_join_the_programme_in_time_order_and_show_on_the_organiser_page(
    api: Api,
) -> None:
    async with signed_in(api) as browser:
        eid = await create_event(browser)
        later = await add_session(browser, eid, "Gruppsamtal", "2027-03-03T13:00")
        first = await add_session(browser, eid, "Inledning i storgrupp", "2027-03-03T09:15")
        # A wrong time is named; the title stays.
        r = await post(
            browser, f"/organiser/events/{eid}/sessions", {"title": "Panel", "starts_at": "kl 11"}
        )
        assert r.status_code == 422 and 'id="session-starts-error"' in r.text
        assert field_value(r.text, "title") == "Panel"
        page = (await browser.get(f"/organiser/events/{eid}")).text
        assert page.index("Inledning i storgrupp") < page.index("Gruppsamtal")
        assert '<time datetime="2027-03-03T08:15Z">3 Mar 2027, 09:15</time>' in page
        mine = (await browser.get("/organiser")).text
        sv = (await browser.get("/organiser", headers={"Accept-Language": "sv"})).text
        await browser.get("/organiser")
    event = await described(api, eid)
    assert [s["id"] for s in event["sessions"]] == [first, later]
    assert event["sessions"][0]["starts_at"] == "2027-03-03T08:15:00Z"
    token = await api.organiser_token()
    session = await ok(await api.call("GET", f"/api/v1/sessions/{first}", token))
    assert [a["key"] for a in session["attributes"]] == ["sektor"]  # the event's questions
    text = text_of(mine)
    assert "Samverkansforum 2026" in text and "Organiser: organiser@samla.test" in text
    assert text.index("Inledning i storgrupp") < text.index("Gruppsamtal")
    assert f'href="/s/{first}/moderator"' in mine and f"/s/{later}/archive?format=zip" in mine
    for link in ("/e/{eid}", "/e/{eid}/register", "/organiser/events/{eid}/registrations"):
        assert link.format(eid=eid) + '"' in mine
    assert "Arrangör: organiser@samla.test" in text_of(sv)
    assert "Sessions outside events" in text and "Every session is part of an event." in text


async def test_a_co_organiser_added_by_email_sees_and_runs_the_event(api: Api) -> None:
    async with signed_in(api) as anna:
        eid = await create_event(anna)
        sid = await add_session(anna, eid, "Gruppsamtal", "2027-03-03T13:00")
        # An unknown email says so beside the field, and keeps it.
        r = await post(anna, f"/organiser/events/{eid}/organisers", {"email": "nobody@x.se"})
        assert r.status_code == 422
        assert (
            'id="organiser-email-error">No organiser account has this email. '
            "They need an account first.<" in r.text
        )
        assert field_value(r.text, "email") == "nobody@x.se"
        await add_account(api, *KIM)
        r = await post(anna, f"/organiser/events/{eid}/organisers", {"email": KIM[0].upper()})
        assert r.status_code == 303 and r.headers["location"].endswith("?done=added")
        page = (await anna.get(f"/organiser/events/{eid}?done=added")).text
        assert "The co-organiser was added." in page
        assert "Organiser: organiser@samla.test · with: kim@natverket.se" in text_of(page)
        # The creator cannot be removed: the domain says so.
        creator = re.search(r'action="[^"]*/organisers/([\w-]+)/remove"', page)
        assert creator is not None  # Kim's button; the creator has none
        assert page.count('/remove">') == 1

    async with httpx.AsyncClient(base_url=api.served.base, timeout=30) as kim:
        login = await kim.get("/login")
        await kim.post(
            "/login", data={"csrf": csrf_of(login.text), "email": KIM[0], "password": KIM[1]}
        )
        mine = (await kim.get("/organiser")).text
        assert "Organiser: organiser@samla.test · with: kim@natverket.se" in text_of(mine)
        assert f'href="/s/{sid}/moderator"' in mine
        assert (await kim.get(f"/s/{sid}/moderator")).status_code == 200
        archive = await kim.get(f"/s/{sid}/archive?format=json")
        assert archive.status_code == 200 and archive.json()
        assert (await kim.get(f"/organiser/events/{eid}")).status_code == 200
        # Kim adds to the programme and duplicates Anna's session; the copy stays in the event.
        await add_session(kim, eid, "Uppföljning", "2027-03-04T10:00")
        r = await post(kim, f"/organiser/sessions/{sid}/duplicate", {"title": "Gruppsamtal 2"})
        assert r.status_code == 200 and "Copy created: Gruppsamtal 2" in r.text
        creator_id = await api.served.run(lambda: _creator_of(api, eid))
        r = await post(kim, f"/organiser/events/{eid}/organisers/{creator_id}/remove", {})
        assert (
            r.status_code == 409
            and "The event's creator stays one of its organisers." in text_of(r.text)
        )
        # Kim leaves the event, and it leaves Kim's page.
        kim_id = re.search(r'action="[^"]*/organisers/([\w-]+)/remove"', r.text)
        assert kim_id is not None
        r = await post(kim, f"/organiser/events/{eid}/organisers/{kim_id.group(1)}/remove", {})
        assert r.status_code == 303 and r.headers["location"].endswith("/organiser")
        assert (await kim.get(f"/organiser/events/{eid}")).status_code == 403
        # The copy Kim made is still Kim's, listed outside the event.
        left = text_of((await kim.get("/organiser")).text)
        assert "Samverkansforum" not in left and "Gruppsamtal 2" in left
    event = await described(api, eid)
    assert [s["title"] for s in event["sessions"]] == [
        "Gruppsamtal",
        "Uppföljning",
        "Gruppsamtal 2",
    ]
    assert event["organisers"] == ["organiser@samla.test"]


async def _creator_of(api: Api, eid: str) -> str:
    from rooms.events import conferences

    async with api.served.samla.store.read() as db:
        event = await conferences.conference_by_id(db, eid)
        assert event.organiser_id is not None
        return event.organiser_id


async def test_an_organiser_who_is_not_one_gets_403_on_the_event_and_its_sessions(
    api: Api,
) -> None:
    async with signed_in(api) as anna:
        eid = await create_event(anna)
        sid = await add_session(anna, eid, "Gruppsamtal", "2027-03-03T13:00")
    async with browser_of(api, *EVA) as eva:
        assert "Samverkansforum" not in (await eva.get("/organiser")).text
        assert (await eva.get(f"/organiser/events/{eid}")).status_code == 403
        assert (await eva.get(f"/organiser/events/{eid}/delete")).status_code == 403
        for path, fields in (
            (f"/organiser/events/{eid}", EVENT | {"title": "Kapad"}),
            (f"/organiser/events/{eid}/sessions", {"title": "Smuggel"}),
            (f"/organiser/events/{eid}/organisers", {"email": EVA[0]}),
            (f"/organiser/events/{eid}/delete", {}),
            (f"/organiser/sessions/{sid}/duplicate", {}),
            (f"/organiser/sessions/{sid}/delete", {}),
        ):
            assert (await post(eva, path, fields)).status_code == 403, path
        assert (await eva.get(f"/organiser/sessions/{sid}/delete")).status_code == 403
        assert (await eva.get(f"/s/{sid}/archive?format=json")).status_code == 403
        assert (await eva.get(f"/s/{sid}/moderator")).status_code == 403
    event = await described(api, eid)
    assert event["title"] == EVENT["title"] and len(event["sessions"]) == 1
    assert event["organisers"] == ["organiser@samla.test"]


async def test_questions_change_only_until_someone_registers_and_deleting_names_what_goes(
    api: Api,
) -> None:
    async with signed_in(api) as browser:
        eid = await create_event(browser, access="open")
        await add_session(browser, eid, "Inledning", "2027-03-03T09:15")
        await add_session(browser, eid, "Gruppsamtal", "2027-03-03T13:00")
        r = await api.call(
            "POST",
            f"/api/v1/events/{eid}/registrations",
            json={
                "name": "Ada",
                "email": "ada@example.org",
                "attributes": {"sektor": "Civilsamhälle"},
                "consent": True,
            },
        )
        assert r.status_code == 201, r.text
        changed = EVENT | {"access": "open", "q-0-key": "sektor", "q-0-choices": "Akademi"}
        r = await post(browser, f"/organiser/events/{eid}", changed)
        assert r.status_code == 409
        assert 'id="questions-error">People have registered with the event' in r.text
        assert field_value(event_form(r.text), "q-0-choices") == "Akademi"
        # Other fields still change, the questions as they were.
        same = EVENT | {"access": "open", "q-0-key": "sektor", "title": "Forum 2026"}
        r = await post(browser, f"/organiser/events/{eid}", same)
        assert r.status_code == 303 and r.headers["location"].endswith("?done=saved")
        page = (await browser.get(f"/organiser/events/{eid}")).text
        question = "Delete the event “Forum 2026” with 2 sessions and 1 registration?"
        assert question in text_of(page) and "<dialog" in page
        confirm = await browser.get(f"/organiser/events/{eid}/delete")
        assert question in text_of(confirm.text)
        sv = await browser.get(f"/organiser/events/{eid}/delete", headers={"Accept-Language": "sv"})
        assert "Radera evenemanget ”Forum 2026” med 2 programpunkter och 1 anmälan?" in text_of(
            sv.text
        )
        forged = await browser.post(f"/organiser/events/{eid}/delete", data={"csrf": "x"})
        assert forged.status_code == 403
        r = await post(browser, f"/organiser/events/{eid}/delete", {})
        assert r.status_code == 303 and r.headers["location"].endswith("/organiser?deleted=event")
        gone = (await browser.get("/organiser?deleted=event")).text
        assert "The event was deleted, with its sessions and registrations." in gone
    token = await api.organiser_token()
    assert (await api.call("GET", f"/api/v1/events/{eid}", token)).status_code == 404
