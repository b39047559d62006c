"""Likes in a storm: likes of notes and of questions share write transactions as answers do,
each still accepted or refused on its own, and every total stays exact."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Callable
from typing import Any

import pytest

from rooms import boards
from rooms.errors import Refused
from tests.conftest import Api, Served
from tests.live.test_boards_api import make_board, open_rooms, post_note, seat
from tests.live.test_exactness import apis, pair  # noqa: F401 (the fixture of two instances)
from tests.live.test_polls_api import database


def like_path(note: dict[str, Any]) -> str:
    return f"/api/v1/notes/{note['id']}/upvote"


async def a_note(api: Api, session: dict[str, Any], author: dict[str, Any]) -> dict[str, Any]:
    """A new note on a new plenary board."""
    board = await make_board(api, session, title="Idéer", columns=["Förslag"])
    r = await post_note(api, board, author["token"], "Fler pauser")
    assert r.status_code == 201, r.text
    note: dict[str, Any] = r.json()
    return note


def version(served: Served, session_id: str) -> int:
    with database(served) as db:
        [(found,)] = db.execute("SELECT version FROM session WHERE id = ?", (session_id,))
    return int(found)


async def note_upvotes(api: Api, session: dict[str, Any], note: dict[str, Any]) -> int:
    """The note's total as the moderator's board shows it."""
    path = f"/api/v1/boards/{note['board_id']}"
    r = await api.call("GET", path, session["moderator_token"])
    assert r.status_code == 200, r.text
    (found,) = (n for n in r.json()["notes"] if n["id"] == note["id"])
    return int(found["upvotes"])


async def test_likes_through_the_api_and_the_socket_share_transactions_and_count_exactly(
    api: Api, served: Served, stream: Callable[..., Any]
) -> None:
    """Sixty people like one note at once, half through the API and half with the like
    button over their sockets: every like is acknowledged with a total, the note counts
    exactly sixty, and the likes took far fewer transactions (version steps) than sixty."""
    session = await api.make_session()
    people = await asyncio.gather(*(api.join(session) for _ in range(60)))
    note = await a_note(api, session, people[0])
    by_api, by_socket = people[:30], people[30:]
    async with contextlib.AsyncExitStack() as stack:
        streams = [
            await stack.enter_async_context(stream(session["id"], p["token"])) for p in by_socket
        ]
        for s in streams:
            await s.until(lambda f: f["type"] == "snapshot")
        before = version(served, session["id"])
        for s in streams:
            await s.send({"type": "note.like", "note": note["id"]})
        replies = await asyncio.gather(
            *(api.call("POST", like_path(note), p["token"]) for p in by_api)
        )
        for s in streams:
            await s.until(lambda f: f["type"] == "ack" and f["for"] == "note.like")
    assert [r.status_code for r in replies] == [200] * 30
    assert all(1 <= r.json()["upvotes"] <= 60 for r in replies)
    assert await note_upvotes(api, session, note) == 60
    # One step per transaction that liked: sixty likes alone would be sixty steps.
    assert version(served, session["id"]) - before < 60 / 2


async def test_refused_likes_in_a_batch_leave_the_others_counted(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Likes of a hidden note and of another room's note arrive with good ones: each is
    refused as it would be alone (404, 403), the good ones are counted, and they were
    decided in shared batches."""
    verdicts: list[list[int | Refused]] = []
    real = boards.upvote_many

    async def watched(db: Any, sid: str, presses: Any) -> Any:
        outcome = await real(db, sid, presses)
        verdicts.append(list(outcome.value))
        return outcome

    monkeypatch.setattr(boards, "upvote_many", watched)
    session = await api.make_session()
    mod = session["moderator_token"]
    people = await asyncio.gather(*(api.join(session) for _ in range(30)))
    good = await a_note(api, session, people[0])
    hidden = await a_note(api, session, people[0])
    r = await api.call("POST", f"/api/v1/notes/{hidden['id']}/hide", mod)
    assert r.status_code == 200, r.text
    (room,) = await open_rooms(api, session, 1)
    insider = people[1]
    await seat(api, session, room, insider)
    room_board = await make_board(api, session, title="Rum", columns=["Idéer"], room_id=room)
    r = await post_note(api, room_board, insider["token"], "Bara här")
    assert r.status_code == 201, r.text
    elsewhere = r.json()
    targets = [(good, 200), (hidden, 404), (elsewhere, 403)]
    plan = [(p, *targets[n % 3]) for n, p in enumerate(people[2:])]
    replies = await asyncio.gather(
        *(api.call("POST", like_path(nid), p["token"]) for p, nid, _ in plan)
    )
    assert [r.status_code for r in replies] == [code for _, _, code in plan]
    codes = {r.json()["error"]["code"] for r in replies if r.status_code != 200}
    assert codes == {"not_found", "forbidden"}
    assert await note_upvotes(api, session, good) == sum(code == 200 for _, _, code in plan)
    mixed = [v for v in verdicts if {type(x) for x in v} == {int, Refused}]
    assert mixed, verdicts


