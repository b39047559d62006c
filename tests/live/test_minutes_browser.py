"""A room's shared minutes in real browsers: people write at once, through live redraws, a lost
network and a reload; the text stays readable after the rooms close; the moderator collects."""

from __future__ import annotations

import asyncio
import hashlib
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, WebSocketRoute, expect

from tests.conftest import CONSOLE, PHONE, Api, Served, axe_violations

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
VENDOR = ROOT / "static" / "vendor"
YJS = "yjs-13.6.33.min.js"
SHOTS = Path("/tmp/shots/minutes-browser")
EDITOR = "#breakout .minutes"
TEXT = "#breakout .minutes textarea"
STATUS = "#breakout .minutes [data-minutes-status]"


async def _shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


async def _phone(browser: Browser, served: Served, session: dict[str, Any], name: str) -> Page:
    context = await browser.new_context(viewport=PHONE)
    page = await context.new_page()
    await page.goto(f"{served.base}/j/{session['code']}")
    await page.fill("#name", name)
    await page.click("button[type=submit]")
    await expect(page.locator("#breakout")).to_have_attribute("data-place", "plenary")
    return page


async def _open_room(api: Api, session: dict[str, Any]) -> dict[str, Any]:
    r = await api.call(
        "POST",
        f"/api/v1/sessions/{session['id']}/rooms",
        session["moderator_token"],
        json={"count": 1, "assignment": "random", "minutes": 20},
    )
    assert r.status_code == 201, r.text
    room: dict[str, Any] = r.json()["rooms"][0]
    return room


async def _in_room(page: Page) -> None:
    """The room card shows, its minutes folded under it; opened, they connect and are level
    with Samla."""
    await expect(page.locator("#breakout .room-name")).to_have_text("Room 1")
    fold = page.locator(EDITOR)
    assert await fold.evaluate("d => d.tagName === 'DETAILS' && !d.open")
    # A phone that never opens them never loads Yjs, nor connects.
    assert await page.evaluate("typeof window.SamlaYjs") == "undefined"
    await fold.locator("summary").click()
    await expect(page.locator(STATUS)).to_have_attribute("data-state", "saved")


async def _room_of_two(
    browser: Browser, api: Api, served: Served
) -> tuple[dict[str, Any], dict[str, Any], Page, Page]:
    session = await api.make_session("Gruppsamtal")
    anna = await _phone(browser, served, session, "Anna")
    erik = await _phone(browser, served, session, "Erik")
    room = await _open_room(api, session)
    for page in (anna, erik):
        await _in_room(page)
    return session, room, anna, erik


async def test_a_burst_of_keystrokes_and_a_long_paste_go_out_paced_on_one_socket(
    browser: Browser, api: Api, served: Served
) -> None:
    # Samla takes at most 40 changes a second from one writer and closes the socket of one
    # that sends more. Fast typing and a paste of many pieces right after it are more than
    # that: the page paces them, merging keystrokes, never a piece past one message's size.
    session, room, anna, erik = await _room_of_two(browser, api, served)
    reopened: list[str] = []
    anna.on("websocket", lambda ws: reopened.append(ws.url))
    typed = "Snabbt skrivet. " * 4
    paste = "".join(f"Rad {i}: erfarenheter av samverkan i kommunen.\n" for i in range(6000))
    await anna.locator(TEXT).click()
    await anna.keyboard.type(typed)
    await _paste_at_end(anna, paste)
    await expect(erik.locator(TEXT)).to_have_value(typed + paste, timeout=20_000)
    await expect(anna.locator(STATUS)).to_have_attribute("data-state", "saved")
    assert await _stored_text(api, session, room["id"]) == typed + paste
    assert [url for url in reopened if url.endswith("/minutes/sync")] == []


async def _stored_text(api: Api, session: dict[str, Any], room_id: str) -> str:
    r = await api.call("GET", f"/api/v1/rooms/{room_id}/minutes", session["moderator_token"])
    assert r.status_code == 200, r.text
    return str(r.json()["text"])


