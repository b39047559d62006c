"""Breakout rooms in a real browser: the moderator opens, broadcasts, closes; two people follow."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from tests.conftest import Api, Served

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-gpu",
]
SECTORS = ["Civilsamhälle", "Offentlig sektor"]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        await launched.close()


async def _participant(
    browser: Browser, served: Served, session: dict[str, Any], name: str, sector: str
) -> Page:
    page = await (await browser.new_context()).new_page()
    await page.goto(f"{served.base}/j/{session['code']}")
    await page.fill("#name", name)
    await page.select_option("#attr_sektor", sector)
    await page.click("button[type=submit]")
    await expect(page.locator("#breakout")).to_have_attribute("data-place", "plenary")
    return page


async def test_two_people_follow_the_moderator_into_rooms_and_back(
    browser: Browser, api: Api, served: Served
) -> None:
    session = await api.make_session(
        "Gruppsamtal", attributes=[{"key": "sektor", "label": "Sektor", "choices": SECTORS}]
    )
    moderator = await (await browser.new_context()).new_page()
    await moderator.goto(
        f"{served.base}/s/{session['id']}/moderate?key={session['moderator_token']}#sec-rooms"
    )
    await expect(moderator.locator("#breakout-overview")).to_contain_text(
        "Everyone is in the plenary"
    )
    people = [
        await _participant(browser, served, session, "Anna", SECTORS[0]),
        await _participant(browser, served, session, "Erik", SECTORS[1]),
    ]
    # Both are live on the moderator's page: its own socket is connected too.
    await expect(moderator.locator("#presence .here")).to_have_attribute("data-here", "2")

    await moderator.fill("#bo-amount", "2")
    await moderator.select_option("#bo-assignment", "balanced")
    await moderator.check("#bo-balance-sektor")
    await moderator.fill("#bo-minutes", "10")
    await moderator.click("text=Open the rooms")
    await expect(moderator.locator(".room-card")).to_have_count(2)

    names = set()
    for page in people:
        await expect(page.locator("#breakout .room-name")).to_have_text(re.compile(r"Room \d"))
        # The script counts down (m:ss) from the server's end time.
        await expect(page.locator("#breakout .countdown-time")).to_have_text(
            re.compile(r"^(9:[0-5]\d|10:00)$")
        )
        names.add(await page.locator("#breakout .room-name").inner_text())
    assert names == {"Room 1", "Room 2"}  # balanced: one of each sector per room

    await moderator.fill("#bo-broadcast", "Fem minuter kvar, sammanfatta era idéer")
    await moderator.click(".broadcast-form button")
    for page in people:
        await expect(page.locator("#breakout .broadcast-text")).to_have_text(
            "Fem minuter kvar, sammanfatta era idéer"
        )

    await moderator.click("text=Close the rooms")
    # Closing rooms early asks first (the console's dialog).
    await moderator.locator("dialog#confirm").get_by_role("button", name="Close the rooms").click()
    for page in people:
        await expect(page.locator("#breakout")).to_have_attribute("data-place", "plenary")
        await expect(page.locator("#breakout .room-name")).to_have_count(0)
    await expect(moderator.locator("#breakout-overview")).to_contain_text(
        "Everyone is in the plenary"
    )


async def test_help_from_a_room_shows_live_to_the_moderator(
    browser: Browser, api: Api, served: Served
) -> None:
    session = await api.make_session(
        "Gruppsamtal", attributes=[{"key": "sektor", "label": "Sektor", "choices": SECTORS}]
    )
    moderator = await (await browser.new_context()).new_page()
    await moderator.goto(
        f"{served.base}/s/{session['id']}/moderate?key={session['moderator_token']}#sec-rooms"
    )
    person = await _participant(browser, served, session, "Anna", SECTORS[0])
    await expect(moderator.locator("#presence .here")).to_have_attribute("data-here", "1")
    r = await api.call(
        "POST",
        f"/api/v1/sessions/{session['id']}/rooms",
        session["moderator_token"],
        json={"count": 1, "assignment": "random"},
    )
    assert r.status_code == 201
    await person.click("text=Ask the moderator for help")
    await expect(person.locator("#breakout .help-flag")).to_be_visible()
    card = moderator.locator(".room-card.needs-help")
    await expect(card).to_contain_text("Asks for help")
    await card.locator("h3 a").click()
    await expect(moderator.locator("#breakout .people")).to_contain_text("Anna")
    await expect(moderator.locator("#breakout .help-flag")).to_be_visible()
    await moderator.go_back()
    await card.locator("button").click()
    await expect(moderator.locator(".room-card.needs-help")).to_have_count(0)
    await expect(person.locator("#breakout .help-flag")).to_have_count(0)


async def test_a_hall_table_qr_link_joins_straight_into_that_table(
    browser: Browser, api: Api, served: Served
) -> None:
    session = await api.make_session("Hallen")
    await api.join(session)
    await api.join(session)
    r = await api.call(
        "POST",
        f"/api/v1/sessions/{session['id']}/rooms",
        session["moderator_token"],
        json={"count": 2, "assignment": "random", "places": ["Bord 7", "Bord 8"]},
    )
    assert r.status_code == 201
    table = r.json()["rooms"][1]
    moderator = await (await browser.new_context()).new_page()
    await moderator.goto(
        f"{served.base}/s/{session['id']}/moderate?key={session['moderator_token']}#sec-rooms"
    )
    await moderator.goto(f"{served.base}/s/{session['id']}/tables")
    await expect(moderator.locator(".table-sheet")).to_have_count(2)
    await expect(moderator.locator(".table-sheet img").nth(1)).to_have_attribute(
        "src", f"/t/{table['id']}/qr.svg"
    )
    qr = await moderator.request.get(f"{served.base}/t/{table['id']}/qr.svg")
    assert qr.ok and qr.headers["content-type"].startswith("image/svg+xml")
    person = await (await browser.new_context()).new_page()
    await person.goto(f"{served.base}/t/{table['id']}")
    await expect(person.locator(".table-welcome")).to_contain_text("Bord 8")
    await person.fill("#name", "Karin")
    await person.click("button[type=submit]")
    await expect(person.locator("#breakout .room-place")).to_contain_text("Bord 8")
    await expect(person.locator("#breakout .people")).to_contain_text("Karin")
