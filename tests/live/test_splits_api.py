"""Poll results split by a join attribute, through the public API: sums, small groups, access."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx

from tests.conftest import Api
from tests.live.test_polls_api import OPTIONS, close_poll, make_poll, open_poll, vote_path

SECTOR = {"key": "sector", "label": "Sektor", "choices": ["Civilsamhälle", "Offentlig", "Akademi"]}
REGION = {"key": "region", "label": "Region", "choices": ["Norr", "Söder"]}


async def split(api: Api, token: str, poll: dict[str, Any], by: str) -> Any:
    return await api.call("GET", f"/api/v1/polls/{poll['id']}/results?by={by}", token)


async def test_split_sums_to_the_totals_and_hides_a_group_of_two(api: Api) -> None:
    session = await api.make_session(attributes=[SECTOR, REGION])
    mod = session["moderator_token"]
    poll = await make_poll(api, session)
    await open_poll(api, session, poll)
    option_ids = [o["id"] for o in poll["options"]]
    # 40 from civil society, 20 from the public sector; their choices differ by side.
    people = [("Civilsamhälle", i % 3) for i in range(40)] + [
        ("Offentlig", i % 2) for i in range(20)
    ]
    joined = await asyncio.gather(*(api.join(session, attributes={"sector": s}) for s, _ in people))
    answers = await asyncio.gather(
        *(
            api.call("POST", vote_path(poll), p["token"], json={"choices": [option_ids[k]]})
            for p, (_, k) in zip(joined, people, strict=True)
        )
    )
    assert {r.status_code for r in answers} == {201}

    async def check() -> dict[str, Any]:
        r = await split(api, mod, poll, "sector")
        assert r.status_code == 200, r.text
        found: dict[str, Any] = r.json()
        assert found["by"] == {"key": "sector", "label": "Sektor"}
        return found

    found = await check()
    assert found["voters"] == 60
    groups = {g["choice"]: g for g in found["groups"]}
    assert [g["choice"] for g in found["groups"]] == SECTOR["choices"]
    assert groups["Civilsamhälle"]["voters"] == 40 and groups["Offentlig"]["voters"] == 20
    assert [o["count"] for o in groups["Civilsamhälle"]["options"]] == [14, 13, 13, 0]
    assert [o["count"] for o in groups["Offentlig"]["options"]] == [10, 10, 0, 0]
    for i, total in enumerate(found["options"]):
        assert sum(g["options"][i]["count"] or 0 for g in found["groups"]) == total["count"]
    assert [o["label"] for o in groups["Offentlig"]["options"]] == OPTIONS
    # Nobody from academia: an empty group shows no counts either.
    assert groups["Akademi"]["voters"] is None

    # Two from academia, one who did not say: neither group shows its counts.
    late = [
        await api.join(session, attributes={"sector": "Akademi"}),
        await api.join(session, attributes={"sector": "Akademi", "region": "Norr"}),
        await api.join(session),
    ]
    for p in late:
        r = await api.call("POST", vote_path(poll), p["token"], json={"choices": [option_ids[3]]})
        assert r.status_code == 201, r.text
    found = await check()
    assert found["voters"] == 63
    assert [g["choice"] for g in found["groups"]] == [*SECTOR["choices"], None]
    for small in found["groups"][2:]:
        assert small["voters"] is None
        assert {o["count"] for o in small["options"]} == {None}
    assert [g["voters"] for g in found["groups"][:2]] == [40, 20]

    # Closing unlinks the ballots from their voters; the split is unchanged.
    await close_poll(api, session, poll)
    assert await check() == {**found, "status": "closed"}

    by_region = (await split(api, mod, poll, "region")).json()["groups"]
    assert [(g["choice"], g["voters"]) for g in by_region] == [
        ("Norr", None),
        ("Söder", None),
        (None, 62),
    ]


async def test_split_is_refused_to_a_participant_and_for_an_unknown_key(api: Api) -> None:
    session = await api.make_session(attributes=[SECTOR])
    poll = await make_poll(api, session, show_results="live")
    await open_poll(api, session, poll)
    who = await api.join(session, attributes={"sector": "Offentlig"})
    assert (await split(api, who["token"], poll, "sector")).status_code == 403
    # Without `by` the participant still sees the totals.
    r = await api.call("GET", f"/api/v1/polls/{poll['id']}/results", who["token"])
    assert r.status_code == 200 and "groups" not in r.json()
    for by in ("region", "", "x" * 500):
        r = await split(api, session["moderator_token"], poll, by)
        assert r.status_code == 422, r.text
        assert r.json()["error"]["code"] == "invalid"
        assert r.json()["error"]["message"].startswith("by")


async def voted_session(api: Api) -> tuple[dict[str, Any], dict[str, Any]]:
    """Three from civil society, three from the public sector and two from academia voted."""
    session = await api.make_session(attributes=[SECTOR])
    poll = await make_poll(api, session)
    await open_poll(api, session, poll)
    first = poll["options"][0]["id"]
    for sector in ["Civilsamhälle"] * 3 + ["Offentlig"] * 3 + ["Akademi"] * 2:
        who = await api.join(session, attributes={"sector": sector})
        r = await api.call("POST", vote_path(poll), who["token"], json={"choices": [first]})
        assert r.status_code == 201, r.text
    return session, poll


def rows_of(html: str, key: str) -> list[list[str]]:
    """The rows of the split table for `key` (everyone first), as words without tags."""
    table = html.split(f'data-split="{key}"', 1)[1].split("</table>", 1)[0]
    return [re.sub(r"<[^>]+>", " ", row).split() for row in table.split("<tr>")[2:]]


async def test_the_console_shows_each_polls_split_with_small_groups_hidden(api: Api) -> None:
    session, poll = await voted_session(api)
    async with httpx.AsyncClient(base_url=api.served.base, timeout=30) as desk:
        key = session["moderator_token"]
        r = await desk.get(f"/s/{session['id']}/moderate?key={key}", follow_redirects=True)
    assert r.status_code == 200, r.text
    html = r.text
    assert f'<label for="split-{poll["id"]}">Split by<' in html
    assert "Split by: Sektor" in html
    rows = rows_of(html, "sector")
    assert rows[0][:3] == ["Everyone", "8", "8"]
    assert rows[1][:3] == ["Civilsamhälle", "3", "3"] and rows[2][:3] == ["Offentlig", "3", "3"]
    assert rows[3] == ["Akademi", "fewer", "than", "3"]


async def test_the_stage_shows_the_split_the_moderator_chose(api: Api) -> None:
    session, poll = await voted_session(api)
    mod, path = session["moderator_token"], f"/api/v1/sessions/{session['id']}/stage"
    body = {"show": "poll", "id": poll["id"], "reveal_results": True}
    r = await api.call("POST", path, mod, json={**body, "by": "sector"})
    assert r.status_code == 200 and r.json() == {"show": "poll", "id": poll["id"], "by": "sector"}
    async with httpx.AsyncClient(timeout=30) as hall:
        html = (await hall.get(session["stage_url"])).text
    assert "Split by: Sektor" in html
    rows = rows_of(html, "sector")
    assert rows[1][:3] == ["Civilsamhälle", "3", "100%"] and rows[3][1:] == ["fewer", "than", "3"]
    # Shown again without `by`: the totals only.
    r = await api.call("POST", path, mod, json=body)
    assert r.status_code == 200 and r.json() == {"show": "poll", "id": poll["id"]}
    async with httpx.AsyncClient(timeout=30) as hall:
        html = (await hall.get(session["stage_url"])).text
    assert "Split by" not in html and "Tydliga roller" in html
    for bad in ({**body, "by": "region"}, {"show": "message", "text": "Hej", "by": "sector"}):
        r = await api.call("POST", path, mod, json=bad)
        assert r.status_code == 422 and r.json()["error"]["message"].startswith("by"), r.text
