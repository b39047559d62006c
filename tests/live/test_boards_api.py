"""Note boards and Q&A through the public API and the event stream, from the outside."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import Api, eventually


async def open_rooms(
    api: Api, session: dict[str, Any], count: int, assignment: str = "manual"
) -> list[str]:
    """Opens a round of `count` breakout rooms through the API (by hand: nobody in them yet;
    at random: everyone who joins from now on is placed in one)."""
    mod, sid = session["moderator_token"], session["id"]
    body = {"count": count, "assignment": assignment, "prepare": True}
    r = await api.call("POST", f"/api/v1/sessions/{sid}/rooms", mod, json=body)
    assert r.status_code == 201, r.text
    r = await api.call("POST", f"/api/v1/sessions/{sid}/rooms/open", mod)
    assert r.status_code == 200, r.text
    return [room["id"] for room in r.json()["rooms"]]


async def seat(api: Api, session: dict[str, Any], room_id: str, person: dict[str, Any]) -> None:
    """The moderator moves a participant into a breakout room."""
    body = {"participant_id": person["participant_id"]}
    r = await api.call(
        "POST", f"/api/v1/rooms/{room_id}/members", session["moderator_token"], json=body
    )
    assert r.status_code == 200, r.text


async def make_board(api: Api, session: dict[str, Any], **body: Any) -> dict[str, Any]:
    body.setdefault("title", "Goda exempel / Utmaningar / Idéer")
    body.setdefault("columns", ["Goda exempel", "Utmaningar", "Idéer"])
    r = await api.call(
        "POST", f"/api/v1/sessions/{session['id']}/boards", session["moderator_token"], json=body
    )
    assert r.status_code == 201, r.text
    board: dict[str, Any] = r.json()
    return board


async def post_note(
    api: Api, board: dict[str, Any], token: str, text: str, column: int = 0, **extra: Any
) -> Any:
    return await api.call(
        "POST",
        f"/api/v1/boards/{board['id']}/notes",
        token,
        json={"text": text, "column": board["columns"][column]["id"], **extra},
    )


async def board_state(api: Api, board_id: str, token: str) -> dict[str, Any]:
    r = await api.call("GET", f"/api/v1/boards/{board_id}", token)
    assert r.status_code == 200, r.text
    found: dict[str, Any] = r.json()
    return found


# -- the contract -------------------------------------------------------------------------


async def test_moderator_adds_a_board_and_participants_post_and_upvote(api: Api) -> None:
    session = await api.make_session()
    board = await make_board(api, session)
    assert board["room_id"] is None
    assert [c["title"] for c in board["columns"]] == ["Goda exempel", "Utmaningar", "Idéer"]
    anna, erik = await api.join(session, "Anna"), await api.join(session, "Erik")
    r = await post_note(api, board, anna["token"], "en kommuns gemensamma ingång för föreningar")
    assert r.status_code == 201, r.text
    note = r.json()
    assert note["author"] == {"id": anna["participant_id"], "name": "Anna"}
    assert note["upvotes"] == 0 and note["column"] == board["columns"][0]["id"]
    r = await post_note(api, board, erik["token"], "projektpengar tar slut", 1, anonymous=True)
    assert r.json()["author"] is None
    r = await api.call("POST", f"/api/v1/notes/{note['id']}/upvote", erik["token"])
    assert r.status_code == 200 and r.json() == {"upvotes": 1}
    r = await api.call("GET", f"/api/v1/sessions/{session['id']}", anna["token"])
    assert r.json()["boards"] == [{"id": board["id"], "title": board["title"], "room_id": None}]
    state = await board_state(api, board["id"], anna["token"])
    assert {n["text"]: n["upvotes"] for n in state["notes"]} == {
        "en kommuns gemensamma ingång för föreningar": 1,
        "projektpengar tar slut": 0,
    }
    assert all(
        set(n) >= {"id", "column", "text", "author", "upvotes", "hidden"} for n in state["notes"]
    )


async def test_a_board_from_a_template_has_its_columns(api: Api) -> None:
    session = await api.make_session()
    board = await make_board(api, session, title=None, columns=None, template="phases")
    assert board["title"] == "Inleda / Fördjupa / Utvärdera"
    assert [c["title"] for c in board["columns"]] == ["Inleda", "Fördjupa", "Utvärdera"]
    free = await make_board(api, session, title="Fritt", columns=None, template="free")
    assert len(free["columns"]) == 1


async def test_upvoting_twice_is_still_one_upvote_and_it_can_be_taken_back(api: Api) -> None:
    session = await api.make_session()
    board = await make_board(api, session)
    anna, erik = await api.join(session, "Anna"), await api.join(session, "Erik")
    note = (await post_note(api, board, anna["token"], "IOP ger långsiktig finansiering")).json()
    for _ in range(3):
        r = await api.call("POST", f"/api/v1/notes/{note['id']}/upvote", erik["token"])
        assert r.json() == {"upvotes": 1}
    r = await api.call("DELETE", f"/api/v1/notes/{note['id']}/upvote", erik["token"])
    assert r.json() == {"upvotes": 0}
    r = await api.call("DELETE", f"/api/v1/notes/{note['id']}/upvote", erik["token"])
    assert r.json() == {"upvotes": 0}


async def test_a_re_sent_note_is_stored_once(api: Api) -> None:
    session = await api.make_session()
    board = await make_board(api, session)
    anna = await api.join(session, "Anna")
    first = await post_note(api, board, anna["token"], "börja med något praktiskt", nonce="n-1")
    again = await post_note(api, board, anna["token"], "börja med något praktiskt", nonce="n-1")
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    # Without a nonce: the same words in the same column just now are the same note.
    plain = await post_note(api, board, anna["token"], "tillit tar tid")
    resent = await post_note(api, board, anna["token"], "tillit tar tid")
    assert resent.json()["id"] == plain.json()["id"]
    other_column = await post_note(api, board, anna["token"], "tillit tar tid", 2)
    assert other_column.status_code == 201 and other_column.json()["id"] != plain.json()["id"]
    texts = [n["text"] for n in (await board_state(api, board["id"], anna["token"]))["notes"]]
    assert sorted(texts) == ["börja med något praktiskt", "tillit tar tid", "tillit tar tid"]


async def test_participants_edit_and_delete_only_their_own_notes(api: Api) -> None:
    session = await api.make_session()
    board = await make_board(api, session)
    anna, erik = await api.join(session, "Anna"), await api.join(session, "Erik")
    note = (await post_note(api, board, anna["token"], "första versionen")).json()
    r = await api.call("PATCH", f"/api/v1/notes/{note['id']}", erik["token"], json={"text": "x"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    r = await api.call("DELETE", f"/api/v1/notes/{note['id']}", erik["token"])
    assert r.status_code == 403
    r = await api.call(
        "PATCH", f"/api/v1/notes/{note['id']}", anna["token"], json={"text": "andra versionen"}
    )
    assert r.status_code == 200 and r.json()["text"] == "andra versionen"
    r = await api.call("DELETE", f"/api/v1/notes/{note['id']}", anna["token"])
    assert r.status_code == 204
    assert (await board_state(api, board["id"], anna["token"]))["notes"] == []


async def test_bad_notes_are_refused_and_nothing_is_stored(api: Api) -> None:
    session = await api.make_session()
    board = await make_board(api, session)
    anna = await api.join(session, "Anna")
    for text in ["", "   \n ", "x" * 1001, None, 42]:
        r = await post_note(api, board, anna["token"], text)  # type: ignore[arg-type]
        assert r.status_code == 422, text
        assert r.json()["error"]["code"] == "invalid"
    r = await api.call(
        "POST",
        f"/api/v1/boards/{board['id']}/notes",
        anna["token"],
        json={"text": "ok", "column": "nope"},
    )
    assert r.status_code == 422
    r = await api.call(
        "POST", "/api/v1/boards/nope/notes", anna["token"], json={"text": "ok", "column": "nope"}
    )
    assert r.status_code == 404
    r = await api.call(
        "POST",
        f"/api/v1/sessions/{session['id']}/boards",
        session["moderator_token"],
        json={"title": "", "columns": ["a"]},
    )
    assert r.status_code == 422
    r = await api.call(
        "POST",
        f"/api/v1/sessions/{session['id']}/boards",
        session["moderator_token"],
        json={"title": "T", "columns": []},
    )
    assert r.status_code == 422
    assert (await board_state(api, board["id"], anna["token"]))["notes"] == []
    r = await post_note(api, board, anna["token"], "x" * 1000)
    assert r.status_code == 201


async def test_a_note_to_another_session_or_room_is_forbidden(
    api: Api,
) -> None:
    one, two = await api.make_session("One"), await api.make_session("Two")
    board_two = await make_board(api, two)
    anna = await api.join(one, "Anna")
    r = await post_note(api, board_two, anna["token"], "hej")
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    room_a, room_b = await open_rooms(api, one, 2)
    room_board = await make_board(api, one, room_id=room_b)
    erik = await api.join(one, "Erik")
    await seat(api, one, room_a, anna)
    await seat(api, one, room_b, erik)
    r = await post_note(api, room_board, anna["token"], "hej")
    assert r.status_code == 403
    r = await api.call("GET", f"/api/v1/boards/{room_board['id']}", anna["token"])
    assert r.status_code == 403
    r = await post_note(api, room_board, erik["token"], "hej från rum b")
    assert r.status_code == 201
    r = await api.call("POST", f"/api/v1/notes/{r.json()['id']}/upvote", anna["token"])
    assert r.status_code == 403


async def test_moderators_hide_restore_pin_and_move_participants_may_not(api: Api) -> None:
    session = await api.make_session()
    board = await make_board(api, session)
    anna = await api.join(session, "Anna")
    mod = session["moderator_token"]
    note = (await post_note(api, board, anna["token"], "något olämpligt")).json()
    for action in ["hide", "restore", "pin", "move"]:
        r = await api.call(
            "POST",
            f"/api/v1/notes/{note['id']}/{action}",
            anna["token"],
            json={"column": board["columns"][1]["id"]},
        )
        assert r.status_code == 403, action
    r = await api.call("POST", f"/api/v1/notes/{note['id']}/hide", mod)
    assert r.status_code == 200 and r.json()["hidden"] is True
    assert (await board_state(api, board["id"], anna["token"]))["notes"] == []
    hidden = (await board_state(api, board["id"], mod))["notes"]
    assert [(n["id"], n["hidden"]) for n in hidden] == [(note["id"], True)]
    r = await api.call("POST", f"/api/v1/notes/{note['id']}/restore", mod)
    assert r.json()["hidden"] is False
    r = await api.call(
        "POST", f"/api/v1/notes/{note['id']}/move", mod, json={"column": board["columns"][2]["id"]}
    )
    assert r.json()["column"] == board["columns"][2]["id"]
    second = (await post_note(api, board, anna["token"], "senare lapp", 2)).json()
    r = await api.call("POST", f"/api/v1/notes/{note['id']}/pin", mod)
    assert r.json()["pinned"] is True
    r = await api.call("POST", f"/api/v1/notes/{second['id']}/upvote", anna["token"])
    ids = [n["id"] for n in (await board_state(api, board["id"], anna["token"]))["notes"]]
    assert set(ids) == {note["id"], second["id"]}


async def test_collected_notes_reach_the_plenary_board_once(
    api: Api,
) -> None:
    session = await api.make_session()
    mod = session["moderator_token"]
    plenary = await make_board(api, session, title="Storgruppen")
    (r1,) = await open_rooms(api, session, 1)
    room = await make_board(api, session, room_id=r1)
    anna = await api.join(session, "Anna")
    await seat(api, session, r1, anna)
    note = (
        await post_note(api, room, anna["token"], "IOP ger långsiktig finansiering", anonymous=True)
    ).json()
    r = await api.call(
        "POST",
        f"/api/v1/boards/{plenary['id']}/collect",
        anna["token"],
        json={"note_ids": [note["id"]]},
    )
    assert r.status_code == 403
    for _ in range(2):
        r = await api.call(
            "POST", f"/api/v1/boards/{plenary['id']}/collect", mod, json={"note_ids": [note["id"]]}
        )
        assert r.status_code == 200, r.text
    state = await board_state(api, plenary["id"], anna["token"])
    assert len(state["notes"]) == 1
    collected = state["notes"][0]
    assert collected["text"] == "IOP ger långsiktig finansiering"
    assert collected["collected_from"] == note["id"] and collected["author"] is None
    assert collected["column"] == plenary["columns"][0]["id"]  # same title: "Goda exempel"
    r = await api.call(
        "POST", f"/api/v1/boards/{room['id']}/collect", mod, json={"note_ids": [note["id"]]}
    )
    assert r.status_code == 422  # onto a room board: no


async def test_a_dot_vote_orders_the_plenary_board_and_caps_each_participants_dots(
    api: Api,
) -> None:
    session = await api.make_session()
    mod = session["moderator_token"]
    plenary = await make_board(api, session, title="Storgruppen")
    people = [await api.join(session, f"P{i}") for i in range(3)]
    notes = [
        (await post_note(api, plenary, people[0]["token"], f"idé {i}")).json() for i in range(3)
    ]
    r = await api.call(
        "POST",
        f"/api/v1/boards/{plenary['id']}/dot-votes",
        mod,
        json={"dots": 2, "scope": "collected"},
    )
    assert r.status_code == 201
    vote = r.json()
    give = [(0, 2), (0, 2), (1, 2), (1, 1), (2, 1), (2, 0)]
    for who, which in give:
        r = await api.call(
            "POST",
            f"/api/v1/dot-votes/{vote['id']}/dots",
            people[who]["token"],
            json={"note_id": notes[which]["id"]},
        )
        assert r.status_code == 201, r.text
    r = await api.call(
        "POST",
        f"/api/v1/dot-votes/{vote['id']}/dots",
        people[0]["token"],
        json={"note_id": notes[0]["id"]},
    )
    assert r.status_code == 409  # no dots left
    state = await board_state(api, plenary["id"], people[1]["token"])
    assert [n["text"] for n in state["notes"]] == ["idé 2", "idé 1", "idé 0"]
    assert [n["dots"] for n in state["notes"]] == [3, 2, 1]
    r = await api.call("GET", f"/api/v1/dot-votes/{vote['id']}", mod)
    assert r.json()["voters"] == 3
    r = await api.call("POST", f"/api/v1/dot-votes/{vote['id']}/close", mod)
    assert r.json()["status"] == "closed"
    r = await api.call(
        "POST",
        f"/api/v1/dot-votes/{vote['id']}/dots",
        people[2]["token"],
        json={"note_id": notes[0]["id"]},
    )
    assert r.status_code == 409


async def test_a_good_example_card_keeps_its_fields_apart(api: Api) -> None:
    session = await api.make_session()
    board = await make_board(api, session, title=None, columns=None, template="examples")
    assert board["columns"][0]["card"] is True
    anna = await api.join(session, "Anna")
    fields = {
        "what": "En gemensam ingång för föreningar",
        "who": "Kommunen och föreningsråd",
        "where": "Umeå",
        "contact": "anna@example.se",
        "effect": "Kortare handläggning",
    }
    r = await api.call(
        "POST",
        f"/api/v1/boards/{board['id']}/notes",
        anna["token"],
        json={"column": board["columns"][0]["id"], "fields": fields},
    )
    assert r.status_code == 201, r.text
    state = await board_state(api, board["id"], anna["token"])
    assert state["notes"][0]["fields"] == fields
    assert state["notes"][0]["text"] == fields["what"]
    r = await api.call(
        "POST",
        f"/api/v1/boards/{board['id']}/notes",
        anna["token"],
        json={"column": board["columns"][1]["id"], "fields": fields},
    )
    assert r.status_code == 422


async def test_posting_past_the_rate_limit_is_429_with_retry_after(api: Api) -> None:
    session = await api.make_session()
    board = await make_board(api, session)
    anna, erik = await api.join(session, "Anna"), await api.join(session, "Erik")
    statuses = [
        (await post_note(api, board, anna["token"], f"lapp {i}")).status_code for i in range(21)
    ]
    assert statuses[:20] == [201] * 20
    assert statuses[20] == 429
    r = await post_note(api, board, anna["token"], "en till")
    assert r.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(r.headers["retry-after"]) <= 60
    # Per participant, not per address: Erik, on the same address, is not held back.
    assert (await post_note(api, board, erik["token"], "hej")).status_code == 201
    assert len((await board_state(api, board["id"], anna["token"]))["notes"]) == 21


async def test_notes_are_literal_text_and_invisible_marks_are_stripped(api: Api) -> None:
    session = await api.make_session()
    board = await make_board(api, session)
    anna = await api.join(session, "Anna")
    markup = '<script>alert(1)</script> <img src=x onerror=alert(2)> &amp; <a href="javascript:x">'
    r = await post_note(api, board, anna["token"], markup)
    assert r.json()["text"] == markup
    r = await post_note(api, board, anna["token"], "Erik\u202e\u200bsays hi")
    assert r.json()["text"] == "Eriksays hi"


async def test_writes_in_a_closed_session_are_refused(api: Api) -> None:
    session = await api.make_session()
    board = await make_board(api, session)
    anna = await api.join(session, "Anna")
    await api.call("POST", f"/api/v1/sessions/{session['id']}/close", session["moderator_token"])
    r = await post_note(api, board, anna["token"], "för sent")
    assert r.status_code == 409 and r.json()["error"]["code"] == "session_closed"


async def test_openapi_lists_the_board_and_question_paths(api: Api) -> None:
    doc = (await api.call("GET", "/api/v1/openapi.json")).json()
    for path in [
        "/api/v1/sessions/{sid}/boards",
        "/api/v1/boards/{bid}/notes",
        "/api/v1/notes/{nid}/upvote",
        "/api/v1/boards/{bid}",
        "/api/v1/sessions/{sid}/questions",
        "/api/v1/questions/{qid}/upvote",
    ]:
        assert path in doc["paths"], path


# -- Q&A ----------------------------------------------------------------------------------


async def test_questions_are_asked_upvoted_once_sorted_and_answered(api: Api) -> None:
    session = await api.make_session()
    sid, mod = session["id"], session["moderator_token"]
    anna, erik = await api.join(session, "Anna"), await api.join(session, "Erik")
    r = await api.call(
        "POST",
        f"/api/v1/sessions/{sid}/questions",
        anna["token"],
        json={"text": "Hur säkrar vi långsiktig finansiering?"},
    )
    assert r.status_code == 201
    first = r.json()
    assert first["author"] == {"id": anna["participant_id"], "name": "Anna"}
    r = await api.call(
        "POST",
        f"/api/v1/sessions/{sid}/questions",
        erik["token"],
        json={"text": "Vem äger frågan?", "anonymous": True},
    )
    second = r.json()
    assert second["author"] is None
    for _ in range(2):
        r = await api.call("POST", f"/api/v1/questions/{first['id']}/upvote", erik["token"])
        assert r.json() == {"upvotes": 1}
    r = await api.call("GET", f"/api/v1/sessions/{sid}/questions", anna["token"])
    listed = r.json()["questions"]
    assert [q["id"] for q in listed] == [first["id"], second["id"]]
    assert set(listed[0]) >= {"id", "text", "author", "upvotes", "answered"}
    r = await api.call("GET", f"/api/v1/sessions/{sid}/questions?sort=time", anna["token"])
    assert [q["id"] for q in r.json()["questions"]] == [second["id"], first["id"]]
    r = await api.call("POST", f"/api/v1/questions/{first['id']}/answered", anna["token"])
    assert r.status_code == 403
    r = await api.call("POST", f"/api/v1/questions/{first['id']}/answered", mod)
    assert r.json()["answered"] is True
    for bad in ["", "x" * 501]:
        r = await api.call(
            "POST", f"/api/v1/sessions/{sid}/questions", anna["token"], json={"text": bad}
        )
        assert r.status_code == 422


async def test_in_approval_mode_questions_wait_for_a_moderator(api: Api) -> None:
    session = await api.make_session()
    sid, mod = session["id"], session["moderator_token"]
    anna, erik = await api.join(session, "Anna"), await api.join(session, "Erik")
    r = await api.call(
        "POST", f"/api/v1/sessions/{sid}/questions/settings", mod, json={"approval": True}
    )
    assert r.json() == {"approval": True}
    q = (
        await api.call(
            "POST",
            f"/api/v1/sessions/{sid}/questions",
            anna["token"],
            json={"text": "Får vi se underlaget?"},
        )
    ).json()
    r = await api.call("GET", f"/api/v1/sessions/{sid}/questions", erik["token"])
    assert r.json()["questions"] == []
    r = await api.call("POST", f"/api/v1/questions/{q['id']}/upvote", erik["token"])
    assert r.status_code == 404
    r = await api.call("GET", f"/api/v1/sessions/{sid}/questions", mod)
    assert [x["id"] for x in r.json()["questions"]] == [q["id"]]
    r = await api.call("POST", f"/api/v1/questions/{q['id']}/show", mod)
    assert r.status_code == 403
    await api.call("POST", f"/api/v1/questions/{q['id']}/approve", mod)
    r = await api.call("GET", f"/api/v1/sessions/{sid}/questions", erik["token"])
    assert [x["id"] for x in r.json()["questions"]] == [q["id"]]
    r = await api.call("POST", f"/api/v1/questions/{q['id']}/show", mod)
    assert r.json()["shown"] is True


# -- many at once -------------------------------------------------------------------------


class Mirror:
    """What a JSON event stream says a board holds, rebuilt from its frames alone."""

    def __init__(self, panel: str, board_id: str) -> None:
        self.panel = panel
        self.board_id = board_id
        self.notes: dict[str, int] = {}
        self.snapshots = 0

    def apply(self, frame: dict[str, Any]) -> None:
        kind = frame["type"]
        if kind == "snapshot":
            self.snapshots += 1
            boards = frame[self.panel]["boards"]
            board = next(b for b in boards if b["id"] == self.board_id)
            self.notes = {n["id"]: n["upvotes"] for n in board["notes"]}
        elif kind in ("note.added", "note.updated", "note.restored"):
            note = frame["note"]
            if note["board_id"] == self.board_id:
                self.notes[note["id"]] = note["upvotes"]
        elif kind == "note.upvoted" and frame["board_id"] == self.board_id:
            self.notes[frame["note_id"]] = frame["upvotes"]
        elif kind in ("note.deleted", "note.hidden"):
            self.notes.pop(frame["note_id"], None)


@pytest.mark.parametrize(
    "broker_kind",
    [
        pytest.param("memory", id="memory"),
        pytest.param("redis", id="redis", marks=pytest.mark.redis),
    ],
)
async def test_a_hundred_participants_posting_and_upvoting_at_once(
    api: Api, stream: Callable[..., Any]
) -> None:
    session = await api.make_session("Hundra samtidigt")
    board = await make_board(api, session)
    people = await asyncio.gather(*[api.join(session, f"Deltagare {i}") for i in range(100)])
    rng = random.Random(5)
    async with (
        stream(session["id"], session["moderator_token"]) as mod_stream,
        stream(session["id"], people[0]["token"]) as p0_stream,
        stream(session["id"], people[1]["token"]) as p1_stream,
    ):
        mirrors = [
            Mirror("boards-moderation", board["id"]),
            Mirror("boards", board["id"]),
            Mirror("boards", board["id"]),
        ]
        streams = [mod_stream, p0_stream, p1_stream]

        async def follow(s: Any, mirror: Mirror) -> None:
            while True:
                mirror.apply(await s.next(timeout=60))

        for s, m in zip(streams, mirrors, strict=True):
            m.apply(await s.next())
        readers = [asyncio.create_task(follow(s, m)) for s, m in zip(streams, mirrors, strict=True)]
        try:

            async def write_notes(i: int, who: dict[str, Any]) -> list[str]:
                ids = []
                for k in range(2):
                    r = await post_note(
                        api, board, who["token"], f"lapp {k} från {i}", k, nonce=f"{i}-{k}"
                    )
                    assert r.status_code == 201, r.text
                    ids.append(r.json()["id"])
                # The extension's queue flushed again after a reconnect: the same note.
                again = await post_note(
                    api, board, who["token"], f"lapp 0 från {i}", 0, nonce=f"{i}-0"
                )
                assert again.status_code == 200 and again.json()["id"] == ids[0]
                return ids

            written = await asyncio.gather(*[write_notes(i, p) for i, p in enumerate(people)])
            accepted = [nid for ids in written for nid in ids]
            assert len(accepted) == len(set(accepted)) == 200

            expected: dict[str, set[str]] = {nid: set() for nid in accepted}
            plans = []
            for who in people:
                chosen = rng.sample(accepted, 5)
                chosen.append(chosen[0])  # a double click: still one upvote
                for nid in chosen:
                    expected[nid].add(who["participant_id"])
                plans.append((who, chosen))

            async def upvote_all(who: dict[str, Any], chosen: list[str]) -> None:
                for nid in chosen:
                    r = await api.call("POST", f"/api/v1/notes/{nid}/upvote", who["token"])
                    assert r.status_code == 200, r.text

            await asyncio.gather(*[upvote_all(who, chosen) for who, chosen in plans])

            state = await board_state(api, board["id"], session["moderator_token"])
            on_board = [n["id"] for n in state["notes"]]
            assert sorted(on_board) == sorted(accepted)  # every accepted note exactly once
            truth = {n["id"]: n["upvotes"] for n in state["notes"]}
            assert truth == {nid: len(v) for nid, v in expected.items()}
            assert sum(truth.values()) == 500

            for mirror in mirrors:

                async def same(m: Mirror = mirror) -> bool:
                    return m.notes == truth

                await eventually(same, timeout=20)
        finally:
            for task in readers:
                task.cancel()
            await asyncio.gather(*readers, return_exceptions=True)


# -- who is told --------------------------------------------------------------------------


async def test_a_room_boards_notes_are_told_only_to_that_room(
    api: Api, stream: Callable[..., Any]
) -> None:
    session = await api.make_session()
    r1, r2 = await open_rooms(api, session, 2)
    one = await make_board(api, session, title="Rum 1", room_id=r1)
    two = await make_board(api, session, title="Rum 2", room_id=r2)
    anna, erik = await api.join(session, "Anna"), await api.join(session, "Erik")
    await seat(api, session, r1, anna)
    await seat(api, session, r2, erik)
    async with (
        stream(session["id"], erik["token"]) as erik_stream,
        stream(session["id"], session["moderator_token"]) as mod_stream,
    ):
        snapshot = await erik_stream.next()
        assert [b["id"] for b in snapshot["boards"]["boards"]] == [two["id"]]
        await mod_stream.next()
        secret = (await post_note(api, one, anna["token"], "bara för rum 1")).json()
        mine = (await post_note(api, two, erik["token"], "rum 2 skriver")).json()
        frame = await mod_stream.until(lambda f: f["type"] == "note.added")
        assert frame["note"]["id"] == secret["id"]
        # Erik's stream: his own note arrives, and nothing about room 1 before it.
        await erik_stream.until(
            lambda f: f["type"] == "note.added" and f["note"]["id"] == mine["id"]
        )
        assert "bara för rum 1" not in str(erik_stream.frames)


async def test_a_hidden_notes_words_are_told_only_to_moderators(
    api: Api, stream: Callable[..., Any]
) -> None:
    session = await api.make_session()
    board = await make_board(api, session)
    anna, erik = await api.join(session, "Anna"), await api.join(session, "Erik")
    note = (await post_note(api, board, anna["token"], "något olämpligt")).json()
    async with (
        stream(session["id"], erik["token"]) as erik_stream,
        stream(session["id"], session["moderator_token"]) as mod_stream,
    ):
        await erik_stream.next()
        await mod_stream.next()
        await api.call("POST", f"/api/v1/notes/{note['id']}/hide", session["moderator_token"])
        told = await erik_stream.until(lambda f: f["type"] == "note.hidden")
        assert told["note_id"] == note["id"] and "note" not in told
        told = await mod_stream.until(lambda f: f["type"] == "note.hidden")
        assert told["note"]["text"] == "något olämpligt"
        r = await api.call(
            "PATCH", f"/api/v1/notes/{note['id']}", anna["token"], json={"text": "ännu värre"}
        )
        assert r.status_code == 200
        await mod_stream.until(lambda f: f["type"] == "note.updated")
        after = (await post_note(api, board, erik["token"], "en vanlig lapp")).json()
        await erik_stream.until(
            lambda f: f["type"] == "note.added" and f["note"]["id"] == after["id"]
        )
        assert "ännu värre" not in str(erik_stream.frames)


# -- the socket ---------------------------------------------------------------------------


async def test_a_note_flushed_again_after_a_reconnect_is_stored_once(
    api: Api, stream: Callable[..., Any]
) -> None:
    session = await api.make_session()
    board = await make_board(api, session)
    anna = await api.join(session, "Anna")
    message = {
        "type": "note.add",
        "target": f"{board['id']}:{board['columns'][0]['id']}",
        "text": "skickad två gånger",
        "nonce": "form-1",
        "HEADERS": {},
    }
    for _ in range(2):  # the socket drops; the extension's queue sends the message again
        async with stream(session["id"], anna["token"]) as s:
            await s.next()
            await s.send(message)
            await s.until(lambda f: f["type"] in ("ack", "error"))
            assert s.frames[-1] == {"type": "ack", "for": "note.add"}
    notes = (await board_state(api, board["id"], anna["token"]))["notes"]
    assert [n["text"] for n in notes] == ["skickad två gånger"]


async def test_notes_over_the_socket_are_rate_limited_per_participant(
    api: Api, stream: Callable[..., Any]
) -> None:
    session = await api.make_session()
    board = await make_board(api, session)
    anna = await api.join(session, "Anna")
    target = f"{board['id']}:{board['columns'][0]['id']}"
    replies = []
    async with stream(session["id"], anna["token"]) as s:
        await s.next()
        for i in range(21):
            await s.send({"type": "note.add", "target": target, "text": f"lapp {i}"})
            replies.append(await s.until(lambda f: f["type"] in ("ack", "error")))
    assert [r["type"] for r in replies] == ["ack"] * 20 + ["error"]
    assert replies[-1]["error"]["code"] == "rate_limited"
    assert len((await board_state(api, board["id"], anna["token"]))["notes"]) == 20


async def test_a_gallery_vote_opens_every_rooms_board_to_read_and_dot_but_not_to_write(
    api: Api,
) -> None:
    session = await api.make_session()
    mod = session["moderator_token"]
    plenary = await make_board(api, session, title="Storgruppen")
    r1, r2 = await open_rooms(api, session, 2)
    other = await make_board(api, session, title="Rum 2", room_id=r2)
    anna, erik = await api.join(session, "Anna"), await api.join(session, "Erik")
    await seat(api, session, r1, anna)
    await seat(api, session, r2, erik)
    note = (await post_note(api, other, erik["token"], "från rum 2")).json()
    assert (
        await api.call("GET", f"/api/v1/boards/{other['id']}", anna["token"])
    ).status_code == 403
    r = await api.call(
        "POST", f"/api/v1/boards/{plenary['id']}/dot-votes", mod, json={"scope": "all", "dots": 1}
    )
    vote = r.json()
    assert (
        await api.call("GET", f"/api/v1/boards/{other['id']}", anna["token"])
    ).status_code == 200
    r = await api.call(
        "POST", f"/api/v1/dot-votes/{vote['id']}/dots", anna["token"], json={"note_id": note["id"]}
    )
    assert r.status_code == 201 and r.json() == {"dots_left": 0}
    assert (await post_note(api, other, anna["token"], "intrång")).status_code == 403
    r = await api.call("POST", f"/api/v1/notes/{note['id']}/upvote", anna["token"])
    assert r.status_code == 403
    await api.call("POST", f"/api/v1/dot-votes/{vote['id']}/close", mod)
    assert (
        await api.call("GET", f"/api/v1/boards/{other['id']}", anna["token"])
    ).status_code == 403
    results = (await api.call("GET", f"/api/v1/dot-votes/{vote['id']}", mod)).json()
    assert results["notes"] == [{"id": note["id"], "text": "från rum 2", "dots": 1}]


@pytest.mark.redis
async def test_the_note_limit_is_shared_by_instances_through_redis(
    served_factory: Callable[..., Any], redis_server: Any
) -> None:
    import httpx

    first = served_factory(redis_server.url)
    second = served_factory(redis_server.url)  # the same store, another instance
    async with (
        httpx.AsyncClient(base_url=first.base, timeout=30) as one,
        httpx.AsyncClient(base_url=second.base, timeout=30) as two,
    ):
        api_one, api_two = Api(first, one), Api(second, two)
        session = await api_one.make_session()
        board = await make_board(api_one, session)
        anna = await api_one.join(session, "Anna")
        statuses = []
        for i in range(21):
            via = api_one if i % 2 else api_two
            statuses.append((await post_note(via, board, anna["token"], f"lapp {i}")).status_code)
        assert statuses == [201] * 20 + [429]


async def test_every_open_breakout_room_gets_its_board_from_a_template(api: Api) -> None:
    session = await api.make_session()
    mod = session["moderator_token"]
    r = await api.call(
        "POST", f"/api/v1/sessions/{session['id']}/room-boards", mod, json={"template": "examples"}
    )
    assert r.status_code == 409  # no rooms yet
    people = [await api.join(session, f"P{i}") for i in range(6)]
    r = await api.call(
        "POST",
        f"/api/v1/sessions/{session['id']}/rooms",
        mod,
        json={"count": 3, "assignment": "random"},
    )
    assert r.status_code == 201, r.text
    rooms = {room["id"]: room["participant_ids"] for room in r.json()["rooms"]}
    r = await api.call(
        "POST", f"/api/v1/sessions/{session['id']}/room-boards", mod, json={"template": "examples"}
    )
    assert r.status_code == 201, r.text
    made = r.json()["boards"]
    assert sorted(b["room_id"] for b in made) == sorted(rooms)
    assert {b["title"] for b in made} == {"Goda exempel / Utmaningar / Idéer"}
    # Each room's people write on their own room's board and not on another's.
    by_room = {b["room_id"]: b for b in made}
    for person in people:
        own = next(rid for rid, ids in rooms.items() if person["participant_id"] in ids)
        other = next(rid for rid in rooms if rid != own)
        assert (await post_note(api, by_room[own], person["token"], "vår idé")).status_code == 201
        assert (await post_note(api, by_room[other], person["token"], "x")).status_code == 403


async def test_questions_asked_and_upvoted_at_once_reach_every_stream_as_stored(
    api: Api, stream: Callable[..., Any]
) -> None:
    session = await api.make_session()
    sid, mod = session["id"], session["moderator_token"]
    people = await asyncio.gather(*[api.join(session, f"P{i}") for i in range(30)])
    async with stream(sid, people[0]["token"]) as s:
        snapshot = await s.next()
        seen = {q["id"]: q["upvotes"] for q in snapshot["questions"]["questions"]}
        asked = await asyncio.gather(
            *[
                api.call(
                    "POST",
                    f"/api/v1/sessions/{sid}/questions",
                    p["token"],
                    json={"text": f"Fråga {i}", "anonymous": i % 2 == 0},
                )
                for i, p in enumerate(people[:10])
            ]
        )
        ids = [r.json()["id"] for r in asked]
        rng = random.Random(3)
        await asyncio.gather(
            *[
                api.call("POST", f"/api/v1/questions/{qid}/upvote", p["token"])
                for p in people
                for qid in rng.sample(ids, 3)
            ]
        )
        stored = (await api.call("GET", f"/api/v1/sessions/{sid}/questions", mod)).json()
        truth = {q["id"]: q["upvotes"] for q in stored["questions"]}
        assert sum(truth.values()) == 90

        def apply(frame: dict[str, Any]) -> bool:
            if frame["type"] == "snapshot":
                seen.clear()
                seen.update({q["id"]: q["upvotes"] for q in frame["questions"]["questions"]})
            elif frame["type"] == "question.asked":
                seen[frame["question"]["id"]] = frame["question"]["upvotes"]
            elif frame["type"] == "question.upvoted":
                seen[frame["question_id"]] = frame["upvotes"]
            return seen == truth

        await s.until(apply, timeout=20)
