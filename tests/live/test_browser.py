"""The whole path in a real browser: join by code, and see the count change without reloading."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import expect

from tests.conftest import Api, Served

pytestmark = pytest.mark.browser
PHONE = {"width": 360, "height": 740}


async def _join(browser: Any, served: Served, code: str, name: str) -> Any:
    context = await browser.new_context(viewport=PHONE, locale="sv-SE")
    page = await context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.goto(served.base + "/")
    await page.get_by_label("Kod").fill(code)
    await page.get_by_role("button", name="Gå med").click()
    await page.get_by_label("Ditt namn (valfritt)").fill(name)
    await page.get_by_role("button", name="Gå med").click()
    await expect(page.locator("#live")).to_be_visible()
    page.errors = errors
    return page


async def test_a_second_participant_joining_changes_the_count_for_the_first(
    browser: Any, served: Served, api: Api
) -> None:
    session = await api.make_session("Samverkan i praktiken")
    first = await _join(browser, served, session["code"], "Anna")
    here = first.locator("#presence .here")
    await expect(here).to_have_attribute("data-here", "1")
    second = await _join(browser, served, session["code"], "Bo")
    await expect(second.locator("#presence .here")).to_have_attribute("data-here", "2")
    await expect(here).to_have_attribute("data-here", "2")  # no reload on the first page
    await expect(here).to_contain_text("2 personer här nu")
    await second.context.close()
    await expect(here).to_have_attribute("data-here", "1")
    # Renaming over the socket reaches the first page's own panel.
    await first.get_by_label("Ditt namn").fill("Anna Andersson")
    await first.get_by_role("button", name="Spara").click()
    # The server's reply re-renders the panel: the value attribute is what was stored.
    await expect(first.locator("#you-name")).to_have_attribute("value", "Anna Andersson")
    await first.reload()  # what the server stored, not what was typed
    await expect(first.get_by_label("Ditt namn")).to_have_value("Anna Andersson")
    assert first.errors == []
    width = await first.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"]  # nothing overflows a 360 px phone
