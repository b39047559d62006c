"""The HTML report and the organiser page in a real headless Chromium."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, async_playwright

from tests.conftest import ORGANISER_EMAIL, ORGANISER_PASSWORD, Api, axe_violations
from tests.live.test_archive_api import archive_url, filled, needles_of, ok, remnants

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-gpu",
]
TRAP = '<script>window.pwned=1</script><img src=x onerror="window.pwned=2">'


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        launched = await p.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        await launched.close()


async def test_the_html_report_opens_without_errors_runs_nothing_and_prints_to_pdf(
    api: Api, browser: Browser, tmp_path: Path
) -> None:
    made = await filled(api)
    sid, mod = made["session"]["id"], made["session"]["moderator_token"]
    # A participant's name is user text too: it reaches the report where they chose one.
    trap = await api.join(made["session"], TRAP)
    if made["notes"]:
        board_id = (await ok(await api.call("GET", f"/api/v1/sessions/{sid}", mod)))["boards"][0]
        r = await api.call(
            "POST",
            f"/api/v1/boards/{board_id['id']}/notes",
            trap["token"],
            json={"text": TRAP, "column": made["notes"][0]["column"]},
        )
        assert r.status_code == 201, r.text
    r = await api.call("GET", archive_url(sid, format="html"), mod)
    assert r.status_code == 200
    report = tmp_path / "report.html"
    report.write_bytes(r.content)

    page = await browser.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on(
        "request",
        lambda req: (
            None
            if req.url.startswith(("file:", "data:"))
            else problems.append(f"fetched {req.url}")
        ),
    )
    await page.goto(report.as_uri())
    assert await page.title() == "Samverkansforum 2026 · Report"
    headings = await page.locator("h2").all_inner_texts()
    assert headings[0] == "Participation" and headings[-1] == "Questions"
    assert await page.evaluate("window.pwned") is None
    assert await page.locator("script").count() == 0
    if made["notes"]:
        assert await page.get_by_text(TRAP).count() >= 1  # shown as text, not run
        for note in made["notes"]:
            assert await page.get_by_text(note["text"], exact=True).count() >= 1
    headings = await page.locator("h3").all_inner_texts()
    for poll in made["polls"]:
        assert f"Poll: {poll['question']}" in headings
    # Every poll once in its section and once side by side.
    assert await page.locator("section.poll").count() == len(made["polls"])
    assert await page.locator("#polls-side-by-side tbody tr").count() == len(made["polls"])
    pdf = await page.pdf(format="A4", print_background=True)
    assert pdf.startswith(b"%PDF") and len(pdf) > 5_000
    assert problems == []


async def sign_in(page: Any, base: str) -> None:
    await page.goto(f"{base}/login")
    await page.get_by_label("Email").fill(ORGANISER_EMAIL)
    await page.get_by_label("Password").fill(ORGANISER_PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(f"{base}/organiser")


async def test_the_organiser_downloads_a_report_and_deletes_a_session_after_confirming(
    api: Api, browser: Browser
) -> None:
    made = await filled(api)
    sid = made["session"]["id"]
    await ok(
        await api.call("POST", f"/api/v1/sessions/{sid}/close", made["session"]["moderator_token"])
    )
    base = api.served.base
    page = await browser.new_page(viewport={"width": 360, "height": 740}, accept_downloads=True)
    problems: list[str] = []
    # Chromium asks every site for /favicon.ico, which Samla does not serve.
    page.on(
        "console",
        lambda m: (
            problems.append(m.text)
            if m.type == "error" and not m.location.get("url", "").endswith("/favicon.ico")
            else None
        ),
    )
    page.on(
        "response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None
    )
    await sign_in(page, base)
    row = page.get_by_role("article").filter(has_text="Samverkansforum 2026")
    await row.get_by_text("Deleted automatically on").wait_for()
    await row.get_by_text("Download the archive").click()
    async with page.expect_download() as info:
        await row.get_by_role("link", name="Word").click()
    download = await info.value
    assert download.suggested_filename.startswith("samla-samverkansforum-2026-")
    assert download.suggested_filename.endswith(".docx")

    await row.get_by_role("link", name="Delete…").click()
    await page.get_by_role("heading", name="Delete “Samverkansforum 2026”?").wait_for()
    assert await remnants(api.served.samla.store, needles_of(made))
    await page.get_by_role("button", name="Delete the session and all its data").click()
    await page.wait_for_url(f"{base}/organiser?deleted=1")
    await page.get_by_text("The session and everything in it was deleted.").wait_for()
    assert await page.get_by_role("article").filter(has_text="Samverkansforum 2026").count() == 0
    assert await remnants(api.served.samla.store, needles_of(made)) == []
    assert problems == []


@pytest.mark.parametrize("lang", ["sv", "en"])
async def test_the_html_report_has_landmarks_and_axe_finds_nothing(
    api: Api, browser: Browser, tmp_path: Path, lang: str
) -> None:
    made = await filled(api)
    sid, mod = made["session"]["id"], made["session"]["moderator_token"]
    r = await api.client.get(
        archive_url(sid, format="html"),
        headers={"Authorization": f"Bearer {mod}", "Accept-Language": lang},
    )
    assert r.status_code == 200
    report = tmp_path / "report.html"
    report.write_bytes(r.content)
    page = await browser.new_page()
    await page.goto(report.as_uri())
    assert await page.get_attribute("html", "lang") == lang
    for role in ("banner", "navigation", "main", "contentinfo"):
        assert await page.get_by_role(role).count() == 1, role
    # The contents lead to every section, and nothing outside a landmark.
    links = page.get_by_role("navigation").get_by_role("link")
    targets = [await link.get_attribute("href") for link in await links.all()]
    assert len(targets) == await page.locator("main h2").count()
    for target in targets:
        assert target is not None and await page.locator(f"main h2{target}").count() == 1
    assert await page.locator("body > :not(header, nav, main, footer)").count() == 0
    await page.set_viewport_size({"width": 1280, "height": 900})
    await page.screenshot(path=f"/tmp/shots/report-{lang}.png")
    assert await axe_violations(page) == []
