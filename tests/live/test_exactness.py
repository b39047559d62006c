"""Exact counts and kept promises while two instances write to one store at once: changed
votes, votes racing a poll's close, writes racing a session's close, full rooms, collected
notes, dots and upvotes; on SQLite and on PostgreSQL (READ COMMITTED, truly concurrent)."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlmodel import col

from live import quotas
from rooms.models import Event
from rooms.polls import Ballot, BallotChoice
from tests.conftest import Api, Served
from tests.live.test_postgres import _database

VOTERS = 12
WAVES = 20
ROUNDS = 20


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def pair(
    request: pytest.FixtureRequest,
    served_factory: Callable[..., Served],
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[Served, Served]:
    """Two Samla instances in this process sharing one store."""
    # The tests send each voter's answers by the dozen; the limit is not what they test.
    monkeypatch.setattr(quotas, "VOTE", replace(quotas.VOTE, rate="100000/minute"))
    overrides: dict[str, Any] = {}
    if request.param == "postgres":
        overrides["database_url"] = asyncio.run(_database(request.getfixturevalue("postgres")))
    return served_factory(**overrides), served_factory(**overrides)


@asynccontextmanager
async def apis(pair: tuple[Served, Served]) -> AsyncIterator[tuple[Api, Api]]:
    first, second = pair
    # Idle connections are dropped well before uvicorn's keep-alive (5 s) ends them: a
    # request sent on one just as the server closes it fails with a ReadError.
    limits = httpx.Limits(keepalive_expiry=1.0)
    async with (
        httpx.AsyncClient(base_url=first.base, timeout=60, limits=limits) as a,
        httpx.AsyncClient(base_url=second.base, timeout=60, limits=limits) as b,
    ):
        yield Api(first, a), Api(second, b)


async def later(seconds: float, call: Awaitable[httpx.Response]) -> httpx.Response:
    await asyncio.sleep(seconds)
    return await call


async def stored(served: Served, read: Callable[[Any], Awaitable[Any]]) -> Any:
    """Reads the shared store on the instance's own loop."""

    async def run() -> Any:
        async with served.samla.store.read() as db:
            return await read(db)

    return await served.run(run)


async def ballots_of(served: Served, poll_id: str) -> list[tuple[str | None, list[str]]]:
    """Every ballot of the poll: its voter (None once unlinked) and its marks."""

    async def read(db: Any) -> list[tuple[str | None, list[str]]]:
        rows = await db.execute(
            select(col(Ballot.id), col(Ballot.voter_id), col(BallotChoice.option_id))
            .outerjoin(BallotChoice, col(BallotChoice.ballot_id) == col(Ballot.id))
            .where(col(Ballot.poll_id) == poll_id)
        )
        found: dict[str, tuple[str | None, list[str]]] = {}
        for ballot_id, voter_id, option_id in rows.all():
            marks = found.setdefault(ballot_id, (voter_id, []))[1]
            if option_id is not None:
                marks.append(option_id)
        return list(found.values())

    result: list[tuple[str | None, list[str]]] = await stored(served, read)
    return result


async def open_poll(api: Api, session: dict[str, Any], *, allow_change: bool) -> dict[str, Any]:
    body = {"question": "Vilket spår?", "kind": "single", "options": ["Ja", "Nej", "Kanske"]}
    r = await api.call(
        "POST",
        f"/api/v1/sessions/{session['id']}/polls",
        session["moderator_token"],
        json={**body, "allow_change": allow_change},
    )
    assert r.status_code == 201, r.text
    poll: dict[str, Any] = r.json()
    r = await api.call("POST", f"/api/v1/polls/{poll['id']}/open", session["moderator_token"])
    assert r.status_code == 200, r.text
    return poll


def vote(api: Api, poll: dict[str, Any], voter: dict[str, Any], option: str) -> Any:
    return api.call(
        "POST", f"/api/v1/polls/{poll['id']}/votes", voter["token"], json={"choices": [option]}
    )


