"""A session's description is the same for every room: when rooms open, however many, it is
built once per role and version for every snapshot, and each socket is still shown its own
room."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import Any

import pytest

import live.hub.snapshots
import live.screens.boards
import live.screens.questions
from live.hub import Connection, outbox
from rooms.errors import Refused
from rooms.models import Role
from tests.conftest import Api

PEOPLE = 20
ROOMS = 5


async def _nothing(*_: Any) -> None:
    return None


def socket_of(session_id: str, role: Role, participant_id: str | None = None) -> Connection:
    return Connection(
        session_id=session_id,
        role=role,
        kind="json",
        locale="en",
        send=_nothing,
        close=_nothing,
        participant_id=participant_id,
    )


class Descriptions:
    """Counts the session's descriptions built, by role."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.built: Counter[str] = Counter()
        self._describe = live.hub.snapshots.describe
        monkeypatch.setattr(live.hub.snapshots, "describe", self.describe)

    async def describe(
        self, db: Any, session: Any, role: Role = "moderator", **how: Any
    ) -> dict[str, Any]:
        self.built[role] += 1
        return await self._describe(db, session, role, **how)


async def people_in_rooms(api: Api) -> tuple[dict[str, Any], dict[str, str]]:
    """A session of PEOPLE placed at random in ROOMS rooms, and each person's room."""
    session = await api.make_session()
    for i in range(PEOPLE):
        await api.join(session, f"Person {i}")
    r = await api.call(
        "POST",
        f"/api/v1/sessions/{session['id']}/rooms",
        session["moderator_token"],
        json={"count": ROOMS, "assignment": "random"},
    )
    assert r.status_code == 201, r.text
    seats = {pid: room["id"] for room in r.json()["rooms"] for pid in room["participant_ids"]}
    assert len(seats) == PEOPLE and len(set(seats.values())) == ROOMS
    return session, seats


async def snapshots_of(api: Api, sockets: list[Connection]) -> list[dict[str, Any]]:
    hub = api.served.samla.hub

    async def everyone() -> list[str]:
        return list(await asyncio.gather(*(hub.snapshot(c) for c in sockets)))

    return [json.loads(frame) for frame in await api.served.run(everyone)]