async def test_two_people_write_at_once_and_each_sees_the_other(
    browser: Browser, api: Api, served: Served
) -> None:
    session, room, anna, erik = await _room_of_two(browser, api, served)
    await anna.locator(TEXT).click()
    await anna.keyboard.type("Idéer:\nBeslut:\n")
    await expect(erik.locator(TEXT)).to_have_value("Idéer:\nBeslut:\n")
    # Anna writes after "Idéer:", Erik at the end, at the same time: each one's caret stays
    # in its place while the other's letters arrive before or after it.
    await anna.locator(TEXT).evaluate("t => t.setSelectionRange(6, 6)")
    await erik.locator(TEXT).click()
    await erik.keyboard.press("Control+End")
    await asyncio.gather(
        anna.keyboard.type(" mer samverkan", delay=25),
        erik.keyboard.type("träffas igen i maj", delay=25),
    )
    together = "Idéer: mer samverkan\nBeslut:\nträffas igen i maj"
    for page in (anna, erik):
        await expect(page.locator(TEXT)).to_have_value(together)
        await expect(page.locator(STATUS)).to_have_attribute("data-state", "saved")
    assert await _stored_text(api, session, room["id"]) == together
    # Who else is writing now, by the name they show.
    await erik.keyboard.type(" och juni", delay=25)
    await expect(anna.locator("#breakout [data-minutes-writing]")).to_contain_text("Erik")
    await _shot(anna, "phone-two-writers")


@pytest.mark.parametrize("move_before", [True, False], ids=["moveBefore", "without-moveBefore"])
async def test_typing_while_the_room_card_updates_keeps_the_text_and_caret(
    browser: Browser, api: Api, served: Served, move_before: bool
) -> None:
    session, _, anna, erik = await _room_of_two(browser, api, served)
    if not move_before:
        # As in browsers without Element.moveBefore, where htmx keeps a preserved element by
        # taking it out of the page and back (which drops the focus).
        await anna.add_init_script("delete Element.prototype.moveBefore")
        await anna.reload()
        await expect(anna.locator(STATUS)).to_have_attribute("data-state", "saved")
        assert await anna.evaluate("typeof Element.prototype.moveBefore") == "undefined"
    area = anna.locator(TEXT)
    await area.click()
    await anna.keyboard.type("Vi börjar med ")
    # The same element throughout: a redraw that replaced it would lose this mark.
    await area.evaluate("t => { t.samlaMark = 'kept'; }")

    async def redraw(n: int) -> None:
        r = await api.call(
            "POST",
            f"/api/v1/sessions/{session['id']}/rooms/broadcast",
            session["moderator_token"],
            json={"text": f"Meddelande {n}"},
        )
        assert r.status_code == 201, r.text

    async def broadcasts() -> None:
        for n in range(1, 4):
            await redraw(n)
            await expect(anna.locator("#breakout .broadcast-text")).to_have_text(f"Meddelande {n}")

    await asyncio.gather(broadcasts(), anna.keyboard.type("en runda där alla får tala", delay=40))
    typed = "Vi börjar med en runda där alla får tala"
    await expect(area).to_have_value(typed)
    assert await area.evaluate("t => t.samlaMark") == "kept"
    assert await area.evaluate("t => document.activeElement === t")
    assert await area.evaluate("t => [t.selectionStart, t.selectionEnd]") == [len(typed)] * 2
    # Erik, who has not typed yet, saw the same redraws: his copy of the text is untouched.
    await expect(erik.locator("#breakout .broadcast-text")).to_have_text("Meddelande 3")
    await expect(erik.locator(TEXT)).to_have_value(typed)
    # The editor is kept whole, its status too: a redraw does not start it over.
    assert await erik.locator(STATUS).get_attribute("data-state") == "saved"
    assert await erik.locator(STATUS).text_content() == "Saved"
    await expect(anna.locator(STATUS)).to_have_attribute("data-state", "saved")
    # Erik's change before the caret moves the text, not Anna's caret.
    await erik.locator(TEXT).click()
    await erik.keyboard.press("Control+Home")
    await erik.keyboard.type("Punkt 1. ")
    await expect(area).to_have_value("Punkt 1. " + typed)
    assert await area.evaluate("t => [t.selectionStart, t.selectionEnd]") == [len(typed) + 9] * 2
    await anna.keyboard.type("!")
    await expect(erik.locator(TEXT)).to_have_value("Punkt 1. " + typed + "!")


