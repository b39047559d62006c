"""Good-example cards with a link and a kind: the domain's checks, without the transport."""

from __future__ import annotations

from typing import Any

import pytest

from live.store import Store
from rooms import boards
from rooms.boards.notes import card_link
from rooms.errors import Refused
from tests.rooms.test_boards import setup

KINDS = ["Arbetssätt och metoder", "Plattformar och nätverk", "Lästips"]


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("https://Example.se", "https://example.se/"),
        (" http://www.example.se/a b?q=1#x ", "http://www.example.se/a%20b?q=1#x"),
        ("HTTPS://exämple.se/", "https://xn--exmple-cua.se/"),
        ("", None),
        (None, None),
    ],
)
def test_a_link_is_stored_normalised(given: Any, stored: str | None) -> None:
    assert card_link(given) == stored


@pytest.mark.parametrize(
    "given",
    [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "ftp://example.se/",
        "http://",
        "//example.se",
        "example.se",
        "https://anna:secret@example.se/",
        "https://example.se/" + "a" * 482,  # 501 characters
        42,
    ],
)
def test_a_link_that_is_not_a_web_address_is_refused_naming_link(given: Any) -> None:
    with pytest.raises(Refused) as refused:
        card_link(given)
    assert refused.value.code == "invalid" and "link" in refused.value.message


def test_a_link_of_500_characters_is_kept() -> None:
    link = "https://example.se/" + "a" * 481
    assert len(link) == 500 and card_link(link) == link


async def test_a_card_column_keeps_its_kinds_and_the_template_gives_the_default_ones(
    store: Store,
) -> None:
    sid, _ = await setup(store, people=0)
    async with store.write() as db:
        made = await boards.create_board(
            db,
            sid,
            title="Exempel",
            columns=["Idéer", {"title": "Tips", "card": True, "kinds": [" Lästips ", "Verktyg"]}],
        )
        template = (await boards.create_board_from_template(db, sid, "examples", None)).value
    columns = made.value.columns
    assert "kinds" not in columns[0] and columns[1]["kinds"] == ["Lästips", "Verktyg"]
    assert boards.column_json(columns[0])["kinds"] == []
    assert template.columns[0]["kinds"] == KINDS
    assert all("kinds" not in c for c in template.columns[1:])


BAD_COLUMNS = [
    {"title": "T", "card": True, "kinds": [f"k{i}" for i in range(13)]},
    {"title": "T", "card": True, "kinds": ["x" * 61]},
    {"title": "T", "card": True, "kinds": [""]},
    {"title": "T", "card": True, "kinds": ["Lästips", "lästips"]},
    {"title": "T", "card": True, "kinds": "Lästips"},
    {"title": "T", "kinds": ["Lästips"]},  # kinds on a column of plain notes
]


async def test_bad_kinds_are_refused_and_no_board_is_made(store: Store) -> None:
    sid, _ = await setup(store, people=0)
    for column in BAD_COLUMNS:
        with pytest.raises(Refused) as refused:
            async with store.write() as db:
                await boards.create_board(db, sid, title="B", columns=[column])
        assert refused.value.code == "invalid" and "kinds" in refused.value.message, column
    async with store.read() as db:
        assert await boards.session_boards(db, sid) == []


async def test_a_card_gets_a_link_and_one_of_its_columns_kinds(store: Store) -> None:
    sid, (anna, _) = await setup(store)
    async with store.write() as db:
        board = (await boards.create_board_from_template(db, sid, "examples", None)).value
        cards = board.columns[0]["id"]
        fields = {"what": "Läslista", "link": "https://Example.se/lista", "kind": "lästips"}
        note, _ = (await boards.add_note(db, anna, board.id, column=cards, fields=fields)).value
    # The kind as the column spells it; the link normalised; after the other card fields.
    assert note["fields"] == {
        "what": "Läslista",
        "link": "https://example.se/lista",
        "kind": "Lästips",
    }
    for field, value in (("kind", "Poddar"), ("link", "javascript:alert(1)")):
        with pytest.raises(Refused) as refused:
            async with store.write() as db:
                await boards.add_note(
                    db, anna, board.id, column=cards, fields={"what": "Annat", field: value}
                )
        assert field in refused.value.message
    async with store.read() as db:
        notes = (await boards.board_notes(db, [board], include_hidden=True))[board.id]
    assert [n["text"] for n in notes] == ["Läslista"]


async def test_a_kind_must_be_the_target_columns_and_editing_a_cards_words_keeps_the_rest(
    store: Store,
) -> None:
    sid, (anna, _) = await setup(store)
    async with store.write() as db:
        board = (
            await boards.create_board(
                db,
                sid,
                title="B",
                columns=[
                    {"title": "Exempel", "card": True, "kinds": ["Lästips"]},
                    {"title": "Fler exempel", "card": True},
                ],
            )
        ).value
        first, second = (c["id"] for c in board.columns)
        fields = {"what": "Bok", "link": "https://example.se/bok", "kind": "Lästips"}
        note, _ = (await boards.add_note(db, anna, board.id, column=first, fields=fields)).value
    with pytest.raises(Refused) as refused:
        async with store.write() as db:
            await boards.add_note(db, anna, board.id, column=second, fields=fields)
    assert "kind" in refused.value.message
    with pytest.raises(Refused) as refused:
        async with store.write() as db:
            await boards.move_note(db, sid, note["id"], second)
    assert "Lästips" in refused.value.message
    async with store.write() as db:
        edited = (await boards.edit_note(db, anna, note["id"], text="En bättre bok")).value
    assert edited["text"] == "En bättre bok"
    assert edited["fields"] == {**fields, "what": "En bättre bok"}
