"""The organiser's page from the outside: join questions built row by row, sessions listed
newest first with their dates, and a whole session duplicated as a template."""

from __future__ import annotations

import html
import re
from typing import Any

import httpx
from sqlalchemy import func, select, update
from sqlmodel import col

from live.pages.organiser_forms import Draft, Question, apply_op, key_for, questions_of
from rooms import accounts
from rooms.models import Session, utcnow
from rooms.polls.reading import options_of
from rooms.polls.tables import Ballot, Poll, PollVoter
from tests.conftest import Api
from tests.live.pages import csrf_of
from tests.live.test_archive_api import filled, ok, signed_in

OTHER_EMAIL = "other@samla.test"
OTHER_PASSWORD = "another long password"


def field_value(page: str, name: str) -> str:
    """The value a text field of the page shows (an input's value, a textarea's text)."""
    found = re.search(rf'<input[^>]*name="{re.escape(name)}"[^>]*value="([^"]*)"', page)
    if found is None:
        found = re.search(rf'<textarea[^>]*name="{re.escape(name)}"[^>]*>([^<]*)</textarea>', page)
    assert found is not None, f"no field {name}"
    return html.unescape(found.group(1))


async def post_form(client: httpx.AsyncClient, page: str, fields: dict[str, str]) -> httpx.Response:
    return await client.post("/organiser", data={"csrf": csrf_of(page), **fields})


# -- the rows, as plain functions -----------------------------------------------------------


def test_keys_come_from_labels_and_stay_unique() -> None:
    taken: set[str] = set()
    assert key_for("Nivå", taken) == "niva"
    assert key_for("Sektor / bransch", taken) == "sektor_bransch"
    assert key_for("nivå", taken) == "niva_2"
    assert key_for("2026 års roll", taken) == "q_2026_ars_roll"
    assert key_for("???", taken) == "q"


def test_rows_are_added_moved_and_removed_by_the_button_pressed() -> None:
    draft = Draft(questions=[Question("A", "1"), Question("B", "2"), Question("C", "3")])
    assert apply_op(draft, "down-0") and [q.label for q in draft.questions] == ["B", "A", "C"]
    assert draft.focus == "q-1-down"
    assert apply_op(draft, "up-2") and [q.label for q in draft.questions] == ["B", "C", "A"]
    assert apply_op(draft, "up-0") and [q.label for q in draft.questions] == ["B", "C", "A"]
    assert apply_op(draft, "remove-1") and [q.label for q in draft.questions] == ["B", "A"]
    assert apply_op(draft, "add") and len(draft.questions) == 3
    assert draft.focus == "q-2-label"
    assert not apply_op(draft, "create") and not apply_op(draft, "add-x")


def test_a_wrong_row_is_named_and_empty_rows_are_skipped() -> None:
    draft = Draft(
        questions=[
            Question("Sektor", "Ideell\nOffentlig\n"),
            Question("", ""),
            Question("Nivå", ""),
            Question("Roll", "Ja\nja"),
        ]
    )
    assert questions_of(draft) is None
    assert [q.error for q in draft.questions] == [None, None, "no_choices", "same_choice"]
    draft.questions[2].choices = "Lokal\nRegional"
    draft.questions[3].choices = "Ja\nNej"
    assert questions_of(draft) == [
        {"key": "sektor", "label": "Sektor", "choices": ["Ideell", "Offentlig"]},
        {"key": "niva", "label": "Nivå", "choices": ["Lokal", "Regional"]},
        {"key": "roll", "label": "Roll", "choices": ["Ja", "Nej"]},
    ]


# -- the page -----------------------------------------------------------------------------------


