"""The participant's phone at 360 by 740 px in a real browser: what to do now leads the page."""

from __future__ import annotations

import os
import re
from typing import Any

import pytest
from playwright.async_api import Page, expect

from tests.conftest import PHONE, Api, axe_violations
from tests.live.test_boards_api import make_board, post_note

pytestmark = pytest.mark.browser
expect.set_options(timeout=15_000)
SHOTS = os.environ.get("SAMLA_SHOTS", "/tmp/shots")
M_SS = re.compile(r"^\d{1,2}:[0-5]\d$")
LOCALES = {"en": "en-GB", "sv": "sv-SE"}
# Every text the room's timer shows, as it is painted (after each task's changes).
WATCH_TIMER = """
window.samlaTimer = [];
new MutationObserver(() => {
  const t = document.querySelector('#breakout .countdown-time');
  const text = t ? t.textContent.trim() : null;
  const seen = window.samlaTimer;
  if (text && seen[seen.length - 1] !== text) seen.push(text);
}).observe(document, {subtree: true, childList: true, characterData: true});
"""


async def phone(browser: Any, api: Api, session: dict[str, Any], lang: str = "en") -> Page:
    """A participant who joined on a phone, with the page's socket open and its snapshot in."""
    context = await browser.new_context(viewport=PHONE, is_mobile=True, locale=LOCALES[lang])
    page = await context.new_page()
    await page.add_init_script(WATCH_TIMER)
    await page.goto(f"{api.served.base}/j/{session['code']}")
    await page.fill("#name", "Anna")
    await page.click("button[type=submit]")
    await expect(page.locator("#presence .here")).to_have_attribute("data-here", "1")
    return page


async def shot(page: Page, name: str) -> None:
    os.makedirs(SHOTS, exist_ok=True)
    await page.screenshot(path=f"{SHOTS}/{name}.png")
    await page.screenshot(path=f"{SHOTS}/{name}-full.png", full_page=True)


async def top_and_bottom(page: Page, selector: str) -> tuple[float, float]:
    box = await page.locator(selector).first.bounding_box()
    assert box is not None, f"{selector} is not shown"
    return box["y"], box["y"] + box["height"]


async def in_first_viewport(page: Page, selector: str) -> None:
    await page.evaluate("window.scrollTo(0, 0)")
    top, bottom = await top_and_bottom(page, selector)
    assert top >= 0 and bottom <= PHONE["height"], f"{selector} lies at {top}..{bottom}"


async def open_poll(api: Api, session: dict[str, Any], **body: Any) -> dict[str, Any]:
    mod = session["moderator_token"]
    r = await api.call("POST", f"/api/v1/sessions/{session['id']}/polls", mod, json=body)
    assert r.status_code == 201, r.text
    poll: dict[str, Any] = r.json()
    r = await api.call("POST", f"/api/v1/polls/{poll['id']}/open", mod)
    assert r.status_code == 200, r.text
    return poll


async def close_poll(api: Api, session: dict[str, Any], poll: dict[str, Any]) -> None:
    r = await api.call("POST", f"/api/v1/polls/{poll['id']}/close", session["moderator_token"])
    assert r.status_code == 200, r.text


async def busy_plenary(api: Api, session: dict[str, Any]) -> None:
    """Two plenary boards with notes, questions to the panel, and three closed polls."""
    bo = await api.join(session, "Bo")
    first = await make_board(api, session, title="Goda exempel")
    second = await make_board(api, session, template="phases", title="Inleda / Fördjupa")
    for text in (
        "Kommunen har en ingång för föreningar",
        "IOP ger långsiktig finansiering",
        "Gemensamma lägesbilder varje kvartal",
    ):
        assert (await post_note(api, first, bo["token"], text)).status_code == 201
    assert (
        await post_note(api, second, bo["token"], "Börja med något praktiskt")
    ).status_code == 201
    for text in ("Hur får små föreningar tid att delta?", "Vem äger uppföljningen?"):
        r = await api.call(
            "POST", f"/api/v1/sessions/{session['id']}/questions", bo["token"], json={"text": text}
        )
        assert r.status_code == 201, r.text
    for question in (
        "Hur länge har du arbetat med samverkan?",
        "Ett ord för samverkan",
        "Var bor du?",
    ):
        poll = await open_poll(
            api, session, question=question, kind="single", options=["Kort", "Länge"]
        )
        await close_poll(api, session, poll)


