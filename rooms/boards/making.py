"""Making boards, for the plenary or a room, from columns or a template; the one shown."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from rooms.boards.reading import board_summary, live_rooms
from rooms.boards.tables import (
    COLUMN_MAX,
    COLUMN_TITLE_MAX,
    DEFAULT_KINDS,
    KIND_MAX,
    KINDS_MAX,
    ROOM_ID_MAX,
    TEMPLATES,
    Board,
    Template,
)
from rooms.errors import Refused, invalid
from rooms.models import TITLE_MAX, Event, Outcome, new_id
from rooms.sessions import writable
from rooms.text import clean, optional


def _kinds(raw: Any) -> list[str]:
    """A card column's kinds: 1 to 12 different names of 1 to 60 characters."""
    if not isinstance(raw, list) or len(raw) > KINDS_MAX:
        raise invalid(f"kinds must be a list of at most {KINDS_MAX} names.")
    out: list[str] = []
    for item in raw:
        kind = clean(item, "A kind in kinds", KIND_MAX)
        if kind.casefold() in (k.casefold() for k in out):
            raise invalid(f"kinds names {kind!r} twice.")
        out.append(kind)
    return out


def _columns(raw: Any) -> list[dict[str, Any]]:
    if not isinstance(raw, list) or not 1 <= len(raw) <= COLUMN_MAX:
        raise invalid(f"columns must be a list of 1 to {COLUMN_MAX} column titles.")
    out = []
    for item in raw:
        card = False
        kinds: list[str] = []
        if isinstance(item, dict):
            card = bool(item.get("card"))
            if item.get("kinds") is not None:
                kinds = _kinds(item["kinds"])
                if kinds and not card:
                    raise invalid("kinds are for a card column: give it card true as well.")
            item = item.get("title")
        title = clean(item, "A column title", COLUMN_TITLE_MAX)
        column: dict[str, Any] = {"id": new_id()[:8], "title": title, "card": card}
        if kinds:
            column["kinds"] = kinds
        out.append(column)
    return out


async def create_board(
    db: AsyncSession,
    session_id: str,
    *,
    title: Any = None,
    columns: Any = None,
    room_id: Any = None,
    template: Any = None,
) -> Outcome[Board]:
    """A board for the plenary (room_id None) or one room, from columns or a template."""
    await writable(db, session_id)
    if template is not None:
        if not isinstance(template, str) or template not in TEMPLATES:
            raise invalid(f"template must be one of {', '.join(TEMPLATES)}.")
        default_title, cols = TEMPLATES[template]
        title = default_title if title in (None, "") else title
        if columns is None:
            # A template's card column offers the default kinds of good examples.
            columns = [
                {"title": t, "card": card, **({"kinds": list(DEFAULT_KINDS)} if card else {})}
                for t, card in cols
            ]
    board = Board(
        session_id=session_id,
        room_id=optional(room_id, "room_id", ROOM_ID_MAX),
        title=clean(title, "The board title", TITLE_MAX),
        columns=_columns(columns),
    )
    db.add(board)
    await db.flush()
    event = Event("board.created", {"board": board_summary(board)}, room_id=board.room_id)
    return Outcome(session_id, board, (event,))


async def create_board_from_template(
    db: AsyncSession,
    session_id: str,
    template: Template,
    room_id: str | None,
    title: str | None = None,
) -> Outcome[Board]:
    """What breakout rooms call when a round opens: every room gets its board."""
    return await create_board(db, session_id, template=template, room_id=room_id, title=title)


async def create_room_boards(
    db: AsyncSession, session_id: str, template: Any, title: Any = None
) -> Outcome[list[Board]]:
    """Gives every prepared or open breakout room its own board from a template."""
    if not isinstance(template, str) or template not in TEMPLATES:
        raise invalid(f"template must be one of {', '.join(TEMPLATES)}.")
    rooms = await live_rooms(db, session_id)
    if not rooms:
        raise Refused("conflict", "There are no open breakout rooms; open them first.")
    made: list[Board] = []
    events: list[Event] = []
    for room in rooms:
        outcome = await create_board(
            db, session_id, template=template, room_id=room["id"], title=title
        )
        made.append(outcome.value)
        events += outcome.events
    return Outcome(session_id, made, tuple(events))


async def show_board(db: AsyncSession, board_id: str | None, session_id: str) -> Outcome[None]:
    """Puts one board on the stage (None: the stage shows the join screen): the stage's
    own action (rooms/stage.py), so the board and the stage never disagree."""
    from rooms import stage  # rooms.stage reads the boards' tables: imported when used

    if board_id is None and (await writable(db, session_id)).stage_show != "board":
        return Outcome(session_id, None)  # no board is on the stage: it stays as it is
    shown = await stage.show(db, session_id, "board" if board_id else "join", board_id)
    return Outcome(session_id, None, shown.events)
