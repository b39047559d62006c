"""The stage in Chromium at 1920x1080 and 1280x720: every view fits with no scrolling and
nothing but itself, its type is readable from the back of the hall, it follows the
moderator's choice live, and axe finds nothing in Swedish or English."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, expect

from tests.conftest import STAGE, STAGE_SMALL, Api, axe_violations

pytestmark = pytest.mark.browser
expect.set_options(timeout=15_000)
SHOTS = Path("/tmp/shots")

# At their length limits: a poll's question (300) and options (120), a question from the
# hall (500), a message (280).
POLL_QUESTION = (
    "Vad behöver vi mest för att samverkan mellan civilsamhället och det offentliga ska "
    "fungera i vardagen, och inte bara på papperet, när vi ser tillbaka på det senaste årets "
    "arbete i kommunen, regionen och de ideella föreningarna \u2013 och vad kan var och en av oss "
    "göra redan i morgon för att det ska bli verklighet?"
)[:300].ljust(300, ".")
OPTIONS = [
    f"{label} \u2013 så att alla vet vem som gör vad, när det gäller och vem man vänder sig till"[
        :120
    ].ljust(120, ".")
    for label in (
        "Tydliga roller",
        "Långsiktig finansiering",
        "Gemensamma mål",
        "Mötesplatser",
        "Tid för dialog",
        "Uppföljning",
    )
]
HALL_QUESTION = ("Hur ser ni till att de som inte redan är engagerade i föreningslivet " * 9)[
    :499
] + "?"
MESSAGE = ("Fika i foajén till 10.30. Sedan fortsätter vi i samma grupper som i förmiddags. " * 4)[
    :280
]

# Text the stage shows: main text (the poll's question, the question, the message),
# secondary text, and everything else (at least 24 px at 1080p).
MAIN = ".stage-main"
SECONDARY = (
    ".stage-label, .stage-share, .stage-count, .stage-note p:not(.stage-note-meta), .stage-by"
)

INSIDE = """() => {
  const out = [];
  const w = innerWidth, h = innerHeight;
  for (const el of document.querySelectorAll('#live *')) {
    const r = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    if (!r.width || !r.height || style.visibility === 'hidden') continue;
    if (el.closest('[hidden], .stage-unplaced')) continue;
    if (r.right - r.width >= 0 && r.width <= 2 && r.height <= 2) continue;  // visually hidden
    if (r.left < -0.5 || r.top < -0.5 || r.right > w + 0.5 || r.bottom > h + 0.5)
      out.push(`${el.tagName}.${el.className} ${[r.left, r.top, r.right, r.bottom]}`);
  }
  return out;
}"""

CLIPPED = """() => [...document.querySelectorAll('[data-fit]')]
  .filter(b => b.scrollHeight > b.clientHeight + 1 || b.scrollWidth > b.clientWidth + 1)
  .map(b => b.className)"""

SIZES = """(selector) => [...document.querySelectorAll(selector)]
  .filter(el => el.getClientRects().length && el.textContent.trim()
     && !el.closest('.stage-unplaced') && el.getBoundingClientRect().width > 2)
  .map(el => parseFloat(getComputedStyle(el).fontSize))"""

TEXT_SIZES = """() => {
  const sizes = [];
  const walker = document.createTreeWalker(document.getElementById('live'), NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode, el = node.parentElement;
    if (!node.textContent.trim() || el.closest('.stage-unplaced, [hidden]')) continue;
    const r = el.getBoundingClientRect();
    if (r.width <= 2 || r.height <= 2 || !el.getClientRects().length) continue;
    sizes.push([el.className || el.tagName, parseFloat(getComputedStyle(el).fontSize)]);
  }
  return sizes;
}"""


async def _ok(api: Api, method: str, path: str, token: str, body: Any = None) -> Any:
    r = await api.call(method, path, token, **({} if body is None else {"json": body}))
    assert r.status_code < 300, f"{method} {path}: {r.status_code} {r.text}"
    return r.json() if r.content else None


async def _hall(api: Api) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """A session with something of each kind to show, each at its limits."""
    session = await api.make_session("Samverkan i praktiken, dag 2")
    sid, mod = session["id"], session["moderator_token"]
    people = [await api.join(session, name) for name in ("Anna", "Bo", "Cem", "Dana", "Erik")]
    body = {"question": POLL_QUESTION, "kind": "single", "options": OPTIONS}
    poll = await _ok(api, "POST", f"/api/v1/sessions/{sid}/polls", mod, body)
    await _ok(api, "POST", f"/api/v1/polls/{poll['id']}/open", mod)
    for i, who in enumerate(people):
        vote = {"choices": [poll["options"][i % 3]["id"]]}
        await _ok(api, "POST", f"/api/v1/polls/{poll['id']}/votes", who["token"], vote)
    columns = {"title": "Goda exempel", "columns": ["Goda exempel", "Utmaningar", "Idéer"]}
    board = await _ok(api, "POST", f"/api/v1/sessions/{sid}/boards", mod, columns)
    for n in range(40):
        note = {
            "column": board["columns"][n % 3]["id"],
            "text": f"Lapp {n + 1}: " + "en gemensam ingång för föreningar " * (1 + n % 5),
        }
        made = await _ok(
            api, "POST", f"/api/v1/boards/{board['id']}/notes", people[n % 5]["token"], note
        )
        for who in people[: n % 4]:
            await _ok(api, "POST", f"/api/v1/notes/{made['id']}/upvote", who["token"])
    question = await _ok(
        api,
        "POST",
        f"/api/v1/sessions/{sid}/questions",
        people[0]["token"],
        {"text": HALL_QUESTION},
    )
    words = await _ok(
        api,
        "POST",
        f"/api/v1/sessions/{sid}/polls",
        mod,
        {"question": "Ett ord?", "kind": "wordcloud"},
    )
    answers = await _ok(
        api, "POST", f"/api/v1/sessions/{sid}/polls", mod, {"question": "Varför?", "kind": "open"}
    )
    for made in (words, answers):
        await _ok(api, "POST", f"/api/v1/polls/{made['id']}/open", mod)
    for i, who in enumerate(people):
        said = {"words": ["tillit", "tid", f"ord{i}"][: 1 + i % 3]}
        await _ok(api, "POST", f"/api/v1/polls/{words['id']}/votes", who["token"], said)
        said = {"text": f"Svar {i + 1}: " + "för att vi behöver varandra " * (1 + 2 * i)}
        await _ok(api, "POST", f"/api/v1/polls/{answers['id']}/votes", who["token"], said)
    await _ok(api, "POST", f"/api/v1/sessions/{sid}/rooms", mod, {"count": 2, "minutes": 15})
    views = {
        "join": {"show": "join"},
        "words": {"show": "poll", "id": words["id"], "reveal_results": True},
        "answers": {"show": "poll", "id": answers["id"], "reveal_results": True},
        "poll-hidden": {"show": "poll", "id": poll["id"]},
        "poll": {"show": "poll", "id": poll["id"], "reveal_results": True},
        "question": {"show": "question", "id": question["id"]},
        "board": {"show": "board", "id": board["id"]},
        "rooms": {"show": "rooms"},
        "message": {"show": "message", "text": MESSAGE},
    }
    return session, views


async def _show(api: Api, page: Page, session: dict[str, Any], body: dict[str, Any]) -> None:
    """The moderator's choice, and the open stage following it with no reload."""
    marker = await page.evaluate("window.__stagePage")
    path = f"/api/v1/sessions/{session['id']}/stage"
    await _ok(api, "POST", path, session["moderator_token"], body)
    await expect(page.locator(f'#stage[data-show="{body["show"]}"]')).to_be_attached()
    if body["show"] == "poll":
        results = page.locator(f'#stage .stage-results[data-poll="{body["id"]}"]')
        await expect(results).to_have_count(1 if body.get("reveal_results") else 0)
    assert await page.evaluate("window.__stagePage") == marker  # the same page: not reloaded
    await page.wait_for_timeout(150)  # the fitting runs in the next frame