async def open_room(api: Api, session: dict[str, Any], minutes: int = 15) -> str:
    """A round of one room at a hall table; everyone who joins from now on sits in it."""
    body = {
        "count": 1,
        "assignment": "random",
        "minutes": minutes,
        "names": ["Gröna rummet"],
        "places": ["Bord 7 vid scenen"],
        "board_template": "examples",
    }
    r = await api.call(
        "POST", f"/api/v1/sessions/{session['id']}/rooms", session["moderator_token"], json=body
    )
    assert r.status_code == 201, r.text
    room_id: str = r.json()["rooms"][0]["id"]
    return room_id


async def broadcast(api: Api, session: dict[str, Any], text: str) -> None:
    r = await api.call(
        "POST",
        f"/api/v1/sessions/{session['id']}/rooms/broadcast",
        session["moderator_token"],
        json={"text": text},
    )
    assert r.status_code == 201, r.text


async def names_contain_their_text(page: Page) -> None:
    """Every visible button's accessible name contains its visible text (WCAG 2.5.3)."""
    buttons = page.get_by_role("button")
    checked = 0
    for i in range(await buttons.count()):
        button = buttons.nth(i)
        if not await button.is_visible():
            continue
        text = " ".join((await button.inner_text()).split())
        if not text:
            continue
        await expect(page.get_by_role("button", name=text).first).to_be_visible()
        name = await button.evaluate(
            "b => (b.getAttribute('aria-label') || b.textContent).replace(/\\s+/g, ' ').trim()"
        )
        assert text in name, f"the button {text!r} is named {name!r}"
        checked += 1
    assert checked


# Controls under 44 px tall, and text under 16 px but for small labels (kickers, tags).
TOO_SMALL = """() => {
  const out = [];
  const controls = '#live button, #live summary, #live select, #live .check, #live .choice,'
    + ' #live textarea, .top a';
  for (const el of document.querySelectorAll(controls)) {
    const r = el.getBoundingClientRect();
    if (r.width && r.height && r.height < 44) out.push('target ' + el.outerHTML.slice(0, 60));
  }
  const labels = '.kicker, .tag, .link-state, .visually-hidden, .countdown-label,'
    + ' .sort-order legend';
  const live = document.getElementById('live');
  const walker = document.createTreeWalker(live, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!n.textContent.trim() || el.closest(labels) || !el.getClientRects().length) continue;
    const size = parseFloat(getComputedStyle(el).fontSize);
    if (size < 16) out.push('text ' + el.outerHTML.slice(0, 60));
  }
  return out;
}"""


async def tap_targets_and_text(page: Page) -> None:
    """Controls are at least 44 px tall; text is at least 16 px, but for small labels."""
    small = await page.evaluate(TOO_SMALL)
    assert small == [], "\n".join(small)