async def test_changed_votes_on_two_instances_leave_one_mark_per_ballot(
    pair: tuple[Served, Served],
) -> None:
    rng = random.Random(7)
    async with apis(pair) as (a, b):
        session = await a.make_session()
        voters = [await a.join(session) for _ in range(VOTERS)]
        poll = await open_poll(a, session, allow_change=True)
        options = [o["id"] for o in poll["options"]]
        for wave in range(WAVES):
            sent: dict[str, set[str]] = {}
            calls = []
            for voter in voters:
                first, second = rng.sample(options, 2)
                sent[voter["participant_id"]] = {first, second}
                calls += [vote(a, poll, voter, first), vote(b, poll, voter, second)]
            replies = await asyncio.gather(*calls)
            codes = [r.status_code for r in replies]
            # Each voter's two answers: the first stored, the second in its place, never 409.
            expected = [200, 201] if wave == 0 else [200, 200]
            for n in range(VOTERS):
                assert sorted(codes[2 * n : 2 * n + 2]) == expected, replies[2 * n].text
            ballots = await ballots_of(a.served, poll["id"])
            assert len(ballots) == VOTERS
            for voter_id, marks in ballots:
                assert voter_id is not None and len(marks) == 1, (wave, ballots)
                assert marks[0] in sent[voter_id]
            r = await b.call(
                "GET", f"/api/v1/polls/{poll['id']}/results", session["moderator_token"]
            )
            counted = Counter(marks[0] for _, marks in ballots)
            assert r.json()["voters"] == VOTERS
            assert {o["id"]: o["count"] for o in r.json()["options"]} == {
                o: counted[o] for o in options
            }


async def test_votes_racing_a_close_on_two_instances_leave_no_ballot_linked(
    pair: tuple[Served, Served],
) -> None:
    rng = random.Random(11)
    async with apis(pair) as (a, b):
        session = await a.make_session()
        voters = [await a.join(session) for _ in range(VOTERS)]
        for round_ in range(ROUNDS):
            allow_change = round_ % 2 == 0  # both ways of storing an answer
            poll = await open_poll(a, session, allow_change=allow_change)
            options = [o["id"] for o in poll["options"]]
            calls = [
                later(rng.uniform(0, 0.08), vote(api, poll, voter, rng.choice(options)))
                for voter in voters
                for api in (a, b)
            ]
            closer = (a, b)[round_ % 2]
            close = later(
                rng.uniform(0.02, 0.05),
                closer.call(
                    "POST", f"/api/v1/polls/{poll['id']}/close", session["moderator_token"]
                ),
            )
            closed, *replies = await asyncio.gather(close, *calls)
            assert closed.status_code == 200, closed.text
            for r in replies:
                assert r.status_code in (200, 201, 409), r.text
                if r.status_code == 409:
                    allowed = {"poll_closed"} if allow_change else {"poll_closed", "conflict"}
                    assert r.json()["error"]["code"] in allowed, r.text
            ballots = await ballots_of(a.served, poll["id"])
            linked = [voter_id for voter_id, _ in ballots if voter_id is not None]
            assert linked == [], f"round {round_}: {len(linked)} ballots keep their voter"
            # Every answer acknowledged as new is one ballot, with one mark.
            assert len(ballots) == sum(r.status_code == 201 for r in replies)
            assert all(len(marks) == 1 for _, marks in ballots)


