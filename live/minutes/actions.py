"""The minutes' actions beyond typing: a moderator switches the plenary minutes on or off,
and collects a passage of a room's minutes onto a plenary board. The API and a socket
message perform the same action."""

from __future__ import annotations

from typing import Any

from pydantic import Field, StrictBool

from live.actions import Action, Actor, Body
from live.services import Samla
from rooms import minutes
from rooms.boards.tables import NOTE_MAX
from rooms.models import Role

MODERATORS = frozenset[Role]({"moderator"})


class PlenaryMinutes(Body):
    """Whether the session keeps plenary minutes that every member writes."""

    plenary: StrictBool = Field(
        description="On: every member may write them; off: they stay, read-only."
    )


class Passage(Body):
    """A passage of a room's minutes, put on a plenary board as a note."""

    room_id: str = Field(max_length=40, description="The room whose minutes it is from.")
    board_id: str = Field(max_length=40, description="A plenary board of the same session.")
    column_id: str | None = Field(
        None, max_length=40, description="The board's column (none: its first)."
    )
    # Room for a whole room's minutes chosen at once: the note itself is refused past
    # NOTE_MAX characters after cleaning, with a message that says so.
    text: str = Field(max_length=NOTE_MAX * 20, description="The passage, as in the minutes.")


async def switch_plenary(samla: Samla, actor: Actor, body: PlenaryMinutes) -> Any:
    on = await samla.change(lambda db: minutes.switch_plenary(db, actor.session_id, body.plenary))
    return {"session_id": actor.session_id, "plenary": on}


async def collect(samla: Samla, actor: Actor, body: Passage) -> Any:
    return await samla.change(
        lambda db: minutes.collect_passage(
            db, actor.session_id, body.room_id, body.board_id, body.text, body.column_id
        )
    )


PLENARY = Action("minutes.plenary", PlenaryMinutes, MODERATORS, switch_plenary)
COLLECT = Action("minutes.collect", Passage, MODERATORS, collect)

ACTIONS: tuple[Action[Any], ...] = (PLENARY, COLLECT)
