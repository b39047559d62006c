"""The organiser's page in a real headless Chromium at the console's size, in Swedish and
English: join questions built row by row, a refusal that keeps what was typed, a session
duplicated with its button, and an event with its programme, its own page and the <dialog>
that asks before it is deleted. axe-core finds nothing in any of these states."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from tests.conftest import CONSOLE, ORGANISER_EMAIL, ORGANISER_PASSWORD, Api, axe_violations
from tests.live.test_organiser_events import KIM, add_account

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
    # The new page's autofocus is applied at its next rendering, after the click returns.
    await expect(page.locator("#q-1-label")).to_be_focused()
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


async def _event_with_programme(api: Api) -> dict[str, Any]:
    """An event made by the API: two sessions at their times, a co-organiser, a registration."""
    token = await api.organiser_token()
    r = await api.call(
        "POST",
        "/api/v1/events",
        token,
        json={
            "title": "Nationellt forum för samverkan 2027",
            "description": "Två dagar om samverkan mellan civilsamhälle och offentlig sektor.",
            "starts_at": "2027-03-03T08:00:00Z",
            "ends_at": "2027-03-04T15:00:00Z",
            "attributes": [
                {"key": "sektor", "label": "Sektor", "choices": ["Civilsamhälle", "Offentlig"]},
                {"key": "niva", "label": "Nivå", "choices": ["Lokal", "Regional", "Nationell"]},
            ],
            "registration": {"open": True, "closes_at": "2027-02-20T22:59:00Z"},
        },
    )
    assert r.status_code == 201, r.text
    event: dict[str, Any] = r.json()
    for title, at in (
        ("Gruppsamtal: att inleda samverkan", "2027-03-03T12:00:00Z"),
        ("Inledning i storgrupp", "2027-03-03T08:15:00Z"),
    ):
        body = {"title": title, "event_id": event["id"], "starts_at": at}
        made = await api.call("POST", "/api/v1/sessions", token, json=body)
        assert made.status_code == 201, made.text
    await add_account(api, *KIM)
    r = await api.call(
        "POST", f"/api/v1/events/{event['id']}/organisers", token, json={"email": KIM[0]}
    )
    assert r.status_code == 201, r.text
    r = await api.call(
        "POST",
        f"/api/v1/events/{event['id']}/registrations",
        json={
            "name": "Ada",
            "email": "ada@example.org",
            "attributes": {"sektor": "Civilsamhälle", "niva": "Lokal"},
            "consent": True,
        },
    )
    assert r.status_code == 201, r.text
    await api.make_session("Styrgruppsmöte")  # outside the event
    return event


@pytest.mark.parametrize("lang", ["sv", "en"])
async def test_the_organiser_sees_an_event_with_its_programme_and_runs_it_from_its_page(
    api: Api, browser: Any, lang: str
) -> None:
    SHOTS.mkdir(exist_ok=True)
    event = await _event_with_programme(api)
    page = await _signed_in_page(api, browser, lang)

    # The organiser page: the event, whose it is, its programme in time order; then the rest.
    card = page.locator(".org-event")
    await card.wait_for()
    whose = await card.locator(".org-whose").inner_text()
    arranger, with_ = ("Arrangör", "med") if lang == "sv" else ("Organiser", "with")
    assert whose == f"{arranger}: organiser@samla.test · {with_}: {KIM[0]}"
    programme = await card.locator(".org-session h4").all_inner_texts()
    assert [t.split("\n")[-1] for t in programme] == [
        "Inledning i storgrupp",
        "Gruppsamtal: att inleda samverkan",
    ]
    assert await page.locator(".session-list .org-session h3").all_inner_texts() == [
        "Styrgruppsmöte"
    ]
    await page.screenshot(path=str(SHOTS / f"organiser-events-{lang}.png"))
    assert await axe_violations(page) == []

    # The event's page: a session added at its time joins the programme in order.
    await card.locator("h3 a").click()
    await page.wait_for_url(f"{api.served.base}/organiser/events/{event['id']}")
    await page.locator("#session-title").fill("Panel: vad har vi lärt oss?")
    await page.locator("#session-starts").fill("2027-03-03T10:30")
    await page.locator("#add-session").click()
    await page.locator("#created-title").wait_for()
    rows = await page.locator(".org-schedule .org-what").all_inner_texts()
    assert rows == [
        "Inledning i storgrupp",
        "Panel: vad har vi lärt oss?",
        "Gruppsamtal: att inleda samverkan",
    ]
    assert "10:30" in await page.locator(".org-schedule li").nth(1).inner_text()
    await page.screenshot(path=str(SHOTS / f"organiser-event-{lang}.png"), full_page=True)
    assert await axe_violations(page) == []

    # Deleting asks in a <dialog> that names what goes; Cancel keeps everything.
    await page.locator("a[data-dialog=delete-event]").click()
    dialog = page.locator("#delete-event")
    await dialog.wait_for()
    question = await dialog.locator("h2").inner_text()
    assert question == (
        "Radera evenemanget ”Nationellt forum för samverkan 2027” med 3 programpunkter och "
        "1 anmälan?"
        if lang == "sv"
        else "Delete the event “Nationellt forum för samverkan 2027” with 3 sessions and "
        "1 registration?"
    )
    await page.screenshot(path=str(SHOTS / f"organiser-event-delete-{lang}.png"))
    assert await axe_violations(page) == []
    await dialog.locator("button[formmethod=dialog]").click()
    await dialog.wait_for(state="hidden")
    assert await page.locator(".org-schedule li").count() == 3

    # The page's address (the form's) switches language back to the event's page.
    other = "English" if lang == "sv" else "Svenska"
    await page.get_by_role("link", name=other).click()
    await page.wait_for_url(f"{api.served.base}/organiser/events/{event['id']}")
    switched = "en" if lang == "sv" else "sv"

    # A new event: an end before its start is named beside the field, nothing typed is lost.
    await page.goto(f"{api.served.base}/organiser/events/new")
    await page.locator("#event-title").fill("Uppföljningsmöte")
    await page.locator("#event-starts").fill("2027-05-10T13:00")
    await page.locator("#event-ends").fill("2027-05-10T09:00")
    await page.locator("#add-question").click()
    await page.locator("#q-0-label").fill("Region")
    await page.locator("#q-0-choices").fill("Norr\nSyd")
    await page.locator("input[name=access][value=invited]").check()
    await page.locator("#save-event").click()
    await page.locator("#ends_at-error").wait_for()
    assert await page.locator("#event-ends").get_attribute("aria-invalid") == "true"
    assert await page.locator("#q-0-choices").input_value() == "Norr\nSyd"
    assert await page.locator("input[name=access][value=invited]").is_checked()
    await page.screenshot(path=str(SHOTS / f"organiser-new-event-{switched}.png"), full_page=True)
    assert await axe_violations(page) == []
    await page.locator("#event-ends").fill("2027-05-10T16:00")
    await page.locator("#save-event").click()
    await page.locator(".org-done").wait_for()
    assert await page.locator("h1").inner_text() == "Uppföljningsmöte"
    assert page.problems == []
