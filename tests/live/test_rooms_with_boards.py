"""Breakout rooms and note boards together: a board per room on opening, the room's notes as
its activity in the moderator's overview."""

from __future__ import annotations

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from tests.conftest import Api, Served
from tests.live.pages import join_by_form, page_socket


async def test_opening_rooms_with_a_template_gives_each_room_its_board_and_notes_show_live(
    api: Api, served: Served
) -> None:
    session = await api.make_session("Gruppsamtal")
    mod = session["moderator_token"]
    people = [await api.join(session, f"Person {i}") for i in range(4)]
    r = await api.call(
        "POST",
        f"/api/v1/sessions/{session['id']}/rooms",
        mod,
        json={"count": 2, "assignment": "random", "board_template": "examples"},
    )
    assert r.status_code == 201, r.text
    rooms = r.json()["rooms"]
    described = (await api.call("GET", f"/api/v1/sessions/{session['id']}", mod)).json()
    boards = {b["room_id"]: b["id"] for b in described["boards"]}
    assert set(boards) == {room["id"] for room in rooms}
    writer_room = rooms[0]
    writer = next(p for p in people if p["participant_id"] in writer_room["participant_ids"])
    board = (
        await api.call("GET", f"/api/v1/boards/{boards[writer_room['id']]}", writer["token"])
    ).json()
    async with httpx.AsyncClient(base_url=served.base) as browser:
        link = f"/s/{session['id']}/moderate?key={mod}"
        assert (await browser.get(link, follow_redirects=True)).status_code == 200
        async with page_socket(
            served.base, browser, f"/s/{session['id']}/ws?view=moderator"
        ) as overview:
            await overview.until('id="breakout-overview"')
            r = await api.call(
                "POST",
                f"/api/v1/boards/{board['id']}/notes",
                writer["token"],
                json={
                    "text": "Börja med något praktiskt tillsammans",
                    "column": board["columns"][2]["id"],
                },
            )
            assert r.status_code == 201, r.text
            frame = await overview.until('data-notes="1"')
            assert writer_room["id"] in frame
    r = await api.call(
        "POST",
        f"/api/v1/sessions/{session['id']}/rooms",
        mod,
        json={"count": 1, "assignment": "random", "board_template": "nonsense"},
    )
    assert r.status_code == 422


async def test_a_moderator_who_joins_a_room_sees_its_board_live(api: Api, served: Served) -> None:
    session = await api.make_session("Gruppsamtal")
    mod = session["moderator_token"]
    people = [await api.join(session, f"Person {i}") for i in range(2)]
    r = await api.call(
        "POST",
        f"/api/v1/sessions/{session['id']}/rooms",
        mod,
        json={"count": 1, "assignment": "random", "board_template": "free"},
    )
    assert r.status_code == 201, r.text
    room_id = r.json()["rooms"][0]["id"]
    described = (await api.call("GET", f"/api/v1/sessions/{session['id']}", mod)).json()
    board_id = described["boards"][0]["id"]
    board = (await api.call("GET", f"/api/v1/boards/{board_id}", mod)).json()
    async with httpx.AsyncClient(base_url=served.base) as browser:
        await browser.get(f"/s/{session['id']}/moderate?key={mod}", follow_redirects=True)
        page = await browser.get(f"/s/{session['id']}/rooms/{room_id}")
        assert page.status_code == 200 and 'ws-connect="/s/' in page.text
        async with page_socket(
            served.base, browser, f"/s/{session['id']}/ws?view=room&room={room_id}"
        ) as inside:
            await inside.next()
            r = await api.call(
                "POST",
                f"/api/v1/boards/{board_id}/notes",
                people[0]["token"],
                json={
                    "text": "Vi börjar med en gemensam fika",
                    "column": board["columns"][0]["id"],
                },
            )
            assert r.status_code == 201, r.text
            await inside.until("Vi börjar med en gemensam fika")
    async with httpx.AsyncClient(base_url=served.base) as participant:
        await join_by_form(participant, session["code"], "Nyfiken")
        async with page_socket(
            served.base, participant, f"/s/{session['id']}/ws?view=room&room={room_id}"
        ) as peek:
            with pytest.raises(ConnectionClosed) as closed:
                await peek.next()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