async def _check_fits(page: Page, name: str, size: dict[str, int]) -> None:
    assert await page.evaluate(INSIDE) == [], name
    assert await page.evaluate("document.documentElement.scrollHeight <= innerHeight"), name
    assert await page.evaluate("document.documentElement.scrollWidth <= innerWidth"), name
    assert await page.evaluate(CLIPPED) == [], f"{name}: text cut off"
    for chrome in ("header.top", ".langs", "a.skip", "footer.foot"):
        assert await page.locator(chrome).count() == 0, f"{name}: {chrome} is on the stage"
    if size == STAGE:
        for _cls, px in await page.evaluate(TEXT_SIZES):
            assert px >= 24, f"{name}: {_cls} at {px}px"
        assert all(px >= 48 for px in await page.evaluate(SIZES, MAIN)), name
        assert all(px >= 28 for px in await page.evaluate(SIZES, SECONDARY)), name


@pytest.mark.parametrize("size", [STAGE, STAGE_SMALL], ids=["1080p", "720p"])
async def test_every_view_of_the_stage_fits_the_hall_screen_and_follows_live(
    api: Api, browser: Any, size: dict[str, int]
) -> None:
    session, views = await _hall(api)
    lang = "sv" if size == STAGE else "en"
    context = await browser.new_context(viewport=size, locale=lang)
    page = await context.new_page()
    await page.goto(session["stage_url"])
    await expect(page.locator("#link-state")).to_have_attribute("data-state", "live")
    await page.evaluate("window.__stagePage = Math.random()")
    SHOTS.mkdir(parents=True, exist_ok=True)
    for name, body in views.items():
        await _show(api, page, session, body)
        await _check_fits(page, name, size)
        await page.screenshot(path=str(SHOTS / f"stage-{name}-{size['height']}.png"))
        if name == "poll":
            assert await page.locator("#stage .stage-bars li").count() == 6
            for label in OPTIONS:
                await expect(page.locator("#stage .stage-label", has_text=label)).to_be_visible()
            await expect(page.locator("#stage .stage-main")).to_have_text(POLL_QUESTION)
        if name == "question":
            await expect(page.locator("#stage .stage-main")).to_have_text(HALL_QUESTION)
            await expect(page.locator("#stage .stage-by")).to_contain_text("Anna")
        if name == "board":
            shown = await page.locator("#stage .stage-note:visible").count()
            assert 6 <= shown < 40, shown  # as many as fit, the rest hidden
            first = page.locator("#stage .stage-note").first
            await expect(first).to_contain_text("Lapp 40:")  # the most liked (then newest) first
        if name == "join":
            await expect(page.locator(".stage-qr")).to_be_visible()
            code = await page.locator(".stage-code strong").bounding_box()
            qr = await page.locator(".stage-qr").bounding_box()
            assert code and qr and code["x"] + code["width"] < qr["x"], "the code runs into the QR"
            await expect(page.locator(".stage-here [data-here]")).to_be_visible()
        else:
            await expect(page.locator(".stage-code")).to_be_visible()  # the corner's code
        assert await axe_violations(page) == [], f"{name} ({lang})"
    await context.close()