async def test_join_questions_are_built_with_the_form_added_reordered_and_removed(
    api: Api,
) -> None:
    async with signed_in(api) as browser:
        page = (await browser.get("/organiser")).text
        assert 'name="q-0-label"' not in page  # no question until one is added
        r = await post_form(browser, page, {"title": "Gruppsamtal", "op": "add"})
        assert r.status_code == 200 and 'id="q-0-label"' in r.text
        assert field_value(r.text, "title") == "Gruppsamtal"
        typed = {
            "title": "Gruppsamtal",
            "q-0-label": "Nivå",
            "q-0-choices": "Lokal\nRegional\nNationell",
            "op": "add",
        }
        r = await post_form(browser, r.text, typed)
        assert field_value(r.text, "q-0-label") == "Nivå" and 'id="q-1-label"' in r.text
        typed |= {"q-1-label": "Sektor", "q-1-choices": "Civilsamhälle\nOffentlig sektor"}
        r = await post_form(browser, r.text, typed | {"op": "add"})
        typed |= {"q-2-label": "Stryks", "q-2-choices": "x"}
        # Sektor first, then the third row goes.
        r = await post_form(browser, r.text, typed | {"op": "up-1"})
        assert field_value(r.text, "q-0-label") == "Sektor"
        assert field_value(r.text, "q-1-choices") == "Lokal\nRegional\nNationell"
        moved = {
            "title": "Gruppsamtal",
            "q-0-label": "Sektor",
            "q-0-choices": "Civilsamhälle\nOffentlig sektor",
            "q-1-label": "Nivå",
            "q-1-choices": "Lokal\nRegional\nNationell",
            "q-2-label": "Stryks",
            "q-2-choices": "x",
        }
        r = await post_form(browser, r.text, moved | {"op": "remove-2"})
        assert 'name="q-2-label"' not in r.text and "Stryks" not in r.text
        made = await post_form(browser, r.text, {k: v for k, v in moved.items() if "q-2" not in k})
        assert made.status_code == 200 and "Session created: Gruppsamtal" in made.text
    listed = await ok(await api.call("GET", "/api/v1/sessions", await api.organiser_token()))
    assert listed["sessions"][0]["attributes"] == [
        {"key": "sektor", "label": "Sektor", "choices": ["Civilsamhälle", "Offentlig sektor"]},
        {"key": "niva", "label": "Nivå", "choices": ["Lokal", "Regional", "Nationell"]},
    ]


async def test_a_wrong_join_question_says_which_and_keeps_everything_typed(api: Api) -> None:
    async with signed_in(api) as browser:
        page = (await browser.get("/organiser")).text
        typed = {
            "title": "Samverkan <i>på riktigt</i>",
            "q-0-label": "Sektor",
            "q-0-choices": "Civilsamhälle\nOffentlig sektor",
            "q-1-label": "Nivå",
            "q-1-choices": "",
        }
        r = await post_form(browser, page, typed)
        assert r.status_code == 422
        assert "Question 2: Write at least one choice, one a line." in r.text
        assert 'aria-invalid="true" aria-describedby="q-1-error"' in r.text
        assert "<i>" not in r.text  # what was typed comes back as text
        for name, value in typed.items():
            assert field_value(r.text, name) == value
        # Corrected, it is created.
        r = await post_form(browser, r.text, typed | {"q-1-choices": "Lokal\nNationell"})
        assert r.status_code == 200 and "Session created" in r.text
    listed = await ok(await api.call("GET", "/api/v1/sessions", await api.organiser_token()))
    assert [a["key"] for a in listed["sessions"][0]["attributes"]] == ["sektor", "niva"]
    assert len(listed["sessions"]) == 1  # the refused form made nothing


