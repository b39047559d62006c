"""The console at 1280 x 800: the moderator ticks several attributes, opens balanced rooms,
and sees each room's spread of answers."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, expect

from tests.conftest import CONSOLE, Api, axe_violations
from tests.live.test_breakout_several_api import ATTRIBUTES, answers

pytestmark = pytest.mark.browser
expect.set_options(timeout=15_000)

SHOTS = Path("/tmp/shots")


async def test_the_moderator_balances_by_three_attributes_and_sees_each_rooms_spread(
    api: Api, browser: Browser
) -> None:
    session: dict[str, Any] = await api.make_session("Samråd", attributes=ATTRIBUTES)
    for i in range(24):
        await api.join(session, f"P{i}", answers(i))
    context = await browser.new_context(
        viewport={"width": CONSOLE["width"], "height": CONSOLE["height"]}, locale="sv"
    )
    page = await context.new_page()
    key = session["moderator_token"]
    await page.goto(f"{api.served.base}/s/{session['id']}/moderate?key={key}#sec-rooms")
    await expect(page.locator("#link-state")).to_have_attribute("data-state", "live")

    await page.locator("#bo-amount").fill("3")
    await page.locator("#bo-assignment").select_option("balanced")
    # The first attribute is ticked already; every box has its own id and label.
    await expect(page.locator("#bo-balance-region")).to_be_checked()
    await page.get_by_label("Sektor").check()
    await page.locator("#bo-balance-niva").check()
    SHOTS.mkdir(exist_ok=True)
    await page.locator("#bo-balance").scroll_into_view_if_needed()
    await page.screenshot(path=str(SHOTS / "balanced-form.png"))
    assert await axe_violations(page) == []
    await page.locator("#bo-open-form button[type=submit]").click()

    cards = page.locator(".room-card")
    await expect(cards).to_have_count(3)
    norr = []
    for i in range(3):
        spread = cards.nth(i).locator(".room-spread")
        await expect(spread).to_have_count(3)  # one line per attribute, in the session's order
        await expect(spread.nth(0)).to_have_text(re.compile(r"^Region: Norr \d+ · Söder \d+$"))
        await expect(spread.nth(1)).to_contain_text("Sektor: Civilsamhälle")
        found = re.search(r"Norr (\d+)", await spread.nth(0).inner_text())
        assert found is not None
        norr.append(int(found.group(1)))
    # Every room of 8 has the floor or the ceiling of its share of the people from Norr.
    from_norr = sum(answers(i)["region"] == "Norr" for i in range(24))
    assert sum(norr) == from_norr and max(norr) - min(norr) <= 1
    await cards.nth(0).scroll_into_view_if_needed()
    await page.screenshot(path=str(SHOTS / "balanced-spread.png"))
    assert await axe_violations(page) == []
    await context.close()
