"""A poll split by a join question on the moderator's console, in a real browser."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import expect

from tests.conftest import Api, axe_violations
from tests.live.test_polls_api import vote_path
from tests.live.test_splits_api import voted_session

pytestmark = pytest.mark.browser
expect.set_options(timeout=15_000)


async def test_the_moderator_picks_a_split_and_it_stays_through_live_updates(
    api: Api, browser: Any
) -> None:
    session, poll = await voted_session(api)
    desk = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await desk.new_page()
    await page.goto(
        f"{api.served.base}/s/{session['id']}/moderate?key={session['moderator_token']}"
    )
    table = page.locator("#poll-control .split-table[data-split='sector']")
    await expect(table).to_be_hidden()  # not split until the moderator picks a question
    await page.locator("#poll-control select.split-pick").select_option(label="Sektor")
    await expect(table).to_be_visible()
    await expect(table.locator("caption")).to_have_text("Split by: Sektor")
    small = table.locator("tbody tr").nth(3)
    await expect(small).to_contain_text("Akademi")
    await expect(small).to_contain_text("fewer than 3")
    # A vote arrives: the panel is redrawn, the pick and the table stay.
    late = await api.join(session, attributes={"sector": "Offentlig"})
    first = poll["options"][0]["id"]
    r = await api.call("POST", vote_path(poll), late["token"], json={"choices": [first]})
    assert r.status_code == 201, r.text
    await expect(table.locator("tbody tr").nth(2).locator("td").first).to_have_text("4")
    await expect(table).to_be_visible()
    assert await axe_violations(page) == []
    await desk.close()