async def test_every_room_is_shown_one_description_built_once_per_role_and_version(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    session, seats = await people_in_rooms(api)
    descriptions = Descriptions(monkeypatch)
    people = [socket_of(session["id"], "participant", pid) for pid in seats]
    moderator = socket_of(session["id"], "moderator")
    bodies = await snapshots_of(api, [*people, moderator])
    assert descriptions.built == {"participant": 1, "moderator": 1}
    shown = bodies[:-1]
    # Each person is shown their own room, beside the one description every room shares.
    assert {b["you"]["participant_id"]: b["you"]["room_id"] for b in shown} == seats
    assert len({json.dumps(b["session"]) for b in shown}) == 1
    # Each person is shown their own room and its size; every room, and who sits in it,
    # only the moderator (the round placed people at random: there is no room to choose).
    sizes = Counter(seats.values())
    assert {b["you"]["room"]["id"]: b["you"]["room"]["size"] for b in shown} == sizes
    assert all(b["you"]["room"]["id"] == b["you"]["room_id"] for b in shown)
    assert shown[0]["session"]["rooms"] == []
    told = {room["id"]: set(room["participant_ids"]) for room in bodies[-1]["session"]["rooms"]}
    assert all(pid in told[room] for pid, room in seats.items())
    assert {room["id"]: room["size"] for room in bodies[-1]["session"]["rooms"]} == sizes
    # The stream's snapshot keeps its keys, `you` last.
    assert list(shown[0])[:4] == ["type", "version", "session", "here"]
    assert list(shown[0])[-1] == "you"
    assert {b["version"] for b in bodies} == {b["session"]["version"] for b in bodies}


async def test_the_sessions_questions_are_read_once_for_every_rooms_snapshot(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The questions are the session's, the same in every room: read once a version for
    all the rooms' audiences, where the rooms' own polls and boards are read per room."""
    session, seats = await people_in_rooms(api)
    asker = await api.join(session, "Asker")
    r = await api.call(
        "POST",
        f"/api/v1/sessions/{session['id']}/questions",
        asker["token"],
        json={"text": "Vem bär ansvaret?"},
    )
    assert r.status_code == 201, r.text
    reads: Counter[bool] = Counter()
    listed = live.screens.questions.list_questions

    async def counting(db: Any, session_id: str, *, moderator: bool) -> Any:
        reads[moderator] += 1
        return await listed(db, session_id, moderator=moderator)

    monkeypatch.setattr(live.screens.questions, "list_questions", counting)
    people = [socket_of(session["id"], "participant", pid) for pid in seats]
    bodies = await snapshots_of(api, people)
    assert reads == {False: 1}
    assert {b["you"]["participant_id"]: b["you"]["room_id"] for b in bodies} == seats
    (shown,) = {json.dumps(b["questions"]) for b in bodies}
    assert [q["text"] for q in json.loads(shown)["questions"]] == ["Vem bär ansvaret?"]


async def test_rooms_with_no_board_of_their_own_share_one_read_of_the_boards(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A room's board is read for that room; every room without one is shown the plenary's
    boards, read once for them all."""
    session, seats = await people_in_rooms(api)
    own = sorted(set(seats.values()))[0]
    for title, room in (("Plenum", None), ("Rummets tavla", own)):
        r = await api.call(
            "POST",
            f"/api/v1/sessions/{session['id']}/boards",
            session["moderator_token"],
            json={"title": title, "columns": ["Idéer"], "room_id": room},
        )
        assert r.status_code == 201, r.text
    places: list[str | None] = []
    read = live.screens.boards.boards_of_place

    async def counting(db: Any, session_id: str, room_id: str | None) -> Any:
        places.append(room_id)
        return await read(db, session_id, room_id)

    monkeypatch.setattr(live.screens.boards, "boards_of_place", counting)
    people = [socket_of(session["id"], "participant", pid) for pid in seats]
    bodies = await snapshots_of(api, people)
    assert sorted(places, key=str) == ["", own]  # not once for each of the 5 rooms
    for body in bodies:
        titles = [b["title"] for b in body["boards"]["boards"]]
        mine = body["you"]["room_id"] == own
        assert titles == (["Plenum", "Rummets tavla"] if mine else ["Plenum"]), titles


async def test_a_fan_out_slower_than_the_reuse_window_still_builds_one_description(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    session, seats = await people_in_rooms(api)
    descriptions = Descriptions(monkeypatch)
    # Every batch of sockets in its own transaction, each after the reuse window has passed:
    # the description is kept by its version, not by a clock.
    monkeypatch.setattr(live.hub.snapshots, "BATCH_MAX", 3)
    monkeypatch.setattr(live.hub.snapshots, "SNAPSHOT_REUSE", 0.0)
    people = [socket_of(session["id"], "participant", pid) for pid in seats]
    first = await snapshots_of(api, people)
    again = await snapshots_of(api, people)
    assert descriptions.built == {"participant": 1}
    assert {b["you"]["room_id"] for b in first + again} == set(seats.values())


async def test_a_new_version_is_described_afresh(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    session, seats = await people_in_rooms(api)
    descriptions = Descriptions(monkeypatch)
    people = [socket_of(session["id"], "participant", pid) for pid in seats]
    before = await snapshots_of(api, people)
    await api.join(session, "Late")
    after = await snapshots_of(api, people)
    assert descriptions.built == {"participant": 2}
    assert {b["session"]["participants"] for b in before} == {PEOPLE}
    assert {b["session"]["participants"] for b in after} == {PEOPLE + 1}
    assert min(b["version"] for b in after) > max(b["version"] for b in before)


async def test_where_people_choose_their_room_every_room_is_listed_with_its_size(
    api: Api,
) -> None:
    session = await api.make_session()
    people = [await api.join(session, f"Person {i}") for i in range(3)]
    r = await api.call(
        "POST",
        f"/api/v1/sessions/{session['id']}/rooms",
        session["moderator_token"],
        json={"count": 2, "assignment": "self"},
    )
    assert r.status_code == 201, r.text
    rooms = r.json()["rooms"]
    chose = await api.call("POST", f"/api/v1/rooms/{rooms[1]['id']}/members", people[0]["token"])
    assert chose.status_code == 200, chose.text
    sockets = [socket_of(session["id"], "participant", p["participant_id"]) for p in people]
    chooser, *plenary = await snapshots_of(api, sockets)
    # Those still to choose are shown every room, and how full it is, but not who is in it.
    listed = plenary[0]["session"]["rooms"]
    assert [(room["id"], room["size"]) for room in listed] == [
        (rooms[0]["id"], 0),
        (rooms[1]["id"], 1),
    ]
    assert all("participant_ids" not in room for room in listed)
    assert plenary[0]["you"]["room"] is None and plenary[0]["you"]["room_id"] is None
    assert chooser["you"]["room"]["id"] == rooms[1]["id"] and chooser["you"]["room"]["size"] == 1


async def test_a_removed_persons_snapshot_says_they_were_removed_not_the_session(
    api: Api,
) -> None:
    """A socket sent a snapshot after its person was removed (the removal's message lost
    with Redis) closes saying why: the person is gone, the session is not."""
    session = await api.make_session()
    anna = await api.join(session, "Anna")
    r = await api.call(
        "DELETE",
        f"/api/v1/sessions/{session['id']}/participants/{anna['participant_id']}",
        session["moderator_token"],
    )
    assert r.status_code in (200, 204), r.text
    socket = socket_of(session["id"], "participant", anna["participant_id"])
    with pytest.raises(Refused) as refused:
        await snapshots_of(api, [socket])
    assert outbox._gone(refused.value) == "removed from the session"
    moderator = socket_of(session["id"], "moderator")
    await api.call("DELETE", f"/api/v1/sessions/{session['id']}", await api.organiser_token())
    with pytest.raises(Refused) as refused:
        await snapshots_of(api, [moderator])
    assert outbox._gone(refused.value) == "session deleted"
