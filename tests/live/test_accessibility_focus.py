"""Focus stays where the person was: after their own action redraws the panel, and while
other people's changes redraw it around them (Chromium, keyboard only)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from tests.conftest import CONSOLE, PHONE, Api
from tests.live.test_boards_api import make_board, post_note

pytestmark = pytest.mark.browser
TIMEOUT = 15_000

COUNT_MESSAGES = """
window.samlaMessages = 0;
document.addEventListener("htmx:wsAfterMessage", () => { window.samlaMessages += 1; });
"""
# What has the focus, described so a test can say where it is: the note or poll it belongs
# to, and its text.
FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const note = el.closest("[data-note]");
  const poll = el.closest("article[aria-labelledby^='pm-']");
  return {
    tag: el.tagName.toLowerCase(),
    text: el.textContent.trim().replace(/\\s+/g, " "),
    note: note ? note.getAttribute("data-note") : null,
    poll: poll ? poll.getAttribute("aria-labelledby").slice(3) : null,
  };
}"""


async def settled(page: Any, messages: int) -> None:
    """Waits until the page's socket has delivered more than `messages` messages."""
    deadline = time.monotonic() + 10
    while await page.evaluate("window.samlaMessages") <= messages:
        assert time.monotonic() < deadline, "the socket brought nothing"
        await asyncio.sleep(0.05)


async def phone_of(browser: Any, base: str, code: str, name: str) -> Any:
    context = await browser.new_context(viewport=PHONE)
    page = await context.new_page()
    await page.add_init_script(COUNT_MESSAGES)
    await page.goto(f"{base}/j/{code}")
    await page.fill("input[name=name]", name)
    await page.locator("form[method=post] button[type=submit]").click()
    await page.wait_for_url(f"{base}/s/*")
    await settled(page, 0)
    return page


async def test_a_like_keeps_the_focus_on_that_notes_like_button(api: Api, browser: Any) -> None:
    session = await api.make_session("Fokus")
    board = await make_board(api, session, title="Idéer")
    bo = await api.join(session, "Bo")
    notes = []
    for text in ("fler mötesplatser", "längre finansiering", "tydliga roller"):
        r = await post_note(api, board, bo["token"], text)
        assert r.status_code == 201, r.text
        notes.append(r.json()["id"])
    page = await phone_of(browser, api.served.base, session["code"], "Anna")
    middle = page.locator(f'.notes-newest [data-note="{notes[1]}"] form.like button')
    await middle.wait_for(timeout=TIMEOUT)
    await middle.focus()
    seen = await page.evaluate("window.samlaMessages")
    await page.keyboard.press("Enter")
    # Both redraws: the count on the board, and the person's own likes (aria-pressed).
    liked = f'.notes-newest [data-note="{notes[1]}"] button[aria-pressed="true"] .upvotes'
    await page.wait_for_function(
        "sel => document.querySelector(sel)?.textContent === '1'", arg=liked, timeout=TIMEOUT
    )
    await settled(page, seen)
    focused = await page.evaluate(FOCUSED)
    assert focused is not None and focused["tag"] == "button", focused
    assert focused["note"] == notes[1], focused
    assert "(1)" in focused["text"], focused

    # Someone else's note arrives above it while the focus rests there: still the same note.
    seen = await page.evaluate("window.samlaMessages")
    r = await post_note(api, board, bo["token"], "en ny lapp överst")
    assert r.status_code == 201, r.text
    await page.get_by_text("en ny lapp överst").first.wait_for(timeout=TIMEOUT)
    await settled(page, seen)
    focused = await page.evaluate(FOCUSED)
    assert focused is not None and focused["note"] == notes[1], focused
    await page.context.close()


async def test_opening_a_poll_keeps_the_focus_on_that_polls_controls(
    api: Api, browser: Any
) -> None:
    session = await api.make_session("Fokus i konsolen")
    token = session["moderator_token"]
    polls = []
    for question in ("Vad behövs mest?", "Hur går samverkan?"):
        r = await api.call(
            "POST",
            f"/api/v1/sessions/{session['id']}/polls",
            token,
            json={"question": question, "kind": "single", "options": ["Tid", "Pengar"]},
        )
        assert r.status_code == 201, r.text
        polls.append(r.json()["id"])
    context = await browser.new_context(viewport=CONSOLE)
    page = await context.new_page()
    await page.add_init_script(COUNT_MESSAGES)
    await page.goto(f"{api.served.base}/s/{session['id']}/moderate?key={token}")
    await page.wait_for_url("**/moderator*")
    await settled(page, 0)
    card = page.locator(f'article[aria-labelledby="pm-{polls[1]}"]')
    opener = card.get_by_role("button", name="Open", exact=True)
    await opener.focus()
    seen = await page.evaluate("window.samlaMessages")
    await page.keyboard.press("Enter")
    await card.get_by_role("button", name="Close", exact=True).wait_for(timeout=TIMEOUT)
    await settled(page, seen)
    focused = await page.evaluate(FOCUSED)
    # Still on this poll's card, on the button that now closes it: one press undoes it.
    assert focused is not None and focused["poll"] == polls[1], focused
    assert focused["tag"] == "button" and focused["text"] == "Close", focused
    await context.close()


async def test_a_liked_note_that_climbs_the_top_list_takes_the_focus_with_it(
    api: Api, browser: Any
) -> None:
    session = await api.make_session("Fokus på topplistan")
    board = await make_board(api, session, title="Idéer")
    bo = await api.join(session, "Bo")
    notes = []
    for text in ("först", "sedan", "sist"):
        r = await post_note(api, board, bo["token"], text)
        assert r.status_code == 201, r.text
        notes.append(r.json()["id"])
    r = await api.call("POST", f"/api/v1/notes/{notes[0]}/upvote", bo["token"])
    page = await phone_of(browser, api.served.base, session["code"], "Anna")
    await page.check("#sort-top")
    last = page.locator(f'.notes-top [data-note="{notes[2]}"] form.like button')
    await last.focus()
    seen = await page.evaluate("window.samlaMessages")
    await page.keyboard.press("Enter")
    liked = f'.notes-top [data-note="{notes[2]}"] button[aria-pressed="true"] .upvotes'
    await page.wait_for_function(
        "sel => document.querySelector(sel)?.textContent === '1'", arg=liked, timeout=TIMEOUT
    )
    await settled(page, seen)
    focused = await page.evaluate(FOCUSED)
    assert focused is not None and focused["note"] == notes[2], focused
    assert await page.evaluate("document.activeElement.getClientRects().length") > 0
    await page.context.close()
