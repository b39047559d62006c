"""The event report's draft: curated sections of the event's notes, validated, saved against
its version, published and withdrawn; what the public page shows, and the summary rendered
without anything a person typed ever running."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from live.store import Store, migrate
from rooms import boards, lifecycle, sessions
from rooms.errors import Refused
from rooms.events import conferences, report
from rooms.models import Organiser, Report


@dataclass
class Forum:
    eid: str
    other_eid: str
    notes: dict[str, str]  # a short name -> the note's id


async def _note(
    db: Any, participant: Any, board_id: str, column: str, text: str, **more: Any
) -> str:
    made = await boards.add_note(db, participant, board_id, text=text, column=column, **more)
    return str(made.value[0]["id"])


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated store for the module; each test gets a copy (migrating takes seconds)."""
    path = tmp_path_factory.mktemp("report") / "samla.db"
    migrate(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture
async def store(migrated: Path, tmp_path: Path) -> AsyncIterator[Store]:
    copy = tmp_path / "samla.db"
    shutil.copy(migrated, copy)
    opened = Store(f"sqlite+aiosqlite:///{copy}")
    yield opened
    await opened.close()


@pytest.fixture
async def forum(store: Store) -> Forum:
    """An event with two sessions, each with a board and notes, and another event's note."""
    async with store.write() as db:
        # A row, not `accounts.add_organiser`: hashing a password costs seconds.
        kim = Organiser(email="kim@natverket.se", password_hash="-")
        db.add(kim)
        await db.flush()
        event = await conferences.create_conference(db, organiser_id=kim.id, title="Forum 2027")
        other = await conferences.create_conference(db, organiser_id=kim.id, title="Annat")
        notes: dict[str, str] = {}
        for n, conf in enumerate((event, event, other)):
            made = await sessions.create_session(
                db, title=f"Samtal {n + 1}", organiser_id=kim.id, conference=conf
            )
            sid = made.value.session.id
            board = (await boards.create_board(db, sid, template="phases")).value
            column = str(board.columns[0]["id"])
            anna = (await lifecycle.join(db, code=made.value.session.code, name="Anna")).value
            bo = (await lifecycle.join(db, code=made.value.session.code, name="Bo")).value
            notes[f"a{n}"] = await _note(
                db, anna.participant, board.id, column, f"Annas långa tanke {n}"
            )
            notes[f"b{n}"] = await _note(
                db, bo.participant, board.id, column, f"Bos anonyma idé {n}", anonymous=True
            )
    return Forum(event.id, other.id, notes)


def _draft(sections: list[dict[str, Any]], **more: Any) -> dict[str, Any]:
    return {"summary": "", "sections": sections, **more}


async def _save(store: Store, eid: str, version: int, **fields: Any) -> Report:
    async with store.write() as db:
        return await report.save_draft(db, eid, version=version, **fields)


async def test_a_new_report_starts_with_the_three_phases(store: Store, forum: Forum) -> None:
    async with store.write() as db:
        made = await report.report_of(db, forum.eid)
    assert [s["title"] for s in made.sections] == ["Inleda", "Fördjupa", "Utvärdera"]
    assert made.version == 0 and made.published_at is None


async def test_curated_sections_keep_order_and_shortened_wording_and_the_original(
    store: Store, forum: Forum
) -> None:
    n = forum.notes
    picked = [
        {"note_id": n["a1"], "text": "Kort: Annas tanke"},
        {"note_id": n["a0"]},
        {"note_id": n["b1"]},
    ]
    saved = await _save(
        store, forum.eid, 0, **_draft([{"id": "fas1", "title": "Inleda", "items": picked}])
    )
    assert saved.version == 1
    async with store.write() as db:
        await report.publish(db, forum.eid)
        shown = await report.published_report(db, forum.eid)
        original = await boards.note_by_id(db, n["a1"])
    assert shown is not None
    items = shown.sections[0].items
    assert [i.note_id for i in items] == [n["a1"], n["a0"], n["b1"]]
    assert [i.text for i in items] == [
        "Kort: Annas tanke",
        "Annas långa tanke 0",
        "Bos anonyma idé 1",
    ]
    assert items[0].original == "Annas långa tanke 1" == original.text
    as_json = report.curated_json(shown)["sections"][0]["items"][0]
    # The public JSON has what is published: the shortened wording, not the original.
    assert as_json["text"] == "Kort: Annas tanke" and "original" not in as_json


async def test_a_stale_version_is_refused_and_nothing_is_overwritten(
    store: Store, forum: Forum
) -> None:
    await _save(store, forum.eid, 0, summary="Första", sections=[])
    with pytest.raises(Refused) as refused:
        await _save(store, forum.eid, 0, summary="Andra", sections=[])
    assert refused.value.code == "conflict"
    assert refused.value.message == report.STALE
    async with store.read() as db:
        stored = await db.get(Report, forum.eid)
    assert stored is not None and stored.summary == "Första" and stored.version == 1


BAD_DRAFTS: list[tuple[dict[str, Any], str, str]] = [
    ({"summary": "x" * 20_001}, "invalid", "summary"),
    ({"sections": [{"title": f"S{i}", "items": []} for i in range(21)]}, "invalid", "20"),
    ({"sections": [{"title": "", "items": []}]}, "invalid", "sections[0].title"),
    ({"sections": [{"title": "x" * 121, "items": []}]}, "invalid", "sections[0].title"),
    (
        {"sections": [{"title": "S", "items": [{"note_id": "a1", "text": "x" * 1001}]}]},
        "invalid",
        "sections[0].items[0].text",
    ),
    (
        {"sections": [{"title": "S", "items": [{"note_id": "nosuchnote"}]}]},
        "invalid",
        "sections[0].items[0].note_id",
    ),
    (
        {"sections": [{"title": "S", "items": [{"note_id": "a2"}]}]},
        "forbidden",
        "not from one of this event's sessions",
    ),
    (
        {"sections": [{"title": "S", "items": [{"note_id": "a0"}, {"note_id": "a0"}]}]},
        "invalid",
        "picked twice",
    ),
    (
        {"sections": [{"title": "S", "items": [{"note_id": "a0"}]}], "omitted": ["a0"]},
        "invalid",
        "omitted",
    ),
    ({"omitted": ["a2"]}, "forbidden", "omitted[0]"),
]


async def test_a_bad_draft_is_refused_naming_the_field(store: Store, forum: Forum) -> None:
    for change, code, names in BAD_DRAFTS:
        fields: dict[str, Any] = {"summary": "", "sections": [], **change}
        for s in fields["sections"]:
            for item in s["items"]:
                item["note_id"] = forum.notes.get(item["note_id"], item["note_id"])
        fields["omitted"] = [forum.notes.get(o, o) for o in fields.get("omitted", [])]
        with pytest.raises(Refused) as refused:
            await _save(store, forum.eid, 0, **fields)
        assert refused.value.code == code, change
        assert names in refused.value.message, (change, refused.value.message)
    async with store.read() as db:
        stored = await db.get(Report, forum.eid)
    assert stored is None or stored.version == 0


def test_more_than_200_items_are_refused() -> None:
    items = [{"note_id": f"n{i}"} for i in range(201)]
    with pytest.raises(Refused, match="at most 200"):
        report.validate_draft(summary="", sections=[{"title": "S", "items": items}])


async def test_names_only_with_names_and_only_where_the_author_showed_one(
    store: Store, forum: Forum
) -> None:
    n = forum.notes
    items = [{"note_id": n["a0"]}, {"note_id": n["b0"]}]
    sections = [{"title": "S", "items": items}]
    await _save(store, forum.eid, 0, summary="", sections=sections, with_names=False)
    async with store.write() as db:
        await report.publish(db, forum.eid)
        without = await report.published_report(db, forum.eid)
    await _save(store, forum.eid, 1, summary="", sections=sections, with_names=True)
    async with store.read() as db:
        named = await report.published_report(db, forum.eid)
    assert without is not None and named is not None
    assert [i.author for i in without.sections[0].items] == [None, None]
    assert [i.author for i in named.sections[0].items] == ["Anna", None]  # Bo wrote anonymously


async def test_withdrawn_and_deleted_reports_are_not_shown(store: Store, forum: Forum) -> None:
    async with store.write() as db:
        assert await report.published_report(db, forum.eid) is None  # a draft only
        await report.publish(db, forum.eid)
    async with store.write() as db:
        assert await report.published_report(db, forum.eid) is not None
        await report.withdraw(db, forum.eid)
    async with store.write() as db:
        assert await report.published_report(db, forum.eid) is None
        await report.publish(db, forum.eid)
    async with store.write() as db:
        await conferences.delete_conference(db, forum.eid)
    async with store.read() as db:
        assert await db.get(Report, forum.eid) is None  # the foreign key cascades
        assert await report.published_report(db, forum.eid) is None


async def test_left_out_notes_and_hidden_notes_leave_the_report(store: Store, forum: Forum) -> None:
    n = forum.notes
    sections = [{"title": "S", "items": [{"note_id": n["a0"]}, {"note_id": n["a1"]}]}]
    await _save(store, forum.eid, 0, summary="", sections=sections, omitted=[n["b0"]])
    async with store.write() as db:
        note = await boards.note_by_id(db, n["a1"])
        note.hidden = True
        db.add(note)
        await report.publish(db, forum.eid)
    async with store.read() as db:
        shown = await report.published_report(db, forum.eid)
    assert shown is not None
    assert [i.note_id for i in shown.sections[0].items] == [n["a0"]]


def test_the_summary_renders_no_html_or_script_links() -> None:
    html = report.summary_html(
        "# Rubrik\n\n<script>alert(1)</script> <img src=x onerror=alert(2)>\n\n"
        "[ok](https://example.se) [bad](javascript:alert(3)) ![bild](https://x.se/a.png)"
    )
    assert "<h3>Rubrik</h3>" in html
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;" in html
    assert 'href="https://example.se" rel="noopener noreferrer"' in html
    assert "javascript:" not in html.replace("[bad](javascript:alert(3))", "")
    assert 'href="javascript' not in html


def test_partners_without_an_organisation_are_the_organisers_mail_domains() -> None:
    emails = ["kim@Natverket.se", "eva@kommun.se", "bo@natverket.se"]
    organisers = [Organiser(email=e, password_hash="-") for e in emails]
    assert report.partners_of(organisers) == ("natverket.se", "kommun.se")


async def test_cards_links_are_listed_by_kind_and_only_http_links_are_kept(
    store: Store, forum: Forum
) -> None:
    n = forum.notes
    cards = {
        "a0": {"link": "https://natverket.se/metod", "kind": "Arbetssätt och metoder"},
        "b0": {"link": "javascript:alert(1)", "kind": "Lästips"},
        "a1": {"link": "https://bibliotek.se/bok", "kind": "Lästips"},
        "b1": {"link": "http://forum.se", "kind": "Lästips"},
    }
    async with store.write() as db:
        for short, fields in cards.items():
            note = await boards.note_by_id(db, n[short])
            note.fields = fields
            db.add(note)
    await _save(store, forum.eid, 0, summary="", sections=[], omitted=[n["b1"]])
    async with store.write() as db:
        await report.publish(db, forum.eid)
        shown = await report.published_report(db, forum.eid)
    assert shown is not None
    listed = {g.kind: [link.url for link in g.links] for g in shown.links}
    assert listed == {
        "Arbetssätt och metoder": ["https://natverket.se/metod"],
        "Lästips": ["https://bibliotek.se/bok"],  # the javascript: one and a left-out one: gone
    }


async def test_a_link_shared_on_several_cards_is_listed_once(store: Store, forum: Forum) -> None:
    n = forum.notes
    same = {"link": "https://natverket.se/metod", "kind": "Arbetssätt och metoder"}
    async with store.write() as db:
        for short in ("a0", "a1"):  # the same example, shared in two sessions
            note = await boards.note_by_id(db, n[short])
            note.fields = dict(same)
            db.add(note)
    await _save(store, forum.eid, 0, summary="", sections=[])
    async with store.write() as db:
        await report.publish(db, forum.eid)
        shown = await report.published_report(db, forum.eid)
    assert shown is not None
    assert [[link.url for link in g.links] for g in shown.links] == [[same["link"]]]