async def test_a_like_and_its_taking_back_in_one_batch_leave_nothing(
    api: Api, served: Served
) -> None:
    """One batch: a person presses the like button twice, another likes, a third takes back
    what they never gave, a fourth likes twice. Each press gets the total as one press at a
    time would have; the stored likes are the second's and the fourth's."""
    session = await api.make_session()
    people = await asyncio.gather(*(api.join(session) for _ in range(4)))
    note = await a_note(api, session, people[0])
    twice, once, back, again = (p["participant_id"] for p in people)
    nid = note["id"]
    presses: list[boards.Press] = [
        (twice, nid, None),
        (once, nid, None),
        (twice, nid, None),
        (back, nid, True),
        (again, nid, False),
        (again, nid, False),
    ]

    async def run() -> Any:
        return await served.samla.change(lambda db: boards.upvote_many(db, session["id"], presses))

    assert await served.run(run) == [1, 2, 1, 1, 2, 2]
    assert await note_upvotes(api, session, note) == 2
    r = await api.call("DELETE", like_path(note), people[3]["token"])
    assert r.json() == {"upvotes": 1}
    r = await api.call("POST", like_path(note), people[0]["token"])
    assert r.json() == {"upvotes": 2}


async def test_a_failed_batch_of_likes_is_retried_like_by_like_and_nothing_is_lost(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = await api.make_session()
    people = await asyncio.gather(*(api.join(session) for _ in range(30)))
    note = await a_note(api, session, people[0])
    real, failed = boards.upvote_many, []

    async def fails_once(db: Any, sid: str, presses: Any) -> Any:
        if not failed:
            failed.append(len(presses))
            await real(db, sid, presses)  # written, then lost with the rolled-back transaction
            raise RuntimeError("the database went away mid-batch")
        return await real(db, sid, presses)

    monkeypatch.setattr(boards, "upvote_many", fails_once)
    replies = await asyncio.gather(*(api.call("POST", like_path(note), p["token"]) for p in people))
    assert failed and [r.status_code for r in replies] == [200] * 30
    assert await note_upvotes(api, session, note) == 30


async def test_likes_of_questions_share_transactions_and_refusals_stay_their_own(
    api: Api, served: Served, stream: Callable[..., Any]
) -> None:
    """Forty people like one question (half of them twice on the button, taking it back);
    a like of a rejected question is refused alone."""
    session = await api.make_session()
    mod = session["moderator_token"]
    people = await asyncio.gather(*(api.join(session) for _ in range(40)))
    asked = []
    for text in ("Hur når vi fler?", "Olämplig fråga"):
        r = await api.call(
            "POST",
            f"/api/v1/sessions/{session['id']}/questions",
            people[0]["token"],
            json={"text": text},
        )
        assert r.status_code == 201, r.text
        asked.append(r.json()["id"])
    question, rejected = asked
    r = await api.call(
        "POST", f"/api/v1/questions/{rejected}/approve", mod, json={"approved": False}
    )
    assert r.status_code == 200, r.text
    async with contextlib.AsyncExitStack() as stack:
        streams = [
            await stack.enter_async_context(stream(session["id"], p["token"])) for p in people[:20]
        ]
        for s in streams:
            await s.until(lambda f: f["type"] == "snapshot")
        before = version(served, session["id"])
        for s in streams:
            await s.send({"type": "question.like", "question": question})
            await s.send({"type": "question.like", "question": question})
        replies = await asyncio.gather(
            *(
                api.call("POST", f"/api/v1/questions/{question}/upvote", p["token"])
                for p in people[20:]
            ),
            api.call("POST", f"/api/v1/questions/{rejected}/upvote", people[1]["token"]),
        )
        for s in streams:
            await s.until(lambda f: f["type"] == "ack" and f["for"] == "question.like")
            await s.until(lambda f: f["type"] == "ack" and f["for"] == "question.like")
    assert [r.status_code for r in replies] == [200] * 20 + [404]
    r = await api.call("GET", f"/api/v1/sessions/{session['id']}/questions", mod)
    counts = {q["id"]: q["upvotes"] for q in r.json()["questions"]}
    assert counts == {question: 20, rejected: 0}
    assert version(served, session["id"]) - before < 60 / 2


async def test_likes_on_two_instances_at_once_count_each_person_once(
    pair: tuple[Served, Served],  # noqa: F811
) -> None:
    """Everyone likes one note through both instances at once (on PostgreSQL, truly at
    once): every press is answered, no batch waits for the other's forever, and the note
    counts each person once."""
    async with apis(pair) as (a, b):
        session = await a.make_session()
        people = [await a.join(session) for _ in range(24)]
        note = await a_note(a, session, people[0])
        replies = await asyncio.gather(
            *(api.call("POST", like_path(note), p["token"]) for p in people for api in (a, b))
        )
        assert [r.status_code for r in replies] == [200] * 48, [r.text for r in replies]
        assert await note_upvotes(b, session, note) == 24
        back = await asyncio.gather(
            *(b.call("DELETE", like_path(note), p["token"]) for p in people[:10])
        )
        assert [r.status_code for r in back] == [200] * 10
        assert await note_upvotes(a, session, note) == 14


async def test_a_participants_like_opens_no_read_of_its_own_before_its_batch(
    api: Api, served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A storm of likes is thousands of requests in seconds: a participant's like of a note or
    a question, and its taking back, reads nothing before its batch (as a vote does not);
    the batch checks what is liked. A like of another session's note is still refused."""
    session = await api.make_session()
    people = [await api.join(session) for _ in range(4)]
    note = await a_note(api, session, people[0])
    r = await api.call(
        "POST",
        f"/api/v1/sessions/{session['id']}/questions",
        people[0]["token"],
        json={"text": "Hur når vi fler?"},
    )
    assert r.status_code == 201, r.text
    question_path = f"/api/v1/questions/{r.json()['id']}/upvote"
    for p in people:  # each token's owner is read once, then kept
        r = await api.call("POST", like_path(note), p["token"])
        assert r.status_code == 200, r.text

    reads: list[str] = []
    original = served.samla.store.read

    def counting(*args: Any, **kwargs: Any) -> Any:
        frame = sys._getframe(1)
        while frame is not None:
            if frame.f_code.co_filename.endswith(("live/api/boards.py", "live/api/questions.py")):
                reads.append(frame.f_code.co_name)
                break
            frame = frame.f_back
        return original(*args, **kwargs)

    monkeypatch.setattr(served.samla.store, "read", counting)
    for p in people:
        took_back = await api.call("DELETE", like_path(note), p["token"])
        liked = await api.call("POST", question_path, p["token"])
        assert (took_back.status_code, liked.status_code) == (200, 200), (took_back, liked)
    assert took_back.json() == {"upvotes": 0} and liked.json() == {"upvotes": 4}
    assert reads == []
    # The batch refuses what the reads before it used to: a note of another session.
    other = await api.make_session()
    stranger = await api.join(other)
    r = await api.call("POST", like_path(note), stranger["token"])
    assert r.status_code == 403, r.text
    assert r.json()["error"]["code"] == "forbidden"
    r = await api.call("POST", "/api/v1/notes/no-such-note/upvote", stranger["token"])
    assert r.status_code == 404, r.text
