"""Splits by a join attribute in the domain: ballots keep their voter's answers on every path
that writes them, notes' upvotes split by their upvoters' answers, every split of a session
lists the same groups, and a hidden group stays hidden (the smallest other group is hidden
with it), so that whether one person voted or upvoted never shows."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

from live.store import Store, migrate
from rooms import archive_parts, boards, lifecycle, polls, sessions
from rooms.archive_splits import split_table
from rooms.boards.splits import upvote_splits
from rooms.models import Participant
from rooms.polls.splits import hidden_groups

SECTOR = {"key": "sector", "label": "Sektor", "choices": ["Civil", "Offentlig"]}
# Gotland is one of the choices; civil society and the public sector come in numbers.
SIDE = {"key": "sector", "label": "Sektor", "choices": ["Civil", "Offentlig", "Gotland"]}


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


async def make_session(
    store: Store, sectors: Sequence[str | None], asked: dict[str, Any] = SECTOR
) -> tuple[str, list[Participant]]:
    async with store.write() as db:
        made = await sessions.create_session(
            db, title="Pass", organiser_id=None, attributes=[asked]
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


async def split(store: Store, poll_id: str, asked: dict[str, Any] = SECTOR) -> list[dict[str, Any]]:
    async with store.read() as db:
        poll = await polls.poll_by_id(db, poll_id)
        groups: list[dict[str, Any]] = (await polls.split_results(db, poll, [asked]))[0]["groups"]
    return groups


async def test_a_batch_a_single_vote_and_a_changed_vote_keep_the_voters_answers(
    any_store: Store,
) -> None:
    sid, people = await make_session(any_store, ["Civil"] * 4 + ["Offentlig"] * 3)
    poll = await make_poll(
        any_store, sid, kind="scale", allow_change=True, scale={"min": 1, "max": 3}
    )
    async with any_store.write() as db:  # a storm's batch: the first five
        await polls.vote_many(db, sid, [(poll["id"], p.id, {"value": 1}) for p in people[:5]])
    async with any_store.write() as db:  # one by one: the rest
        for p in people[5:]:
            await polls.vote(db, poll["id"], p.id, {"value": 3})
    groups = await split(any_store, poll["id"])
    assert [(g["choice"], g["voters"], g["mean"], g["hidden"]) for g in groups] == [
        ("Civil", 4, 1.0, None),
        ("Offentlig", 3, 2.33, None),
    ]
    # Anna from civil society changes sector, then her answer: the ballot follows her.
    async with any_store.write() as db:
        await sessions.rename(db, people[0].id, None, {"sector": "Offentlig"})
        await polls.vote(db, poll["id"], people[0].id, {"value": 2})
    groups = await split(any_store, poll["id"])
    assert [(g["choice"], g["voters"]) for g in groups] == [("Civil", 3), ("Offentlig", 4)]
    assert [o["count"] for o in groups[0]["options"]] == [3, 0, 0]
    assert [o["count"] for o in groups[1]["options"]] == [1, 1, 2]
    # Bo follows her: civil society is down to two, and the public sector's four are hidden
    # with them, else the totals minus the four would give the two away.
    async with any_store.write() as db:
        await sessions.rename(db, people[1].id, None, {"sector": "Offentlig"})
        await polls.vote(db, poll["id"], people[1].id, {"value": 1})
    groups = await split(any_store, poll["id"])
    assert [(g["choice"], g["voters"], g["hidden"]) for g in groups] == [
        ("Civil", None, "small"),
        ("Offentlig", None, "protects"),
    ]
    assert {o["count"] for g in groups for o in g["options"]} == {None}
    # Closing unlinks the ballots; the archive carries the same split.
    async with any_store.write() as db:
        await polls.close_poll(db, poll["id"])
    assert await split(any_store, poll["id"]) == groups
    async with any_store.read() as db:
        (archived,) = await archive_parts.poll_results(db, sid, names=False)
    (by_sector,) = archived.splits
    assert (by_sector.key, by_sector.label) == ("sector", "Sektor")
    assert [(g.choice, g.voters, g.hidden) for g in by_sector.groups] == [
        ("Civil", None, "small"),
        ("Offentlig", None, "protects"),
    ]
    assert {o.count for g in by_sector.groups for o in g.options} == {None}


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
    # Nobody in the session is from the public sector: nobody to protect, no group.
    assert [(g["choice"], g["voters"], g["hidden"]) for g in groups] == [
        ("Civil", 3, None),
        (None, 3, None),
    ]
    assert [o["score"] for o in groups[0]["options"]] == [3, 0]
    assert [o["score"] for o in groups[1]["options"]] == [0, 3]


async def test_upvotes_split_by_the_upvoters_answers_and_hide_the_groups_the_session_makes_small(
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
    # Two hold the public sector's answer, one none: both small, and civil society's four,
    # the only group left, is hidden with them. The note nobody upvoted lists the same.
    hidden = [
        {"choice": "Civil", "upvotes": None, "hidden": "protects"},
        {"choice": "Offentlig", "upvotes": None, "hidden": "small"},
        {"choice": None, "upvotes": None, "hidden": "small"},
    ]
    assert by_sector["groups"] == hidden
    assert found[alone["id"]][0]["groups"] == hidden


async def test_whether_the_one_from_gotland_upvoted_a_note_never_shows(any_store: Store) -> None:
    """Five from civil society, four from the public sector, one from Gotland and one who
    did not say: the moderator knows as much from the room. Whether the one from Gotland
    upvoted a note leaves its split as it is, but for the shown groups' counts."""
    sectors = [*["Civil"] * 5, *["Offentlig"] * 4, "Gotland", None]
    sid, people = await make_session(any_store, sectors, SIDE)
    civil, public, gotland, silent = people[:5], people[5:9], people[9], people[10]
    upvoters = {
        "with Gotland": [*civil[:2], gotland],
        "without": [*civil[:2], public[0]],
        "by public only": public[:2],
        "by the silent one": [civil[0], silent],
    }
    async with any_store.write() as db:
        board = (await boards.create_board(db, sid, title="B", columns=["A"])).value
        column = board.columns[0]["id"]
        notes = {}
        for text, who in upvoters.items():
            notes[text] = (
                await boards.add_note(db, civil[4], board.id, column=column, text=text)
            ).value[0]
            for p in who:
                await boards.upvote_note(db, p, notes[text]["id"])
    async with any_store.read() as db:
        found = await upvote_splits(db, [n["id"] for n in notes.values()], [SIDE])
        (archived,) = await archive_parts.board_notes(db, sid, names=False)
    groups = {text: found[n["id"]][0]["groups"] for text, n in notes.items()}
    # Every note lists the same groups, "No answer" included, hidden alike: Gotland and no
    # answer are small, and the public sector's four protect them, on every note.
    for listed in groups.values():
        assert [(g["choice"], g["hidden"]) for g in listed] == [
            ("Civil", None),
            ("Offentlig", "protects"),
            ("Gotland", "small"),
            (None, "small"),
        ]
        assert [g["upvotes"] for g in listed[1:]] == [None, None, None]
    # Three upvotes each, two from civil society: nothing tells the two notes apart.
    assert groups["with Gotland"] == groups["without"]
    # A shown group shows its count even when 0 or 1: it is large enough to hide anyone.
    assert groups["by public only"][0]["upvotes"] == 0
    assert groups["by the silent one"][0]["upvotes"] == 1

    # The reports write the same: a row per note, the same cells but for the note's text.
    (by_side,) = archived.splits
    header, rows = split_table(by_side)
    assert header == ["Note", "Upvotes", "Civil", "Offentlig", "Gotland", "No answer"]
    cells = {row[0]: row[1:] for row in rows}
    assert (
        cells["with Gotland"]
        == cells["without"]
        == (
            "3",
            "2",
            "hidden to protect a small group",
            "fewer than 3",
            "fewer than 3",
        )
    )
    assert cells["by public only"][1] == "0"