async def test_text_typed_offline_reaches_the_others_once_back(
    browser: Browser, api: Api, served: Served
) -> None:
    session, room, anna, erik = await _room_of_two(browser, api, served)
    await anna.locator(TEXT).click()
    await anna.keyboard.type("Första raden.")
    await expect(erik.locator(TEXT)).to_have_value("Första raden.")
    offline: BrowserContext = anna.context
    await offline.set_offline(True)
    await expect(anna.locator(STATUS)).to_have_attribute("data-state", "offline")
    await expect(anna.locator(STATUS)).to_have_text(
        "Offline — your text is kept and sent when you are back"
    )
    await anna.keyboard.type(" Skrivet utan nät.")
    await _shot(anna, "phone-offline")
    await erik.locator(TEXT).click()
    await erik.keyboard.press("Control+Home")
    await erik.keyboard.type("Rubrik: ")
    await offline.set_offline(False)
    together = "Rubrik: Första raden. Skrivet utan nät."
    for page in (anna, erik):
        await expect(page.locator(TEXT)).to_have_value(together, timeout=15_000)
    await expect(anna.locator(STATUS)).to_have_attribute("data-state", "saved", timeout=15_000)
    assert await _stored_text(api, session, room["id"]) == together


async def test_a_reload_keeps_text_that_was_not_sent(
    browser: Browser, api: Api, served: Served
) -> None:
    session, room, anna, erik = await _room_of_two(browser, api, served)
    reach = {"samla": False}

    def sync(ws: WebSocketRoute) -> None:
        # Until let through, the minutes' socket reaches nothing: what is typed stays here.
        if reach["samla"]:
            ws.connect_to_server()

    await anna.route_web_socket(re.compile(r"/minutes/sync$"), sync)
    await anna.reload()
    await expect(anna.locator(STATUS)).to_have_attribute("data-state", "connecting")
    await anna.locator(TEXT).click()
    await anna.keyboard.type("Inte skickat än")
    await anna.reload()
    await expect(anna.locator(TEXT)).to_be_visible()
    await expect(anna.locator(TEXT)).to_have_value("Inte skickat än")
    assert await erik.locator(TEXT).input_value() == ""
    reach["samla"] = True
    await anna.reload()
    await expect(erik.locator(TEXT)).to_have_value("Inte skickat än")
    await expect(anna.locator(STATUS)).to_have_attribute("data-state", "saved")
    assert await _stored_text(api, session, room["id"]) == "Inte skickat än"


async def test_a_long_paste_arrives_in_parts_and_too_much_is_refused_in_words(
    browser: Browser, api: Api, served: Served
) -> None:
    session, room, anna, erik = await _room_of_two(browser, api, served)
    paste = "Lång text om samverkan. " * 5000  # 120 KB: more than one update may carry
    await anna.locator(TEXT).fill(paste)
    await expect(erik.locator(TEXT)).to_have_value(paste, timeout=15_000)
    await expect(anna.locator(STATUS)).to_have_attribute("data-state", "saved")
    # Past what the minutes hold, the change stays out (and the person is told why).
    await anna.locator(TEXT).fill(paste + "x" * 1_000_000)
    await expect(anna.locator(STATUS)).to_have_text(
        "Too long: the minutes hold about 300 pages, and one change at most 64 KB. "
        "That change was not kept."
    )
    await expect(anna.locator(TEXT)).to_have_value(paste)
    assert await _stored_text(api, session, room["id"]) == paste
    await anna.locator(TEXT).press("End")
    await anna.keyboard.type("Slut.")
    await expect(erik.locator(TEXT)).to_have_value(paste + "Slut.")


