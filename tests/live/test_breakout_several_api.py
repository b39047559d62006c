"""Rooms balanced by several attributes through the public API and the console's form."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import httpx

from live.screens.breakout import read_open
from tests.conftest import Api

ATTRIBUTES = [
    {"key": "region", "label": "Region", "choices": ["Norr", "Söder"]},
    {"key": "sektor", "label": "Sektor", "choices": ["Civilsamhälle", "Offentlig", "Näringsliv"]},
    {"key": "niva", "label": "Nivå", "choices": ["Lokal", "Regional", "Nationell", "EU"]},
]
KEYS = ["sektor", "niva", "region"]
SECTORS = ["Civilsamhälle"] * 5 + ["Offentlig"] * 3 + ["Näringsliv"] * 2
LEVELS = ["Lokal", "Lokal", "Regional", "Nationell", "EU"]


def answers(i: int) -> dict[str, str]:
    """Person i's answers: skewed, and mixed so that no two attributes go together."""
    return {
        "region": "Norr" if i % 10 < 7 else "Söder",
        "sektor": SECTORS[(i * 3) % 10],
        "niva": LEVELS[(i * 7 + i // 5) % 5],
    }


async def _session(api: Api, people: int) -> tuple[dict[str, Any], dict[str, dict[str, str]]]:
    session = await api.make_session("Samråd", attributes=ATTRIBUTES)
    given: dict[str, dict[str, str]] = {}
    for i in range(people):
        joined = await api.join(session, f"P{i}", answers(i))
        given[joined["participant_id"]] = answers(i)
    return session, given


async def _open(api: Api, session: dict[str, Any], **body: Any) -> httpx.Response:
    return await api.call(
        "POST", f"/api/v1/sessions/{session['id']}/rooms", session["moderator_token"], json=body
    )


def outside(rooms: list[dict[str, Any]], given: dict[str, dict[str, str]]) -> list[str]:
    """Every count that is not the floor or the ceiling of its proportional share."""
    n = sum(len(room["participant_ids"]) for room in rooms)
    missed = []
    for key in KEYS:
        totals = Counter(a[key] for a in given.values())
        for room in rooms:
            have = Counter(given[pid][key] for pid in room["participant_ids"])
            for choice, total in totals.items():
                share = len(room["participant_ids"]) * total / n
                if not math.floor(share) <= have[choice] <= math.ceil(share):
                    missed.append(f"{room['name']} {key}={choice}: {have[choice]} vs {share:.2f}")
    return missed


async def test_rooms_balanced_by_a_list_of_attributes_meet_every_share(api: Api) -> None:
    session, given = await _session(api, 30)
    r = await _open(api, session, count=4, assignment="balanced", balance_by=KEYS)
    assert r.status_code == 201, r.text
    assert r.json()["round"]["balance_by"] == KEYS
    rooms = r.json()["rooms"]
    assert sorted(len(room["participant_ids"]) for room in rooms) == [7, 7, 8, 8]
    assert sorted(pid for room in rooms for pid in room["participant_ids"]) == sorted(given)
    assert outside(rooms, given) == []


async def test_one_attribute_in_a_list_or_alone_is_the_same_round(api: Api) -> None:
    session, _ = await _session(api, 6)
    r = await _open(api, session, count=2, assignment="balanced", balance_by=["sektor"])
    assert r.status_code == 201, r.text
    assert r.json()["round"]["balance_by"] == "sektor"


async def test_bad_lists_of_attributes_are_refused_by_name_and_open_nothing(api: Api) -> None:
    session, _ = await _session(api, 4)
    for balance_by in (
        ["sektor", "alder"],  # not asked by this session
        ["sektor", "niva", "sektor"],  # twice
        ["sektor", "niva", "region"] * 4,  # more than ten
        [],
        ["sektor", 3],
        {"sektor": True},
    ):
        r = await _open(api, session, count=2, assignment="balanced", balance_by=balance_by)
        assert r.status_code == 422, (balance_by, r.text)
        assert r.json()["error"]["code"] == "invalid"
        assert "balance_by" in r.json()["error"]["message"], r.text
    described = await api.call(
        "GET", f"/api/v1/sessions/{session['id']}", session["moderator_token"]
    )
    assert described.json()["rooms"] == []


def test_the_console_form_sends_one_ticked_attribute_as_text_and_several_as_a_list() -> None:
    form = {"type": "rooms.open", "by": "count", "amount": "3", "assignment": "balanced"}
    assert read_open({**form, "balance_by": "sektor"})["balance_by"] == "sektor"
    assert read_open({**form, "balance_by": ["sektor", "niva"]})["balance_by"] == [
        "sektor",
        "niva",
    ]
    assert "balance_by" not in read_open({**form, "assignment": "random", "balance_by": "x"})