async def test_the_stage_contrast_is_at_least_seven_to_one(api: Api, browser: Any) -> None:
    """axe's enhanced contrast rule (WCAG AAA, 7:1) on every view."""
    from axe_playwright_python.async_playwright import Axe

    session, views = await _hall(api)
    context = await browser.new_context(viewport=STAGE, locale="sv")
    page = await context.new_page()
    await page.goto(session["stage_url"])
    await page.evaluate("window.__stagePage = 1")
    only = {"runOnly": {"type": "rule", "values": ["color-contrast-enhanced"]}}
    for name, body in views.items():
        await _show(api, page, session, body)
        found = (await Axe().run(page, options=only)).response.get("violations", [])
        assert found == [], f"{name}: {[n['target'] for v in found for n in v['nodes']]}"
    await context.close()


async def test_f_toggles_full_screen(api: Api, browser: Any) -> None:
    session = await api.make_session()
    context = await browser.new_context(viewport=STAGE)
    page = await context.new_page()
    await page.goto(session["stage_url"])
    await page.locator("body").click()
    await page.keyboard.press("f")
    await page.wait_for_function("!!document.fullscreenElement", timeout=5_000)
    await page.keyboard.press("f")
    await page.wait_for_function("!document.fullscreenElement", timeout=5_000)
    await context.close()


async def test_a_revoked_link_closes_its_open_stage(api: Api, browser: Any) -> None:
    session = await api.make_session()
    context = await browser.new_context(viewport=STAGE_SMALL)
    page = await context.new_page()
    await page.goto(session["stage_url"])
    await expect(page.locator("#link-state")).to_have_attribute("data-state", "live")
    path = f"/api/v1/sessions/{session['id']}/stage/revoke"
    await _ok(api, "POST", path, session["moderator_token"])
    await expect(page.locator("#link-state")).to_have_attribute(
        "data-state", "refused", timeout=30_000
    )
    await context.close()
    await asyncio.sleep(0)