async def test_in_a_room_its_name_timer_and_help_lead_the_phone(api: Api, browser: Any) -> None:
    session = await api.make_session("Gruppsamtal")
    await busy_plenary(api, session)
    await open_room(api, session)
    page = await phone(browser, api, session)
    room = page.locator("#breakout .room-card")
    await expect(room.locator(".room-name")).to_have_text("Gröna rummet")
    await expect(room.locator(".room-place")).to_contain_text("Bord 7")
    # The time left, as m:ss from the first paint (the server's HTML), then ticking.
    html = await (await page.context.request.get(page.url)).text()
    assert re.search(r'class="countdown-time"[^>]*>\s*1[45]:[0-5]\d\s*<', html), html[:200]
    await expect(room.locator(".countdown-time")).to_have_text(M_SS)
    for selector in ("#breakout .room-name", "#breakout .countdown-time", "#breakout .help button"):
        await in_first_viewport(page, selector)
    # The room's board comes first, its compose form above it; the plenary's boards, the
    # questions and the earlier polls are folded below, with their counts.
    await expect(page.locator("#boards > article.board .tag")).to_have_text("Your room")
    plenary = page.locator("#plenary-boards")
    await expect(plenary.locator("summary")).to_have_text("Plenary (2 boards)")
    assert await plenary.get_attribute("open") is None
    await expect(page.locator("#qa > summary")).to_have_text("Questions to the panel (2)")
    assert await page.locator("#qa").get_attribute("open") is None
    await expect(page.locator("#earlier-polls > summary")).to_have_text("Earlier polls (3)")
    await shot(page, "phone-room-en")

    # A fold stays open through a redraw of its panel (a note arrives).
    await plenary.locator("summary").click()
    bo = await api.join(session, "Cem")
    board = (await api.call("GET", f"/api/v1/sessions/{session['id']}", bo["token"])).json()
    first = next(b for b in board["boards"] if b["room_id"] is None)
    full = (await api.call("GET", f"/api/v1/boards/{first['id']}", bo["token"])).json()
    assert (await post_note(api, full, bo["token"], "En lapp till")).status_code == 201
    await expect(plenary.locator(".note-text", has_text="En lapp till").first).to_be_attached()
    assert await plenary.get_attribute("open") == ""

    # The timer stays m:ss after the room is redrawn (more time is given).
    r = await api.call(
        "POST",
        f"/api/v1/sessions/{session['id']}/rooms/extend",
        session["moderator_token"],
        json={"minutes": 5},
    )
    assert r.status_code == 200, r.text
    await expect(room.locator(".countdown-time")).to_have_text(re.compile(r"^(19|20):[0-5]\d$"))
    shown = await page.evaluate("window.samlaTimer")
    assert len(shown) > 1 and all(M_SS.match(t) for t in shown), shown
    await tap_targets_and_text(page)
    await names_contain_their_text(page)
    assert await axe_violations(page) == []
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


async def test_an_open_poll_is_the_first_card_even_in_a_room_with_a_message(
    api: Api, browser: Any
) -> None:
    session = await api.make_session("Gruppsamtal")
    await busy_plenary(api, session)
    room = await open_room(api, session)
    page = await phone(browser, api, session)
    await broadcast(api, session, "Två minuter kvar: välj en lapp att lyfta till storgruppen")
    poll = await open_poll(
        api,
        session,
        question="Vad behövs mest för att samverkan ska hålla över tid?",
        kind="single",
        options=["Tydliga roller", "Långsiktig finansiering", "Gemensamma mål", "Tid att mötas"],
        room_id=room,
    )
    card = page.locator("#polls article.poll")
    await expect(card.locator(".poll-question")).to_have_text(poll["question"])
    await in_first_viewport(page, "#breakout .announcement")
    await in_first_viewport(page, "#breakout .room-name")
    await in_first_viewport(page, "#polls .poll-question")
    await expect(card.get_by_role("button", name="Send answer")).to_be_visible()
    await shot(page, "phone-poll-room-en")
    await card.get_by_label("Långsiktig finansiering").check()
    await card.get_by_role("button", name="Send answer").click()
    await expect(card.locator(".your-answer")).to_contain_text("Långsiktig finansiering")
    await expect(page.locator("#poll-results [data-voters]")).to_have_attribute("data-voters", "1")
    await shot(page, "phone-answered-en")
    await names_contain_their_text(page)
    assert await axe_violations(page) == []

    # Closed, its result shows once; when the next poll opens it folds with the earlier ones.
    await close_poll(api, session, poll)
    await expect(page.locator("#poll-results .poll-result")).to_contain_text("closed")
    await expect(page.locator("#earlier-polls > summary")).to_have_text("Earlier polls (3)")
    await open_poll(
        api, session, question="Och nu?", kind="single", options=["A", "B"], room_id=room
    )
    await expect(page.locator("#polls .poll-question")).to_have_text("Och nu?")
    await expect(page.locator("#earlier-polls > summary")).to_have_text("Earlier polls (4)")