@pytest.fixture
def published(pair: tuple[Served, Served], monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """(version, event type) of every change either instance commits, in its store's order
    of versions: a change stored after a close has a version above the close's."""
    seen: list[tuple[int, str]] = []
    for served in pair:
        hub = served.samla.hub

        def spy(sid: str, first: int, events: tuple[Event, ...], real: Any = hub.publish) -> None:
            seen.extend((first + n, e.type) for n, e in enumerate(events))
            real(sid, first, events)

        monkeypatch.setattr(hub, "publish", spy)
    return seen


def after(published: list[tuple[int, str]], closing: str) -> list[tuple[int, str]]:
    """The changes stored after the one change of type `closing`."""
    at = [v for v, kind in published if kind == closing]
    assert len(at) == 1, published
    return [(v, kind) for v, kind in published if v > at[0]]


async def test_no_write_commits_after_its_session_closed(
    pair: tuple[Served, Served], published: list[tuple[int, str]]
) -> None:
    """Joins, questions and votes arrive on both instances while one closes the session:
    none of them may be stored after the close (its events would come after it)."""
    rng = random.Random(5)
    async with apis(pair) as (a, b):
        for round_ in range(ROUNDS // 2):
            session = await a.make_session()
            people = [await a.join(session) for _ in range(6)]
            poll = await open_poll(a, session, allow_change=True)
            option = poll["options"][0]["id"]
            published.clear()
            calls = []
            for api in (a, b):
                for person in people:
                    calls.append(later(rng.uniform(0, 0.08), vote(api, poll, person, option)))
                    ask = api.call(
                        "POST",
                        f"/api/v1/sessions/{session['id']}/questions",
                        person["token"],
                        json={"text": f"Fråga {rng.random()}"},
                    )
                    calls.append(later(rng.uniform(0, 0.08), ask))
                    join = api.call("POST", "/api/v1/join", json={"code": session["code"]})
                    calls.append(later(rng.uniform(0, 0.08), join))
            closer = (a, b)[round_ % 2]
            path = f"/api/v1/sessions/{session['id']}/close"
            close = later(0.03, closer.call("POST", path, session["moderator_token"]))
            closed, *replies = await asyncio.gather(close, *calls)
            assert closed.status_code == 200, closed.text
            late = after(published, "session.closed")
            assert late == [], f"round {round_}: stored after the close: {late}"
            for r in replies:
                assert r.status_code in (200, 201, 409), r.text
                if r.status_code == 409:
                    assert r.json()["error"]["code"] == "session_closed", r.text


async def test_self_select_never_fills_a_room_past_its_capacity(
    pair: tuple[Served, Served],
) -> None:
    async with apis(pair) as (a, b):
        session = await a.make_session()
        people = [await a.join(session) for _ in range(12)]
        r = await a.call(
            "POST",
            f"/api/v1/sessions/{session['id']}/rooms",
            session["moderator_token"],
            json={"count": 2, "assignment": "self", "capacity": 3},
        )
        assert r.status_code == 201, r.text
        room = r.json()["rooms"][0]["id"]
        path = f"/api/v1/rooms/{room}/members"
        replies = await asyncio.gather(
            *(
                (a, b)[n % 2].call("POST", path, person["token"], json={})
                for n, person in enumerate(people)
            )
        )
        codes = Counter(r.status_code for r in replies)
        assert codes == {200: 3, 409: 9}, [r.text for r in replies]
        r = await b.call("GET", f"/api/v1/sessions/{session['id']}", session["moderator_token"])
        seated = {x["id"]: x["participant_ids"] for x in r.json()["rooms"]}
        assert len(seated[room]) == 3


async def _board(api: Api, session: dict[str, Any], title: str) -> dict[str, Any]:
    r = await api.call(
        "POST",
        f"/api/v1/sessions/{session['id']}/boards",
        session["moderator_token"],
        json={"title": title, "columns": ["Idéer"]},
    )
    assert r.status_code == 201, r.text
    board: dict[str, Any] = r.json()
    return board


async def _note(api: Api, board: dict[str, Any], token: str) -> str:
    r = await api.call(
        "POST",
        f"/api/v1/boards/{board['id']}/notes",
        token,
        json={"text": "Mötesplatser", "column": board["columns"][0]["id"]},
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def _dot_vote(api: Api, session: dict[str, Any], board: dict[str, Any]) -> str:
    """A dot vote of three dots each over the board's collected notes."""
    r = await api.call(
        "POST",
        f"/api/v1/boards/{board['id']}/dot-votes",
        session["moderator_token"],
        json={"scope": "collected", "dots": 3},
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def test_notes_collected_twice_at_once_are_collected_once(
    pair: tuple[Served, Served],
) -> None:
    async with apis(pair) as (a, b):
        session = await a.make_session()
        person = await a.join(session)
        source = await _board(a, session, "Grupp 1")
        target = await _board(a, session, "Storgrupp")
        ids = []
        for n in range(5):
            r = await a.call(
                "POST",
                f"/api/v1/boards/{source['id']}/notes",
                person["token"],
                json={"text": f"Idé {n}", "column": source["columns"][0]["id"]},
            )
            assert r.status_code == 201, r.text
            ids.append(r.json()["id"])
        path = f"/api/v1/boards/{target['id']}/collect"
        for _ in range(5):
            replies = await asyncio.gather(
                *(
                    api.call("POST", path, session["moderator_token"], json={"note_ids": ids})
                    for api in (a, b, a, b)
                )
            )
            assert all(r.status_code == 200 for r in replies), [r.text for r in replies]
        r = await b.call("GET", f"/api/v1/boards/{target['id']}", session["moderator_token"])
        collected = Counter(n["collected_from"] for n in r.json()["notes"])
        assert collected == dict.fromkeys(ids, 1)


async def test_dots_and_upvotes_racing_on_two_instances_stay_capped(
    pair: tuple[Served, Served],
) -> None:
    async with apis(pair) as (a, b):
        session = await a.make_session()
        people = [await a.join(session) for _ in range(6)]
        board = await _board(a, session, "Storgrupp")
        note = await _note(a, board, people[0]["token"])
        dots = f"/api/v1/dot-votes/{await _dot_vote(a, session, board)}/dots"
        calls = []
        for person in people:
            for api in (a, b, a, b, a, b):  # six tries at three dots
                calls.append(api.call("POST", dots, person["token"], json={"note_id": note}))
            for api in (a, b):
                calls.append(api.call("POST", f"/api/v1/notes/{note}/upvote", person["token"]))
        replies = await asyncio.gather(*calls)
        assert all(r.status_code in (200, 201, 409) for r in replies), [r.text for r in replies]
        r = await b.call("GET", f"/api/v1/boards/{board['id']}", session["moderator_token"])
        shown = r.json()["notes"][0]
        assert shown["upvotes"] == len(people)
        assert shown["dots"] <= 3 * len(people)
        given = Counter(r.status_code for r in replies if "dots_left" in r.text)
        assert shown["dots"] == given[201]


async def test_no_dot_is_given_after_its_dot_vote_closed(
    pair: tuple[Served, Served], published: list[tuple[int, str]]
) -> None:
    rng = random.Random(3)
    async with apis(pair) as (a, b):
        session = await a.make_session()
        people = [await a.join(session) for _ in range(8)]
        board = await _board(a, session, "Storgrupp")
        note = await _note(a, board, people[0]["token"])
        for round_ in range(ROUNDS // 2):
            vid = await _dot_vote(a, session, board)
            published.clear()
            calls = [
                later(
                    rng.uniform(0, 0.08),
                    api.call(
                        "POST", f"/api/v1/dot-votes/{vid}/dots", p["token"], json={"note_id": note}
                    ),
                )
                for p in people
                for api in (a, b)
            ]
            closer = (a, b)[round_ % 2]
            path = f"/api/v1/dot-votes/{vid}/close"
            close = later(0.03, closer.call("POST", path, session["moderator_token"]))
            closed, *replies = await asyncio.gather(close, *calls)
            assert closed.status_code == 200, closed.text
            late = after(published, "dots.closed")
            assert late == [], f"round {round_}: dots given after the close: {late}"
            assert all(r.status_code in (201, 409) for r in replies), [r.text for r in replies]
            r = await b.call("GET", f"/api/v1/dot-votes/{vid}", session["moderator_token"])
            counted = sum(n["dots"] for n in r.json()["notes"])
            assert counted == sum(r.status_code == 201 for r in replies)


async def test_hiding_words_while_answers_arrive_on_two_instances_never_fails(
    pair: tuple[Served, Served],
) -> None:
    """A moderator's change to a poll waits for the answers under way, never in a circle
    with them (a deadlock would answer the moderator or a batch with an error)."""
    rng = random.Random(13)
    async with apis(pair) as (a, b):
        session = await a.make_session()
        voters = [await a.join(session) for _ in range(VOTERS)]
        for round_ in range(ROUNDS // 2):
            r = await a.call(
                "POST",
                f"/api/v1/sessions/{session['id']}/polls",
                session["moderator_token"],
                json={"question": "Ett ord?", "kind": "wordcloud", "allow_change": round_ % 2 == 0},
            )
            poll = r.json()
            r = await a.call("POST", f"/api/v1/polls/{poll['id']}/open", session["moderator_token"])
            assert r.status_code == 200, r.text
            votes = [
                later(
                    rng.uniform(0, 0.08),
                    api.call(
                        "POST",
                        f"/api/v1/polls/{poll['id']}/votes",
                        voter["token"],
                        json={"words": [rng.choice(["tillit", "mod", "tid"])]},
                    ),
                )
                for voter in voters
                for api in (a, b)
            ]
            hides = [
                later(
                    0.01 + 0.02 * n,
                    (a, b)[n % 2].call(
                        "POST",
                        f"/api/v1/polls/{poll['id']}/hidden-words",
                        session["moderator_token"],
                        json={"word": "mod", "hidden": n % 2 == 0},
                    ),
                )
                for n in range(4)
            ]
            replies = await asyncio.gather(*hides, *votes)
            for r in replies[:4]:
                assert r.status_code == 200, r.text
            for r in replies[4:]:
                assert r.status_code in (200, 201, 409), r.text
