"""The poll domain on a real store: constraints, normalising, anonymity, counting, cascades."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from live.store import Store
from rooms import lifecycle, polls, sessions
from rooms.errors import Refused


async def make_session(store: Store, people: int) -> tuple[str, list[str]]:
    async with store.write() as db:
        created = (await sessions.create_session(db, title="Pass", organiser_id=None)).value
        code = created.session.code
        joined = [(await lifecycle.join(db, code=code)).value.participant.id for _ in range(people)]
    return created.session.id, joined


async def make_poll(store: Store, sid: str, **body: Any) -> dict[str, Any]:
    body.setdefault("question", "Vad behövs mest?")
    async with store.write() as db:
        made = (await polls.create_poll(db, sid, body)).value
        await polls.open_poll(db, made["id"])
    return made


async def test_the_database_itself_refuses_a_second_answer_from_one_participant(
    store: Store,
) -> None:
    sid, (pid,) = await make_session(store, 1)
    poll = await make_poll(store, sid, kind="open")
    async with store.write() as db:
        await polls.vote(db, poll["id"], pid, {"text": "Mer tid"})
    with pytest.raises(IntegrityError):
        async with store.write() as db:
            db.add(polls.PollVoter(poll_id=poll["id"], participant_id=pid))
    with pytest.raises(IntegrityError):
        async with store.write() as db:
            db.add(polls.Ballot(poll_id=poll["id"], voter_id=pid, text="Igen"))
    async with store.read() as db:
        found = await polls.results(db, await polls.poll_by_id(db, poll["id"]))
    assert found["voters"] == 1


@pytest.mark.parametrize(
    ("typed", "counted"),
    [
        ("Tillit", "tillit"),
        ("tillit ", "tillit"),
        ("  «Dialog»! ", "dialog"),
        ("Gemensamma   mål", "gemensamma mål"),
        ("ÖPPENHET.", "öppenhet"),
    ],
)
def test_word_cloud_entries_are_counted_case_and_punctuation_blind(
    typed: str, counted: str
) -> None:
    assert polls.normalise_word(typed) == counted


def test_a_word_with_no_letters_or_over_forty_characters_is_refused() -> None:
    for bad in ("...", "", "x" * 41, 3):
        with pytest.raises(Refused) as refused:
            polls.normalise_word(bad)
        assert refused.value.code == "invalid"


async def test_closing_unlinks_every_ballot_and_the_results_stay_exact(store: Store) -> None:
    sid, people = await make_session(store, 6)
    poll = await make_poll(store, sid, kind="ranking", options=["A", "B", "C"], allow_change=True)
    a, b, c = (o["id"] for o in poll["options"])
    orders = [[a, b, c], [a, c, b], [b, a, c], [c, b, a], [a, b, c], [b, c, a]]
    for pid, order in zip(people, orders, strict=True):
        async with store.write() as db:
            await polls.vote(db, poll["id"], pid, {"choices": order})
    async with store.read() as db:
        before = await polls.results(db, await polls.poll_by_id(db, poll["id"]))
    async with store.write() as db:
        await polls.close_poll(db, poll["id"])
    async with store.read() as db:
        after = await polls.results(db, await polls.poll_by_id(db, poll["id"]))
        linked = await db.scalar(text("SELECT COUNT(*) FROM ballot WHERE voter_id IS NOT NULL"))
        voters = await db.scalar(select(func.count()).select_from(polls.PollVoter))
    assert linked == 0 and voters == 6
    assert after["voters"] == 6 and after["options"] == before["options"]
    # Borda with three options: first 2 points, second 1, last 0.
    assert [o["score"] for o in after["options"]] == [7, 7, 4]
    assert [o["average_position"] for o in after["options"]] == [1.83, 1.83, 2.33]


async def test_the_ballot_tables_keep_no_order_that_could_pair_them_with_voters(
    store: Store,
) -> None:
    async with store.read() as db:
        for table in ("poll_voter", "ballot", "ballot_choice", "ballot_word"):
            sql = await db.scalar(
                text("SELECT sql FROM sqlite_master WHERE name = :t"), {"t": table}
            )
            assert "WITHOUT ROWID" in sql, table
            assert "_at" not in sql, table  # no timestamps either


async def test_deleting_a_session_deletes_its_polls_and_ballots(store: Store) -> None:
    sid, people = await make_session(store, 2)
    poll = await make_poll(store, sid, kind="wordcloud")
    for pid in people:
        async with store.write() as db:
            await polls.vote(db, poll["id"], pid, {"words": ["tillit", "mod"]})
    async with store.write() as db:
        await sessions.delete_session(db, sid)
    async with store.read() as db:
        for table in ("poll", "poll_option", "poll_voter", "ballot", "ballot_word"):
            assert await db.scalar(text(f"SELECT COUNT(*) FROM {table}")) == 0, table


async def test_a_closed_session_takes_no_poll_changes(store: Store) -> None:
    sid, (pid,) = await make_session(store, 1)
    poll = await make_poll(store, sid, kind="scale")
    async with store.write() as db:
        await lifecycle.close_session(db, sid)
    with pytest.raises(Refused) as refused:
        async with store.write() as db:
            await polls.vote(db, poll["id"], pid, {"value": 3})
    assert refused.value.code == "session_closed"
    with pytest.raises(Refused):
        async with store.write() as db:
            await polls.close_poll(db, poll["id"])


async def test_a_batch_of_answers_accepts_and_refuses_each_on_its_own(store: Store) -> None:
    sid, people = await make_session(store, 4)
    poll = await make_poll(store, sid, kind="scale", scale={"min": 1, "max": 5})
    batch = [
        (poll["id"], people[0], {"value": 5}),
        (poll["id"], people[1], {"value": 9}),  # out of range
        (poll["id"], people[0], {"value": 4}),  # a second answer, no change allowed
        (poll["id"], people[2], {"value": 1}),
        ("nope", people[3], {"value": 1}),
    ]
    async with store.write() as db:
        outcome = await polls.vote_many(db, sid, batch)
    verdicts = [v.code if isinstance(v, Refused) else v.replaced for v in outcome.value]
    assert verdicts == [False, "invalid", "conflict", False, "not_found"]
    assert [e.type for e in outcome.events] == ["poll.results"]
    async with store.read() as db:
        found = await polls.results(db, await polls.poll_by_id(db, poll["id"]))
    assert found["voters"] == 2 and found["mean"] == 3
    assert [o["count"] for o in found["options"]] == [1, 0, 0, 0, 1]
