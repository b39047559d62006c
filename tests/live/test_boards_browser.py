"""Two people on one room board in real browsers, a moderator collecting to the plenary, and
text that never becomes markup."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.conftest import Api
from tests.live.test_boards_api import make_board, open_rooms, post_note

pytestmark = pytest.mark.browser

ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-gpu",
]
HOSTILE_NAME = '<img src=x onerror="window.__xss=1">Anna'
HOSTILE_NOTE = (
    '<script>window.__xss=2</script> <img src=x onerror="window.__xss=3"> '
    '<a href="javascript:window.__xss=4">länk</a> &amp; &lt;b&gt;'
)
TIMEOUT = 10_000


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=ARGS
        )
        yield chromium
        await chromium.close()


async def participant_page(
    browser: Any, base: str, code: str, name: str, dialogs: list[str]
) -> Any:
    context = await browser.new_context(viewport={"width": 360, "height": 800})
    page = await context.new_page()
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

    await page.goto(f"{base}/j/{code}")
    await page.fill("input[name=name]", name)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{base}/s/*")
    await page.wait_for_selector("#note-compose form.add-note", timeout=TIMEOUT)
    return page


async def add_note(page: Any, board_id: str, column_id: str, text: str) -> None:
    await page.select_option("#note-target", f"{board_id}:{column_id}")
    await page.fill("#note-text", text)
    await page.click("#note-compose form.add-note button[type=submit]")


def notes_of(board_id: str) -> str:
    return f'article.board[data-board="{board_id}"] .notes-newest .note-text'


async def wait_for_text(page: Any, selector: str, text: str) -> None:
    await page.wait_for_function(
        "([sel, text]) => [...document.querySelectorAll(sel)].some(e => e.textContent === text)",
        arg=[selector, text],
        timeout=TIMEOUT,
    )


async def test_two_participants_see_each_others_notes_and_a_collected_one_in_the_plenary(
    api: Api, browser: Any
) -> None:
    session = await api.make_session("Gruppsamtal: att inleda samverkan")
    plenary = await make_board(api, session, title="Storgruppen")
    (room_1,) = await open_rooms(api, session, 1, "random")  # everyone who joins sits in it
    room = await make_board(api, session, title="Grupprum 1", room_id=room_1)
    base = api.served.base
    dialogs: list[str] = []
    anna = await participant_page(browser, base, session["code"], HOSTILE_NAME, dialogs)
    erik = await participant_page(browser, base, session["code"], "Erik", dialogs)
    column = room["columns"][0]["id"]

    await add_note(anna, room["id"], column, HOSTILE_NOTE)
    await add_note(erik, room["id"], column, "IOP ger långsiktig finansiering")
    for page in (anna, erik):
        await wait_for_text(page, notes_of(room["id"]), HOSTILE_NOTE)
        await wait_for_text(page, notes_of(room["id"]), "IOP ger långsiktig finansiering")
    # The form was cleared for the next note, and the sender's typing elsewhere kept.
    assert await anna.input_value("#note-text") == ""

    moderator = await (await browser.new_context()).new_page()
    moderator.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    await moderator.goto(
        f"{base}/s/{session['id']}/moderate?key={session['moderator_token']}#sec-boards"
    )
    state = (
        await api.call("GET", f"/api/v1/boards/{room['id']}", session["moderator_token"])
    ).json()
    erik_note = next(n for n in state["notes"] if n["author"]["name"] == "Erik")
    tools = f'#boards-moderation li[data-note-tools="{erik_note["id"]}"]'
    await moderator.wait_for_selector(tools, timeout=TIMEOUT)
    await moderator.select_option(f"{tools} form.collect select", plenary["id"])
    await moderator.click(f"{tools} form.collect button")
    for page in (anna, erik):
        await wait_for_text(page, notes_of(plenary["id"]), "IOP ger långsiktig finansiering")

    # A question with the same markup, asked by Anna, shown on Erik's page and the big screen.
    # In a room the questions to the panel are folded below the room's board.
    await anna.click("#qa > summary")
    await anna.fill("#question-text", HOSTILE_NOTE)
    await anna.click("#question-ask form.ask-question button[type=submit]")
    await wait_for_text(erik, "#questions .notes-newest .question-text", HOSTILE_NOTE)
    await moderator.click(".console-nav a[data-section=qa]")  # the console's Q&A section
    await moderator.click("#questions-queue form:has(input[value=show]) button")
    presenter = await moderator.context.new_page()
    await presenter.goto(f"{base}/s/{session['id']}/presenter")
    await wait_for_text(presenter, "#question-stage .question-text", HOSTILE_NOTE)

    # Text is text: shown literally, in notes, questions and names, and nothing ran.
    for page in (anna, erik, moderator, presenter):
        assert await page.evaluate("window.__xss") is None
        assert (
            await page.eval_on_selector_all(
                "#question-stage img, #questions img, #questions-queue img, #questions script",
                "els => els.length",
            )
            == 0
        )
    for page in (anna, erik, moderator):
        texts = await page.eval_on_selector_all(".note-text", "els => els.map(e => e.textContent)")
        assert HOSTILE_NOTE in texts
        authors = await page.eval_on_selector_all(".author", "els => els.map(e => e.textContent)")
        assert HOSTILE_NAME in authors
        assert await page.evaluate("window.__xss") is None
        assert (
            await page.eval_on_selector_all(
                "#boards img, #boards script, #boards a[href^='javascript'], "
                "#boards-moderation img, #boards-moderation script",
                "els => els.length",
            )
            == 0
        )
    assert dialogs == []


async def test_with_real_breakout_rooms_a_room_board_is_shared_by_its_room(
    api: Api, browser: Any
) -> None:
    session = await api.make_session("Gruppsamtal med riktiga grupprum")
    mod = session["moderator_token"]
    plenary = await make_board(api, session, title="Storgruppen")
    base = api.served.base
    dialogs: list[str] = []
    anna = await participant_page(browser, base, session["code"], "Anna", dialogs)
    erik = await participant_page(browser, base, session["code"], "Erik", dialogs)
    r = await api.call(
        "POST",
        f"/api/v1/sessions/{session['id']}/rooms",
        mod,
        json={"count": 1, "assignment": "random"},
    )
    assert r.status_code == 201, r.text
    room_id = r.json()["rooms"][0]["id"]
    room = await make_board(api, session, title="Grupprum", room_id=room_id)
    for page in (anna, erik):  # moved into the room: the room's board appears
        await page.wait_for_selector(
            f'#note-target option[value^="{room["id"]}:"]', state="attached", timeout=TIMEOUT
        )
    await add_note(anna, room["id"], room["columns"][1]["id"], "projektpengar tar slut")
    await add_note(erik, room["id"], room["columns"][2]["id"], "börja med något praktiskt")
    for page in (anna, erik):
        await wait_for_text(page, notes_of(room["id"]), "projektpengar tar slut")
        await wait_for_text(page, notes_of(room["id"]), "börja med något praktiskt")
    state = (await api.call("GET", f"/api/v1/boards/{room['id']}", mod)).json()
    picked = [n["id"] for n in state["notes"] if n["text"] == "börja med något praktiskt"]
    r = await api.call(
        "POST", f"/api/v1/boards/{plenary['id']}/collect", mod, json={"note_ids": picked}
    )
    assert r.status_code == 200
    for page in (anna, erik):
        await wait_for_text(page, notes_of(plenary["id"]), "börja med något praktiskt")
    assert dialogs == []


async def test_a_note_being_written_survives_the_form_being_redrawn(api: Api, browser: Any) -> None:
    """A new board redraws the add-note form while Anna writes: her text and her choice
    of board stay. Once sent, the text box is empty again and the board stays chosen."""
    session = await api.make_session("Skrivro")
    first = await make_board(api, session, title="Första")
    dialogs: list[str] = []
    anna = await participant_page(browser, api.served.base, session["code"], "Anna", dialogs)
    target = f"{first['id']}:{first['columns'][2]['id']}"
    await anna.select_option("#note-target", target)
    await anna.fill("#note-text", "halvskriven tanke")
    second = await make_board(api, session, title="Andra")
    await anna.wait_for_selector(
        f'#note-target option[value^="{second["id"]}:"]', state="attached", timeout=TIMEOUT
    )
    assert await anna.input_value("#note-target") == target
    assert await anna.input_value("#note-text") == "halvskriven tanke"
    await anna.click("#note-compose form.add-note button[type=submit]")
    await wait_for_text(anna, notes_of(first["id"]), "halvskriven tanke")
    await anna.wait_for_function(
        "() => document.querySelector('#note-text').value === ''", timeout=TIMEOUT
    )
    assert await anna.input_value("#note-target") == target
    state = await api.call("GET", f"/api/v1/boards/{first['id']}", session["moderator_token"])
    [note] = state.json()["notes"]
    assert note["column"] == first["columns"][2]["id"]
    assert dialogs == []


async def test_a_participants_own_upvotes_show_on_their_buttons_only(
    api: Api, browser: Any
) -> None:
    session = await api.make_session("Tummen upp")
    board = await make_board(api, session, title="Idéer")
    dialogs: list[str] = []
    base = api.served.base
    anna = await participant_page(browser, base, session["code"], "Anna", dialogs)
    erik = await participant_page(browser, base, session["code"], "Erik", dialogs)
    bo = await api.join(session, "Bo")
    r = await post_note(api, board, bo["token"], "fler mötesplatser")
    assert r.status_code == 201, r.text
    button = f'article.board[data-board="{board["id"]}"] .notes-newest form.like button'
    for page in (anna, erik):
        await wait_for_text(page, notes_of(board["id"]), "fler mötesplatser")
        assert await page.get_attribute(button, "aria-pressed") == "false"
    await anna.click(button)
    await anna.wait_for_selector(f'{button}[aria-pressed="true"]', timeout=TIMEOUT)
    await erik.wait_for_function(
        "sel => document.querySelector(sel + ' .upvotes').textContent === '1'",
        arg=button,
        timeout=TIMEOUT,
    )
    assert await erik.get_attribute(button, "aria-pressed") == "false"  # not Erik's upvote
    await anna.reload()
    await anna.wait_for_selector(f'{button}[aria-pressed="true"]', timeout=TIMEOUT)
    await anna.click(button)  # a second press takes it back
    await anna.wait_for_selector(f'{button}[aria-pressed="false"]', timeout=TIMEOUT)
    assert dialogs == []