async def _paste_at_end(page: Page, text: str) -> None:
    """Pastes at the end of the minutes as the textarea's own paste does (`setRangeText`,
    then the `input` event a paste fires): Chromium's inserting of typed text into a
    textarea of 100 KB takes seconds, and is not what these tests are about."""
    await page.locator(TEXT).evaluate(
        """(area, part) => {
            area.setRangeText(part, area.value.length, area.value.length, "end");
            const pasted = {bubbles: true, inputType: "insertFromPaste"};
            area.dispatchEvent(new InputEvent("input", pasted));
        }""",
        text,
    )


async def _type_offline_in_parts(page: Page, parts: int) -> str:
    """About 20 KB at a time, each pasted at the end of the text: what the person writes
    (typed, a minute and a half for this test)."""
    written = await page.locator(TEXT).input_value()
    await page.locator(TEXT).focus()
    for n in range(parts):
        part = "".join(f"Del {n}, rad {i}: vi samlar idéer om samverkan.\n" for i in range(450))
        await _paste_at_end(page, part)
        written += part
        await expect(page.locator(TEXT)).to_have_value(written)
    return written


async def test_a_long_text_written_offline_reaches_everyone_once_back(
    browser: Browser, api: Api, served: Served
) -> None:
    session, room, anna, erik = await _room_of_two(browser, api, served)
    await anna.locator(TEXT).click()
    await anna.keyboard.type("Före nätet föll. ")
    await expect(erik.locator(TEXT)).to_have_value("Före nätet föll. ")
    await expect(anna.locator(STATUS)).to_have_attribute("data-state", "saved")
    await anna.context.set_offline(True)
    await expect(anna.locator(STATUS)).to_have_attribute("data-state", "offline")
    written = await _type_offline_in_parts(anna, 5)
    assert len(written.encode()) > 100_000  # more than one message to Samla may carry
    await anna.context.set_offline(False)
    await expect(erik.locator(TEXT)).to_have_value(written, timeout=20_000)
    await expect(anna.locator(STATUS)).to_have_attribute("data-state", "saved", timeout=15_000)
    await expect(anna.locator(TEXT)).to_have_value(written)
    assert await _stored_text(api, session, room["id"]) == written
    # What was kept in this browser and not sent yet survives a reload too.
    reach = {"samla": False}

    def sync(ws: WebSocketRoute) -> None:
        if reach["samla"]:
            ws.connect_to_server()

    await anna.route_web_socket(re.compile(r"/minutes/sync$"), sync)
    await anna.reload()
    await expect(anna.locator(STATUS)).to_have_attribute("data-state", "connecting")
    more = await _type_offline_in_parts(anna, 6)
    await anna.reload()
    await expect(anna.locator(TEXT)).to_have_value(more)
    reach["samla"] = True
    await anna.reload()
    await expect(erik.locator(TEXT)).to_have_value(more, timeout=20_000)
    await expect(anna.locator(STATUS)).to_have_attribute("data-state", "saved", timeout=15_000)
    assert await _stored_text(api, session, room["id"]) == more


async def test_a_reader_who_missed_a_change_catches_up(
    browser: Browser, api: Api, served: Served
) -> None:
    session = await api.make_session("Gruppsamtal")
    anna = await _phone(browser, served, session, "Anna")
    erik = await _phone(browser, served, session, "Erik")
    lost = {"updates": 1}

    def lossy(ws: WebSocketRoute) -> None:
        samla = ws.connect_to_server()

        def down(message: str | bytes) -> None:
            # The first change relayed to Erik is lost on the way.
            if isinstance(message, bytes) and message[:2] == b"\x00\x02" and lost["updates"]:
                lost["updates"] -= 1
                return
            ws.send(message)

        samla.on_message(down)

    await erik.route_web_socket(re.compile(r"/minutes/sync$"), lossy)
    await _open_room(api, session)
    await _in_room(anna)
    # Erik only reads; he asks Samla what it has every few seconds (30 s unless told).
    await erik.locator(EDITOR).evaluate("d => d.setAttribute('data-resync-ms', '2500')")
    await _in_room(erik)
    await anna.locator(TEXT).fill("Beslut: vi ses igen i maj.")
    await expect(anna.locator(STATUS)).to_have_attribute("data-state", "saved")
    await expect(erik.locator(TEXT)).to_have_value("Beslut: vi ses igen i maj.", timeout=10_000)
    assert lost["updates"] == 0
    await anna.locator(TEXT).press("End")
    await anna.keyboard.type(" Ansvar: Erik.")
    await expect(erik.locator(TEXT)).to_have_value("Beslut: vi ses igen i maj. Ansvar: Erik.")


