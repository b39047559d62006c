"""A good-example card with a link and a kind, written on a phone in a real browser."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Api, axe_violations
from tests.live.test_boards_api import make_board
from tests.live.test_boards_browser import TIMEOUT, browser, participant_page

__all__ = ["browser"]  # the fixture, as the boards' browser tests launch Chromium

pytestmark = pytest.mark.browser
SHOTS = Path("/tmp/shots")


async def test_a_card_with_a_link_and_a_kind_from_the_phone(api: Api, browser: Any) -> None:
    session = await api.make_session("Goda exempel")
    board = await make_board(api, session, title=None, columns=None, template="examples")
    cards = board["columns"][0]["id"]
    dialogs: list[str] = []
    page = await participant_page(browser, api.served.base, session["code"], "Anna", dialogs)
    await page.select_option("#note-target", f"{board['id']}:{cards}")
    await page.fill("#note-text", "Samverkanslabbet i Umeå")
    await page.click("#note-compose details.card-fields > summary")
    # A link a browser takes as a URL, refused by Samla: nothing typed is lost.
    await page.fill("#card-link", "javascript:alert(1)")
    await page.select_option("#card-kind", "Lästips")
    await page.click("#note-compose form.add-note button[type=submit]")
    await page.wait_for_function(
        "() => document.querySelector('#notice').textContent.includes('link')", timeout=TIMEOUT
    )
    assert await page.input_value("#note-text") == "Samverkanslabbet i Umeå"
    assert await page.input_value("#card-kind") == "Lästips"
    await page.fill("#card-link", "https://www.example.se/samverkanslabbet")
    await page.click("#note-compose form.add-note button[type=submit]")
    link = f'article.board[data-board="{board["id"]}"] .notes-newest a.card-link'
    await page.wait_for_selector(link, timeout=TIMEOUT)
    anchor = page.locator(link)
    assert await anchor.get_attribute("href") == "https://www.example.se/samverkanslabbet"
    assert await anchor.get_attribute("rel") == "noopener noreferrer"
    assert (await anchor.inner_text()).startswith("example.se/samverkanslabbet")
    kind = f'article.board[data-board="{board["id"]}"] .notes-newest .card-kind'
    # A kind Samla gave by default is shown in the viewer's language (this page's: English).
    assert await page.locator(kind).inner_text() == "Reading tips"
    assert await page.input_value("#card-link") == ""  # cleared for the next card
    await page.evaluate("document.querySelector('#note-compose details.card-fields').open = true")
    SHOTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(SHOTS / "cards-phone.png"), full_page=True)
    assert await axe_violations(page) == []
    assert dialogs == []
