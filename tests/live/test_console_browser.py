"""The moderator's console at 1280 x 800, in a real browser: sections in reach, what needs
attention seen from every section, confirmations before anything is undone for good, the
poll form of the chosen kind, rooms by name, and polls duplicated or reused."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from tests.conftest import (
    CONSOLE,
    ORGANISER_EMAIL,
    ORGANISER_PASSWORD,
    Api,
    axe_violations,
)

pytestmark = pytest.mark.browser
expect.set_options(timeout=15_000)

SHOTS = Path("/tmp/shots")
SECTIONS = {
    "stage": ("Big screen", "Storbild"),
    "polls": ("Polls", "Omröstningar"),
    "rooms": ("Breakout rooms", "Grupprum"),
    "boards": ("Boards", "Tavlor"),
    "qa": ("Questions to the panel", "Frågor till panelen"),
    "people": ("Participants", "Deltagare"),
}
# The page may run past the window by a hair (a rounding of the layout), never by a screen.
SLACK = 8


async def console(
    browser: Browser,
    api: Api,
    session: dict[str, Any],
    section: str = "",
    lang: str = "en",
    organiser: bool = False,
) -> Page:
    """The moderator's console of `session`, its socket open (it shows who is here): through
    the moderator link, or with the organiser signed in."""
    context = await browser.new_context(
        viewport=CONSOLE, locale=lang, extra_http_headers={"Accept-Language": lang}
    )
    page = await context.new_page()
    hash_ = f"#sec-{section}" if section else ""
    base = api.served.base
    if organiser:
        await page.goto(f"{base}/login")
        await page.locator("#email").fill(ORGANISER_EMAIL)
        await page.locator("#password").fill(ORGANISER_PASSWORD)
        await page.locator("form[action^='/login'] button[type=submit]").click()
        await page.wait_for_url(f"{base}/organiser")
        await page.goto(f"{base}/s/{session['id']}/moderator{hash_}")
    else:
        key = session["moderator_token"]
        await page.goto(f"{base}/s/{session['id']}/moderate?key={key}{hash_}")
    await expect(page.locator("#live-version")).to_have_count(1)
    await expect(page.locator("#link-state")).to_have_attribute("data-state", "live")
    return page


async def ok(api: Api, method: str, path: str, token: str, body: Any = None) -> Any:
    r = await api.call(method, path, token, **({} if body is None else {"json": body}))
    assert r.status_code < 300, f"{method} {path}: {r.status_code} {r.text}"
    return r.json() if r.content else None


async def busy_session(api: Api) -> dict[str, Any]:
    """A session in mid-flow: people, polls of several kinds, a room round, boards, questions."""
    session = await api.make_session("Samverkan i praktiken")
    sid, mod = session["id"], session["moderator_token"]
    people = [await api.join(session, name) for name in ("Anna", "Erik", "Sara", "Omar")]
    session["people"] = people
    made = await ok(
        api,
        "POST",
        f"/api/v1/sessions/{sid}/polls",
        mod,
        {
            "question": "Vad behövs mest för att samverkan ska bli långsiktig?",
            "kind": "single",
            "options": ["Tydliga roller", "Långsiktig finansiering", "Mötesplatser"],
        },
    )
    await ok(api, "POST", f"/api/v1/polls/{made['id']}/open", mod)
    for p, choice in zip(people[:3], (0, 1, 1), strict=True):
        await ok(
            api,
            "POST",
            f"/api/v1/polls/{made['id']}/votes",
            p["token"],
            {"choices": [made["options"][choice]["id"]]},
        )
    await ok(
        api,
        "POST",
        f"/api/v1/sessions/{sid}/polls",
        mod,
        {"question": "Ett ord för god samverkan", "kind": "wordcloud"},
    )
    session["poll"] = made
    board = await ok(
        api,
        "POST",
        f"/api/v1/sessions/{sid}/boards",
        mod,
        {"title": "Goda exempel", "columns": ["Goda exempel", "Utmaningar"]},
    )
    note = await ok(
        api,
        "POST",
        f"/api/v1/boards/{board['id']}/notes",
        people[0]["token"],
        {"column": board["columns"][0]["id"], "text": "Kommunen har en ingång för föreningar"},
    )
    session["board"], session["note"] = board, note
    await ok(api, "POST", f"/api/v1/sessions/{sid}/questions/settings", mod, {"approval": True})
    await ok(
        api,
        "POST",
        f"/api/v1/sessions/{sid}/questions",
        people[1]["token"],
        {"text": "Hur når vi dem som inte redan är med?"},
    )
    return session


async def open_rooms(api: Api, session: dict[str, Any], count: int = 2) -> list[dict[str, Any]]:
    body = {
        "count": count,
        "assignment": "random",
        "minutes": 15,
        "names": ["Norrsken", "Fjällsippan", "Havsörn"][:count],
    }
    opened = await ok(
        api, "POST", f"/api/v1/sessions/{session['id']}/rooms", session["moderator_token"], body
    )
    return list(opened["rooms"])


def section(page: Page, name: str) -> Any:
    return page.locator(f"#sec-{name}")


async def test_every_section_fits_the_console_and_is_one_click_away(
    api: Api, browser: Browser
) -> None:
    session = await busy_session(api)
    await open_rooms(api, session)
    for lang in ("en", "sv"):
        page = await console(browser, api, session, lang=lang)
        # Polls first; nothing else is shown, and the page is not a long column.
        await expect(section(page, "polls")).to_be_visible()
        for name, words in SECTIONS.items():
            if lang == "en":
                link = page.locator(".console-nav").get_by_role("link", name=re.compile(words[0]))
            else:  # the Swedish words come with the catalog; the link is the same
                link = page.locator(f".console-nav a[data-section={name}]")
            await link.click()
            await expect(section(page, name)).to_be_visible()
            for other in SECTIONS:
                if other != name:
                    await expect(section(page, other)).to_be_hidden()
            assert page.url.endswith(f"#sec-{name}")
            link = page.locator(f".console-nav a[data-section={name}]")
            await expect(link).to_have_attribute("aria-current", "page")
            height = await page.evaluate("document.documentElement.scrollHeight")
            assert height <= CONSOLE["height"] + SLACK, f"{name}: the page is {height} px high"
            await page.screenshot(path=str(SHOTS / f"console-{name}-{lang}.png"))
            assert await axe_violations(page) == [], f"{name} ({lang})"
        await page.context.close()


async def test_the_chosen_section_survives_a_redraw_a_reload_and_works_by_keyboard(
    api: Api, browser: Browser
) -> None:
    session = await busy_session(api)
    page = await console(browser, api, session, "qa")
    await expect(section(page, "qa")).to_be_visible()
    await api.join(session, "Lena")  # a redraw of panels
    await expect(page.locator("#presence .here")).to_be_visible()
    await page.reload()
    await expect(section(page, "qa")).to_be_visible()
    await expect(section(page, "polls")).to_be_hidden()
    # By keyboard: the links are in the tab order, Enter opens one and its heading has the focus.
    await page.locator(".console-nav a[data-section=boards]").focus()
    await page.keyboard.press("Enter")
    await expect(section(page, "boards")).to_be_visible()
    await expect(page.locator("#sec-boards-title")).to_be_focused()
    await page.context.close()


async def test_a_help_request_shows_its_count_and_a_toast_while_another_section_is_open(
    api: Api, browser: Browser
) -> None:
    session = await busy_session(api)
    rooms = await open_rooms(api, session, 2)
    page = await console(browser, api, session, "polls")
    help_count = page.locator(".console-nav [data-count=help]")
    await expect(help_count).to_have_count(0)
    # Questions waiting for approval are counted too.
    await expect(page.locator(".console-nav [data-count=waiting]")).to_contain_text("1")

    asker = next(
        p
        for p in session["people"]
        if any(p["participant_id"] in r["participant_ids"] for r in rooms)
    )
    room = next(r for r in rooms if asker["participant_id"] in r["participant_ids"])
    await ok(api, "POST", f"/api/v1/rooms/{room['id']}/help", asker["token"])
    await expect(section(page, "polls")).to_be_visible()
    await expect(help_count).to_contain_text("1")
    toast = page.locator(".toast", has_text=room["name"])
    await expect(toast).to_be_visible()
    await expect(page.locator("#hands")).to_contain_text("1 room asks for help")
    await page.screenshot(path=str(SHOTS / "console-help-toast-en.png"))
    assert await axe_violations(page) == []

    await toast.get_by_role("link", name="Go to the room").click()
    await expect(section(page, "rooms")).to_be_visible()
    card = page.locator(f"#room-{room['id']}")
    await expect(card).to_have_class(re.compile("needs-help"))
    await expect(card.get_by_role("button", name="I am coming")).to_be_focused()
    await card.get_by_role("button", name="I am coming").click()
    await expect(help_count).to_have_count(0)
    await expect(page.locator(".toast")).to_have_count(0)
    await page.context.close()


async def _cancel_then_confirm(page: Page, button: Any, words: str) -> None:
    """Clicks `button`: the dialog names what will happen; Cancel sends nothing."""
    dialog = page.locator("dialog#confirm")
    await button.click()
    await expect(dialog).to_be_visible()
    await expect(dialog).to_contain_text(words)
    await dialog.get_by_role("button", name="Cancel").click()
    await expect(dialog).to_be_hidden()


async def test_destructive_actions_happen_only_once_confirmed(api: Api, browser: Browser) -> None:
    session = await busy_session(api)
    sid, mod = session["id"], session["moderator_token"]
    await open_rooms(api, session, 2)
    page = await console(browser, api, session, "rooms")
    dialog = page.locator("dialog#confirm")

    # Closing the rooms early: cancelled, they stay open; confirmed, they close.
    close_rooms = page.get_by_role("button", name="Close the rooms: everyone back to the plenary")
    await _cancel_then_confirm(page, close_rooms, "Close the 2 rooms now?")
    await page.wait_for_timeout(500)
    state = await ok(api, "GET", f"/api/v1/sessions/{sid}/rooms", mod)
    assert state["round"]["status"] == "open"
    await page.screenshot(path=str(SHOTS / "console-confirm-rooms-en.png"))
    await close_rooms.click()
    await page.screenshot(path=str(SHOTS / "console-confirm-open-en.png"))
    assert await axe_violations(page) == []
    await dialog.get_by_role("button", name="Close the rooms").click()
    await expect(page.locator("#breakout-overview")).to_contain_text("Everyone is in the plenary")

    # Deleting a note.
    await page.locator(".console-nav a[data-section=boards]").click()
    delete = page.locator(f'li[data-note-tools="{session["note"]["id"]}"]').get_by_role(
        "button", name="Delete"
    )
    await _cancel_then_confirm(page, delete, "Delete this note for everyone?")
    await page.wait_for_timeout(500)
    board = await ok(api, "GET", f"/api/v1/boards/{session['board']['id']}", mod)
    assert [n["id"] for n in board["notes"]] == [session["note"]["id"]]
    await delete.click()
    await dialog.get_by_role("button", name="Delete the note").click()
    await expect(page.locator(f'li[data-note-tools="{session["note"]["id"]}"]')).to_have_count(0)

    # Removing a participant: the dialog posts, the console comes back at People.
    await page.locator(".console-nav a[data-section=people]").click()
    omar = session["people"][3]
    remove = page.locator(f'li[data-participant="{omar["participant_id"]}"] a[data-remove]')
    removal = page.locator("dialog#remove")
    await remove.click()
    await expect(removal).to_contain_text("Remove Omar from the session?")
    await removal.get_by_role("button", name="Cancel").click()
    await expect(removal).to_be_hidden()
    r = await api.call("GET", f"/api/v1/sessions/{sid}/participants", mod)
    assert omar["participant_id"] in r.text
    await remove.click()
    await removal.get_by_role("button", name="Remove").click()
    await expect(section(page, "people")).to_be_visible()
    await expect(page.locator(f'li[data-participant="{omar["participant_id"]}"]')).to_have_count(0)

    # Closing the session names how many it closes for.
    await page.locator(".console-nav a[data-section=stage]").click()
    close = page.get_by_role("button", name="Close the session…")
    await _cancel_then_confirm(page, close, "Close the session for 3 participants?")
    await page.wait_for_timeout(500)
    assert (await ok(api, "GET", f"/api/v1/sessions/{sid}", mod))["status"] == "open"
    await close.click()
    await dialog.get_by_role("button", name="Close the session").click()
    await expect(page.locator("#session-status")).to_contain_text("This session has ended")
    assert (await ok(api, "GET", f"/api/v1/sessions/{sid}", mod))["status"] == "closed"
    await page.context.close()


KIND_FIELDS = {
    "single": {"#pc-options"},
    "multiple": {"#pc-options", "#pc-max"},
    "ranking": {"#pc-options"},
    "scale": {"#pc-smin", "#pc-smax", "#pc-lmin", "#pc-lmax"},
    "wordcloud": set(),
    "open": set(),
}


async def test_the_poll_form_shows_the_chosen_kind_and_rooms_by_name(
    api: Api, browser: Browser
) -> None:
    session = await api.make_session()
    sid, mod = session["id"], session["moderator_token"]
    for name in ("Anna", "Erik"):
        await api.join(session, name)
    page = await console(browser, api, session, "polls")
    form = page.locator("#poll-create form.poll-form")
    every = set().union(*KIND_FIELDS.values())
    for kind, shown in KIND_FIELDS.items():
        await form.get_by_label("Kind").select_option(kind)
        for field in every:
            if field in shown:
                await expect(form.locator(field)).to_be_visible()
            else:
                await expect(form.locator(field)).to_be_hidden()
        await page.screenshot(path=str(SHOTS / f"console-poll-form-{kind}-en.png"), full_page=False)

    # What a hidden field holds is not taken: a word cloud with options left from a choice.
    await form.get_by_label("Kind").select_option("single")
    await form.get_by_label("Options, one a line").fill("Ja\nNej")
    await form.get_by_label("Question").fill("Ett ord för samverkan")
    await form.get_by_label("Kind").select_option("wordcloud")
    await form.get_by_role("button", name="Save as draft").click()
    card = page.locator("#poll-control article", has_text="Ett ord för samverkan")
    await expect(card).to_contain_text("Word cloud")

    # Rooms are offered by name, live, and a room's poll says its room's name.
    await expect(form.locator("#pc-room option")).to_have_count(1)
    boards_for = page.locator("#board-room option")
    await expect(boards_for).to_have_count(1)
    rooms = await open_rooms(api, session, 2)
    await expect(form.locator("#pc-room option")).to_have_count(3)
    await expect(form.locator("#pc-room")).to_contain_text("Norrsken")
    await expect(boards_for).to_have_count(4)  # the plenary, every room, and the two
    await form.get_by_label("Question").fill("Vad tar ni med er?")
    await form.get_by_label("Kind").select_option("open")
    await form.get_by_label("Where").select_option(label="Fjällsippan")
    await form.get_by_role("button", name="Save as draft").click()
    card = page.locator("#poll-control article", has_text="Vad tar ni med er?")
    await expect(card).to_contain_text("Fjällsippan")
    listed = (await ok(api, "GET", f"/api/v1/sessions/{sid}", mod))["polls"]
    made = next(p for p in listed if p["question"] == "Vad tar ni med er?")
    assert made.get("room_id", rooms[1]["id"]) == rooms[1]["id"]
    html = await page.content()
    assert "Room " + rooms[1]["id"] not in html and f"room {rooms[1]['id']}" not in html
    await page.context.close()


async def test_a_poll_is_duplicated_and_polls_are_reused_from_another_session(
    api: Api, browser: Browser
) -> None:
    earlier = await api.make_session("Förra årets forum")
    org = await api.organiser_token()
    ranked = await ok(
        api,
        "POST",
        f"/api/v1/sessions/{earlier['id']}/polls",
        org,
        {
            "question": "Vad är viktigast?",
            "kind": "ranking",
            "options": ["Tid", "Pengar", "Folk"],
        },
    )
    await ok(
        api,
        "POST",
        f"/api/v1/sessions/{earlier['id']}/polls",
        org,
        {
            "question": "Hur nöjd är du?",
            "kind": "scale",
            "scale": {"min": 1, "max": 7, "min_label": "Inte alls", "max_label": "Mycket"},
        },
    )
    session = await api.make_session("I år")
    sid = session["id"]

    mine = await ok(
        api,
        "POST",
        f"/api/v1/sessions/{sid}/polls",
        org,
        {"question": "Ska vi ses igen?", "kind": "single", "options": ["Ja", "Nej"]},
    )
    await ok(api, "POST", f"/api/v1/polls/{mine['id']}/open", org)
    await ok(api, "POST", f"/api/v1/polls/{mine['id']}/duplicate", org)
    await ok(
        api,
        "POST",
        f"/api/v1/sessions/{sid}/polls/import",
        org,
        {"from_session_id": earlier["id"], "poll_ids": [ranked["id"]]},
    )

    # In the console of the organiser (signed in): Duplicate, and the reuse form.
    page = await console(browser, api, session, "polls", organiser=True)
    cards = page.locator("#poll-control article")
    await expect(cards).to_have_count(3)  # the poll, its copy, one reused
    first = cards.filter(has_text="Ska vi ses igen?").first
    await first.get_by_role("button", name="Duplicate").click()
    await expect(cards.filter(has_text="Ska vi ses igen?")).to_have_count(3)
    reuse = page.locator("#pc-reuse")
    await reuse.locator("summary").click()
    await reuse.get_by_label("Hur nöjd är du?").check()
    # The middle scrolled far down; the page itself still does not (nothing escapes it).
    assert await page.evaluate("document.documentElement.scrollHeight") <= CONSOLE["height"] + SLACK
    await page.screenshot(path=str(SHOTS / "console-reuse-en.png"))
    assert await axe_violations(page) == []
    await reuse.get_by_role("button", name="Add the chosen polls as drafts").click()
    await expect(cards.filter(has_text="Hur nöjd är du?")).to_have_count(1)
    await expect(cards).to_have_count(5)
    await expect(reuse).to_have_attribute("open", "")
    await page.context.close()
