"""The issue's browser test: register on the phone (360 px), get selected, open the
invitation, land in the first session of the programme, then the next session without a
second join form. In Swedish, with axe on every public page of the event."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from tests.conftest import CONSOLE, PHONE, Api, axe_violations
from tests.live.test_event_pages import add_session, make_event, registered

pytestmark = pytest.mark.browser
expect.set_options(timeout=15_000)
SHOTS = Path("/tmp/shots")

QUESTIONS = [
    {"key": "sektor", "label": "Sektor", "choices": ["Offentlig", "Privat", "Civilsamhälle"]},
    {"key": "niva", "label": "Nivå", "choices": ["Lokal", "Regional", "Nationell"]},
]


async def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"event-{name}.png"), full_page=True)


async def test_register_on_the_phone_get_selected_and_join_two_sessions_as_one_person(
    api: Api, browser: Any
) -> None:
    event = await make_event(
        api,
        title="Nationellt forum för samverkan",
        description="Ett samråd om samverkan mellan kommuner, regioner och civilsamhälle.",
        attributes=QUESTIONS,
        access="invited",
    )
    first = await add_session(api, event, "Öppning i plenum", -0.25)
    second = await add_session(api, event, "Gruppsamtal om roller", 1.5)
    await add_session(api, event, "Uppföljning", 4)
    base = api.served.base
    phone = await browser.new_context(
        viewport=PHONE, locale="sv-SE", extra_http_headers={"Accept-Language": "sv"}
    )
    page = await phone.new_page()

    # The event page, before registering: the programme, by invitation, a way to register.
    await page.goto(f"{base}/e/{event['id']}")
    await expect(page.locator("h1")).to_have_text("Nationellt forum för samverkan")
    assert await page.locator(f'a[href="/j/{first["code"]}"]').count() == 0
    assert await axe_violations(page) == []
    await shot(page, "page")

    # Registering: a missing consent is shown beside its field, with nothing lost.
    await page.locator(f'a[href$="/e/{event["id"]}/register"]').click()
    await page.get_by_label("Ditt namn").fill("Ada Lind")
    await page.get_by_label("E-post").fill("ada@example.org")
    await page.get_by_role("group", name="Sektor").get_by_label("Civilsamhälle").check()
    await page.get_by_role("group", name="Nivå").get_by_label("Regional").check()
    assert await axe_violations(page) == []
    await shot(page, "register")
    await page.locator("form button[type=submit]").click()
    summary = page.locator("#error-summary")
    await expect(summary).to_be_focused()
    await expect(page.locator("#reg-consent")).to_have_attribute("aria-invalid", "true")
    await expect(page.get_by_label("Ditt namn")).to_have_value("Ada Lind")
    await expect(
        page.get_by_role("group", name="Sektor").get_by_label("Civilsamhälle")
    ).to_be_checked()
    assert await registered(api, event) == []
    assert await axe_violations(page) == []
    await shot(page, "register-error")
    await page.locator("#reg-consent").check()
    await page.locator("form button[type=submit]").click()
    await expect(page.locator("h1")).to_contain_text("Ada Lind")
    link = await page.locator(".link-box a").get_attribute("href")
    assert link is not None and link.startswith(f"{base}/e/{event['id']}/withdraw/w_")
    assert await axe_violations(page) == []
    await shot(page, "registered")
    [row] = await registered(api, event)
    assert row["attributes"] == {"sektor": "Civilsamhälle", "niva": "Regional"}

    # Selected, and invited (the organiser's side, through the API).
    token = await api.organiser_token()
    r = await api.call(
        "POST",
        f"/api/v1/events/{event['id']}/selection",
        token,
        json={"size": 1, "balance_by": ["sektor"], "seed": 7},
    )
    assert r.status_code == 200, r.text
    r = await api.call("POST", f"/api/v1/events/{event['id']}/invitations", token)
    [invitation] = r.json()["invitations"]

    # The invitation: the event page greets them, and Join takes them into the session.
    await page.goto(invitation["join_url"])
    await expect(page).to_have_url(f"{base}/e/{event['id']}")
    await expect(page.locator(".event-welcome")).to_contain_text("Ada Lind")
    assert await axe_violations(page) == []
    await shot(page, "invited")
    await page.locator(".event-slot-now").get_by_role("link", name="Gå med").click()
    await expect(page).to_have_url(f"{base}/s/{first['id']}")
    await expect(page.locator("h1.session-title")).to_have_text("Öppning i plenum")
    await expect(page.locator("#you-name")).to_have_value("Ada Lind")

    # The next session: from the event page, straight in, no second join form.
    await page.goto(f"{base}/e/{event['id']}")
    await page.locator(".event-slot-next").get_by_role("link", name="Gå med").click()
    await expect(page).to_have_url(f"{base}/s/{second['id']}")
    await expect(page.locator("h1.session-title")).to_have_text("Gruppsamtal om roller")
    await expect(page.locator("#you-name")).to_have_value("Ada Lind")
    await phone.close()

    # The same event page on a laptop: the same calm column.
    laptop = await browser.new_context(viewport=CONSOLE, locale="sv-SE")
    page = await laptop.new_page()
    await page.goto(invitation["join_url"])
    await expect(page.locator(".event-welcome")).to_be_visible()
    await page.screenshot(path=str(SHOTS / "event-laptop.png"))
    await laptop.close()


async def test_the_other_pages_of_an_open_event_on_the_phone(api: Api, browser: Any) -> None:
    """Withdrawing, a closed registration, the next session joined as before (with the way
    to change it), and an invited event's session without an invitation."""
    event = await make_event(api, title="Regional träff", attributes=QUESTIONS)
    first = await add_session(api, event, "Inledning", -0.25)
    second = await add_session(api, event, "Samtal i grupper", 1)
    closed = await make_event(
        api, title="Vårens samråd", registration={"open": True, "closes_at": "2026-01-15T16:00:00Z"}
    )
    invited = await make_event(api, title="Slutet samråd", access="invited")
    locked = await add_session(api, invited, "Samråd", -0.25)
    base = api.served.base
    phone = await browser.new_context(
        viewport=PHONE, locale="sv-SE", extra_http_headers={"Accept-Language": "sv"}
    )
    page = await phone.new_page()

    # Register, then withdraw with the link: a confirmation first, then the row is gone.
    await page.goto(f"{base}/e/{event['id']}/register")
    await page.get_by_label("Ditt namn").fill("Bo Ek")
    await page.get_by_label("E-post").fill("bo@example.org")
    await page.get_by_role("group", name="Sektor").get_by_label("Privat").check()
    await page.get_by_role("group", name="Nivå").get_by_label("Lokal").check()
    await page.locator("#reg-consent").check()
    await page.locator("form button[type=submit]").click()
    link = await page.locator(".link-box a").get_attribute("href")
    assert link is not None
    await page.goto(link)
    await expect(page.locator("main")).to_contain_text("Bo Ek")
    assert await axe_violations(page) == []
    await shot(page, "withdraw")
    await page.locator("form button[type=submit]").click()
    await expect(page.locator("h1")).to_be_visible()
    assert await registered(api, event) == []
    assert await axe_violations(page) == []
    await shot(page, "withdrawn")

    # A closed registration: a clear page, no form.
    await page.goto(f"{base}/e/{closed['id']}/register")
    assert await page.locator("form").count() == 0
    assert await axe_violations(page) == []
    await shot(page, "closed")

    # The first session by its form, the next one at once, as the same person.
    await page.goto(f"{base}/e/{event['id']}")
    await page.locator(".event-slot-now").get_by_role("link", name="Gå med").click()
    await page.locator("#name").fill("Cem")
    await page.locator("#attr_sektor").select_option("Offentlig")
    await page.locator("form button[type=submit]").click()
    await expect(page).to_have_url(f"{base}/s/{first['id']}")
    await page.goto(f"{base}/e/{event['id']}")
    await page.locator(".event-slot-next").get_by_role("link", name="Gå med").click()
    await expect(page).to_have_url(f"{base}/s/{second['id']}")
    await expect(page.locator("#you-name")).to_have_value("Cem")
    change = page.locator(".joined-as a")
    await expect(change).to_be_visible()
    await shot(page, "joined-as-before")
    await change.click()
    await expect(page.locator("#name")).to_have_value("Cem")
    await expect(page.locator("#attr_sektor")).to_have_value("Offentlig")
    await shot(page, "change")

    # An invited event's session, without an invitation: it says so.
    response = await page.goto(f"{base}/j/{locked['code']}")
    assert response is not None and response.status == 403
    assert await page.locator("#name").count() == 0
    assert await axe_violations(page) == []
    await shot(page, "invited-only")
    await phone.close()
