"""The organiser's page in a real headless Chromium at the console's size, in Swedish and
English: join questions built row by row, a refusal that keeps what was typed, and a
session duplicated with its button. axe-core finds nothing in any of these states."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CONSOLE, ORGANISER_EMAIL, ORGANISER_PASSWORD, Api, axe_violations

SHOTS = Path("/tmp/shots")


async def _signed_in_page(api: Api, browser: Any, lang: str) -> Any:
    await api.organiser_token()  # the account exists
    page = await browser.new_page(viewport=CONSOLE, locale="sv-SE" if lang == "sv" else "en-GB")
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on(
        "console",
        lambda m: (
            problems.append(m.text)
            if m.type == "error"
            and not m.location.get("url", "").endswith("/favicon.ico")
            # The refused form's answer is a 422 on purpose.
            and "status of 422" not in m.text
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
    assert await page.locator("html").get_attribute("lang") == lang
    return page


@pytest.mark.parametrize("lang", ["sv", "en"])
async def test_the_organiser_builds_join_questions_and_duplicates_a_session(
    api: Api, browser: Any, lang: str
) -> None:
    SHOTS.mkdir(exist_ok=True)
    earlier = await api.make_session(
        "Samverkansforum 2026 — inledning",
        attributes=[{"key": "sektor", "label": "Sektor", "choices": ["Civilsamhälle", "Akademi"]}],
    )
    mod = earlier["moderator_token"]
    r = await api.call(
        "POST",
        f"/api/v1/sessions/{earlier['id']}/polls",
        mod,
        json={"question": "Vad behövs mest?", "kind": "single", "options": ["Tid", "Mandat"]},
    )
    assert r.status_code == 201, r.text
    await api.make_session("Gruppsamtal: att inleda samverkan")
    await api.join(earlier, "Ada", {"sektor": "Akademi"})
    page = await _signed_in_page(api, browser, lang)

    # Two questions, the second moved up; the cursor follows each step.
    await page.locator("#title").fill("Strategisk samverkan")
    await page.locator("#add-question").click()
    await page.locator("#q-0-label").fill("Nivå")
    await page.locator("#q-0-choices").fill("Lokal\nRegional\nNationell")
    await page.locator("#add-question").click()
    assert await page.evaluate("document.activeElement.id") == "q-1-label"
    await page.locator("#q-1-label").fill("Sektor")
    await page.locator("#q-1-choices").fill("Civilsamhälle\nOffentlig sektor")
    await page.locator("#q-1-up").click()
    assert await page.locator("#q-0-label").input_value() == "Sektor"
    assert await page.locator("#q-1-choices").input_value() == "Lokal\nRegional\nNationell"
    assert await page.locator("#title").input_value() == "Strategisk samverkan"
    # A row without choices is refused, named, and nothing typed is lost.
    await page.locator("#add-question").click()
    await page.locator("#q-2-label").fill("Roll")
    await page.locator("#create").click()
    await page.locator("#q-2-error").wait_for()
    assert await page.locator("#q-2-label").get_attribute("aria-invalid") == "true"
    assert await page.locator("#q-2-label").input_value() == "Roll"
    assert await page.locator("#q-0-choices").input_value() == "Civilsamhälle\nOffentlig sektor"
    await page.screenshot(path=str(SHOTS / f"organiser-error-{lang}.png"), full_page=True)
    assert await axe_violations(page) == []
    await page.locator("#q-2-remove").click()
    assert await page.locator("#q-2-label").count() == 0
    await page.locator("#create").click()
    await page.locator("#created-title").wait_for()
    await page.screenshot(path=str(SHOTS / f"organiser-created-{lang}.png"))
    assert await axe_violations(page) == []
    listed = (await api.call("GET", "/api/v1/sessions", await api.organiser_token())).json()
    assert listed["sessions"][0]["title"] == "Strategisk samverkan"
    assert [a["key"] for a in listed["sessions"][0]["attributes"]] == ["sektor", "niva"]

    # Newest first; the oldest is duplicated with its button.
    titles = await page.locator(".org-session h3").all_inner_texts()
    assert titles == [
        "Strategisk samverkan",
        "Gruppsamtal: att inleda samverkan",
        "Samverkansforum 2026 — inledning",
    ]
    await page.screenshot(path=str(SHOTS / f"organiser-{lang}.png"))
    oldest = page.locator(".org-session").filter(has_text="Samverkansforum 2026 — inledning")
    await oldest.locator(".org-duplicate button").click()
    await page.locator("#created-title").wait_for()
    assert "Samverkansforum 2026 — inledning" in await page.locator("#created-title").inner_text()
    assert await page.locator(".org-session").count() == 4
    assert await axe_violations(page) == []

    # Enter in a field creates the session; it never presses a row's buttons.
    await page.locator("#title").fill("Med Enter")
    await page.locator("#add-question").click()
    await page.locator("#q-0-choices").fill("Ja\nNej")
    await page.locator("#q-0-label").fill("Första gången?")
    await page.locator("#q-0-label").press("Enter")
    await page.locator("#created-title").wait_for()
    assert "Med Enter" in await page.locator("#created-title").inner_text()
    assert page.problems == []
