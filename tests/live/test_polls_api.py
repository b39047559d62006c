"""The public API's polls, from the outside: a vote storm, bad input, anonymity, the stream."""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import sqlite3
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from live.screens.polls import answer_from_form, hiding_from_form, poll_from_form
from rooms.errors import Refused
from tests.conftest import Api, Served

OPTIONS = ["Tydliga roller", "Långsiktig finansiering", "Mandat", "Dokumentation"]


async def make_poll(api: Api, session: dict[str, Any], **body: Any) -> dict[str, Any]:
    body.setdefault("question", "Vad behövs mest?")
    body.setdefault("kind", "single")
    if body["kind"] in ("single", "multiple", "ranking"):
        body.setdefault("options", OPTIONS)
    r = await api.call(
        "POST", f"/api/v1/sessions/{session['id']}/polls", session["moderator_token"], json=body
    )
    assert r.status_code == 201, r.text
    poll: dict[str, Any] = r.json()
    return poll


async def open_poll(api: Api, session: dict[str, Any], poll: dict[str, Any]) -> None:
    r = await api.call("POST", f"/api/v1/polls/{poll['id']}/open", session["moderator_token"])
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "open"


async def close_poll(api: Api, session: dict[str, Any], poll: dict[str, Any]) -> None:
    r = await api.call("POST", f"/api/v1/polls/{poll['id']}/close", session["moderator_token"])
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "closed"


async def results(api: Api, token: str, poll: dict[str, Any]) -> dict[str, Any]:
    r = await api.call("GET", f"/api/v1/polls/{poll['id']}/results", token)
    assert r.status_code == 200, r.text
    found: dict[str, Any] = r.json()
    return found


def vote_path(poll: dict[str, Any]) -> str:
    return f"/api/v1/polls/{poll['id']}/votes"


def database(served: Served) -> sqlite3.Connection:
    path = served.settings.database_url.split("///", 1)[1]
    return sqlite3.connect(path)


async def into_a_room(api: Api, session: dict[str, Any], *people: dict[str, Any]) -> str:
    """Opens one breakout room, assigned by hand, and moves these people into it: its id."""
    mod = session["moderator_token"]
    r = await api.call(
        "POST",
        f"/api/v1/sessions/{session['id']}/rooms",
        mod,
        json={"count": 1, "assignment": "manual"},
    )
    assert r.status_code == 201, r.text
    room_id: str = r.json()["rooms"][0]["id"]
    for person in people:
        r = await api.call(
            "POST",
            f"/api/v1/rooms/{room_id}/members",
            mod,
            json={"participant_id": person["participant_id"]},
        )
        assert r.status_code == 200, r.text
    return room_id


# -- a storm of answers ------------------------------------------------------------------------