async def test_sessions_are_listed_newest_first_with_their_dates(api: Api) -> None:
    old = await api.make_session("Förra årets forum")
    new = await api.make_session("Årets forum")
    store = api.served.samla.store

    async def back_date() -> None:
        async with store.write() as db:
            await db.execute(
                update(Session)
                .where(col(Session.id) == old["id"])
                .values(created_at=utcnow().replace(year=2025, month=12, day=1, hour=18, minute=29))
            )

    await api.served.run(back_date)
    async with signed_in(api) as browser:
        en = (await browser.get("/organiser")).text
        sv = (await browser.get("/organiser", headers={"Accept-Language": "sv"})).text
    assert en.index("Årets forum") < en.index("Förra årets forum")
    # Shown in TIME_ZONE (Stockholm: UTC+1 in December), as every page shows times.
    assert '<time datetime="2025-12-01T18:29Z">1 Dec 2025 19:29</time>' in en
    assert '<time datetime="2025-12-01T18:29Z">1 dec. 2025 19:29</time>' in sv
    assert f"/s/{new['id']}/moderator" in en and f"/j/{new['code']}" in en
    assert f'href="{new["stage_url"]}"' in en  # the hall's PC opens it with no sign-in


async def _other_organiser(api: Api) -> str:
    async def add() -> None:
        async with api.served.samla.store.write() as db:
            await accounts.add_organiser(db, OTHER_EMAIL, OTHER_PASSWORD)

    await api.served.run(add)
    r = await api.call(
        "POST", "/api/v1/auth/token", json={"email": OTHER_EMAIL, "password": OTHER_PASSWORD}
    )
    token: str = (await ok(r))["token"]
    return token


async def _shape(api: Api, described: dict[str, Any], token: str) -> dict[str, Any]:
    """What a template keeps of a session: its questions, polls and boards (with columns)."""
    boards = [
        await ok(await api.call("GET", f"/api/v1/boards/{b['id']}", token))
        for b in described["boards"]
    ]

    async def polls() -> list[tuple[Any, ...]]:
        async with api.served.samla.store.read() as db:
            found = [await db.get(Poll, p["id"]) for p in described["polls"]]
            return [
                (
                    p.question,
                    p.kind,
                    p.room_id is None,
                    tuple(o.label for o in await options_of(db, p.id)),
                    (p.scale_min, p.scale_max, p.min_label, p.max_label, p.max_choices),
                    (p.show_results, p.allow_change),
                )
                for p in found
                if p is not None
            ]

    return {
        "attributes": described["attributes"],
        "polls": sorted(await api.served.run(polls)),
        "boards": sorted(
            (b["title"], tuple(c["title"] for c in b["columns"]), b["room_id"] is None)
            for b in boards
        ),
    }


async def test_a_session_duplicated_by_the_api_has_its_polls_boards_and_rooms_but_no_people(
    api: Api,
) -> None:
    made = await filled(api)
    sid = made["session"]["id"]
    token = await api.organiser_token()
    r = await api.call("POST", f"/api/v1/sessions/{sid}/duplicate", token)
    copy = await ok(r, 201)
    assert copy["id"] != sid and copy["code"] != made["session"]["code"]
    assert copy["title"] == "Samverkansforum 2026" and copy["moderator_token"].startswith("m_")
    assert copy["join_url"].endswith(f"/j/{copy['code']}")
    assert "/stage/" in copy["stage_url"] and copy["stage_url"] != made["session"]["stage_url"]
    original = await ok(await api.call("GET", f"/api/v1/sessions/{sid}", token))
    copied = await ok(await api.call("GET", f"/api/v1/sessions/{copy['id']}", token))
    assert original["polls"] and original["boards"] and original["participants"] == 4
    assert await _shape(api, copied, token) == await _shape(api, original, token)
    assert copied["participants"] == 0 and copied["status"] == "open"
    assert {p["status"] for p in copied["polls"]} == {"draft"}
    # The last round's rooms, prepared, with the rooms' boards and polls in them.
    last = [room for room in original["rooms"]]
    assert [(r["name"], r["status"]) for r in copied["rooms"]] == [
        (room["name"], "prepared") for room in last
    ]
    copied_rooms = {r["id"] for r in copied["rooms"]}
    assert {b["room_id"] for b in copied["boards"] if b["room_id"]} <= copied_rooms
    assert {p["room_id"] for p in copied["polls"] if p.get("room_id")} <= copied_rooms
    # Nothing anyone wrote or answered came along.
    moderator = copy["moderator_token"]
    for board in copied["boards"]:
        notes = await ok(await api.call("GET", f"/api/v1/boards/{board['id']}", moderator))
        assert notes["notes"] == []
    poll_ids = [p["id"] for p in copied["polls"]]

    async def answers() -> int:
        async with api.served.samla.store.read() as db:
            ballots = await db.scalar(select(func.count()).where(col(Ballot.poll_id).in_(poll_ids)))
            voters = await db.scalar(
                select(func.count()).where(col(PollVoter.poll_id).in_(poll_ids))
            )
            return int(ballots or 0) + int(voters or 0)

    assert await api.served.run(answers) == 0
    questions = await ok(
        await api.call("GET", f"/api/v1/sessions/{copy['id']}/questions", moderator)
    )
    assert questions["questions"] == []
    # A title of its own, if asked for.
    named = await ok(
        await api.call("POST", f"/api/v1/sessions/{sid}/duplicate", token, json={"title": "Nytt"}),
        201,
    )
    assert named["title"] == "Nytt"


