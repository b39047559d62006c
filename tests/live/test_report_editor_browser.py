"""The event report in a real headless Chromium: an organiser picks three notes from two
sessions into a section, reorders them, writes a summary (saved as they type), publishes,
and a second browser without sign-in reads the public page, where nothing a person typed
runs; the page prints to a PDF whose headings stay with their text; axe-core finds nothing.
A save based on a stale version shows its message and keeps what was typed."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.conftest import Api, axe_violations
from tests.live.test_organiser_browser import _signed_in_page
from tests.live.test_report_editor import SCRIPT, an_event

# Swedish once the catalog has the new strings (until then, the English they fall back to).
SAVED = re.compile("Utkastet är sparat|Draft saved")
SHOTS = Path("/tmp/shots")
STALE = re.compile("Någon annan sparade rapporten|Someone else saved the report")


async def test_an_organiser_curates_publishes_and_a_second_browser_reads_and_prints(
    api: Api, browser: Any
) -> None:
    event = await an_event(api)
    eid, n = event["eid"], event["notes"]
    page = await _signed_in_page(api, browser, "sv")
    await page.goto(f"{api.served.base}/organiser/events/{eid}/report")
    assert await page.locator("#s-0-title").input_value() == "Inleda"

    picks = [n["Tydliga roller 0"], n["Långsiktig finansiering 1"], n[SCRIPT]]
    for nid in picks:
        await page.locator("#re-target").select_option("0")
        async with page.expect_navigation():
            await page.locator(f"#pick-{nid} button[value='add:{nid}']").click()
    async with page.expect_navigation():
        await page.locator("button[value='down:0:0']").click()  # the first goes second
    order = await page.locator("input[name='s-0-note']").evaluate_all(
        "els => els.map(e => e.value)"
    )
    assert order == [picks[1], picks[0], picks[2]]

    # Typed, then saved by the page itself once typing stops.
    await page.locator(f"#short-{picks[1]}").fill("Pengar över tid")
    await page.locator("#re-summary-text").fill(
        "# Vad vi hörde\n\nTre pass, **ett** budskap.\n\n<script>document.title='pwned'</script>"
    )
    await page.locator("#re-status").get_by_text(SAVED).wait_for()
    SHOTS.mkdir(exist_ok=True)
    await page.screenshot(path=SHOTS / "report-editor.png")
    assert await axe_violations(page) == []
    async with page.expect_navigation():
        await page.locator("button[value='publish']").click()
    public_url = await page.locator("#re-public-url").input_value()
    assert public_url.endswith(f"/e/{eid}/report")

    # A second browser, signed in nowhere.
    reader_context = await browser.new_context(locale="sv-SE")
    reader = await reader_context.new_page()
    ran: list[str] = []
    reader.on("dialog", lambda d: ran.append(d.message))
    response = await reader.goto(public_url)
    assert response is not None and response.status == 200
    assert await reader.locator("h1").inner_text() == "Samverkansforum 2027"
    items = await reader.locator(".report-section .report-item").all_inner_texts()
    assert [i.split(" —")[0] for i in items] == [
        "Pengar över tid",
        "Tydliga roller 0",
        SCRIPT,  # shown as the text it is
    ]
    assert await reader.locator(".report-summary h3").inner_text() == "Vad vi hörde"
    assert await reader.title() != "pwned" and ran == []
    assert await reader.locator("main script, main img").count() == 0
    assert await axe_violations(reader) == []
    await reader.screenshot(path=SHOTS / "report-published.png", full_page=True)

    # Printed: A4 pages, each heading kept with what follows, no item split.
    await reader.emulate_media(media="print")
    breaks = await reader.evaluate(
        """() => ({
            heading: getComputedStyle(document.querySelector('.report-section h2')).breakAfter,
            item: getComputedStyle(document.querySelector('.report-item')).breakInside,
            header: getComputedStyle(document.querySelector('header.top')).display,
        })"""
    )
    assert breaks == {"heading": "avoid", "item": "avoid", "header": "none"}
    pdf = await reader.pdf(format="A4")
    assert pdf.startswith(b"%PDF") and pdf.count(b"/Type /Page") >= 1
    await reader_context.close()

    # Someone saves meanwhile: the page says so and keeps what is typed here.
    token = await api.organiser_token()
    draft = (await api.call("GET", f"/api/v1/events/{eid}/report", token)).json()
    r = await api.call("PUT", f"/api/v1/events/{eid}/report", token, json=draft)
    assert r.status_code == 200, r.text
    await page.locator("#re-summary-text").fill("Min text, inte deras")
    await page.locator("#re-status").get_by_text(STALE).wait_for()
    assert await page.locator("#re-summary-text").input_value() == "Min text, inte deras"
    assert page.problems == [] or all("409" in p for p in page.problems)
    await page.close()


async def test_leaving_with_typing_not_yet_saved_asks_first(api: Api, browser: Any) -> None:
    event = await an_event(api)
    page = await _signed_in_page(api, browser, "sv")
    editor = f"{api.served.base}/organiser/events/{event['eid']}/report"
    await page.goto(editor)
    asked: list[str] = []

    async def dismissed(dialog: Any) -> None:
        asked.append(dialog.type)
        await dialog.dismiss()

    page.on("dialog", dismissed)
    await page.locator("#re-summary-text").click()
    await page.locator("#re-summary-text").press_sequentially("Inte sparat än")
    # Leaving before the pause that saves it is over: the browser asks, and stays if told.
    await page.evaluate("() => { location.href = '/'; }")
    await page.wait_for_timeout(500)
    assert asked == ["beforeunload"] and page.url == editor
    assert await page.locator("#re-summary-text").input_value() == "Inte sparat än"
    # Once saved, it leaves without asking.
    await page.locator("#re-status").get_by_text(SAVED).wait_for()
    async with page.expect_navigation():
        await page.evaluate("() => { location.href = '/'; }")
    assert asked == ["beforeunload"]
    await page.close()
