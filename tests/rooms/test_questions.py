"""Q&A's domain actions against a real (SQLite) store, without the transport."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from live.store import Store
from rooms import lifecycle, questions, sessions
from rooms.errors import Refused
from rooms.models import Participant


async def setup(store: Store, people: int = 3) -> tuple[str, list[Participant]]:
    async with store.write() as db:
        created = (await sessions.create_session(db, title="Pass", organiser_id=None)).value
        joined = [
            (await lifecycle.join(db, code=created.session.code, name=f"P{i}")).value.participant
            for i in range(people)
        ]
    return created.session.id, joined


async def test_an_anonymous_question_names_nobody_and_everyone_is_told(store: Store) -> None:
    _, (anna, _, _) = await setup(store)
    async with store.write() as db:
        asked = await questions.ask(db, anna, "Vem bär ansvaret?", anonymous=True)
    data, new = asked.value
    assert new and data["author"] is None
    event = asked.events[0]
    assert event.type == "question.asked" and event.roles is None
    assert anna.id not in str(event.data)


async def test_in_approval_mode_only_moderators_are_told_until_approved(store: Store) -> None:
    sid, (anna, erik, _) = await setup(store)
    async with store.write() as db:
        await questions.set_approval(db, sid, True)
        asked = await questions.ask(db, anna, "Får vi se underlaget?")
    assert asked.events[0].roles == frozenset({"moderator"})
    qid = asked.value[0]["id"]
    async with store.read() as db:
        assert await questions.list_questions(db, sid, moderator=False) == []
        mine = await questions.list_questions(db, sid, moderator=False, participant_id=anna.id)
        assert [q["id"] for q in mine] == [qid]
    with pytest.raises(Refused):
        async with store.write() as db:
            await questions.upvote(db, erik, qid)
    async with store.write() as db:
        approved = await questions.approve(db, sid, qid)
    assert approved.events[0].type == "question.approved" and approved.events[0].roles is None
    async with store.read() as db:
        assert len(await questions.list_questions(db, sid, moderator=False)) == 1


async def test_upvotes_count_once_and_order_the_list_answered_last(store: Store) -> None:
    sid, (anna, erik, nils) = await setup(store)
    ids = []
    for text in ["Första", "Andra", "Tredje"]:
        async with store.write() as db:
            ids.append((await questions.ask(db, anna, text)).value[0]["id"])
    for who, qid in [(erik, ids[1]), (erik, ids[1]), (nils, ids[1]), (erik, ids[0])]:
        async with store.write() as db:
            await questions.upvote(db, who, qid)
    async with store.read() as db:
        listed = await questions.list_questions(db, sid, moderator=False)
        assert [(q["text"], q["upvotes"]) for q in listed] == [
            ("Andra", 2),
            ("Första", 1),
            ("Tredje", 0),
        ]
        by_time = await questions.list_questions(db, sid, moderator=False, sort="time")
        assert [q["text"] for q in by_time] == ["Tredje", "Andra", "Första"]
    async with store.write() as db:
        await questions.mark_answered(db, sid, ids[1])
        await questions.toggle_upvote(db, erik, ids[0])  # taken back
    async with store.read() as db:
        listed = await questions.list_questions(db, sid, moderator=False)
        assert [(q["text"], q["upvotes"], q["answered"]) for q in listed] == [
            ("Tredje", 0, False),
            ("Första", 0, False),
            ("Andra", 2, True),
        ]
        rows = await db.scalar(select(func.count()).select_from(questions.QuestionUpvote))
        assert rows == 2


async def test_one_question_at_a_time_is_on_the_big_screen(store: Store) -> None:
    sid, (anna, _, _) = await setup(store)
    async with store.write() as db:
        one = (await questions.ask(db, anna, "Ett")).value[0]["id"]
        two = (await questions.ask(db, anna, "Två")).value[0]["id"]
        await questions.show(db, sid, one)
        await questions.show(db, sid, two)
    async with store.read() as db:
        shown = [
            q["id"] for q in await questions.list_questions(db, sid, moderator=True) if q["shown"]
        ]
    assert shown == [two]


async def test_a_re_sent_question_is_stored_once_and_limits_hold(store: Store) -> None:
    _, (anna, _, _) = await setup(store)
    async with store.write() as db:
        first = (await questions.ask(db, anna, "Samma fråga", nonce="k1")).value
        again = (await questions.ask(db, anna, "Samma fråga", nonce="k1")).value
        plain = (await questions.ask(db, anna, "Utan nyckel")).value
        resent = (await questions.ask(db, anna, "Utan nyckel")).value
    assert first[1] and not again[1] and again[0]["id"] == first[0]["id"]
    assert plain[1] and not resent[1] and resent[0]["id"] == plain[0]["id"]
    for bad in ["", " \u200b ", "x" * 501]:
        with pytest.raises(Refused) as refused:
            async with store.write() as db:
                await questions.ask(db, anna, bad)
        assert refused.value.code == "invalid"