async def test_two_tabs_closed_while_offline_keep_what_each_wrote(
    browser: Browser, api: Api, served: Served
) -> None:
    session = await api.make_session("Gruppsamtal")
    first = await _phone(browser, served, session, "Anna")
    room = await _open_room(api, session)
    await _in_room(first)
    context = first.context
    second = await context.new_page()
    await second.goto(first.url)
    await _in_room(second)
    await context.set_offline(True)
    for page, words in ((first, "Från första fliken."), (second, "Från andra fliken.")):
        await expect(page.locator(STATUS)).to_have_attribute("data-state", "offline")
        await page.locator(TEXT).click()
        await page.keyboard.type(words)
    for page in (first, second):
        async with page.expect_event("close"):
            await page.close(run_before_unload=True)
    await context.set_offline(False)
    again = await context.new_page()
    await again.goto(first.url)
    await _in_room(again)
    for words in ("Från första fliken.", "Från andra fliken."):
        await expect(again.locator(TEXT)).to_have_value(re.compile(re.escape(words)))
        assert words in await _stored_text(api, session, room["id"])
    await _shot(again, "phone-two-tabs-kept")


async def test_a_refusal_closes_the_editor_and_says_why(
    browser: Browser, api: Api, served: Served
) -> None:
    _, _, anna, _ = await _room_of_two(browser, api, served)
    reasons = iter(
        [
            "You are not in this room: its minutes are its people's.",
            "This room has closed: its minutes can be read but not changed.",
        ]
    )

    async def refuse(ws: WebSocketRoute) -> None:
        await ws.close(code=1008, reason=next(reasons))

    await anna.route_web_socket(re.compile(r"/minutes/sync$"), refuse)
    for words in ("You cannot write in these minutes.", "Read only: the room has closed"):
        await anna.reload()
        await expect(anna.locator(STATUS)).to_have_text(words)
        await expect(anna.locator(TEXT)).to_have_js_property("readOnly", True)


async def test_after_the_rooms_close_the_minutes_can_be_read_and_are_in_the_report(
    browser: Browser, api: Api, served: Served
) -> None:
    session, room, anna, _ = await _room_of_two(browser, api, served)
    await anna.locator(TEXT).click()
    await anna.keyboard.type("Vi vill ses igen.\nAnsvar: Anna")
    await expect(anna.locator(STATUS)).to_have_attribute("data-state", "saved")
    r = await api.call(
        "POST", f"/api/v1/sessions/{session['id']}/rooms/close", session["moderator_token"]
    )
    assert r.status_code == 200, r.text
    await expect(anna.locator("#breakout")).to_have_attribute("data-place", "plenary")
    await expect(anna.locator("#breakout .minutes")).to_have_count(0)
    after = anna.locator("#minutes-after .minutes")
    await expect(after.locator(".minutes-title")).to_have_text("Minutes of Room 1")
    await after.locator("summary").click()
    await expect(after.locator("textarea")).to_have_value("Vi vill ses igen.\nAnsvar: Anna")
    await expect(after.locator("textarea")).to_have_attribute("readonly", "")
    await expect(after.locator("[data-minutes-status]")).to_have_text(
        "Read only: the room has closed"
    )
    await anna.reload()
    await expect(after).to_have_attribute("open", "")  # as the person left it
    await expect(after.locator("textarea")).to_be_visible()
    await expect(after.locator("textarea")).to_have_value("Vi vill ses igen.\nAnsvar: Anna")
    assert await _stored_text(api, session, room["id"]) == "Vi vill ses igen.\nAnsvar: Anna"
    await _shot(anna, "phone-after-close")
    # The HTML report holds every room's minutes, under the room's name.
    report = await api.call(
        "GET", f"/api/v1/sessions/{session['id']}/archive?format=html", session["moderator_token"]
    )
    assert report.status_code == 200, report.text[:300]
    reader = await (await anna.context.browser.new_context(viewport=CONSOLE)).new_page()
    await reader.set_content(report.text)
    held = reader.locator("section.minutes", has=reader.locator(f"#minutes-{room['id']}"))
    await expect(held.locator("h3")).to_have_text("Room 1")
    await expect(held).to_contain_text("Vi vill ses igen.")
    await expect(held).to_contain_text("Ansvar: Anna")
    await held.scroll_into_view_if_needed()
    await _shot(reader, "report-minutes")


