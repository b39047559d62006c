"""Nothing typed is lost: what people type on a live page survives everything else that
happens in the session — someone joining, a vote storm, a broadcast, rooms opening, the
socket reconnecting — and the socket's first message never redraws the page it opened on."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Page, expect

from live.hub.outbox import close
from tests.conftest import CONSOLE, PHONE, Api, Served
from tests.live.pages import join_by_form, page_socket
from tests.live.test_boards_api import make_board

TIMEOUT = 10_000
VERSION = re.compile(r'id="live-version" hidden data-version="(\d+)"')

# What the moderator and a participant have typed and not sent, field by field.
MODERATOR_TYPED = {
    "#bo-open-form [name=amount]": "7",
    "#bo-open-form [name=minutes]": "33",
    "#bo-open-form [name=names]": "Norr\nSöder",
    "#bo-broadcast-form [name=text]": "Två minuter kvar, välj en lapp att lyfta",
    "#poll-create [name=question]": "Vad behövs mest för att samverka?",
}
PARTICIPANT_TYPED = {
    "#note-text": "Kommunen har en ingång för föreningar",
    "#question-ask [name=text]": "Hur når vi dem som inte är här?",
}


async def fill(page: Page, typed: dict[str, str]) -> None:
    for selector, text in typed.items():
        field = page.locator(selector)
        await show_section_of(page, field)
        await field.scroll_into_view_if_needed()
        await field.fill(text)


async def show_section_of(page: Page, field: Any) -> None:
    """On the console, opens the section a field is in."""
    section = await field.evaluate("f => f.closest('.console-section')?.id.slice(4) ?? null")
    if section:
        await page.click(f".console-nav a[data-section={section}]")


async def intact(page: Page, typed: dict[str, str], after: str) -> None:
    for selector, text in typed.items():
        value = await page.locator(selector).input_value()
        assert value == text, f"after {after}, {selector} holds {value!r}, not {text!r}"


async def socket_messages(page: Page) -> int:
    return int(await page.evaluate("window.samlaMessages || 0"))


async def after_messages(page: Page, before: int, at_least: int = 1) -> None:
    """Waits until the page has taken in at least `at_least` more socket messages."""
    await page.wait_for_function(
        f"() => (window.samlaMessages || 0) >= {before + at_least}", timeout=TIMEOUT
    )


COUNT_MESSAGES = """
window.samlaMessages = 0;
document.addEventListener("htmx:wsAfterMessage", () => { window.samlaMessages += 1; });
"""


async def open_page(browser: Any, url: str, viewport: dict[str, int]) -> Page:
    context = await browser.new_context(viewport=viewport)
    page: Page = await context.new_page()
    await page.add_init_script(COUNT_MESSAGES)
    await page.goto(url)
    return page


async def joined(page: Page) -> None:
    """Joins from the join page, and waits until the session page's socket is open."""
    await page.get_by_role("button", name="Join").click()
    await connected(page)


async def connected(page: Page) -> None:
    await page.wait_for_function("() => (window.samlaMessages || 0) > 0", timeout=TIMEOUT)
    await expect(page.locator("#link-state")).to_have_attribute(
        "data-state", "live", timeout=TIMEOUT
    )


async def drop_sockets(served: Served) -> None:
    """Every socket of the instance is asked to come back (1012, as on a restart)."""

    async def drop() -> None:
        for conn in list(served.samla.hub.connections.all()):
            close(conn, 1012, "Samla is restarting")

    await served.run(drop)


