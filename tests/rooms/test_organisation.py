"""An organiser account's organisation: validated, set and removed, and named (the creator's
first, each once, else by the mail domain) wherever an event says who it is run with."""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from live.store import Store, migrate
from rooms import accounts
from rooms.errors import Refused
from rooms.events import archive_formats as writers
from rooms.events import conferences, report
from rooms.events.archive import build_event_archive
from rooms.models import ORGANISATION_MAX, Organiser


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("organisation") / "samla.db"
    migrate(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture
async def store(migrated: Path, tmp_path: Path) -> AsyncIterator[Store]:
    copy = tmp_path / "samla.db"
    shutil.copy(migrated, copy)
    opened = Store(f"sqlite+aiosqlite:///{copy}")
    yield opened
    await opened.close()


def org(email: str, organisation: str | None = None) -> Organiser:
    # A row, not `accounts.add_organiser`: hashing a password costs a noticeable moment.
    return Organiser(email=email, password_hash="-", organisation=organisation)


# -- the name ------------------------------------------------------------------------------


def test_an_organisation_is_trimmed_and_blank_is_none() -> None:
    assert accounts.organisation_name("  Forum  för\tSamverkan \n") == "Forum för Samverkan"
    assert accounts.organisation_name("") is None
    assert accounts.organisation_name("   ") is None
    assert accounts.organisation_name(None) is None
    assert accounts.organisation_name("x" * ORGANISATION_MAX) == "x" * ORGANISATION_MAX


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("x" * (ORGANISATION_MAX + 1), "The organisation is 121 characters; at most 120"),
        ("kim@natverket.se", "not an email address"),
        ("Nätverket (kontakt: kim@natverket.se)", "not an email address"),
        ("\u2063\u3164 ...", "The organisation shows nothing"),
        (42, "The organisation must be text."),
        ("Forum\u202efel", None),  # a direction mark is removed, never refused
        ("Forum\x00fel", None),  # so is a NUL (PostgreSQL could not even store it)
    ],
)
def test_an_organisation_that_is_too_long_an_address_or_nothing_is_refused_saying_why(
    typed: object, says: str | None
) -> None:
    if says is None:
        assert accounts.organisation_name(typed) == "Forumfel"
        return
    with pytest.raises(Refused) as refused:
        accounts.organisation_name(typed)
    assert refused.value.code == "invalid" and says in refused.value.message


async def test_an_organisation_is_set_changed_and_removed_and_a_refusal_changes_nothing(
    store: Store,
) -> None:
    async with store.write() as db:
        made = await accounts.add_organiser(
            db, "Kim@Natverket.se", "a long enough password", " Nätverket Idéburen samverkan "
        )
    assert made.organisation == "Nätverket Idéburen samverkan"
    async with store.write() as db:
        await accounts.set_organisation(db, made.id, "Forum för Samverkan")
    with pytest.raises(Refused):
        async with store.write() as db:
            await accounts.set_organisation(db, made.id, "y" * 500)
    async with store.read() as db:
        assert (await accounts.organiser_by_id(db, made.id)).organisation == "Forum för Samverkan"
    async with store.write() as db:
        await accounts.set_organisation(db, made.id, "  ")
    async with store.read() as db:
        assert (await accounts.organiser_by_id(db, made.id)).organisation is None
    with pytest.raises(Refused) as refused:
        async with store.write() as db:
            await accounts.add_organiser(db, "bo@kommun.se", "a long enough password", "=" * 200)
    assert refused.value.code == "invalid"
    with pytest.raises(Refused) as missing:
        async with store.write() as db:
            await accounts.set_organisation(db, "nosuchaccount", "Forum")
    assert missing.value.code == "not_found"


# -- "in cooperation with" ---------------------------------------------------------------------


def test_partners_are_the_distinct_organisations_else_the_mail_domain_in_order() -> None:
    organisers = [
        org("anna@lansstyrelsen.se", "Länsstyrelsen Exempel"),
        org("kim@natverket.se", "Forum för Samverkan"),
        org("bo@natverket.se", "forum för samverkan"),  # the same, in another case
        org("eva@kommun.se"),
        org("per@kommun.se"),
        org("ida@lansstyrelsen.se", "Länsstyrelsen Exempel"),
    ]
    assert report.partners_of(organisers) == (
        "Länsstyrelsen Exempel",
        "Forum för Samverkan",
        "kommun.se",
    )
    assert report.partners_of([]) == ()


async def test_the_report_and_the_event_archive_name_organisations_with_the_creator_first(
    store: Store,
) -> None:
    async with store.write() as db:
        people = [
            org("kim@natverket.se", "Forum för Samverkan"),
            org("anna@lansstyrelsen.se", "Länsstyrelsen Exempel"),
            org("eva@kommun.se"),
        ]
        db.add_all(people)
        await db.flush()
        kim, anna, eva = people
        # The creator has the address that sorts last: "creator first" is not by chance.
        event = await conferences.create_conference(db, organiser_id=eva.id, title="Forum")
        for added in (anna, kim):
            await conferences.add_organiser(db, event.id, added.email)
        stored = await report.report_of(db, event.id)
        await report.publish(db, event.id)
    async with store.read() as db:
        shown = await report.curated(db, event, stored)
        archive = await build_event_archive(db, event.id)
    partners = ("kommun.se", "Länsstyrelsen Exempel", "Forum för Samverkan")
    assert shown.partners == partners
    assert report.curated_json(shown)["partners"] == list(partners)
    assert "@" not in json.dumps(report.curated_json(shown))
    assert archive.event.partners == partners
    # The organisers' own archive keeps who they are, by email, beside the organisations.
    assert archive.event.organisers == ("eva@kommun.se", "anna@lansstyrelsen.se", kim.email)
    data = json.loads(writers.event_json_bytes(archive))
    assert data["event"]["partners"] == list(partners)
    assert data["event"]["organisers"] == list(archive.event.organisers)
    line = "In cooperation with: kommun.se, Länsstyrelsen Exempel, Forum för Samverkan"
    assert f"- {line}" in writers.event_markdown(archive)
    assert line in writers.facts(archive)
