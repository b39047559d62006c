"""Note boards' domain actions against a real (SQLite) store, without the transport."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from live.store import Store
from rooms import boards, breakout, lifecycle, sessions
from rooms.errors import Refused
from rooms.models import Participant, utcnow


async def open_rooms(store: Store, sid: str, count: int) -> list[str]:
    """A round of real breakout rooms, nobody in them yet."""
    async with store.write() as db:
        view = (await breakout.open_rooms(db, sid, count=count, assignment="manual")).value
    return [room["id"] for room in view.rooms]


async def seat(store: Store, sid: str, room_id: str, person: Participant) -> None:
    async with store.write() as db:
        await breakout.move(db, sid, person.id, room_id)


async def setup(store: Store, people: int = 2) -> tuple[str, list[Participant]]:
    async with store.write() as db:
        created = (await sessions.create_session(db, title="Pass", organiser_id=None)).value
        joined = [
            (await lifecycle.join(db, code=created.session.code, name=f"P{i}")).value.participant
            for i in range(people)
        ]
    return created.session.id, joined


async def test_templates_give_their_columns_and_a_room_board_names_its_room(store: Store) -> None:
    sid, _ = await setup(store)
    async with store.write() as db:
        made = await boards.create_board_from_template(db, sid, "examples", "rum-3")
    board = made.value
    assert board.title == "Goda exempel / Utmaningar / Idéer"
    assert [(c["title"], c["card"]) for c in board.columns] == [
        ("Goda exempel", True),
        ("Utmaningar", False),
        ("Idéer", False),
    ]
    assert made.events[0].type == "board.created" and made.events[0].room_id == "rum-3"
    async with store.write() as db:
        phases = (await boards.create_board_from_template(db, sid, "phases", None)).value
    assert [c["title"] for c in phases.columns] == ["Inleda", "Fördjupa", "Utvärdera"]
    with pytest.raises(Refused):
        async with store.write() as db:
            await boards.create_board(db, sid, template="nope")


async def test_a_room_notes_events_name_the_room_and_upvotes_share_a_key(
    store: Store,
) -> None:
    sid, (anna, erik) = await setup(store)
    (r1,) = await open_rooms(store, sid, 1)
    await seat(store, sid, r1, anna)
    async with store.write() as db:
        board = (await boards.create_board(db, sid, title="B", columns=["A"], room_id=r1)).value
    async with store.write() as db:
        added = await boards.add_note(db, anna, board.id, text="hej", column=board.columns[0]["id"])
    assert added.events[0].room_id == r1
    note_id = added.value[0]["id"]
    with pytest.raises(Refused) as refused:
        async with store.write() as db:
            await boards.upvote_note(db, erik, note_id)
    assert refused.value.code == "forbidden"  # erik is in the plenary: not his board
    await seat(store, sid, r1, erik)
    async with store.write() as db:
        upvoted = await boards.upvote_note(db, erik, note_id)
    event = upvoted.events[0]
    assert (event.type, event.key, event.room_id) == (
        "note.upvoted",
        f"note.upvoted:{note_id}",
        r1,
    )
    async with store.write() as db:
        await boards.hide_note(db, sid, note_id)
        edited = await boards.edit_note(db, anna, note_id, text="ändrad")
    assert edited.events[0].roles == frozenset({"moderator"})


async def test_resending_within_the_window_returns_the_same_note_and_later_makes_a_new_one(
    store: Store,
) -> None:
    sid, (anna, _) = await setup(store)
    async with store.write() as db:
        board = (await boards.create_board(db, sid, title="B", columns=["A"])).value
    column = board.columns[0]["id"]

    async def post(**extra: Any) -> tuple[dict[str, Any], bool]:
        async with store.write() as db:
            return (await boards.add_note(db, anna, board.id, column=column, **extra)).value

    first, new = await post(text="samma ord")
    assert new
    again, new = await post(text="  samma   ord ")  # cleaned to the same words
    assert not new and again["id"] == first["id"]
    async with store.write() as db:
        await db.execute(
            update(boards.Note).values(
                created_at=utcnow() - boards.RESEND_WINDOW - timedelta(seconds=1)
            )
        )
    later, new = await post(text="samma ord")
    assert new and later["id"] != first["id"]
    keyed, _ = await post(text="med nyckel", nonce="abc")
    other_words, new = await post(text="andra ord", nonce="abc")
    assert not new and other_words["id"] == keyed["id"]  # the nonce decides


async def test_text_is_cleaned_of_invisible_marks_and_kept_literal(store: Store) -> None:
    sid, (anna, _) = await setup(store)
    async with store.write() as db:
        board = (await boards.create_board(db, sid, title="<b>B</b>", columns=["A"])).value
        note, _ = (
            await boards.add_note(
                db,
                anna,
                board.id,
                column=board.columns[0]["id"],
                text="\u202eP1\u200d <script>x</script>\r\n\r\n\r\n&amp;",
            )
        ).value
    assert board.title == "<b>B</b>"
    assert note["text"] == "P1 <script>x</script>\n\n&amp;"


async def test_an_upvote_is_one_row_and_taking_it_back_removes_it(store: Store) -> None:
    sid, (anna, erik) = await setup(store)
    async with store.write() as db:
        board = (await boards.create_board(db, sid, title="B", columns=["A"])).value
        note, _ = (
            await boards.add_note(db, anna, board.id, column=board.columns[0]["id"], text="hej")
        ).value
    counts = []
    for _ in range(3):
        async with store.write() as db:
            counts.append((await boards.toggle_upvote(db, erik, note["id"])).value)
    assert counts == [1, 0, 1]
    async with store.write() as db:
        made = await boards.upvote_note(db, erik, note["id"])
    assert made.value == 1 and made.events == ()  # already counted: nothing to tell
    async with store.read() as db:
        rows = await db.scalar(select(func.count()).select_from(boards.NoteUpvote))
    assert rows == 1


async def test_pinned_notes_lead_both_orders_and_the_order_is_stable() -> None:
    notes = [
        {"id": "a", "pinned": False, "dots": 0, "upvotes": 5, "created_at": "2026-01-01T10:00:00Z"},
        {"id": "b", "pinned": True, "dots": 0, "upvotes": 0, "created_at": "2026-01-01T09:00:00Z"},
        {"id": "c", "pinned": False, "dots": 0, "upvotes": 5, "created_at": "2026-01-01T11:00:00Z"},
        {"id": "d", "pinned": False, "dots": 2, "upvotes": 0, "created_at": "2026-01-01T08:00:00Z"},
    ]
    assert [n["id"] for n in boards.ordered(notes, "newest")] == ["b", "c", "a", "d"]
    assert [n["id"] for n in boards.ordered(notes, "top")] == ["b", "d", "c", "a"]
    assert boards.ordered(list(reversed(notes)), "top") == boards.ordered(notes, "top")


async def test_dots_are_capped_per_participant_by_the_database(store: Store) -> None:
    sid, (anna, erik) = await setup(store)
    async with store.write() as db:
        board = (await boards.create_board(db, sid, title="B", columns=["A"])).value
        note, _ = (
            await boards.add_note(db, anna, board.id, column=board.columns[0]["id"], text="hej")
        ).value
        vote = (await boards.open_dot_vote(db, sid, board.id, dots=2)).value
    left = []
    for _ in range(2):
        async with store.write() as db:
            left.append((await boards.give_dot(db, erik, vote.id, note["id"])).value)
    assert left == [1, 0]
    with pytest.raises(Refused) as refused:
        async with store.write() as db:
            await boards.give_dot(db, erik, vote.id, note["id"])
    assert refused.value.code == "conflict"
    with pytest.raises(Exception, match="UNIQUE"):
        async with store.write() as db:
            db.add(boards.Dot(vote_id=vote.id, note_id=note["id"], participant_id=erik.id, slot=0))


async def test_deleting_a_session_deletes_its_boards_notes_and_upvotes(store: Store) -> None:
    sid, (anna, erik) = await setup(store)
    async with store.write() as db:
        board = (await boards.create_board(db, sid, title="B", columns=["A"])).value
        note, _ = (
            await boards.add_note(db, anna, board.id, column=board.columns[0]["id"], text="hej")
        ).value
        await boards.upvote_note(db, erik, note["id"])
    async with store.write() as db:
        await sessions.delete_session(db, sid)
    async with store.read() as db:
        for table in (boards.Board, boards.Note, boards.NoteUpvote):
            assert await db.scalar(select(func.count()).select_from(table)) == 0


async def test_a_participant_in_a_room_reaches_only_the_plenary_and_their_rooms_boards(
    store: Store,
) -> None:
    sid, (anna, _) = await setup(store)
    r1, r2 = await open_rooms(store, sid, 2)
    await seat(store, sid, r1, anna)
    async with store.write() as db:
        mine = (await boards.create_board(db, sid, title="R1", columns=["A"], room_id=r1)).value
        other = (await boards.create_board(db, sid, title="R2", columns=["A"], room_id=r2)).value
        plenary = (await boards.create_board(db, sid, title="P", columns=["A"])).value
    async with store.read() as db:
        seen = [await boards.may_see(db, b, "participant", anna.id) for b in (mine, other, plenary)]
        assert seen == [True, False, True]
        assert await boards.may_see(db, other, "moderator", None)


async def test_a_cards_fields_are_kept_apart_and_an_anonymous_note_names_no_author(
    store: Store,
) -> None:
    sid, (anna, _) = await setup(store)
    async with store.write() as db:
        board = (await boards.create_board_from_template(db, sid, "examples", None)).value
        card = {
            "what": "Gemensam ingång",
            "who": "Kommunen",
            "where": "Umeå",
            "contact": "info@example.se",
            "effect": "Snabbare svar",
        }
        await boards.add_note(db, anna, board.id, column=board.columns[0]["id"], fields=card)
        await boards.add_note(
            db,
            anna,
            board.id,
            column=board.columns[1]["id"],
            text="projektpengar tar slut",
            anonymous=True,
        )
    async with store.read() as db:
        notes = (await boards.board_notes(db, [board], include_hidden=True))[board.id]
    by_text = {n["text"]: n for n in notes}
    example = by_text["Gemensam ingång"]
    assert example["fields"] == card and example["column"] == board.columns[0]["id"]
    assert example["author"]["name"] == "P0"
    assert by_text["projektpengar tar slut"]["author"] is None
    assert by_text["projektpengar tar slut"]["fields"] is None