async def test_whether_one_two_or_nobody_from_gotland_voted_never_shows(any_store: Store) -> None:
    """Two from Gotland are in the session: a poll they both answered, one that one of them
    answered and one that neither did are split alike, every group listed and hidden as in
    the others, and so are their scales' means."""
    sectors = [*["Civil"] * 5, *["Offentlig"] * 4, *["Gotland"] * 2, None]
    sid, people = await make_session(any_store, sectors, SIDE)
    others, gotland = people[:9], people[9:11]
    splits = []
    for from_gotland in (0, 1, 2):
        for kind in ("single", "scale"):
            body: dict[str, Any] = (
                {"options": ["Ja", "Nej"]} if kind == "single" else {"scale": {"min": 1, "max": 5}}
            )
            poll = await make_poll(any_store, sid, kind=kind, **body)
            answer = {"choices": [poll["options"][0]["id"]]} if kind == "single" else {"value": 4}
            voters = [*others, *gotland[:from_gotland]]
            async with any_store.write() as db:
                await polls.vote_many(db, sid, [(poll["id"], p.id, answer) for p in voters])
            groups = await split(any_store, poll["id"], SIDE)
            for g in groups:  # each poll's options have their own ids
                g["options"] = [{k: v for k, v in o.items() if k != "id"} for o in g["options"]]
            splits.append((kind, from_gotland, groups))
    for kind, from_gotland, groups in splits:
        # Civil society's five are shown; the public sector's four protect Gotland's
        # 0, 1 or 2 and the one without an answer (who did not vote: a small group too).
        assert [(g["choice"], g["voters"], g["hidden"]) for g in groups] == [
            ("Civil", 5, None),
            ("Offentlig", None, "protects"),
            ("Gotland", None, "small"),
            (None, None, "small"),
        ], (kind, from_gotland)
        for g in groups[1:]:
            assert {o["count"] for o in g["options"]} == {None}
            assert g.get("mean") is None
        same = [g for k, _, g in splits if k == kind]
        assert groups == same[0]


