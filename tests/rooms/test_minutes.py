"""Shared minutes in the domain: updates stored per batch and refused with nothing stored,
compaction, the plain text for the API and the archive, and deletion with the session."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest
from pycrdt import Doc, Text
from sqlalchemy import func, select
from sqlmodel import col

from live.store import Store, migrate
from rooms import breakout, lifecycle, minutes, sessions
from rooms.errors import Refused
from rooms.models import PLENARY
from tests.conftest import Postgres


@dataclass
class Room:
    session_id: str
    room_id: str
    people: list[str]  # participant ids, all placed in the room
    others: list[str]  # the round's other rooms


async def make_room(store: Store, people: int = 2, rooms: int = 1) -> Room:
    """A session whose participants all sit in the first of its open rooms."""
    async with store.write() as db:
        created = await sessions.create_session(db, title="Protokoll", organiser_id=None)
        session = created.value.session
        joined = [await lifecycle.join(db, code=session.code) for _ in range(people)]
        view = (await breakout.open_rooms(db, session.id, count=rooms)).value
        first, *others = [r["id"] for r in view.rooms]
        ids = [j.value.participant.id for j in joined]
        for pid in ids:
            await breakout.move(db, session.id, pid, first)
    return Room(session.id, first, ids, others)


class Writer:
    """A client's document: each edit gives the update it would send."""

    def __init__(self) -> None:
        self.doc: Doc[Text] = Doc()
        self.text = self.doc.get(minutes.TEXT, type=Text)

    def insert(self, at: int, words: str) -> bytes:
        before = self.doc.get_state()
        self.text.insert(at, words)
        return self.doc.get_update(before)

    def delete(self, start: int, stop: int) -> bytes:
        before = self.doc.get_state()
        del self.text[start:stop]
        return self.doc.get_update(before)


async def write(
    store: Store, target: minutes.Target, updates: list[bytes], who: str | None
) -> list[Refused | None]:
    edits = [minutes.Edit(u, who, f"socket-{i}") for i, u in enumerate(updates)]
    async with store.write() as db:
        return (await minutes.write(db, target, edits)).refusals


async def room_target(store: Store, room: Room) -> minutes.Target:
    async with store.read() as db:
        target, _ = await minutes.room_target(db, room.room_id)
    return target


async def text(store: Store, room_id: str) -> str:
    async with store.read() as db:
        found, _ = await minutes.text_of_room(db, room_id)
    return found


async def test_a_batch_of_updates_makes_the_rooms_text(store: Store) -> None:
    room = await make_room(store)
    target = await room_target(store, room)
    anna = Writer()
    first = anna.insert(0, "Vi pratade om samverkan.")
    second = anna.insert(0, "Protokoll. ")
    assert await write(store, target, [first, second], room.people[0]) == [None, None]
    async with store.read() as db:
        found, updated_at = await minutes.text_of_room(db, room.room_id)
    assert found == "Protokoll. Vi pratade om samverkan."
    assert updated_at is not None
    # A moderator writes too (no participant).
    more = anna.delete(0, len("Protokoll. "))
    assert await write(store, target, [more], None) == [None]
    assert await text(store, room.room_id) == "Vi pratade om samverkan."


async def test_nothing_is_written_before_anyone_writes(store: Store) -> None:
    room = await make_room(store)
    async with store.read() as db:
        assert await minutes.text_of_room(db, room.room_id) == ("", None)
        assert await minutes.document(db, room.room_id) == minutes.EMPTY


async def test_refused_updates_store_nothing_and_say_why(store: Store) -> None:
    room = await make_room(store)
    target = await room_target(store, room)
    anna = Writer()
    assert await write(store, target, [anna.insert(0, "Början.")], room.people[0]) == [None]
    async with store.read() as db:
        before = await minutes.document(db, room.room_id)
    cases = [
        (b"\x05not an update", room.people[0], "invalid"),
        (Writer().insert(0, "x" * (minutes.UPDATE_MAX + 1)), room.people[0], "too_large"),
        (Writer().insert(0, "Smyger in."), "someone-else", "forbidden"),
    ]
    for update, who, code in cases:
        (refusal,) = await write(store, target, [update], who)
        assert refusal is not None and refusal.code == code, refusal
        assert refusal.message
    async with store.read() as db:
        assert await minutes.document(db, room.room_id) == before


async def test_after_a_refusal_the_same_sockets_later_updates_are_refused_too(
    store: Store,
) -> None:
    room = await make_room(store)
    target = await room_target(store, room)
    anna = Writer()
    edits = [
        minutes.Edit(b"\x05broken", room.people[0], "one"),
        minutes.Edit(anna.insert(0, "Bygger vidare."), room.people[0], "one"),
        minutes.Edit(Writer().insert(0, "Bo skriver."), room.people[1], "two"),
    ]
    async with store.write() as db:
        refusals = (await minutes.write(db, target, edits)).refusals
    assert [r.code if r else None for r in refusals] == ["invalid", "conflict", None]
    assert await text(store, room.room_id) == "Bo skriver."