async def test_the_room_card_with_its_minutes_passes_axe(
    browser: Browser, api: Api, served: Served
) -> None:
    _, _, anna, erik = await _room_of_two(browser, api, served)
    await erik.locator(TEXT).click()
    await erik.keyboard.type("Anteckningar från gruppen")
    await expect(anna.locator(TEXT)).to_have_value("Anteckningar från gruppen")
    await expect(anna.locator("#breakout [data-minutes-writing]")).to_contain_text("Erik")
    await _shot(anna, "phone-room-card")
    assert await axe_violations(anna) == []


async def test_the_moderator_reads_a_room_live_and_collects_a_passage_to_a_board(
    browser: Browser, api: Api, served: Served
) -> None:
    session = await api.make_session("Gruppsamtal")
    r = await api.call(
        "POST",
        f"/api/v1/sessions/{session['id']}/boards",
        session["moderator_token"],
        json={"title": "Goda exempel", "columns": ["Idéer", "Utmaningar"]},
    )
    assert r.status_code == 201, r.text
    board = r.json()
    anna = await _phone(browser, served, session, "Anna")
    sockets: list[str] = []
    anna.on("websocket", lambda ws: sockets.append(ws.url))
    room = await _open_room(api, session)
    await _in_room(anna)
    console = await (await browser.new_context(viewport=CONSOLE)).new_page()
    await console.goto(
        f"{served.base}/s/{session['id']}/moderate?key={session['moderator_token']}#sec-rooms"
    )
    fold = console.locator(f"#room-minutes-{room['id']}")
    await fold.locator("summary").click()
    text = fold.locator("textarea")
    await expect(fold.locator("[data-minutes-status]")).to_have_attribute("data-state", "saved")
    await expect(fold.locator("[data-minutes-status]")).to_have_text("Saved")
    await anna.locator(TEXT).click()
    await anna.keyboard.type("Kommunen har en ingång för föreningar. Vi saknar tid.")
    await expect(text).to_have_value("Kommunen har en ingång för föreningar. Vi saknar tid.")
    await expect(fold.locator("[data-minutes-writing]")).to_contain_text("Anna")
    # Typed faster than Samla takes changes from one writer (forty a second), and paced by
    # the page: one socket throughout, never closed for it.
    assert [url for url in sockets if url.endswith("/minutes/sync")] == [
        f"{served.base.replace('http', 'ws')}/api/v1/rooms/{room['id']}/minutes/sync"
    ]
    await text.evaluate("t => t.setSelectionRange(0, 38)")
    await fold.get_by_role("button", name="Collect to a board").click()

    async def collected() -> list[str]:
        got = await api.call("GET", f"/api/v1/boards/{board['id']}", session["moderator_token"])
        return [n["text"] for n in got.json()["notes"]]

    for _ in range(50):
        if await collected():
            break
        await asyncio.sleep(0.1)
    assert await collected() == ["Kommunen har en ingång för föreningar."]
    await console.locator(f"#room-{room['id']}").evaluate("e => e.scrollIntoView()")
    await _shot(console, "console-overview-minutes")
    assert await axe_violations(console) == []
    # The rooms close: the overview keeps the last round's rooms, their minutes read-only,
    # and a passage can still be collected from them.
    r = await api.call(
        "POST", f"/api/v1/sessions/{session['id']}/rooms/close", session["moderator_token"]
    )
    assert r.status_code == 200, r.text
    past = console.locator(f".past-rooms #room-{room['id']}")
    await expect(past.locator("h4")).to_have_text("Room 1")
    fold = past.locator(f"#room-minutes-{room['id']}")
    if await fold.get_attribute("open") is None:
        await fold.locator("summary").click()
    text = fold.locator("textarea")
    await expect(text).to_have_value("Kommunen har en ingång för föreningar. Vi saknar tid.")
    await expect(text).to_have_attribute("readonly", "")
    await expect(fold.locator("[data-minutes-status]")).to_have_text(
        "Read only: the room has closed"
    )
    await text.evaluate("t => t.setSelectionRange(39, 53)")
    await fold.get_by_role("button", name="Collect to a board").click()
    for _ in range(50):
        if len(await collected()) == 2:
            break
        await asyncio.sleep(0.1)
    assert await collected() == ["Kommunen har en ingång för föreningar.", "Vi saknar tid."]
    await past.evaluate("e => e.scrollIntoView()")
    await _shot(console, "console-overview-past-minutes")
    assert await axe_violations(console) == []