async def test_the_moderator_changes_the_stage_from_the_console_and_replaces_its_link(
    api: Api, browser: Any
) -> None:
    from axe_playwright_python.async_playwright import Axe

    from tests.conftest import CONSOLE

    session = await api.make_session()
    sid, mod = session["id"], session["moderator_token"]
    anna = await api.join(session, "Anna")
    columns = {"title": "Förslag", "columns": ["Förslag"]}
    board = await _ok(api, "POST", f"/api/v1/sessions/{sid}/boards", mod, columns)
    note = {"column": board["columns"][0]["id"], "text": "Ett gemensamt kontor"}
    await _ok(api, "POST", f"/api/v1/boards/{board['id']}/notes", anna["token"], note)
    body = {"question": "Vad behövs?", "kind": "single", "options": ["Tid", "Pengar"]}
    poll = await _ok(api, "POST", f"/api/v1/sessions/{sid}/polls", mod, body)
    await _ok(api, "POST", f"/api/v1/polls/{poll['id']}/open", mod)

    hall = await (await browser.new_context(viewport=STAGE_SMALL)).new_page()
    await hall.goto(session["stage_url"])
    await expect(hall.locator("#link-state")).to_have_attribute("data-state", "live")
    desk_context = await browser.new_context(viewport=CONSOLE, locale="en")
    await desk_context.grant_permissions(["clipboard-read", "clipboard-write"])
    desk = await desk_context.new_page()
    await desk.goto(f"{api.served.base}/s/{sid}/moderate?key={mod}")
    control = desk.locator("#stage-control")
    await expect(desk.locator("#link-state")).to_have_attribute("data-state", "live")
    await expect(control).to_be_visible()

    await control.locator("#stage-board").select_option(board["id"])
    await control.get_by_role("button", name="Show the board").click()
    await expect(hall.locator("#stage .stage-note")).to_contain_text("Ett gemensamt kontor")
    await expect(control.locator(".stage-preview")).to_contain_text("Förslag")

    await control.locator("#stage-poll").select_option(poll["id"])
    await control.get_by_label("with its results").check()
    await control.get_by_role("button", name="Show the poll").click()
    await expect(hall.locator("#stage .stage-bars li")).to_have_count(2)
    await control.get_by_role("button", name="Hide the results").click()
    await expect(hall.locator("#stage .stage-bars")).to_have_count(0)
    await expect(hall.locator("#stage .stage-main")).to_have_text("Vad behövs?")

    await control.locator("#stage-message").fill("Välkomna tillbaka!")
    await control.get_by_role("button", name="Show the message").click()
    await expect(hall.locator("#stage .stage-main")).to_have_text("Välkomna tillbaka!")
    SHOTS.mkdir(parents=True, exist_ok=True)
    await control.screenshot(path=str(SHOTS / "stage-control-en.png"))
    found = (await Axe().run(desk, context="#stage-control")).response.get("violations", [])
    assert found == [], [v["id"] for v in found]

    await control.get_by_role("button", name="Copy the link").click()
    await expect(control.locator(".stage-copied")).to_contain_text(session["stage_url"])

    # A new link asks first; cancelled, nothing changes.
    await control.get_by_role("button", name="New link…").click()
    dialog = desk.locator("#stage-revoke")
    await expect(dialog).to_be_visible()
    await desk.screenshot(path=str(SHOTS / "stage-control-revoke-en.png"))
    await dialog.get_by_role("button", name="Cancel").click()
    await expect(dialog).to_be_hidden()
    await control.get_by_role("button", name="New link…").click()
    await dialog.get_by_role("button", name="Make a new link").click()
    await expect(dialog).to_be_hidden()
    await expect(hall.locator("#link-state")).to_have_attribute(
        "data-state", "refused", timeout=30_000
    )
    await control.get_by_role("button", name="Copy the link").click()
    copied = control.locator(".stage-copied")
    await expect(copied).to_contain_text("/stage/")
    assert session["stage_url"] not in (await copied.text_content() or "")
    await desk_context.close()
    await hall.context.close()
