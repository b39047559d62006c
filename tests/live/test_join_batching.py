"""A join storm: plain joins into one session share write transactions as answers do, each
still accepted or refused on its own, everyone seated once while rooms are open."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest

from rooms import lifecycle
from rooms.errors import Refused
from tests.conftest import Api

SECTORS = ["Civilsamhälle", "Offentlig sektor", "Näringsliv"]
ATTRIBUTES = [{"key": "sektor", "label": "Sektor", "choices": SECTORS}]


async def test_a_hundred_joining_at_once_share_transactions_and_are_each_seated_once(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = await api.make_session(attributes=ATTRIBUTES)
    for i in range(12):
        await api.join(session, f"Tidig {i}", {"sektor": SECTORS[i % 3]})
    r = await api.call(
        "POST",
        f"/api/v1/sessions/{session['id']}/rooms",
        session["moderator_token"],
        json={"count": 4, "assignment": "balanced", "balance_by": "sektor"},
    )
    assert r.status_code == 201, r.text
    batches: list[int] = []
    join_many = lifecycle.join_many

    async def recorded(db: Any, session_id: str, arrivals: list[Any]) -> Any:
        batches.append(len(arrivals))
        return await join_many(db, session_id, arrivals)

    monkeypatch.setattr(lifecycle, "join_many", recorded)

    def body(i: int) -> dict[str, Any]:
        choice = "Akademi" if i == 50 else SECTORS[i % 3]  # one unknown choice among them
        return {"code": session["code"], "name": f"Sen {i}", "attributes": {"sektor": choice}}

    replies = await asyncio.gather(
        *(api.call("POST", "/api/v1/join", json=body(i)) for i in range(101))
    )
    statuses = Counter(r.status_code for r in replies)
    assert statuses == {201: 100, 422: 1}, statuses
    refused = replies[50].json()["error"]
    assert refused["code"] == "invalid" and "sektor" in refused["message"]
    assert sum(batches) == 101 and max(batches) > 1, batches  # shared transactions
    joined = [r.json() for r in replies if r.status_code == 201]
    assert len({p["participant_id"] for p in joined}) == 100
    # Every token works, and each late joiner sits in exactly one room, sizes within one.
    described = await api.call("GET", f"/api/v1/sessions/{session['id']}", joined[-1]["token"])
    assert described.status_code == 200, described.text
    rooms = (
        await api.call("GET", f"/api/v1/sessions/{session['id']}", session["moderator_token"])
    ).json()["rooms"]
    seated = Counter(pid for room in rooms for pid in room["participant_ids"])
    assert all(seated[p["participant_id"]] == 1 for p in joined)
    assert sum(seated.values()) == 112
    sizes = [len(room["participant_ids"]) for room in rooms]
    assert max(sizes) - min(sizes) <= 1, sizes
    # Placed in batches as one by one: each room's count of each sector within one of its
    # proportional share (one attribute, its choices arriving in turn).
    listed = await api.call(
        "GET", f"/api/v1/sessions/{session['id']}/participants", session["moderator_token"]
    )
    sector_of = {p["id"]: p["attributes"]["sektor"] for p in listed.json()["participants"]}
    totals = Counter(sector_of.values())
    for room in rooms:
        have = Counter(sector_of[pid] for pid in room["participant_ids"])
        for sector in SECTORS:
            share = len(room["participant_ids"]) * totals[sector] / 112
            assert abs(have[sector] - share) <= 1 + 1e-9, (room["name"], have, share)


async def test_a_batch_into_a_closed_session_refuses_every_one(api: Api) -> None:
    session = await api.make_session()
    r = await api.call(
        "POST", f"/api/v1/sessions/{session['id']}/close", session["moderator_token"]
    )
    assert r.status_code == 200, r.text
    store = api.served.samla.store

    async def storm() -> Any:
        async with store.write() as db:
            return await lifecycle.join_many(db, session["id"], [("Anna", None), ("Bo", None)])

    with pytest.raises(Refused) as refused:
        await api.served.run(storm)
    assert refused.value.code == "session_closed"
