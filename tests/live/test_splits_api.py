"""Poll results and notes' upvotes split by a join attribute, through the public API: sums,
small groups and the groups hidden with them, access."""

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
    # Nobody from academia came: nobody to protect, so no group either.
    assert [g["choice"] for g in found["groups"]] == ["Civilsamhälle", "Offentlig"]
    assert groups["Civilsamhälle"]["voters"] == 40 and groups["Offentlig"]["voters"] == 20
    assert [o["count"] for o in groups["Civilsamhälle"]["options"]] == [14, 13, 13, 0]
    assert [o["count"] for o in groups["Offentlig"]["options"]] == [10, 10, 0, 0]
    for i, total in enumerate(found["options"]):
        assert sum(g["options"][i]["count"] or 0 for g in found["groups"]) == total["count"]
    assert [o["label"] for o in groups["Offentlig"]["options"]] == OPTIONS

    # Two from academia, one who did not say: neither group shows its counts, and the
    # public sector's twenty, the smallest group left, are hidden with them.
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
    assert [(g["voters"], g["hidden"]) for g in found["groups"][:2]] == [
        (40, None),
        (None, "protects"),
    ]

    # Closing unlinks the ballots from their voters; the split is unchanged.
    await close_poll(api, session, poll)
    assert await check() == {**found, "status": "closed"}

    # By region: one from the north; the 62 who did not say are hidden with them, else
    # the totals minus the 62 would tell what the one answered. Nobody is from the south.
    by_region = (await split(api, mod, poll, "region")).json()["groups"]
    assert [(g["choice"], g["voters"], g["hidden"]) for g in by_region] == [
        ("Norr", None, "small"),
        (None, None, "protects"),
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


async def board_split(
    api: Api, token: str | None, board: dict[str, Any], by: str
) -> httpx.Response:
    return await api.call("GET", f"/api/v1/boards/{board['id']}/splits?by={by}", token)


async def forty_and_twenty(api: Api) -> dict[str, Any]:
    """60 people from two sectors (academia is asked, nobody from it came): 40 from civil
    society and 20 from the public sector answer a poll and like a note; five of civil
    society and one of the public sector like another note."""
    session = await api.make_session(attributes=[SECTOR])
    mod = session["moderator_token"]
    poll = await make_poll(api, session)
    await open_poll(api, session, poll)
    body = {"title": "Idéer", "columns": ["Goda exempel"]}
    r = await api.call("POST", f"/api/v1/sessions/{session['id']}/boards", mod, json=body)
    assert r.status_code == 201, r.text
    board = r.json()
    sectors = ["Civilsamhälle"] * 40 + ["Offentlig"] * 20
    people = await asyncio.gather(*(api.join(session, attributes={"sector": s}) for s in sectors))
    notes = []
    for text in ("Mentorer i kommunen", "Gemensam ingång"):
        r = await api.call(
            "POST",
            f"/api/v1/boards/{board['id']}/notes",
            people[0]["token"],
            json={"text": text, "column": board["columns"][0]["id"]},
        )
        assert r.status_code == 201, r.text
        notes.append(r.json())
    options = [o["id"] for o in poll["options"]]
    # Civil society spreads over the first three options, the public sector over two.
    picks = [options[i % 3] for i in range(40)] + [options[i % 2] for i in range(20)]
    likes = [(p, notes[0]) for p in people] + [(p, notes[1]) for p in people[:5] + people[40:41]]
    answered = await asyncio.gather(
        *(
            api.call("POST", vote_path(poll), p["token"], json={"choices": [pick]})
            for p, pick in zip(people, picks, strict=True)
        ),
        *(api.call("POST", f"/api/v1/notes/{n['id']}/upvote", p["token"]) for p, n in likes),
    )
    assert {r.status_code for r in answered} <= {200, 201}, [r.text for r in answered][:3]
    return {"session": session, "poll": poll, "board": board, "notes": notes}


async def two_from_academia(api: Api, forum: dict[str, Any]) -> None:
    """Two from academia answer the poll (its last option) and like the first note."""
    poll, liked = forum["poll"], forum["notes"][0]
    for _ in range(2):
        who = await api.join(forum["session"], attributes={"sector": "Akademi"})
        last = poll["options"][-1]["id"]
        r = await api.call("POST", vote_path(poll), who["token"], json={"choices": [last]})
        assert r.status_code == 201, r.text
        r = await api.call("POST", f"/api/v1/notes/{liked['id']}/upvote", who["token"])
        assert r.status_code == 200, r.text


async def test_forty_and_twenty_sum_to_the_totals_and_two_more_hide_the_twenty_with_them(
    api: Api,
) -> None:
    forum = await forty_and_twenty(api)
    mod, poll, board = forum["session"]["moderator_token"], forum["poll"], forum["board"]
    found = (await split(api, mod, poll, "sector")).json()
    assert [(g["choice"], g["voters"], g["hidden"]) for g in found["groups"]] == [
        ("Civilsamhälle", 40, None),
        ("Offentlig", 20, None),  # academia: nobody in the session, no group
    ]
    for i, total in enumerate(found["options"]):
        assert sum(g["options"][i]["count"] or 0 for g in found["groups"]) == total["count"]
    assert [o["count"] for o in found["options"]] == [24, 23, 13, 0]
    r = await board_split(api, mod, board, "sector")
    assert r.status_code == 200, r.text
    liked = r.json()
    assert liked["board_id"] == board["id"]
    assert liked["by"] == {"key": "sector", "label": "Sektor"}
    everyone, few = liked["notes"]
    assert (everyone["id"], everyone["upvotes"]) == (forum["notes"][0]["id"], 60)
    assert [(g["choice"], g["upvotes"], g["hidden"]) for g in everyone["groups"]] == [
        ("Civilsamhälle", 40, None),
        ("Offentlig", 20, None),
    ]
    # Five and one: forty and twenty of the session hold these answers, so the one who
    # upvoted from the public sector could be any of twenty. Shown.
    assert few["upvotes"] == 6
    assert [(g["choice"], g["upvotes"], g["hidden"]) for g in few["groups"]] == [
        ("Civilsamhälle", 5, None),
        ("Offentlig", 1, None),
    ]

    await two_from_academia(api, forum)
    found = (await split(api, mod, poll, "sector")).json()
    assert found["voters"] == 62
    assert [(g["choice"], g["voters"], g["hidden"]) for g in found["groups"]] == [
        ("Civilsamhälle", 40, None),
        ("Offentlig", None, "protects"),
        ("Akademi", None, "small"),
    ]
    assert [o["count"] for o in found["groups"][0]["options"]] == [14, 13, 13, 0]
    for hidden in found["groups"][1:]:
        assert {o["count"] for o in hidden["options"]} == {None}
    everyone, few = (await board_split(api, mod, board, "sector")).json()["notes"]
    assert everyone["upvotes"] == 62
    assert [(g["upvotes"], g["hidden"]) for g in everyone["groups"]] == [
        (40, None),
        (None, "protects"),
        (None, "small"),
    ]
    # The note academia did not upvote lists and hides the same groups.
    assert [(g["choice"], g["upvotes"], g["hidden"]) for g in few["groups"]] == [
        ("Civilsamhälle", 5, None),
        ("Offentlig", None, "protects"),
        ("Akademi", None, "small"),
    ]


async def test_which_notes_the_one_from_academia_upvoted_never_shows(api: Api) -> None:
    """Five from civil society, four from the public sector, one from academia and one who
    did not say, as the moderator sees in the room: two notes, each with three upvotes from
    civil society's two and one more, split the same whether the one from academia upvoted."""
    session = await api.make_session(attributes=[SECTOR])
    mod = session["moderator_token"]
    body = {"title": "Idéer", "columns": ["Goda exempel"]}
    board = await api.call("POST", f"/api/v1/sessions/{session['id']}/boards", mod, json=body)
    assert board.status_code == 201, board.text
    sectors = ["Civilsamhälle"] * 5 + ["Offentlig"] * 4 + ["Akademi"]
    people = [await api.join(session, attributes={"sector": s}) for s in sectors]
    people.append(await api.join(session))
    civil, public, academia = people[:5], people[5:9], people[9]
    upvoters = {"Mentorer": [*civil[:2], academia], "Gemensam ingång": [*civil[:2], public[0]]}
    for text, who in upvoters.items():
        column = board.json()["columns"][0]["id"]
        r = await api.call(
            "POST",
            f"/api/v1/boards/{board.json()['id']}/notes",
            civil[4]["token"],
            json={"text": text, "column": column},
        )
        assert r.status_code == 201, r.text
        for p in who:
            liked = await api.call("POST", f"/api/v1/notes/{r.json()['id']}/upvote", p["token"])
            assert liked.status_code == 200, liked.text
    r = await board_split(api, mod, board.json(), "sector")
    assert r.status_code == 200, r.text
    first, second = r.json()["notes"]
    assert (
        first["groups"]
        == second["groups"]
        == [
            {"choice": "Civilsamhälle", "upvotes": 2, "hidden": None},
            {"choice": "Offentlig", "upvotes": None, "hidden": "protects"},
            {"choice": "Akademi", "upvotes": None, "hidden": "small"},
            {"choice": None, "upvotes": None, "hidden": "small"},
        ]
    )


async def test_an_upvote_split_is_refused_to_a_participant_and_for_an_unknown_key(
    api: Api,
) -> None:
    session = await api.make_session(attributes=[SECTOR])
    mod = session["moderator_token"]
    r = await api.call(
        "POST",
        f"/api/v1/sessions/{session['id']}/boards",
        mod,
        json={"title": "B", "columns": ["A"]},
    )
    board = r.json()
    who = await api.join(session, attributes={"sector": "Offentlig"})
    r = await board_split(api, who["token"], board, "sector")
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    assert (await board_split(api, None, board, "sector")).status_code == 401
    for by in ("region", "", "x" * 500):
        r = await board_split(api, mod, board, by)
        assert r.status_code == 422, r.text
        assert r.json()["error"]["message"].startswith("by")
    r = await api.call("GET", f"/api/v1/boards/{board['id']}/splits", mod)
    assert r.status_code == 422 and r.json()["error"]["message"].startswith("by"), r.text
    r = await board_split(api, mod, board, "sector")
    assert r.status_code == 200 and r.json()["notes"] == []
    other = await api.make_session(attributes=[SECTOR])
    r = await board_split(api, other["moderator_token"], board, "sector")
    assert r.status_code == 403, r.text


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
    assert rows[1][:3] == ["Civilsamhälle", "3", "3"]
    # Academia's two are hidden, and the public sector's three with them: else everyone
    # minus civil society minus the public sector would give the two away.
    assert rows[2] == ["Offentlig", "hidden", "to", "protect", "a", "small", "group"]
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
    assert rows[2][1:] == ["hidden", "to", "protect", "a", "small", "group"]
    # Shown again without `by`: the totals only.
    r = await api.call("POST", path, mod, json=body)
    assert r.status_code == 200 and r.json() == {"show": "poll", "id": poll["id"]}
    async with httpx.AsyncClient(timeout=30) as hall:
        html = (await hall.get(session["stage_url"])).text
    assert "Split by" not in html and "Tydliga roller" in html
    for bad in ({**body, "by": "region"}, {"show": "message", "text": "Hej", "by": "sector"}):
        r = await api.call("POST", path, mod, json=bad)
        assert r.status_code == 422 and r.json()["error"]["message"].startswith("by"), r.text