async def test_typing_survives_joins_votes_broadcasts_rooms_and_reconnects(
    api: Api, browser: Any
) -> None:
    served = api.served
    session = await api.make_session("Skrivro")
    sid, mod = session["id"], session["moderator_token"]
    console = await open_page(browser, f"{served.base}/s/{sid}/moderate?key={mod}", CONSOLE)
    await connected(console)
    phone = await open_page(browser, f"{served.base}/j/{session['code']}", PHONE)
    await joined(phone)
    await make_board(api, session)
    await expect(phone.locator("#note-text")).to_be_visible(timeout=TIMEOUT)
    await fill(console, MODERATOR_TYPED)
    await console.click(".console-nav a[data-section=rooms]")
    await console.locator("#bo-open-form [name=close_at_end]").check()
    await fill(phone, PARTICIPANT_TYPED)
    typed = {**MODERATOR_TYPED}

    async def both_intact(after: str) -> None:
        await intact(console, typed, after)
        assert await console.locator("#bo-open-form [name=close_at_end]").is_checked()
        await intact(phone, PARTICIPANT_TYPED, after)

    # Someone joins from another browser: the console's people and counts redraw.
    seen = await socket_messages(console)
    await api.join(session, "Bo")
    await after_messages(console, seen)
    await both_intact("a join")

    # A vote storm of 50 on an open poll.
    poll = await api.call(
        "POST",
        f"/api/v1/sessions/{sid}/polls",
        mod,
        json={"question": "Hur långt har ni kommit?", "kind": "single", "options": ["Ja", "Nej"]},
    )
    assert poll.status_code == 201, poll.text
    pid, yes = poll.json()["id"], poll.json()["options"][0]["id"]
    assert (await api.call("POST", f"/api/v1/polls/{pid}/open", mod)).status_code == 200
    voters = [await api.join(session) for _ in range(50)]
    seen = await socket_messages(console)
    votes = await asyncio.gather(
        *[
            api.call("POST", f"/api/v1/polls/{pid}/votes", v["token"], json={"choices": [yes]})
            for v in voters
        ]
    )
    assert all(v.status_code == 201 for v in votes)
    await expect(console.locator("#poll-control [data-voters]").first).to_have_attribute(
        "data-voters", "50", timeout=TIMEOUT
    )
    await after_messages(console, seen)
    await both_intact("a vote storm of 50")

    # A broadcast from another moderator.
    seen = await socket_messages(phone)
    r = await api.call(
        "POST", f"/api/v1/sessions/{sid}/rooms/broadcast", mod, json={"text": "Paus i fem"}
    )
    assert r.status_code in (200, 201), r.text
    await after_messages(phone, seen)
    await both_intact("a broadcast")

    # The socket drops and comes back (an instance restarting).
    seen = await socket_messages(console)
    await drop_sockets(served)
    await expect(console.locator("#link-state")).to_have_attribute(
        "data-state", "live", timeout=TIMEOUT
    )
    await both_intact("a reconnect")

    # Rooms open (by another moderator): the console now offers the open round instead of
    # the open-rooms form, but the form being filled in stays, withdrawn, with what was typed;
    # the participant, moved into a room, keeps the note and the question half written.
    r = await api.call(
        "POST", f"/api/v1/sessions/{sid}/rooms", mod, json={"count": 2, "assignment": "random"}
    )
    assert r.status_code == 201, r.text
    await expect(phone.locator("#breakout")).to_contain_text("Room", timeout=TIMEOUT)
    await expect(console.locator("#breakout-overview form.withdrawn")).to_have_count(1)
    await intact(console, MODERATOR_TYPED, "rooms opening")
    await intact(phone, PARTICIPANT_TYPED, "rooms opening")


async def test_a_sent_note_clears_and_a_refused_one_stays(api: Api, browser: Any) -> None:
    """Once sent, the note box is drawn afresh (the note is not written twice); a note the
    server refuses stays in the box, and the next redraw does not take it away."""
    served = api.served
    session = await api.make_session("Lappar")
    await make_board(api, session, title="Idéer")
    phone = await open_page(browser, f"{served.base}/j/{session['code']}", PHONE)
    await joined(phone)
    text = phone.locator("#note-text")
    await text.fill("Samla föreningarna en gång i kvartalet")
    await phone.locator("form:has(#note-text) button[type=submit]").click()
    await expect(text).to_have_value("", timeout=TIMEOUT)
    await text.fill("   ")  # blank: refused by the server
    await phone.locator("form:has(#note-text) button[type=submit]").click()
    await expect(phone.locator("#notice")).not_to_be_empty(timeout=TIMEOUT)
    seen = await socket_messages(phone)
    last = await make_board(api, session, title="Till sist")
    await after_messages(phone, seen)
    await expect(phone.locator(f'#note-target option[value^="{last["id"]}:"]')).to_have_count(3)
    await expect(text).to_have_value("   ")