async def test_a_closed_rooms_minutes_are_read_only(store: Store) -> None:
    room = await make_room(store)
    target = await room_target(store, room)
    anna = Writer()
    assert await write(store, target, [anna.insert(0, "Slutsats.")], room.people[0]) == [None]
    async with store.write() as db:
        await breakout.close_rooms(db, room.session_id)
    (refusal,) = await write(store, target, [anna.insert(0, "Sent: ")], room.people[0])
    assert refusal is not None and refusal.code == "conflict" and "closed" in refusal.message
    assert await text(store, room.room_id) == "Slutsats."


async def test_many_updates_are_compacted_into_one_and_keep_the_text(store: Store) -> None:
    room = await make_room(store)
    target = await room_target(store, room)
    anna, bo = Writer(), Writer()
    for n in range(minutes.COMPACT_AFTER + 20):
        update = anna.insert(len(anna.text), f"{n} ")
        bo.doc.apply_update(update)
        if n % 7 == 0:
            removal = bo.delete(0, 1)
            anna.doc.apply_update(removal)
            assert await write(store, target, [update, removal], room.people[0]) == [None, None]
        else:
            assert await write(store, target, [update], room.people[0]) == [None]
    async with store.read() as db:
        rows = await db.scalar(
            select(func.count()).where(col(minutes.MinutesUpdate.minutes_id) == room.room_id)
        )
        head = await db.get(minutes.Minutes, room.room_id)
    assert rows is not None and rows < minutes.COMPACT_AFTER
    assert head is not None and head.count == rows
    assert await text(store, room.room_id) == str(anna.text) == str(bo.text)


async def test_minutes_past_one_megabyte_are_refused(store: Store) -> None:
    room = await make_room(store, people=1)
    target = await room_target(store, room)
    anna = Writer()
    page = "Ett stycke, langt nog. " * 2800  # about 64 KB a paste
    for _ in range(16):
        assert await write(store, target, [anna.insert(len(anna.text), page)], None) == [None]
    (refusal,) = await write(store, target, [anna.insert(0, page)], None)
    assert refusal is not None and refusal.code == "too_large" and "full" in refusal.message
    assert len(await text(store, room.room_id)) == len(page) * 16


async def test_the_session_texts_leave_out_empty_minutes_and_name_the_plenary(
    store: Store,
) -> None:
    room = await make_room(store, people=3, rooms=3)
    target = await room_target(store, room)
    assert await write(store, target, [Writer().insert(0, "Grupp ett.")], None) == [None]
    async with store.read() as db:
        empty, _ = await minutes.room_target(db, room.others[0])
    assert await write(store, empty, [minutes.EMPTY], None) == [None]
    async with store.write() as db:
        await minutes.switch_plenary(db, room.session_id, True)
        plenary, _ = await minutes.plenary_target(db, room.session_id)
    assert await write(store, plenary, [Writer().insert(0, "Alla tillsammans.")], None) == [None]
    async with store.read() as db:
        texts = await minutes.texts_of_session(db, room.session_id)
    assert texts == {room.room_id: "Grupp ett.", PLENARY: "Alla tillsammans."}


async def test_plenary_minutes_take_updates_only_while_switched_on(store: Store) -> None:
    room = await make_room(store)
    async with store.read() as db:
        plenary, head = await minutes.plenary_target(db, room.session_id)
    assert head is None
    (refusal,) = await write(store, plenary, [Writer().insert(0, "För tidigt.")], None)
    assert refusal is not None and "switched off" in refusal.message
    async with store.write() as db:
        assert (await minutes.switch_plenary(db, room.session_id, True)).events
    assert await write(store, plenary, [Writer().insert(0, "Nu.")], room.people[0]) == [None]
    async with store.write() as db:
        await minutes.switch_plenary(db, room.session_id, False)
    (refusal,) = await write(store, plenary, [Writer().insert(0, "Efteråt.")], None)
    assert refusal is not None
    async with store.read() as db:
        assert (await minutes.text_and_time(db, room.session_id))[0] == "Nu."


async def test_deleting_the_session_deletes_its_minutes(store: Store) -> None:
    room = await make_room(store)
    target = await room_target(store, room)
    assert await write(store, target, [Writer().insert(0, "Hemligt.")], None) == [None]
    async with store.write() as db:
        await sessions.delete_session(db, room.session_id)
    async with store.read() as db:
        assert await db.scalar(select(func.count()).select_from(minutes.Minutes)) == 0
        assert await db.scalar(select(func.count()).select_from(minutes.MinutesUpdate)) == 0


