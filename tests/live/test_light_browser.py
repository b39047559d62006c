"""Light in a real Chromium: what a participant's phone downloads to join, counted on the wire."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import PHONE, Api
from tests.live.test_boards_api import make_board, post_note
from tests.live.test_polls_browser import open_poll_for

pytestmark = pytest.mark.browser

# A participant's first load, everything it fetches, compressed as it travels.
FIRST_LOAD_BUDGET = 60 * 1024


async def wire_bytes(requests: list[Any]) -> list[tuple[int, str]]:
    """Each finished request's response size on the wire (headers and body as sent)."""
    sizes = []
    for request in requests:
        size = await request.sizes()
        sizes.append((size["responseHeadersSize"] + size["responseBodySize"], request.url))
    return sizes


async def test_a_participants_first_load_is_at_most_60_kb_on_the_wire(
    api: Api, browser: Any
) -> None:
    """From opening the join link to the live session page, with a board of notes and an
    open poll: the join page, its form's answer, the session page and every script,
    stylesheet and image they load."""
    session = await api.make_session("Första laddningen")
    board = await make_board(api, session, title="Idéer")
    author = await api.join(session, "Bo")
    for n in range(12):
        r = await post_note(api, board, author["token"], f"Förslag nummer {n}: fler mötesplatser")
        assert r.status_code == 201, r.text
    await open_poll_for(
        api, session, question="Vad behövs mest?", kind="single", options=["Tid", "Pengar"]
    )
    context = await browser.new_context(
        viewport=PHONE, extra_http_headers={"Accept-Language": "sv"}
    )
    page = await context.new_page()
    finished: list[Any] = []
    page.on("requestfinished", lambda request: finished.append(request))
    await page.goto(f"{api.served.base}/j/{session['code']}")
    await page.locator("form[method=post] button[type=submit]").click()
    await page.wait_for_url(f"{api.served.base}/s/*")
    await page.wait_for_load_state("load")
    await page.wait_for_function("() => window.htmx !== undefined")
    sizes = await wire_bytes(finished)
    total = sum(size for size, _ in sizes)
    shown = "\n".join(f"{size:7d}  {url}" for size, url in sizes)
    assert total <= FIRST_LOAD_BUDGET, f"{total} bytes:\n{shown}"
    # The budget holds because everything travels compressed, not because nothing loaded.
    assert any("htmx-2.0.11.min.js" in url and size > 10_000 for size, url in sizes)
    assert any("/static/phone.css" in url for _, url in sizes)
    # The phone loads no other screen's files: not the console's, the stage's, the organiser's.
    for _, url in sizes:
        assert not any(f"/static/{other}." in url for other in ("console", "stage", "organiser"))
    for request in finished:
        response = await request.response()
        if response is not None and "/static/" in request.url:
            headers = await response.all_headers()
            assert headers.get("content-encoding") == "gzip", response.url
            assert "immutable" in headers.get("cache-control", ""), response.url
    await page.screenshot(path="/tmp/shots/phone-first-load.png", full_page=True)
    await context.close()