async def test_a_choice_nobody_holds_is_left_out_and_a_former_one_a_ballot_keeps_is_listed(
    any_store: Store,
) -> None:
    sid, people = await make_session(any_store, ["Civil"] * 3 + ["Gotland"], SIDE)
    poll = await make_poll(any_store, sid, kind="single", options=["Ja", "Nej"])
    yes = poll["options"][0]["id"]
    async with any_store.write() as db:
        await polls.vote_many(db, sid, [(poll["id"], p.id, {"choices": [yes]}) for p in people])
        # After voting, the one from Gotland says civil society: the ballot keeps Gotland.
        await sessions.rename(db, people[3].id, None, {"sector": "Civil"})
    groups = await split(any_store, poll["id"], SIDE)
    # Nobody holds the public sector's answer; Gotland is still on a ballot, so the groups
    # still add up to the four who voted.
    assert [(g["choice"], g["voters"], g["hidden"]) for g in groups] == [
        ("Civil", None, "protects"),
        ("Gotland", None, "small"),
    ]
    # Asked without Gotland among its choices (the question edited): a former choice,
    # listed after the choices.
    edited = {**SIDE, "choices": ["Offentlig", "Civil"]}
    groups = await split(any_store, poll["id"], edited)
    assert [g["choice"] for g in groups] == ["Civil", "Gotland"]


# -- which groups a split hides ------------------------------------------------------------


@pytest.mark.parametrize(
    ("sizes", "hidden"),
    [
        pytest.param([40, 20], [None, None], id="40/20: all shown"),
        pytest.param([40, 20, 0], [None, "protects", "small"], id="40/20/0: the 20 protect"),
        pytest.param([40, 20, 2], [None, "protects", "small"], id="40/20/2: the 20 protect"),
        pytest.param([2, 58], ["small", "protects"], id="2/58: both hidden"),
        pytest.param(
            [30, 30, 1, 1], [None, "protects", "small", "small"], id="30/30/1/1: the later 30"
        ),
        pytest.param([40, 2, 2], ["protects", "small", "small"], id="40/2/2: the 40 protect"),
        pytest.param([1, 1], ["small", "small"], id="1/1: every group hidden"),
        pytest.param([0], ["small"], id="0: hidden"),
        pytest.param([3], [None], id="3: shown"),
        pytest.param([9, 5, 0, 1], [None, "protects", "small", "small"], id="9/5/0/1"),
        pytest.param([], [], id="no groups"),
    ],
)
def test_a_small_group_is_hidden_with_the_smallest_other_group(
    sizes: list[int], hidden: list[str | None]
) -> None:
    found = hidden_groups(sizes)
    assert found == hidden
    if any(n < 3 for n in sizes):
        # What the totals minus the shown groups give: two groups or more, one of them of
        # three or more, unless every group is hidden.
        held = [n for n, why in zip(sizes, found, strict=True) if why]
        assert found.count(None) == 0 or (max(held) >= 3 and len(held) >= 2)
    else:
        assert found == [None] * len(sizes)


@pytest.mark.parametrize(
    "sizes",
    [[40, 20, 9], [9, 5, 7], [3, 3], [50], [4, 30, 4, 8]],
    ids=lambda s: "/".join(map(str, s)),
)
def test_a_small_group_of_0_1_or_2_hides_the_same(sizes: list[int]) -> None:
    for at in range(len(sizes) + 1):
        found = [hidden_groups([*sizes[:at], n, *sizes[at:]]) for n in (0, 1, 2)]
        assert found[0] == found[1] == found[2]
        assert found[0][at] == "small"


async def test_a_poll_of_40_20_and_2_shows_only_the_40_and_with_no_2_sums_to_the_totals(
    any_store: Store,
) -> None:
    sid, people = await make_session(any_store, ["Civil"] * 40 + ["Offentlig"] * 20)
    poll = await make_poll(any_store, sid, kind="single", options=["Ja", "Nej"])
    yes, no = (o["id"] for o in poll["options"])
    async with any_store.write() as db:
        await polls.vote_many(
            db,
            sid,
            [(poll["id"], p.id, {"choices": [yes if i % 4 else no]}) for i, p in enumerate(people)],
        )
    groups = await split(any_store, poll["id"])
    assert [(g["voters"], g["hidden"]) for g in groups] == [(40, None), (20, None)]
    async with any_store.read() as db:
        totals = await polls.results(db, await polls.poll_by_id(db, poll["id"]))
    for i, option in enumerate(totals["options"]):
        assert sum(g["options"][i]["count"] for g in groups) == option["count"]
    async with any_store.write() as db:
        code = (await sessions.session_by_id(db, sid)).code
        late = [
            (await lifecycle.join(db, code=code, attributes=None)).value.participant
            for _ in range(2)
        ]
        await polls.vote_many(db, sid, [(poll["id"], p.id, {"choices": [no]}) for p in late])
    groups = await split(any_store, poll["id"])
    assert [(g["choice"], g["voters"], g["hidden"]) for g in groups] == [
        ("Civil", 40, None),
        ("Offentlig", None, "protects"),
        (None, None, "small"),
    ]
    assert [o["count"] for o in groups[1]["options"]] == [None, None]
