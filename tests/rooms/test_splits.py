"""Splits by a join attribute in the domain: ballots keep their voter's answers on every path
that writes them, and notes' upvotes split by their upvoters' answers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from live.store import Store, migrate
from rooms import archive_parts, boards, lifecycle, polls, sessions
from rooms.boards.splits import upvote_splits
from rooms.models import Participant

SECTOR = {"key": "sector", "label": "Sektor", "choices": ["Civil", "Offentlig"]}


@pytest.fixture(
    params=[pytest.param("sqlite", id="sqlite"), pytest.param("postgres", id="postgres")]
)
async def any_store(request: pytest.FixtureRequest, tmp_path: Any) -> AsyncIterator[Store]:
    """A migrated store of each kind: the splits group by answers read out of JSON, which
    each database writes in its own way."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'samla.db'}"
    else:
        url = await request.getfixturevalue("postgres").new_database()
    await asyncio.to_thread(migrate, url)
    opened = Store(url)
    yield opened
    await opened.close()


async def make_session(store: Store, sectors: list[str | None]) -> tuple[str, list[Participant]]:
    async with store.write() as db:
        made = await sessions.create_session(
            db, title="Pass", organiser_id=None, attributes=[SECTOR]
        )
        code = made.value.session.code
        people = [
            (
                await lifecycle.join(
                    db, code=code, attributes={"sector": s} if s is not None else None
                )
            ).value.participant
            for s in sectors
        ]
    return made.value.session.id, people


async def make_poll(store: Store, sid: str, **body: Any) -> dict[str, Any]:
    async with store.write() as db:
        made = (await polls.create_poll(db, sid, {"question": "Vad?", **body})).value
        await polls.open_poll(db, made["id"])
    return made


async def split(store: Store, poll_id: str) -> list[dict[str, Any]]:
    async with store.read() as db:
        poll = await polls.poll_by_id(db, poll_id)
        groups: list[dict[str, Any]] = (await polls.split_results(db, poll, [SECTOR]))[0]["groups"]
    return groups


async def test_a_batch_a_single_vote_and_a_changed_vote_keep_the_voters_answers(
    any_store: Store,
) -> None:
    sid, people = await make_session(any_store, ["Civil"] * 3 + ["Offentlig"] * 3)
    poll = await make_poll(
        any_store, sid, kind="scale", allow_change=True, scale={"min": 1, "max": 3}
    )
    async with any_store.write() as db:  # a storm's batch: the first four
        await polls.vote_many(db, sid, [(poll["id"], p.id, {"value": 1}) for p in people[:4]])
    async with any_store.write() as db:  # one by one: the rest
        for p in people[4:]:
            await polls.vote(db, poll["id"], p.id, {"value": 3})
    groups = await split(any_store, poll["id"])
    assert [(g["choice"], g["voters"], g["mean"]) for g in groups] == [
        ("Civil", 3, 1.0),
        ("Offentlig", 3, 2.33),
    ]
    # Anna from civil society changes sector, then her answer: the ballot follows her.
    async with any_store.write() as db:
        await sessions.rename(db, people[0].id, None, {"sector": "Offentlig"})
        await polls.vote(db, poll["id"], people[0].id, {"value": 2})
    groups = await split(any_store, poll["id"])
    assert [(g["choice"], g["voters"]) for g in groups] == [("Civil", None), ("Offentlig", 4)]
    assert [o["count"] for o in groups[0]["options"]] == [None, None, None]
    assert [o["count"] for o in groups[1]["options"]] == [1, 1, 2]
    # Closing unlinks the ballots; the archive carries the same split.
    async with any_store.write() as db:
        await polls.close_poll(db, poll["id"])
    assert await split(any_store, poll["id"]) == groups
    async with any_store.read() as db:
        (archived,) = await archive_parts.poll_results(db, sid, names=False)
    (by_sector,) = archived.splits
    assert (by_sector.key, by_sector.label) == ("sector", "Sektor")
    assert [(g.choice, g.voters) for g in by_sector.groups] == [("Civil", None), ("Offentlig", 4)]
    assert [o.count for o in by_sector.groups[1].options] == [1, 1, 2]


async def test_a_ranking_split_gives_each_group_its_borda_scores(any_store: Store) -> None:
    sid, people = await make_session(any_store, ["Civil"] * 3 + [None] * 3)
    poll = await make_poll(any_store, sid, kind="ranking", options=["A", "B"])
    a, b = (o["id"] for o in poll["options"])
    async with any_store.write() as db:
        answers = [[a, b]] * 3 + [[b, a]] * 3
        await polls.vote_many(
            db,
            sid,
            [(poll["id"], p.id, {"choices": c}) for p, c in zip(people, answers, strict=True)],
        )
    groups = await split(any_store, poll["id"])
    assert [g["choice"] for g in groups] == ["Civil", "Offentlig", None]
    assert [o["score"] for o in groups[0]["options"]] == [3, 0]
    assert [o["score"] for o in groups[2]["options"]] == [0, 3]
    assert groups[1]["voters"] is None


async def test_upvotes_split_by_the_upvoters_answers_and_hide_groups_under_three(
    any_store: Store,
) -> None:
    sid, people = await make_session(any_store, ["Civil"] * 4 + ["Offentlig"] * 2 + [None])
    async with any_store.write() as db:
        board = (await boards.create_board(db, sid, title="B", columns=["A"])).value
        column = board.columns[0]["id"]
        liked, _ = (await boards.add_note(db, people[0], board.id, column=column, text="x")).value
        alone, _ = (await boards.add_note(db, people[0], board.id, column=column, text="y")).value
        for p in people:
            await boards.upvote_note(db, p, liked["id"])
    async with any_store.read() as db:
        found = await upvote_splits(db, [liked["id"], alone["id"]], [SECTOR])
    (by_sector,) = found[liked["id"]]
    assert by_sector["key"] == "sector"
    assert by_sector["groups"] == [
        {"choice": "Civil", "upvotes": 4},
        {"choice": "Offentlig", "upvotes": None},
        {"choice": None, "upvotes": None},
    ]
    assert found[alone["id"]][0]["groups"] == []
