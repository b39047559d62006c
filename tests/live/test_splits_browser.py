"""A poll and a board's likes split by a join question on the moderator's console, in a real
browser at 1280 by 800: the moderator picks the question, hidden groups say why."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from tests.conftest import Api, axe_violations
from tests.live.test_polls_api import vote_path
from tests.live.test_splits_api import forty_and_twenty, two_from_academia, voted_session

pytestmark = pytest.mark.browser
expect.set_options(timeout=15_000)
SHOTS = Path("/tmp/shots/splits")


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


async def test_the_console_splits_a_poll_and_a_boards_likes_with_hidden_groups_as_words(
    api: Api, browser: Any
) -> None:
    forum = await forty_and_twenty(api)
    await two_from_academia(api, forum)
    session = forum["session"]
    SHOTS.mkdir(parents=True, exist_ok=True)
    desk = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await desk.new_page()
    await page.goto(
        f"{api.served.base}/s/{session['id']}/moderate?key={session['moderator_token']}#sec-polls"
    )
    await page.locator("#poll-control select.split-pick").select_option(label="Sektor")
    table = page.locator("#poll-control .split-table[data-split='sector']")
    await expect(table).to_be_visible()
    rows = table.locator("tbody tr")
    await expect(rows.nth(0)).to_contain_text("62")
    await expect(rows.nth(1).locator("td").first).to_have_text("40")
    await expect(rows.nth(2)).to_contain_text("Offentlig" + "hidden to protect a small group")
    await expect(rows.nth(3)).to_contain_text("Akademi" + "fewer than 3")
    await table.scroll_into_view_if_needed()
    await page.screenshot(path=str(SHOTS / "console-poll-split.png"))

    await page.locator(".console-nav a[data-section='boards']").click()
    split = page.locator("#boards-moderation .board-split")
    likes = split.locator(".split-table[data-split='sector']")
    await expect(likes).to_be_hidden()  # not split until the moderator picks a question
    await split.locator("select.split-pick").select_option(label="Sektor")
    await expect(likes).to_be_visible()
    await expect(likes.locator("caption")).to_have_text("Likes split by: Sektor")
    head = likes.locator("thead th")
    await expect(head).to_have_text(["Note", "Everyone", "Civilsamhälle", "Offentlig", "Akademi"])
    first, second = likes.locator("tbody tr").nth(0), likes.locator("tbody tr").nth(1)
    await expect(first.locator("th, td")).to_have_text(
        ["Mentorer i kommunen", "62", "40", "hidden to protect a small group", "fewer than 3"]
    )
    await expect(second.locator("th, td")).to_have_text(
        ["Gemensam ingång", "6", "5", "hidden to protect a small group", "fewer than 3"]
    )
    await page.screenshot(path=str(SHOTS / "console-likes-split.png"))
    assert await axe_violations(page) == []

    # A third from academia likes the first note: nobody is small any more, every group
    # shows, live, and the pick stays.
    third = await api.join(session, attributes={"sector": "Akademi"})
    r = await api.call("POST", f"/api/v1/notes/{forum['notes'][0]['id']}/upvote", third["token"])
    assert r.status_code == 200, r.text
    await expect(first.locator("th, td")).to_have_text(
        ["Mentorer i kommunen", "63", "40", "20", "3"]
    )
    await expect(likes).to_be_visible()
    await page.screenshot(path=str(SHOTS / "console-likes-split-live.png"))
    await desk.close()