async def test_a_broadcast_sent_with_enter_clears_and_a_choice_stays_chosen(
    api: Api, browser: Any
) -> None:
    """Sent with Enter, the focus stays in the field, and the field is still drawn afresh (a
    second Enter does not send it again). A radio button chosen keeps its group chosen
    through a reconnect's snapshot."""
    served = api.served
    session = await api.make_session("Enter")
    await make_board(api, session)
    sid, mod = session["id"], session["moderator_token"]
    console = await open_page(browser, f"{served.base}/s/{sid}/moderate?key={mod}", CONSOLE)
    await connected(console)
    field = console.locator("#bo-broadcast-form [name=text]")
    await show_section_of(console, field)
    await field.fill("Paus nu")
    await field.press("Enter")
    await expect(field).to_have_value("", timeout=TIMEOUT)
    assert await field.evaluate("f => f === document.activeElement")

    phone = await open_page(browser, f"{served.base}/j/{session['code']}", PHONE)
    await joined(phone)
    await phone.locator("#sort-top").check()
    await make_board(api, session, title="Ännu en")  # the version moves on
    await drop_sockets(served)
    await expect(phone.locator("#link-state")).to_have_attribute(
        "data-state", "live", timeout=TIMEOUT
    )
    await expect(phone.locator("#note-target option")).to_have_count(6, timeout=TIMEOUT)
    assert await phone.locator("#sort-top").is_checked()
    assert not await phone.locator("#sort-newest").is_checked()


async def test_a_poll_saved_100_ms_after_the_page_loads_exists(api: Api, browser: Any) -> None:
    """The socket's first message used to redraw the form: a poll typed and saved at once
    was lost about half the time. Five quick moderators, five polls."""
    served = api.served
    session = await api.make_session("Snabba frågor")
    sid, mod = session["id"], session["moderator_token"]
    context = await browser.new_context(viewport=CONSOLE)
    for i in range(5):
        page = await context.new_page()
        await page.goto(f"{served.base}/s/{sid}/moderate?key={mod}")
        await asyncio.sleep(0.1)
        form = page.locator("#poll-create")
        await form.locator("[name=question]").fill(f"Snabb fråga {i}")
        await form.locator("[name=options]").fill("Ja\nNej")
        await form.locator("button[type=submit]").first.click()
        await expect(page.locator("#poll-control")).to_contain_text(
            f"Snabb fråga {i}", timeout=TIMEOUT
        )
        await page.close()
    # What the server has, drawn afresh on a new page.
    page = await context.new_page()
    await page.goto(f"{served.base}/s/{sid}/moderator")
    for i in range(5):
        await expect(page.locator("#poll-control")).to_contain_text(f"Snabb fråga {i}")


async def test_a_socket_opened_at_the_pages_version_repeats_nothing(api: Api) -> None:
    """The page tells its socket the version it shows; a snapshot at that version sends only
    the version back. A page behind (or a socket that says nothing) gets everything."""
    served = api.served
    session = await api.make_session("Bara det nya")
    sid = session["id"]
    for i in range(3):
        await make_board(api, session, title=f"T{i}")
    async with httpx.AsyncClient(base_url=served.base) as client:
        html = await join_by_form(client, session["code"], "Ada")
        found = VERSION.search(html)
        assert found, "the page does not say which version it shows"
        version = int(found.group(1))
        assert version > 0
        path = f"/s/{sid}/ws?view=participant"
        async with page_socket(served.base, client, f"{path}&v={version}") as ws:
            first = await ws.next()
        assert 'id="live-version"' in first and f'data-version="{version}"' in first
        assert len(first) < 200, first
        async with page_socket(served.base, client, f"{path}&v={version - 1}") as ws:
            behind = await ws.next()
        async with page_socket(served.base, client, path) as ws:
            unsaid = await ws.next()
        for full in (behind, unsaid):
            assert 'id="boards"' in full and f'data-version="{version}"' in full
            assert len(full) > 10 * len(first)


LIVE_FORM = re.compile(r"<form\b[^>]*\bws-send\b[^>]*>(.*?)</form>", re.S)
TEXT_FIELD = re.compile(r'<textarea|<input(?![^>]*type="(hidden|checkbox|radio|submit|button)")')


def test_every_live_form_with_a_text_field_has_an_id() -> None:
    """A redraw morphs each form into the form with its id; one without an id may be morphed
    into another form of the panel, and what was typed in it would go with its fields."""
    root = Path(__file__).resolve().parents[2] / "templates"
    found = 0
    for path in sorted(root.rglob("*.html")):
        for form in LIVE_FORM.finditer(path.read_text()):
            if TEXT_FIELD.search(form.group(1)):
                found += 1
                head = form.group(0).split(">", 1)[0]
                assert re.search(r'\sid="', head), f"{path.name}: {head}>"
    assert found > 10  # the check really read the live forms