async def test_a_broadcast_arrives_at_the_top_and_can_be_dismissed(api: Api, browser: Any) -> None:
    session = await api.make_session("Gruppsamtal")
    await busy_plenary(api, session)
    await open_room(api, session)
    page = await phone(browser, api, session, "sv")
    text = "Två minuter kvar: välj en lapp att lyfta"
    await broadcast(api, session, text)
    message = page.locator("#breakout .announcement")
    await expect(message.locator(".broadcast-text")).to_have_text(text)
    # The one assertive region on the page is the announcement's.
    assert await page.locator("#announce").get_attribute("aria-live") == "assertive"
    assertive = await page.locator("[aria-live=assertive], [role=alert]").count()
    assert assertive == 1
    # It is the first thing under the header line.
    top, _ = await top_and_bottom(page, "#breakout .announcement")
    _, title_bottom = await top_and_bottom(page, ".session-title")
    assert top - title_bottom < 40
    await in_first_viewport(page, "#breakout .room-name")
    await in_first_viewport(page, "#breakout .countdown-time")
    await shot(page, "phone-broadcast-sv")
    assert await axe_violations(page) == []
    await names_contain_their_text(page)

    await message.get_by_role("button", name="Stäng").click()
    await expect(message).to_be_hidden()
    # It stays away when the room is redrawn and after a reload; a new one shows.
    await page.locator("#breakout .help button").click()
    await expect(page.locator("#breakout .help-flag")).to_be_visible()
    await expect(message).to_be_hidden()
    await page.reload()
    await expect(page.locator("#breakout .room-name")).to_be_visible()
    await expect(page.locator("#breakout .announcement")).to_be_hidden()
    await broadcast(api, session, "Nu är det dags att samlas")
    await expect(page.locator("#breakout .announcement .broadcast-text")).to_have_text(
        "Nu är det dags att samlas"
    )


@pytest.mark.parametrize("lang", ["en", "sv"])
async def test_the_plenary_has_no_room_card_and_its_questions_unfold(
    api: Api, browser: Any, lang: str
) -> None:
    session = await api.make_session("Samverkan i praktiken")
    await busy_plenary(api, session)
    page = await phone(browser, api, session, lang)
    await expect(page.locator("#breakout")).to_have_attribute("data-place", "plenary")
    await expect(page.locator("#breakout .room-card")).to_have_count(0)
    assert await page.locator("#qa").get_attribute("open") == ""
    await expect(page.locator("#plenary-boards")).to_have_count(0)
    await expect(page.locator("#boards article.board")).to_have_count(2)
    like = page.locator("#boards .notes-newest form.like button").first
    await expect(like).to_have_text("Like (0)" if lang == "en" else "Gilla (0)")
    await like.click()
    await expect(like).to_have_text("Like (1)" if lang == "en" else "Gilla (1)")
    await expect(like).to_have_attribute("aria-pressed", "true")
    vote = page.locator("#questions .notes-newest form.like button").first
    await expect(vote).to_have_text("Vote up (0)" if lang == "en" else "Gilla (0)")
    # The connection's state sits in the header line.
    status = page.locator("#link-state")
    await expect(status).to_have_attribute("data-state", "live")
    await in_first_viewport(page, "#link-state")
    await shot(page, f"phone-plenary-{lang}")
    await tap_targets_and_text(page)
    await names_contain_their_text(page)
    assert await axe_violations(page) == []

    # A poll opens: it is the first card, and its question is in the first viewport.
    poll = await open_poll(
        api,
        session,
        question="Hur väl fungerar samverkan där du verkar?",
        kind="scale",
        scale={"min": 1, "max": 5, "min_label": "Inte alls", "max_label": "Mycket väl"},
    )
    await expect(page.locator("#polls .poll-question")).to_have_text(poll["question"])
    await in_first_viewport(page, "#polls .poll-question")
    await in_first_viewport(page, "#polls button.primary")
    await shot(page, f"phone-poll-{lang}")
    await tap_targets_and_text(page)
    await names_contain_their_text(page)
    assert await axe_violations(page) == []