async def test_only_the_organiser_who_owns_a_session_may_duplicate_it(api: Api) -> None:
    session = await api.make_session("Mitt forum")
    other = await _other_organiser(api)
    sid = session["id"]
    r = await api.call("POST", f"/api/v1/sessions/{sid}/duplicate", other)
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    r = await api.call("POST", f"/api/v1/sessions/{sid}/duplicate", session["moderator_token"])
    assert r.status_code == 403
    r = await api.call("POST", f"/api/v1/sessions/{sid}/duplicate")
    assert r.status_code in (401, 403)
    r = await api.call("POST", "/api/v1/sessions/nosuchsession/duplicate", other)
    assert r.status_code == 404
    listed = await ok(await api.call("GET", "/api/v1/sessions", await api.organiser_token()))
    assert len(listed["sessions"]) == 1
    # Nor from the page: the other organiser's browser is refused.
    async with httpx.AsyncClient(base_url=api.served.base, timeout=30) as browser:
        login = await browser.get("/login")
        await browser.post(
            "/login",
            data={"csrf": csrf_of(login.text), "email": OTHER_EMAIL, "password": OTHER_PASSWORD},
        )
        page = (await browser.get("/organiser")).text
        r = await browser.post(f"/organiser/sessions/{sid}/duplicate", data={"csrf": csrf_of(page)})
        assert r.status_code == 403
    listed = await ok(await api.call("GET", "/api/v1/sessions", await api.organiser_token()))
    assert len(listed["sessions"]) == 1


async def test_the_duplicate_button_makes_a_copy_with_its_own_moderator_link(api: Api) -> None:
    made = await filled(api)
    sid = made["session"]["id"]
    async with signed_in(api) as browser:
        page = (await browser.get("/organiser")).text
        assert f'action="/organiser/sessions/{sid}/duplicate"' in page
        r = await browser.post(
            f"/organiser/sessions/{sid}/duplicate",
            data={"csrf": csrf_of(page), "title": "Samverkansforum 2026 (copy)"},
        )
        assert r.status_code == 200
        assert "Copy created: Samverkansforum 2026 (copy)" in r.text
        link = re.search(r'value="(http[^"]*/moderate\?key=m_[^"]+)"', r.text)
        assert link is not None
        forged = await browser.post(f"/organiser/sessions/{sid}/duplicate", data={"csrf": "x"})
        assert forged.status_code == 403
    listed = await ok(await api.call("GET", "/api/v1/sessions", await api.organiser_token()))
    titles = [s["title"] for s in listed["sessions"]]
    assert titles == ["Samverkansforum 2026 (copy)", "Samverkansforum 2026"]
    copy_id = listed["sessions"][0]["id"]
    async with httpx.AsyncClient(base_url=api.served.base, timeout=30) as moderator:
        r = await moderator.get(link.group(1).replace(api.served.base, ""), follow_redirects=True)
        assert r.status_code == 200 and str(r.url).endswith(f"/s/{copy_id}/moderator")
