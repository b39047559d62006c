"""The organiser's organisation in a real headless Chromium: set with the organiser page's
form at the console's size and on a phone, a refusal that keeps what was typed and puts the
cursor back in the field, the event's page listing each organiser with theirs, and the
editor and the public report saying who the event is run with. axe-core finds nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from tests.conftest import CONSOLE, ORGANISER_EMAIL, ORGANISER_PASSWORD, PHONE, Api, axe_violations
from tests.live.test_organisation import PARTNER, WITHOUT, organised_by_three

SHOTS = Path("/tmp/shots/partners")


async def signed_in_page(api: Api, browser: Any, viewport: dict[str, int], lang: str) -> Any:
    await api.organiser_token()  # the account exists
    page = await browser.new_page(viewport=viewport, locale="sv-SE" if lang == "sv" else "en-GB")
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on(
        "console",
        lambda m: (
            problems.append(m.text)
            if m.type == "error"
            and not m.location.get("url", "").endswith("/favicon.ico")
            and "status of 422" not in m.text  # the refused form's answer, on purpose
            else None
        ),
    )
    page.problems = problems
    base = api.served.base
    await page.goto(f"{base}/login")
    await page.locator("#email").fill(ORGANISER_EMAIL)
    await page.locator("#password").fill(ORGANISER_PASSWORD)
    await page.locator("form[action^='/login'] button[type=submit]").click()
    await page.wait_for_url(f"{base}/organiser")
    return page


@pytest.mark.parametrize(("size", "viewport"), [("console", CONSOLE), ("phone", PHONE)])
async def test_an_organiser_sets_their_organisation_and_a_refusal_keeps_what_was_typed(
    api: Api, browser: Any, size: str, viewport: dict[str, int]
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = await signed_in_page(api, browser, viewport, "en")
    field = page.locator("#organisation")
    assert await field.input_value() == ""
    assert await field.get_attribute("maxlength") == "120"
    await page.locator(".org-account").screenshot(path=str(SHOTS / f"organisation-{size}.png"))

    # An address is refused, saying why; what was typed stays and the cursor is back in it.
    await field.fill("kim@natverket.se")
    await page.locator("#save-organisation").click()
    await page.locator("#organisation-error").wait_for()
    assert "not an email address" in await page.locator("#organisation-error").inner_text()
    assert await field.input_value() == "kim@natverket.se"
    assert await field.get_attribute("aria-invalid") == "true"
    await expect(field).to_be_focused()
    await page.screenshot(path=str(SHOTS / f"organisation-refused-{size}.png"))
    assert await axe_violations(page) == []

    await field.fill("Forum för Samverkan")
    await field.press("Enter")
    await page.locator(".org-saved").wait_for()
    assert await page.locator("#organisation").input_value() == "Forum för Samverkan"
    hint = await page.locator(".org-account .org-hint.muted").inner_text()
    assert "name you as Forum för Samverkan" in hint
    await page.locator(".org-account").screenshot(
        path=str(SHOTS / f"organisation-saved-{size}.png")
    )
    if size == "phone":  # nothing wider than the phone: no sideways scrolling
        assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert await axe_violations(page) == []
    assert page.problems == []


@pytest.mark.parametrize("lang", ["sv", "en"])
async def test_the_event_page_editor_and_public_report_show_who_the_event_is_run_with(
    api: Api, browser: Any, lang: str
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    eid = await organised_by_three(api)
    page = await signed_in_page(api, browser, CONSOLE, lang)
    base = api.served.base
    await page.goto(f"{base}/organiser/events/{eid}")
    people = page.locator(".org-people-list li")
    texts = [t.replace("\n", " ") for t in await people.all_inner_texts()]
    assert "Forum för Samverkan" in texts[0] and ORGANISER_EMAIL in texts[0]
    assert PARTNER[0] in texts[1] and PARTNER[1] in texts[1]
    assert WITHOUT in texts[2]
    await page.locator(".org-side").screenshot(path=str(SHOTS / f"event-organisers-{lang}.png"))
    assert await axe_violations(page) == []

    named = "Forum för Samverkan, Länsstyrelsen Exempel, kommun.se"
    cooperation = "I samarbete med" if lang == "sv" else "In cooperation with"
    await page.goto(f"{base}/organiser/events/{eid}/report")
    assert await page.locator(".re-partners").inner_text() == f"{cooperation} {named}"
    await page.screenshot(path=str(SHOTS / f"editor-{lang}.png"))
    await page.locator("button[name=op][value=publish]").click()
    await page.wait_for_url(f"{base}/organiser/events/{eid}/report?done=published")

    public = await browser.new_page(viewport=PHONE, locale="sv-SE" if lang == "sv" else "en-GB")
    await public.goto(f"{base}/e/{eid}/report")
    assert await public.locator(".report-partners").inner_text() == f"{cooperation} {named}"
    assert "@" not in await public.locator("body").inner_text()
    await public.screenshot(path=str(SHOTS / f"report-phone-{lang}.png"))
    assert await axe_violations(public) == []
    assert page.problems == []