async def test_the_phone_shows_the_plenary_minutes_once_the_moderator_switches_them_on(
    browser: Browser, api: Api, served: Served
) -> None:
    session = await api.make_session("Storgrupp")
    anna = await _phone(browser, served, session, "Anna")
    erik = await _phone(browser, served, session, "Erik")
    plenary = "#minutes-after .minutes"
    await expect(anna.locator(plenary)).to_have_count(0)
    console = await (await browser.new_context(viewport=CONSOLE)).new_page()
    await console.goto(
        f"{served.base}/s/{session['id']}/moderate?key={session['moderator_token']}#sec-rooms"
    )
    sockets: list[str] = []
    anna.on("websocket", lambda ws: sockets.append(ws.url))
    await console.get_by_role("button", name="Switch the plenary minutes on").click()
    for page in (anna, erik):
        await expect(page.locator(f"{plenary} .minutes-title")).to_have_text(
            "The plenary's minutes"
        )
    # A fold, closed: until someone opens it their phone loads no Yjs and opens no socket.
    fold_on_phone = anna.locator(plenary)
    assert await fold_on_phone.evaluate("d => d.tagName === 'DETAILS' && !d.open")
    await expect(fold_on_phone.locator("textarea")).to_be_hidden()
    await _shot(anna, "phone-plenary-minutes-folded")
    assert await anna.evaluate("typeof window.SamlaYjs") == "undefined"
    assert not [url for url in sockets if url.endswith("/minutes/sync")]
    for page in (anna, erik):
        await page.locator(f"{plenary} summary").click()
        await expect(page.locator(f"{plenary} [data-minutes-status]")).to_have_attribute(
            "data-state", "saved"
        )
    assert [url for url in sockets if url.endswith("/minutes/sync")]
    await anna.locator(f"{plenary} textarea").click()
    await anna.keyboard.type("Frågor till panelen efter pausen")
    await expect(erik.locator(f"{plenary} textarea")).to_have_value(
        "Frågor till panelen efter pausen"
    )
    fold = console.locator("#plenary-minutes-fold")
    await fold.locator("summary").click()
    await expect(fold.locator("textarea")).to_have_value("Frågor till panelen efter pausen")
    await _shot(anna, "phone-plenary-minutes")
    await console.get_by_role("button", name="Switch the plenary minutes off").click()
    await expect(anna.locator(plenary)).to_have_count(0)


def test_vendored_yjs_is_recorded_and_its_build_described() -> None:
    lines = (VENDOR / "SHA256SUMS").read_text().splitlines()
    recorded = dict(reversed(line.split()) for line in lines if line.strip())
    digest = hashlib.sha256((VENDOR / YJS).read_bytes()).hexdigest()
    assert recorded[YJS] == digest
    head = (VENDOR / YJS).read_text()[:2000]
    assert head.startswith("/*!") and "MIT License" in head and "Kevin Jahns" in head
    readme = (VENDOR / "README.md").read_text()
    for pinned in ("yjs@13.6.33", "y-protocols@1.0.7", "lib0@0.2.120", "esbuild@0.28.2"):
        assert pinned in readme
