"""An organiser's organisation from the outside: its migration both ways, the organiser
page's form (CSRF, limits, refusals that keep what was typed), the event's page listing each
organiser with theirs, and "in cooperation with" on the editor, the public report and the
demo's report."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from alembic import command
from sqlalchemy import select, text

from live.demo import event as demo_event
from live.demo import fill
from live.store import Store, _alembic_config
from rooms import accounts
from rooms.models import ORGANISATION_MAX, Organiser
from tests.conftest import ORGANISER_EMAIL, Api, Postgres, Served
from tests.live.pages import csrf_of
from tests.live.test_archive_api import ok, signed_in
from tests.live.test_organiser_events import text_of

PARTNER = ("anna@lansstyrelsen.se", "Länsstyrelsen Exempel")
WITHOUT = "eva@kommun.se"


# -- the migration ------------------------------------------------------------------------------


async def _columns(url: str) -> list[str]:
    store = Store(url)
    try:
        async with store.engine.connect() as conn:
            return await conn.run_sync(
                lambda sync: [c["name"] for c in sa.inspect(sync).get_columns("organiser")]
            )
    finally:
        await store.close()


async def _sql(url: str, statement: str, **values: Any) -> list[Any]:
    store = Store(url)
    try:
        async with store.write() as db:
            done = await db.execute(text(statement), values)
            return list(done.all()) if done.returns_rows else []
    finally:
        await store.close()


async def organisation_both_ways(url: str) -> None:
    """Up to 0010 the column is there and holds a name; down to 0009 it is gone and the
    account stays; up again it is back, empty."""
    config = _alembic_config(url)
    await asyncio.to_thread(command.upgrade, config, "0010")
    assert "organisation" in await _columns(url)
    await _sql(
        url,
        "INSERT INTO organiser (id, email, password_hash, created_at, organisation) "
        "VALUES ('o1', 'kim@natverket.se', '-', CURRENT_TIMESTAMP, :name)",
        name="Forum för Samverkan",
    )
    assert await _sql(url, "SELECT organisation FROM organiser") == [("Forum för Samverkan",)]
    await asyncio.to_thread(command.downgrade, config, "0009")
    assert "organisation" not in await _columns(url)
    assert await _sql(url, "SELECT email FROM organiser") == [("kim@natverket.se",)]
    await asyncio.to_thread(command.upgrade, config, "0010")
    assert await _sql(url, "SELECT email, organisation FROM organiser") == [
        ("kim@natverket.se", None)
    ]


async def test_the_organisation_column_comes_and_goes_with_its_migration(tmp_path: Path) -> None:
    await organisation_both_ways(f"sqlite+aiosqlite:///{tmp_path / 'm.db'}")


async def test_the_organisation_column_comes_and_goes_with_its_migration_on_postgresql(
    postgres: Postgres,
) -> None:
    await organisation_both_ways(await postgres.new_database())


# -- the organiser page's form --------------------------------------------------------------------


async def stored_organisation(api: Api, email: str = ORGANISER_EMAIL) -> str | None:
    async def read() -> str | None:
        async with api.served.samla.store.read() as db:
            found = await db.scalar(select(Organiser).where(Organiser.email == email))
            assert found is not None
            return found.organisation

    result: str | None = await api.served.run(read)
    return result


def field_value(page: str) -> str:
    found = re.search(r'<input id="organisation"[^>]*value="([^"]*)"', page)
    assert found is not None, "no organisation field"
    return found.group(1)


async def test_an_organiser_sets_changes_and_removes_their_organisation(api: Api) -> None:
    async with signed_in(api) as browser:
        page = (await browser.get("/organiser")).text
        assert "Your organisation" in page and field_value(page) == ""
        assert "Without an organisation" in page and "domain, samla.test." in page

        # Without the page's CSRF token, nothing changes.
        r = await browser.post("/organiser/organisation", data={"organisation": "Fel"})
        assert r.status_code == 403
        assert await stored_organisation(api) is None

        r = await browser.post(
            "/organiser/organisation",
            data={"csrf": csrf_of(page), "organisation": "  Forum  för Samverkan "},
        )
        assert r.status_code == 303
        assert r.headers["location"].endswith("/organiser?organisation=saved#organisation-title")
        page = (await browser.get(r.headers["location"])).text
        assert "Your organisation was saved." in page
        assert field_value(page) == "Forum för Samverkan"
        assert "name you as Forum för Samverkan" in page
        assert await stored_organisation(api) == "Forum för Samverkan"

        # Too long, or an address: refused, saying why, with what was typed kept.
        too_long = "Ö" * (ORGANISATION_MAX + 1)
        for typed, says in (
            (too_long, f"The organisation is {ORGANISATION_MAX + 1} characters; at most 120"),
            ("anna@lansstyrelsen.se", "give its name, not an email address"),
        ):
            r = await browser.post(
                "/organiser/organisation", data={"csrf": csrf_of(page), "organisation": typed}
            )
            assert r.status_code == 422
            assert says in r.text and 'aria-invalid="true"' in r.text
            assert field_value(r.text) == typed
            assert "Your organisation was saved." not in r.text
            assert await stored_organisation(api) == "Forum för Samverkan"

        # Changed, then removed (left blank).
        for typed, stored in (("Länsstyrelsen Exempel", "Länsstyrelsen Exempel"), (" ", None)):
            r = await browser.post(
                "/organiser/organisation", data={"csrf": csrf_of(page), "organisation": typed}
            )
            assert r.status_code == 303
            assert await stored_organisation(api) == stored
        page = (await browser.get("/organiser")).text
        assert field_value(page) == "" and "samla.test" in page


async def test_the_organisation_form_needs_a_signed_in_organiser(api: Api) -> None:
    async with httpx.AsyncClient(base_url=api.served.base) as anyone:
        r = await anyone.post("/organiser/organisation", data={"organisation": "Fel"})
        assert r.status_code == 303 and "/login" in r.headers["location"]
    async with signed_in(api) as browser:
        r = await browser.get("/organiser/organisation")
        assert r.status_code == 303 and r.headers["location"].endswith("/organiser")


# -- where the organisations are named -------------------------------------------------------------


async def organised_by_three(api: Api, **fields: Any) -> str:
    """An event of the test organiser (Forum för Samverkan), with a co-organiser of another
    organisation and one who gave none; its id."""

    async def accounts_of_three() -> None:
        async with api.served.samla.store.write() as db:
            found = await db.scalar(select(Organiser).where(Organiser.email == ORGANISER_EMAIL))
            assert found is not None
            await accounts.set_organisation(db, found.id, "Forum för Samverkan")
            db.add(Organiser(email=PARTNER[0], password_hash="-", organisation=PARTNER[1]))
            db.add(Organiser(email=WITHOUT, password_hash="-"))

    token = await api.organiser_token()
    await api.served.run(accounts_of_three)
    event = await ok(
        await api.call(
            "POST", "/api/v1/events", token, json={"title": "Samverkansforum 2026", **fields}
        ),
        201,
    )
    for email in (PARTNER[0], WITHOUT):
        r = await api.call(
            "POST", f"/api/v1/events/{event['id']}/organisers", token, json={"email": email}
        )
        assert r.status_code == 201, r.text
    eid: str = event["id"]
    return eid


NAMED = "Forum för Samverkan, Länsstyrelsen Exempel, kommun.se"


async def test_the_events_page_the_editor_and_the_public_report_name_the_organisations(
    api: Api,
) -> None:
    eid = await organised_by_three(api)
    token = await api.organiser_token()
    async with signed_in(api) as browser:
        shown = text_of((await browser.get(f"/organiser/events/{eid}")).text)
        assert f"{ORGANISER_EMAIL} (you) Forum för Samverkan Created the event" in shown
        assert f"{PARTNER[0]} {PARTNER[1]} Remove" in shown
        assert f"{WITHOUT} No organisation given Remove" in shown
        editor = text_of((await browser.get(f"/organiser/events/{eid}/report")).text)
        assert f"In cooperation with {NAMED}" in editor
    await ok(await api.call("POST", f"/api/v1/events/{eid}/report/publish", token))
    r = await api.client.get(f"/e/{eid}/report", headers={"Accept-Language": "sv"})
    assert r.status_code == 200
    public = text_of(r.text)
    assert f"I samarbete med {NAMED}" in public
    # A public page never shows a person's address: neither an organiser's nor anything like it.
    assert "@" not in public
    for email in (ORGANISER_EMAIL, PARTNER[0], WITHOUT):
        assert email not in r.text
    body = (await api.client.get(f"/e/{eid}/report.json")).json()
    assert body["partners"] == NAMED.split(", ")
    assert "@" not in str(body)


async def test_the_demos_published_report_is_in_cooperation_with_its_two_organisations(
    served: Served,
) -> None:
    printed = await fill(served.settings, served.base)
    found = re.search(r"/e/([\w-]+)/report", printed)
    assert found is not None
    assert demo_event.ORGANISATION in printed and demo_event.PARTNER_ORGANISATION in printed
    async with httpx.AsyncClient(base_url=served.base, timeout=30) as client:
        r = await client.get(f"/e/{found.group(1)}/report", headers={"Accept-Language": "sv"})
    assert r.status_code == 200
    assert (
        f"I samarbete med {demo_event.ORGANISATION}, {demo_event.PARTNER_ORGANISATION}"
        in text_of(r.text)
    )
    assert "@" not in text_of(r.text)