def answer_for(kind: str, poll: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    ids = [o["id"] for o in poll["options"]]
    if kind == "single":
        return {"choices": [rng.choice(ids)]}
    if kind == "multiple":
        return {"choices": rng.sample(ids, rng.randint(1, 2))}
    if kind == "ranking":
        return {"choices": rng.sample(ids, len(ids))}
    if kind == "scale":
        return {"value": rng.randint(0, 10)}
    if kind == "wordcloud":
        words = ["Tillit", "tillit ", "dialog!", "Mandat", "långsiktighet", "mod", "TID"]
        return {"words": rng.sample(words, rng.randint(1, 3))}
    return {"text": rng.choice(["Mer tid", "Tydligare roller", "Lyssna mer", "Fika"])}


def expected_results(kind: str, poll: dict[str, Any], ballots: list[dict[str, Any]]) -> Any:
    """What the results must be, computed here from the answers the API accepted."""
    if kind in ("single", "multiple"):
        counts = Counter(c for b in ballots for c in b["choices"])
        return {o["id"]: counts[o["id"]] for o in poll["options"]}
    if kind == "ranking":
        k = len(poll["options"])
        return {
            o["id"]: sum(k - 1 - b["choices"].index(o["id"]) for b in ballots)
            for o in poll["options"]
        }
    if kind == "scale":
        counts = Counter(b["value"] for b in ballots)
        return {v: counts[v] for v in range(0, 11)}
    if kind == "wordcloud":
        return Counter(
            w for b in ballots for w in {x.strip().strip("!").lower() for x in b["words"]}
        )
    return Counter(b["text"] for b in ballots)


def counted_results(kind: str, found: dict[str, Any]) -> Any:
    if kind in ("single", "multiple"):
        return {o["id"]: o["count"] for o in found["options"]}
    if kind == "ranking":
        return {o["id"]: o["score"] for o in found["options"]}
    if kind == "scale":
        return {o["value"]: o["count"] for o in found["options"]}
    if kind == "wordcloud":
        return Counter({w["word"]: w["count"] for w in found["words"]})
    return Counter(a["text"] for a in found["answers"])


async def test_300_participants_answering_at_once_are_counted_exactly_for_every_kind(
    api: Api, served: Served
) -> None:
    session = await api.make_session("Omröstningsstorm")
    people = await asyncio.gather(*(api.join(session) for _ in range(300)))
    kinds = ["single", "multiple", "scale", "wordcloud", "open", "ranking"]
    polls: dict[str, dict[str, Any]] = {}
    for i, kind in enumerate(kinds):
        extra: dict[str, Any] = {"kind": kind, "allow_change": i % 2 == 0}
        if kind == "multiple":
            extra["max_choices"] = 2
        if kind == "scale":
            extra["scale"] = {"min": 0, "max": 10, "min_label": "Inte alls", "max_label": "Mycket"}
        polls[kind] = await make_poll(api, session, **extra)
        await open_poll(api, session, polls[kind])
    rng = random.Random(3)
    plans = {
        (kind, n): [answer_for(kind, polls[kind], rng) for _ in range(2 if n % 3 == 0 else 1)]
        for kind in kinds
        for n in range(300)
    }
    accepted: dict[tuple[str, int], dict[str, Any]] = {}
    statuses: Counter[tuple[str, int]] = Counter()

    async def answer(kind: str, n: int) -> None:
        for attempt, body in enumerate(plans[kind, n]):
            r = await api.call("POST", vote_path(polls[kind]), people[n]["token"], json=body)
            statuses[kind, r.status_code] += 1
            if r.status_code in (200, 201):
                assert r.status_code == (200 if attempt else 201), r.text
                accepted[kind, n] = body
            else:
                assert r.status_code == 409 and r.json()["error"]["code"] == "conflict", r.text

    for kind in kinds:  # one kind at a time: 300 at once is the storm, and the pool's size
        await asyncio.gather(*(answer(kind, n) for n in range(300)))

    for i, kind in enumerate(kinds):
        allow_change = i % 2 == 0
        assert statuses[kind, 201] == 300
        assert statuses[kind, 200] == (100 if allow_change else 0)
        assert statuses[kind, 409] == (0 if allow_change else 100)
        ballots = [accepted[kind, n] for n in range(300)]
        found = await results(api, session["moderator_token"], polls[kind])
        assert found["voters"] == 300
        assert counted_results(kind, found) == expected_results(kind, polls[kind], ballots), kind
        if kind == "scale":
            mean = sum(b["value"] for b in ballots) / 300
            assert found["mean"] == round(mean, 2)
    with database(served) as db:
        for kind in kinds:
            voters = db.execute(
                "SELECT COUNT(*) FROM poll_voter WHERE poll_id = ?", (polls[kind]["id"],)
            ).fetchone()
            assert voters == (300,)


# -- bad input ---------------------------------------------------------------------------------


async def test_an_answer_to_a_draft_or_closed_poll_is_refused_as_poll_closed(api: Api) -> None:
    session = await api.make_session()
    person = await api.join(session)
    poll = await make_poll(api, session)
    choice = {"choices": [poll["options"][0]["id"]]}
    r = await api.call("POST", vote_path(poll), person["token"], json=choice)
    assert r.status_code == 409 and r.json()["error"]["code"] == "poll_closed"
    await open_poll(api, session, poll)
    await close_poll(api, session, poll)
    r = await api.call("POST", vote_path(poll), person["token"], json=choice)
    assert r.status_code == 409 and r.json()["error"]["code"] == "poll_closed"
    assert (await results(api, session["moderator_token"], poll))["voters"] == 0


async def test_an_option_of_another_poll_and_too_many_choices_are_invalid(api: Api) -> None:
    session = await api.make_session()
    person = await api.join(session)
    one = await make_poll(api, session, kind="multiple", max_choices=2)
    other = await make_poll(api, session)
    await open_poll(api, session, one)
    ids = [o["id"] for o in one["options"]]
    for bad in (
        {"choices": [other["options"][0]["id"]]},
        {"choices": ids[:3]},
        {"choices": []},
        {"choices": [ids[0], ids[0]]},
        {"choices": "not a list"},
        {"value": 3},
    ):
        r = await api.call("POST", vote_path(one), person["token"], json=bad)
        assert r.status_code == 422, (bad, r.text)
        assert r.json()["error"]["code"] == "invalid"
    r = await api.call("POST", vote_path(one), person["token"], json={"choices": ids[:2]})
    assert r.status_code == 201
    found = await results(api, session["moderator_token"], one)
    assert [o["count"] for o in found["options"]] == [1, 1, 0, 0]


async def test_a_single_choice_and_a_ranking_take_exactly_what_they_ask(api: Api) -> None:
    session = await api.make_session()
    person = await api.join(session)
    single = await make_poll(api, session)
    ranking = await make_poll(api, session, kind="ranking")
    for poll in (single, ranking):
        await open_poll(api, session, poll)
    ids = [o["id"] for o in single["options"]]
    r = await api.call("POST", vote_path(single), person["token"], json={"choices": ids[:2]})
    assert r.status_code == 422
    ranked = [o["id"] for o in ranking["options"]]
    r = await api.call("POST", vote_path(ranking), person["token"], json={"choices": ranked[:3]})
    assert r.status_code == 422
    r = await api.call("POST", vote_path(ranking), person["token"], json={"choices": ranked[::-1]})
    assert r.status_code == 201
    found = await results(api, session["moderator_token"], ranking)
    assert [o["score"] for o in found["options"]] == [0, 1, 2, 3]
    assert [o["average_position"] for o in found["options"]] == [4, 3, 2, 1]


async def test_a_scale_value_out_of_range_is_invalid(api: Api) -> None:
    session = await api.make_session()
    person = await api.join(session)
    poll = await make_poll(api, session, kind="scale", scale={"min": 1, "max": 5})
    await open_poll(api, session, poll)
    for bad in (0, 6, 2.5, "3", True, None):
        r = await api.call("POST", vote_path(poll), person["token"], json={"value": bad})
        assert r.status_code == 422, (bad, r.text)
    r = await api.call("POST", vote_path(poll), person["token"], json={"value": 5})
    assert r.status_code == 201
    found = await results(api, session["moderator_token"], poll)
    assert found["mean"] == 5 and [o["count"] for o in found["options"]] == [0, 0, 0, 0, 1]


async def test_word_cloud_entries_and_open_answers_over_their_limits_are_invalid(api: Api) -> None:
    session = await api.make_session()
    person = await api.join(session)
    cloud = await make_poll(api, session, kind="wordcloud")
    answers = await make_poll(api, session, kind="open")
    for poll in (cloud, answers):
        await open_poll(api, session, poll)
    for bad in (["x" * 41], ["a", "b", "c", "d"], [], ["   "], ["!!!"], [7]):
        r = await api.call("POST", vote_path(cloud), person["token"], json={"words": bad})
        assert r.status_code == 422, (bad, r.text)
    for text in ("x" * 501, "", "   \n "):
        r = await api.call("POST", vote_path(answers), person["token"], json={"text": text})
        assert r.status_code == 422
    r = await api.call(
        "POST", vote_path(cloud), person["token"], json={"words": ["Tillit", "tillit ", "«Dialog»"]}
    )
    assert r.status_code == 201
    r = await api.call("POST", vote_path(answers), person["token"], json={"text": "x" * 500})
    assert r.status_code == 201
    found = await results(api, session["moderator_token"], cloud)
    assert found["words"] == [
        {"word": "dialog", "count": 1, "hidden": False},
        {"word": "tillit", "count": 1, "hidden": False},
    ]


async def test_a_participant_of_another_session_or_room_is_forbidden(api: Api) -> None:
    session, elsewhere = await api.make_session("Här"), await api.make_session("Där")
    outsider = await api.join(elsewhere)
    in_room, in_plenary = await api.join(session), await api.join(session)
    room_id = await into_a_room(api, session, in_room)
    plenary = await make_poll(api, session)
    room_poll = await make_poll(api, session, room_id=room_id)
    for poll in (plenary, room_poll):
        await open_poll(api, session, poll)
    choice = {"choices": [plenary["options"][0]["id"]]}
    r = await api.call("POST", vote_path(plenary), outsider["token"], json=choice)
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    r = await api.call("GET", f"/api/v1/polls/{plenary['id']}/results", outsider["token"])
    assert r.status_code == 403 and "Vad behövs" not in r.text
    r = await api.call("POST", vote_path(plenary), in_room["token"], json=choice)
    assert r.status_code == 403
    room_choice = {"choices": [room_poll["options"][0]["id"]]}
    r = await api.call("POST", vote_path(room_poll), in_plenary["token"], json=room_choice)
    assert r.status_code == 403
    r = await api.call("GET", f"/api/v1/polls/{room_poll['id']}/results", in_plenary["token"])
    assert r.status_code == 403
    r = await api.call("POST", vote_path(room_poll), in_room["token"], json=room_choice)
    assert r.status_code == 201
    assert (await results(api, session["moderator_token"], plenary))["voters"] == 0
    assert (await results(api, session["moderator_token"], room_poll))["voters"] == 1


async def test_no_token_is_unauthorized_and_participants_cannot_run_polls(api: Api) -> None:
    session = await api.make_session()
    person = await api.join(session)
    poll = await make_poll(api, session)
    r = await api.call("POST", vote_path(poll), json={"choices": [poll["options"][0]["id"]]})
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    r = await api.call("GET", f"/api/v1/polls/{poll['id']}/results")
    assert r.status_code == 401
    for action in ("open", "close"):
        r = await api.call("POST", f"/api/v1/polls/{poll['id']}/{action}", person["token"])
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    r = await api.call(
        "POST",
        f"/api/v1/sessions/{session['id']}/polls",
        person["token"],
        json={"question": "Mitt?", "kind": "open"},
    )
    assert r.status_code == 403
    r = await api.call("POST", "/api/v1/polls/nope/open", session["moderator_token"])
    assert r.status_code == 404
    listed = await api.call("GET", f"/api/v1/sessions/{session['id']}", person["token"])
    assert listed.json()["polls"] == []  # a participant is not told of drafts
    listed = await api.call("GET", f"/api/v1/sessions/{session['id']}", session["moderator_token"])
    assert listed.json()["polls"] == [
        {
            "id": poll["id"],
            "question": poll["question"],
            "kind": "single",
            "status": "draft",
            "room_id": None,
        }
    ]


async def test_a_poll_with_bad_settings_is_not_created(api: Api) -> None:
    session = await api.make_session()
    path = f"/api/v1/sessions/{session['id']}/polls"
    for bad in (
        {"question": "", "kind": "single", "options": OPTIONS},
        {"question": "x" * 301, "kind": "open"},
        {"question": "Vad?", "kind": "poem"},
        {"question": "Vad?", "kind": "single", "options": ["Ett"]},
        {"question": "Vad?", "kind": "single", "options": ["x" * 121, "Två"]},
        {"question": "Vad?", "kind": "single", "options": [str(i) for i in range(31)]},
        {"question": "Vad?", "kind": "multiple", "options": OPTIONS, "max_choices": 5},
        {"question": "Vad?", "kind": "scale", "scale": {"min": 5, "max": 1}},
        {"question": "Vad?", "kind": "open", "show_results": "sometimes"},
        {"question": "Vad?", "kind": "open", "allow_change": "yes"},
    ):
        r = await api.call("POST", path, session["moderator_token"], json=bad)
        assert r.status_code == 422, (bad, r.text)
        assert r.json()["error"]["code"] == "invalid"
    listed = await api.call("GET", f"/api/v1/sessions/{session['id']}", session["moderator_token"])
    assert listed.json()["polls"] == []


async def test_a_changed_answer_replaces_the_old_one_and_a_second_is_refused_otherwise(
    api: Api,
) -> None:
    session = await api.make_session()
    person = await api.join(session)
    changeable = await make_poll(api, session, allow_change=True)
    fixed = await make_poll(api, session)
    for poll in (changeable, fixed):
        await open_poll(api, session, poll)
    first, second = (o["id"] for o in changeable["options"][:2])
    r = await api.call("POST", vote_path(changeable), person["token"], json={"choices": [first]})
    assert r.status_code == 201
    r = await api.call("POST", vote_path(changeable), person["token"], json={"choices": [second]})
    assert r.status_code == 200 and r.json()["replaced"] is True
    found = await results(api, session["moderator_token"], changeable)
    assert found["voters"] == 1 and [o["count"] for o in found["options"]] == [0, 1, 0, 0]
    one, two = (o["id"] for o in fixed["options"][:2])
    r = await api.call("POST", vote_path(fixed), person["token"], json={"choices": [one]})
    assert r.status_code == 201
    r = await api.call("POST", vote_path(fixed), person["token"], json={"choices": [two]})
    assert r.status_code == 409 and r.json()["error"]["code"] == "conflict"
    found = await results(api, session["moderator_token"], fixed)
    assert found["voters"] == 1 and [o["count"] for o in found["options"]] == [1, 0, 0, 0]


# -- lifecycle, visibility, anonymity -----------------------------------------------------------


async def test_after_close_no_ballot_is_linked_to_a_participant(api: Api, served: Served) -> None:
    session = await api.make_session()
    people = [await api.join(session) for _ in range(5)]
    polls = [
        await make_poll(api, session, allow_change=True),
        await make_poll(api, session, kind="wordcloud"),
        await make_poll(api, session, kind="open"),
    ]
    for poll in polls:
        await open_poll(api, session, poll)
        for person in people:
            body = answer_for(poll["kind"], poll, random.Random(1))
            r = await api.call("POST", vote_path(poll), person["token"], json=body)
            assert r.status_code == 201
    ids = {p["participant_id"] for p in people}
    with database(served) as db:
        linked = db.execute("SELECT COUNT(*) FROM ballot WHERE voter_id IS NOT NULL").fetchone()
        assert linked == (15,)  # while open, an answer can be changed and shown back
    for poll in polls:
        await close_poll(api, session, poll)
    with database(served) as db:
        for table in ("ballot", "ballot_choice", "ballot_word"):
            for row in db.execute(f"SELECT * FROM {table}"):
                assert not ids & {str(v) for v in row}, (table, row)
        assert db.execute("SELECT COUNT(*) FROM ballot").fetchone() == (15,)
        assert db.execute("SELECT COUNT(*) FROM poll_voter").fetchone() == (15,)
    # Reopened, the poll still knows who answered, but no longer which answer is whose.
    await open_poll(api, session, polls[0])
    other = {"choices": [polls[0]["options"][3]["id"]]}
    r = await api.call("POST", vote_path(polls[0]), people[0]["token"], json=other)
    assert r.status_code == 409 and r.json()["error"]["code"] == "conflict"
    found = await results(api, session["moderator_token"], polls[0])
    assert found["voters"] == 5 and found["status"] == "open"


async def test_participants_see_results_only_as_the_moderator_chose(api: Api) -> None:
    session = await api.make_session()
    person = await api.join(session)
    after = await make_poll(api, session, show_results="closed")
    never = await make_poll(api, session, show_results="never")
    live = await make_poll(api, session)
    path = "/api/v1/polls/{}/results"
    r = await api.call("GET", path.format(live["id"]), person["token"])
    assert r.status_code == 403  # a draft is not shown to participants
    for poll in (after, never, live):
        await open_poll(api, session, poll)
    assert (await api.call("GET", path.format(after["id"]), person["token"])).status_code == 403
    assert (await api.call("GET", path.format(never["id"]), person["token"])).status_code == 403
    assert (await results(api, person["token"], live))["status"] == "open"
    for poll in (after, never):
        await close_poll(api, session, poll)
    assert (await results(api, person["token"], after))["status"] == "closed"
    assert (await api.call("GET", path.format(never["id"]), person["token"])).status_code == 403
    assert (await results(api, session["moderator_token"], never))["voters"] == 0


async def test_the_moderator_hides_open_answers_and_cloud_words(api: Api) -> None:
    session = await api.make_session()
    person, other = await api.join(session), await api.join(session)
    answers = await make_poll(api, session, kind="open")
    cloud = await make_poll(api, session, kind="wordcloud")
    for poll in (answers, cloud):
        await open_poll(api, session, poll)
    await api.call("POST", vote_path(answers), person["token"], json={"text": "Något olämpligt"})
    await api.call("POST", vote_path(answers), other["token"], json={"text": "Mer dialog"})
    await api.call("POST", vote_path(cloud), person["token"], json={"words": ["Fult", "tillit"]})
    mod = session["moderator_token"]
    found = await results(api, mod, answers)
    bad = next(a for a in found["answers"] if a["text"] == "Något olämpligt")
    r = await api.call("POST", f"/api/v1/polls/{answers['id']}/answers/{bad['id']}/hide", mod)
    assert r.status_code == 200 and r.json()["hidden"] is True
    r = await api.call(
        "POST", f"/api/v1/polls/{answers['id']}/answers/{bad['id']}/hide", person["token"]
    )
    assert r.status_code == 403
    r = await api.call(
        "POST", f"/api/v1/polls/{cloud['id']}/hidden-words", mod, json={"word": "FULT "}
    )
    assert r.status_code == 200 and r.json()["hidden_words"] == ["fult"]
    seen = await results(api, person["token"], answers)
    assert [a["text"] for a in seen["answers"]] == ["Mer dialog"]
    assert len((await results(api, mod, answers))["answers"]) == 2
    assert (await results(api, person["token"], cloud))["words"] == [{"word": "tillit", "count": 1}]


async def test_the_event_stream_sees_totals_that_end_equal_to_the_database(
    api: Api, stream: Any
) -> None:
    session = await api.make_session()
    people = await asyncio.gather(*(api.join(session) for _ in range(60)))
    poll = await make_poll(api, session, kind="scale", scale={"min": 1, "max": 5})
    await open_poll(api, session, poll)
    async with stream(session["id"], people[0]["token"]) as s:
        snapshot = await s.next()
        assert snapshot["type"] == "snapshot"
        assert any(p["id"] == poll["id"] for p in snapshot["session"]["polls"])
        # State, not messages: a (re)connecting stream starts from the current totals.
        (shown,) = snapshot["poll-results"]["shown"]
        assert shown["poll"]["id"] == poll["id"] and shown["results"]["voters"] == 0
        await asyncio.gather(
            *(
                api.call("POST", vote_path(poll), p["token"], json={"value": 1 + n % 5})
                for n, p in enumerate(people)
            )
        )
        last = await s.until(
            lambda f: f["type"] == "poll.results" and f.get("voters") == 60, timeout=10
        )
        seen = [f for f in s.frames if f["type"] == "poll.results"]
    # Coalesced: fewer frames than votes, versions strictly rising, the last equal to the store.
    assert len(seen) < 60
    versions = [f["version"] for f in s.frames]
    assert versions == sorted(set(versions))
    stored = await results(api, session["moderator_token"], poll)
    assert last["options"] == stored["options"] and last["mean"] == stored["mean"] == 3
    assert last["poll_id"] == poll["id"]


async def test_a_participant_sending_answers_too_fast_is_rate_limited(api: Api) -> None:
    session = await api.make_session()
    person = await api.join(session)
    poll = await make_poll(api, session, kind="scale", allow_change=True)
    await open_poll(api, session, poll)
    codes: Counter[int] = Counter()
    started = time.monotonic()
    for n in range(35):
        r = await api.call("POST", vote_path(poll), person["token"], json={"value": 1 + n % 5})
        codes[r.status_code] += 1
        if r.status_code == 429:
            assert r.json()["error"]["code"] == "rate_limited" and r.headers["Retry-After"]
    # 30 a minute, from a leaky bucket: one more for each 2 s the answers took to send.
    freed = math.ceil((time.monotonic() - started) / 2)
    assert codes[201] == 1 and 29 <= codes[200] <= 29 + freed and codes[429] >= 1, codes
    assert sum(codes.values()) == 35
    assert (await results(api, session["moderator_token"], poll))["voters"] == 1


async def test_answers_arriving_together_each_get_their_own_verdict(api: Api) -> None:
    session = await api.make_session()
    people = await asyncio.gather(*(api.join(session) for _ in range(40)))
    poll = await make_poll(api, session, kind="scale", scale={"min": 1, "max": 5})
    await open_poll(api, session, poll)
    bodies = [{"value": 1 + n % 5} if n % 4 else {"value": 6} for n in range(40)]
    replies = await asyncio.gather(
        *(
            api.call("POST", vote_path(poll), p["token"], json=b)
            for p, b in zip(people, bodies, strict=True)
        )
    )
    assert [r.status_code for r in replies] == [422 if n % 4 == 0 else 201 for n in range(40)]
    accepted = [b["value"] for n, b in enumerate(bodies) if n % 4]
    found = await results(api, session["moderator_token"], poll)
    assert found["voters"] == 30
    assert [o["count"] for o in found["options"]] == [accepted.count(v) for v in range(1, 6)]


async def test_a_long_list_of_open_answers_is_cut_in_live_updates_but_kept_whole(
    api: Api, stream: Any
) -> None:
    session = await api.make_session()
    people = await asyncio.gather(*(api.join(session) for _ in range(110)))
    poll = await make_poll(api, session, kind="open")
    await open_poll(api, session, poll)
    async with stream(session["id"], session["moderator_token"]) as s:
        await s.next()
        await asyncio.gather(
            *(
                api.call("POST", vote_path(poll), p["token"], json={"text": f"Svar {n}"})
                for n, p in enumerate(people)
            )
        )
        last = await s.until(lambda f: f["type"] == "poll.results" and f["voters"] == 110)
    assert len(last["answers"]) == 100 and last["answers_total"] == 110
    assert len((await results(api, session["moderator_token"], poll))["answers"]) == 110


async def test_socket_messages_run_polls_and_answer_them(api: Api, stream: Any) -> None:
    session = await api.make_session()
    person = await api.join(session)
    poll = await make_poll(api, session, kind="open")
    async with (
        stream(session["id"], session["moderator_token"]) as desk,
        stream(session["id"], person["token"]) as phone,
    ):
        await desk.next()
        await phone.next()
        await phone.send({"type": "poll.open", "poll_id": poll["id"]})
        refused = await phone.until(lambda f: f["type"] == "error")
        assert refused["error"]["code"] == "forbidden"
        await desk.send({"type": "poll.open", "poll_id": poll["id"]})
        await desk.until(lambda f: f["type"] == "ack" and f["for"] == "poll.open")
        await phone.send({"type": "poll.vote", "poll_id": poll["id"], "text": "Olämpligt"})
        await phone.until(lambda f: f["type"] == "ack" and f["for"] == "poll.vote")
        await phone.send({"type": "poll.vote", "poll_id": poll["id"], "text": "Igen"})
        again = await phone.until(lambda f: f["type"] == "error")
        assert again["error"]["code"] == "conflict"
        (answer,) = (await results(api, session["moderator_token"], poll))["answers"]
        await desk.send(
            {"type": "poll.hide_answer", "poll_id": poll["id"], "answer_id": answer["id"]}
        )
        await desk.until(lambda f: f["type"] == "ack" and f["for"] == "poll.hide_answer")
        shown = await phone.until(lambda f: f["type"] == "poll.results" and f["answers"] == [])
        assert shown["voters"] == 1
        await desk.send({"type": "poll.close", "poll_id": poll["id"]})
        await phone.until(lambda f: f["type"] == "poll.closed")
    found = await results(api, session["moderator_token"], poll)
    assert found["status"] == "closed" and found["answers"][0]["hidden"] is True


async def test_a_failed_batch_is_retried_answer_by_answer_and_nothing_is_lost(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rooms import polls

    session = await api.make_session()
    people = await asyncio.gather(*(api.join(session) for _ in range(30)))
    poll = await make_poll(api, session, kind="scale")
    await open_poll(api, session, poll)
    real, failed = polls.vote_many, []

    async def fails_once(db: Any, sid: str, ballots: Any) -> Any:
        if not failed:
            failed.append(len(ballots))
            await real(db, sid, ballots)  # written, then lost with the rolled-back transaction
            raise RuntimeError("the database went away mid-batch")
        return await real(db, sid, ballots)

    monkeypatch.setattr(polls, "vote_many", fails_once)
    replies = await asyncio.gather(
        *(api.call("POST", vote_path(poll), p["token"], json={"value": 3}) for p in people)
    )
    assert failed and [r.status_code for r in replies] == [201] * 30
    found = await results(api, session["moderator_token"], poll)
    assert found["voters"] == 30 and found["options"][2]["count"] == 30


async def test_a_plenary_poll_is_not_told_to_those_in_a_breakout_room(
    api: Api, stream: Any
) -> None:
    session = await api.make_session()
    mod = session["moderator_token"]
    inside, outside = await api.join(session, "I rummet"), await api.join(session, "I storgruppen")
    r = await api.call(
        "POST",
        f"/api/v1/sessions/{session['id']}/rooms",
        mod,
        json={"count": 1, "assignment": "manual"},
    )
    assert r.status_code == 201, r.text
    room_id = r.json()["rooms"][0]["id"]
    r = await api.call(
        "POST",
        f"/api/v1/rooms/{room_id}/members",
        mod,
        json={"participant_id": inside["participant_id"]},
    )
    assert r.status_code == 200, r.text
    async with (
        stream(session["id"], inside["token"]) as room_side,
        stream(session["id"], outside["token"]) as plenary_side,
    ):
        assert (await room_side.next())["you"]["room_id"] == room_id
        assert (await plenary_side.next())["you"]["room_id"] is None
        r = await api.call(
            "POST",
            f"/api/v1/sessions/{session['id']}/polls",
            mod,
            json={"question": "Hur går det?", "kind": "single", "options": ["Bra", "Dåligt"]},
        )
        poll = r.json()
        await api.call("POST", f"/api/v1/polls/{poll['id']}/open", mod)
        opened = await plenary_side.until(lambda f: f["type"] == "poll.opened")
        assert opened["poll_id"] == poll["id"]
        # Something the room is told after the poll opened: nothing of the poll came before.
        await api.call(
            "POST",
            f"/api/v1/sessions/{session['id']}/rooms/broadcast",
            mod,
            json={"text": "Fem minuter kvar"},
        )
        await room_side.until(lambda f: f["type"].startswith("rooms."))
        assert not any(f["type"].startswith("poll.") for f in room_side.frames)


async def test_closing_the_session_closes_its_open_polls_and_rooms(
    api: Api, served: Served
) -> None:
    """A moderator who closes the session without closing a poll first: the poll closes
    with it (its ballots unlinked, as any closed poll's), and so do the open rooms."""
    session = await api.make_session()
    people = [await api.join(session) for _ in range(4)]
    poll = await make_poll(api, session)
    await open_poll(api, session, poll)
    for person in people:
        body = {"choices": [poll["options"][0]["id"]]}
        r = await api.call("POST", vote_path(poll), person["token"], json=body)
        assert r.status_code == 201
    mod = session["moderator_token"]
    r = await api.call("POST", f"/api/v1/sessions/{session['id']}/rooms", mod, json={"count": 2})
    assert r.status_code == 201, r.text
    r = await api.call("POST", f"/api/v1/sessions/{session['id']}/close", mod)
    assert r.status_code == 200, r.text
    found = await results(api, mod, poll)
    assert found["status"] == "closed" and found["voters"] == 4
    with database(served) as db:
        assert db.execute("SELECT COUNT(*) FROM ballot WHERE voter_id IS NOT NULL").fetchone() == (
            0,
        )
        assert db.execute("SELECT status FROM breakout_round").fetchall() == [("closed",)]
        assert set(db.execute("SELECT status FROM room").fetchall()) == {("closed",)}


async def test_answers_over_the_socket_share_transactions_and_count_exactly(
    api: Api, served: Served, stream: Callable[..., Any]
) -> None:
    """Browsers answer over their sockets: in a burst their answers join the same batches
    as the API's (one version step per batch, not per answer), each is acknowledged, a
    second answer is refused, and the count is exact."""
    session = await api.make_session()
    people = [await api.join(session) for _ in range(40)]
    poll = await make_poll(api, session)
    await open_poll(api, session, poll)
    choice = poll["options"][1]["id"]
    async with contextlib.AsyncExitStack() as stack:
        streams = [
            await stack.enter_async_context(stream(session["id"], p["token"])) for p in people
        ]
        for s in streams:
            await s.until(lambda f: f["type"] == "snapshot")
        with database(served) as db:
            [before] = db.execute("SELECT version FROM session WHERE id = ?", (session["id"],))
        for s in streams:
            await s.send({"type": "poll.vote", "poll_id": poll["id"], "choices": choice})
        for s in streams:
            await s.until(lambda f: f["type"] == "ack" and f["for"] == "poll.vote")
        await streams[0].send({"type": "poll.vote", "poll_id": poll["id"], "choices": choice})
        refused = await streams[0].until(lambda f: f["type"] == "error")
        assert refused["error"]["code"] == "conflict"
    found = await results(api, session["moderator_token"], poll)
    assert found["voters"] == 40
    assert [o["count"] for o in found["options"]] == [0, 40, 0, 0][: len(found["options"])]
    with database(served) as db:
        [after] = db.execute("SELECT version FROM session WHERE id = ?", (session["id"],))
    # One step per transaction that answered: forty answers alone would be forty steps.
    assert after[0] - before[0] < 40 / 2, (before, after)


# -- forms and bodies --------------------------------------------------------------------------


def test_a_browser_form_becomes_the_same_answer_the_api_takes() -> None:
    ranked = answer_from_form(
        {"type": "poll.vote", "poll_id": "p", "rank_a": "2", "rank_b": "3", "rank_c": "1"}
    )
    assert ranked == {"choices": ["c", "a", "b"]}
    assert answer_from_form({"choices": "a"}) == {"choices": ["a"]}
    assert answer_from_form({"choices": ["a", "b"]}) == {"choices": ["a", "b"]}
    assert answer_from_form({"value": "4"}) == {"value": 4}
    assert answer_from_form({"words": ["Tillit", "", " "]}) == {"words": ["Tillit"]}
    assert answer_from_form({"text": "Mer tid"}) == {"text": "Mer tid"}
    for bad in ({"rank_a": "1", "rank_b": "1"}, {"rank_a": "x"}, {"value": "fem"}):
        with pytest.raises(Refused):
            answer_from_form(bad)


def test_the_moderators_form_becomes_the_body_the_api_takes() -> None:
    form = {
        "question": "Hur?",
        "kind": "scale",
        "allow_change": "on",
        "room_id": "  ",
        "scale_min": "0",
        "scale_max": "",
        "min_label": "",
    }
    assert poll_from_form(form) == {
        "question": "Hur?",
        "kind": "scale",
        "show_results": "live",
        "allow_change": True,
        "room_id": None,
        "scale": {"min": 0, "max": 5, "min_label": None, "max_label": None},
    }
    listed = poll_from_form({"question": "Vad?", "kind": "multiple", "options": "A\n\nB\n"})
    assert listed["options"] == ["A", "B"] and listed["allow_change"] is False
    sent_as_json = {"question": "Vad?", "kind": "single", "options": ["A", "B"], "max_choices": 1}
    assert poll_from_form(sent_as_json) == {
        **sent_as_json,
        "show_results": "live",
        "allow_change": False,
        "room_id": None,
    }
    assert hiding_from_form({"hidden": "false"})["hidden"] is False
    assert hiding_from_form({"hidden": "true"})["hidden"] is True
    assert hiding_from_form({"hidden": 5}) == {"hidden": 5}  # the body refuses it
    for bad in (
        {"kind": "single"},
        {"kind": "multiple", "options": "A\nB", "max_choices": "två"},
        {"kind": "scale", "scale_min": "ett"},
    ):
        with pytest.raises(Refused):
            poll_from_form(bad)


async def test_a_body_of_the_wrong_type_is_refused_naming_its_field(api: Api) -> None:
    session = await api.make_session()
    person = await api.join(session)
    poll = await make_poll(api, session, kind="scale")
    await open_poll(api, session, poll)
    r = await api.call("POST", vote_path(poll), person["token"], json={"value": "3"})
    assert r.status_code == 422 and r.json()["error"]["message"].startswith("value:")
    path = f"/api/v1/sessions/{session['id']}/polls"
    bad = {"question": "Vad?", "kind": "scale", "scale": {"min": "1"}}
    r = await api.call("POST", path, session["moderator_token"], json=bad)
    assert r.status_code == 422 and r.json()["error"]["message"].startswith("scale.min:")
