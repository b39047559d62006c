"""Polls in a real browser: a participant answers on a phone, the big screen counts it live."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from tests.conftest import Api

pytestmark = pytest.mark.browser
# The machine is shared: a busy neighbour must not make a live update look lost.
expect.set_options(timeout=15_000)

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-gpu",
]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True
        )
        yield launched
        await launched.close()


# Counts the socket's messages, so a test can wait for the snapshot before it types: the
# snapshot redraws every panel, forms included.
COUNT_MESSAGES = """
window.samlaMessages = 0;
document.addEventListener("htmx:wsAfterMessage", () => { window.samlaMessages += 1; });
"""


async def live_page(context: BrowserContext, url: str) -> Page:
    """A page whose socket has opened and delivered its snapshot."""
    page = await context.new_page()
    await page.add_init_script(COUNT_MESSAGES)
    await page.goto(url)
    deadline = time.monotonic() + 10
    while not await page.evaluate("window.samlaMessages"):
        assert time.monotonic() < deadline, "the socket brought no snapshot"
        await asyncio.sleep(0.05)
    return page


async def open_poll_for(api: Api, session: dict[str, Any], **body: Any) -> dict[str, Any]:
    token = session["moderator_token"]
    r = await api.call("POST", f"/api/v1/sessions/{session['id']}/polls", token, json=body)
    assert r.status_code == 201, r.text
    poll: dict[str, Any] = r.json()
    r = await api.call("POST", f"/api/v1/polls/{poll['id']}/open", token)
    assert r.status_code == 200
    return poll


async def test_a_participant_answers_on_a_phone_and_the_big_screen_counts_it_live(
    api: Api, browser: Browser
) -> None:
    session = await api.make_session("Välkommen och inledning")
    poll = await open_poll_for(
        api,
        session,
        question="Hur väl fungerar samverkan där du verkar?",
        kind="scale",
        scale={"min": 1, "max": 5, "min_label": "Inte alls", "max_label": "Mycket väl"},
    )
    base = api.served.base
    hall = await browser.new_context(viewport={"width": 1280, "height": 800})
    screen = await hall.new_page()
    await screen.goto(f"{base}/s/{session['id']}/moderate?key={session['moderator_token']}")
    shown = {"show": "poll", "id": poll["id"], "reveal_results": True}
    path = f"/api/v1/sessions/{session['id']}/stage"
    r = await api.call("POST", path, session["moderator_token"], json=shown)
    assert r.status_code == 200
    await screen.goto(f"{base}/s/{session['id']}/presenter")  # the stage, for its moderator
    big = screen.locator("#stage")
    await expect(big.locator(".stage-main")).to_have_text(poll["question"])
    await expect(big.locator("[data-voters]")).to_have_attribute("data-voters", "0")
    await expect(screen.locator(".stage-qr")).to_be_visible()

    phone = await browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True)
    page = await phone.new_page()
    await page.goto(f"{base}/j/{session['code']}")
    await page.get_by_label("Your name (optional)").fill("Anna")
    await page.get_by_role("button", name="Join").click()
    form = page.locator("#polls form.vote")
    await expect(form).to_be_visible()
    # Wait for the socket, so that the form is sent over it and not lost before it opens.
    await expect(page.locator("#presence .here")).to_have_attribute("data-here", "1")
    await form.locator("label.scale-value", has_text="4").click()
    await form.get_by_role("button", name="Send answer").click()
    await expect(page.locator("#polls .your-answer")).to_contain_text("4")
    # Nothing on the phone is wider than the phone.
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360

    # The presenter view was not reloaded: its socket brought the new count and the bars.
    await expect(big.locator("[data-voters]")).to_have_attribute("data-voters", "1")
    await expect(big.locator(".stage-bars li").nth(3)).to_contain_text("100")
    r = await api.call("GET", f"/api/v1/polls/{poll['id']}/results", session["moderator_token"])
    assert r.json()["voters"] == 1 and r.json()["options"][3]["count"] == 1

    # After a reconnect (a reload), the phone still shows what was answered.
    await page.reload()
    await expect(page.locator("#polls .your-answer")).to_contain_text("4")
    await hall.close()
    await phone.close()


async def test_a_moderator_prepares_opens_and_closes_a_poll_from_the_page(
    api: Api, browser: Browser
) -> None:
    session = await api.make_session("Utvärdera och revidera")
    base = api.served.base
    desk = await browser.new_context(viewport={"width": 1024, "height": 900})
    mod = await live_page(
        desk, f"{base}/s/{session['id']}/moderate?key={session['moderator_token']}"
    )
    create = mod.locator("#poll-create")
    await create.get_by_label("Question").fill("Ska vi samverka mer eller samverka bättre?")
    await create.get_by_label("Kind").select_option("multiple")
    await create.get_by_label("Options, one a line").fill("Mer\nBättre\nBåde och\n")
    await create.get_by_label("Most choices").fill("2")
    await create.get_by_role("button", name="Save as draft").click()
    card = mod.locator("#poll-control article", has_text="samverka bättre")
    await expect(card).to_contain_text("draft")
    await card.get_by_role("button", name="Open").click()
    await expect(card).to_contain_text("open")

    phone = await browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True)
    page = await phone.new_page()
    await page.goto(f"{base}/j/{session['code']}")
    await page.get_by_role("button", name="Join").click()
    await expect(page.locator("#presence .here")).to_have_attribute("data-here", "1")
    form = page.locator("#polls form.vote")
    for label in ("Mer", "Bättre", "Både och"):
        await form.get_by_label(label, exact=True).check()
    await form.get_by_role("button", name="Send answer").click()
    await expect(page.locator("#notice")).to_contain_text("Choose from 1 to 2 options")
    await form.get_by_label("Mer", exact=True).uncheck()
    await form.get_by_role("button", name="Send answer").click()
    await expect(page.locator("#polls .your-answer")).to_contain_text("Bättre, Både och")
    await expect(card.locator("[data-voters]")).to_have_attribute("data-voters", "1")

    await card.get_by_role("button", name="Close").click()
    await expect(card).to_contain_text("closed")
    # Closed: the phone no longer offers the form, and cannot say which answer was whose.
    await expect(page.locator("#polls form.vote")).to_have_count(0)
    await expect(page.locator("#polls")).to_contain_text("You have answered")
    await expect(page.locator("#poll-results")).to_contain_text("1 answer")
    await desk.close()
    await phone.close()


async def test_a_half_written_answer_survives_another_poll_opening(
    api: Api, browser: Browser
) -> None:
    session = await api.make_session()
    await open_poll_for(api, session, question="Vad behöver ni?", kind="open")
    phone = await browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True)
    page = await phone.new_page()
    await page.goto(f"{api.served.base}/j/{session['code']}")
    await page.get_by_role("button", name="Join").click()
    await expect(page.locator("#presence .here")).to_have_attribute("data-here", "1")
    await page.get_by_label("Your answer").fill("Mer tid för att")
    await open_poll_for(api, session, question="Ett ord för god samverkan", kind="wordcloud")
    await expect(page.locator("#polls article")).to_have_count(2)
    await expect(page.get_by_label("Your answer")).to_have_value("Mer tid för att")
    await phone.close()