async def test_a_closed_session_takes_no_updates(store: Store) -> None:
    room = await make_room(store)
    target = await room_target(store, room)
    async with store.write() as db:
        await lifecycle.close_session(db, room.session_id)
    with pytest.raises(Refused) as refused:
        await write(store, target, [Writer().insert(0, "För sent.")], None)
    assert refused.value.code == "session_closed"


async def test_two_instances_writing_one_document_on_postgresql_both_commit(
    postgres: Postgres,
) -> None:
    url = await postgres.new_database()
    await asyncio.to_thread(migrate, url)
    one, two = Store(url), Store(url)
    try:
        room = await make_room(one, people=2)
        target = await room_target(one, room)
        writers = [Writer() for _ in range(6)]

        async def type_into(store: Store, writer: Writer, n: int) -> None:
            for k in range(10):
                update = writer.insert(len(writer.text), f"{n}{k} ")
                assert await write(store, target, [update], room.people[n % 2]) == [None]

        await asyncio.gather(
            *(type_into(one if n % 2 else two, w, n) for n, w in enumerate(writers))
        )
        found = await text(two, room.room_id)
        assert sorted(found.split()) == sorted(f"{n}{k}" for n in range(6) for k in range(10))
        async with one.read() as db:
            head = await db.get(minutes.Minutes, room.room_id)
        assert head is not None and head.count == 60 and head.version == 60
    finally:
        await one.close()
        await two.close()


async def test_an_update_before_the_one_it_builds_on_is_refused_and_nothing_is_lost(
    store: Store,
) -> None:
    room = await make_room(store)
    target = await room_target(store, room)
    anna, bo = Writer(), Writer()
    hi = anna.insert(0, "hi")
    there = anna.insert(2, " there, åäö 😀")
    (refusal,) = await write(store, target, [there], room.people[0])
    assert refusal is not None and refusal.code == "invalid" and "sync" in refusal.message
    # Placed against a writer's text the minutes do not have: refused too.
    bo.doc.apply_update(hi)
    against = bo.insert(1, "X")
    (refusal,) = await write(store, target, [against], room.people[1])
    assert refusal is not None and refusal.code == "invalid"
    async with store.read() as db:
        head = await db.get(minutes.Minutes, room.room_id)
    assert head is None or head.count == 0
    # In order, in one batch, they are stored; a compaction keeps every letter.
    assert await write(store, target, [hi, there, against], room.people[0]) == [None] * 3
    other = Writer()
    for n in range(minutes.COMPACT_AFTER + 1):
        assert await write(store, target, [other.insert(0, f"{n % 10}")], None) == [None]
    async with store.read() as db:
        head = await db.get(minutes.Minutes, room.room_id)
    assert head is not None and head.count < minutes.COMPACT_AFTER
    found = await text(store, room.room_id)
    assert "hXi there, åäö 😀" in found and len(found) == len("hXi there, åäö 😀") + 201


async def test_full_minutes_refuse_keystrokes_without_merging_each_time(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rooms.minutes import editing

    room = await make_room(store, people=1)
    target = await room_target(store, room)
    anna = Writer()
    page = "Ett stycke, langt nog. " * 2800  # about 64 KB a paste
    for _ in range(16):
        assert await write(store, target, [anna.insert(len(anna.text), page)], None) == [None]
    async with store.read() as db:
        head = await db.get(minutes.Minutes, room.room_id)
    assert head is not None
    rest = anna.insert(0, "x" * (minutes.DOCUMENT_MAX - head.size - 60))
    assert await write(store, target, [rest], None) == [None]
    merges = 0
    merged = editing.merged

    def counted(updates: list[bytes]) -> object:
        nonlocal merges
        merges += 1
        return merged(updates)

    monkeypatch.setattr(editing, "merged", counted)
    refused = 0
    for n in range(40):
        (refusal,) = await write(store, target, [anna.insert(0, f"tangent {n} ")], None)
        refused += refusal is not None
        if refusal is not None:
            anna = Writer()  # the client starts over from the store, as on reconnect
            async with store.read() as db:
                anna.doc.apply_update(await minutes.document(db, room.room_id))
    assert refused >= 20 and merges <= 2, (refused, merges)
    # Shortening is taken at once; then there is room to write again.
    assert await write(store, target, [anna.delete(0, 5000)], None) == [None]
    assert await write(store, target, [anna.insert(0, "Slutsats. ")], None) == [None]
    assert (await text(store, room.room_id)).startswith("Slutsats. ")
    assert merges <= 3
