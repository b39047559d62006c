"""The calls feature's action: the moderator's choices of which calls a session has, the same
from the console's form and from `POST /api/v1/sessions/{sid}/calls`."""

from __future__ import annotations

from typing import Any

from pydantic import Field, StrictBool

from live.actions import Action, Actor, Body
from live.services import Samla
from rooms import calls
from rooms.models import Role

MODERATORS = frozenset[Role]({"moderator"})


class CallsBody(Body):
    """Which calls the session has, besides every breakout room's online; a choice left out
    stays as it is."""

    hall_tables: StrictBool | None = Field(
        None, description="Tables in the hall (rooms with a place) get a call too."
    )
    plenary: StrictBool | None = Field(
        None, description="The plenary gets a call, for the people taking part from afar."
    )


async def choose(samla: Samla, actor: Actor, body: CallsBody) -> calls.CallChoice:
    return await samla.change(
        lambda db: calls.set_choice(
            db, actor.session_id, hall_tables=body.hall_tables, plenary=body.plenary
        )
    )


CHOOSE = Action("session.calls", CallsBody, MODERATORS, choose)

ACTIONS: tuple[Action[Any], ...] = (CHOOSE,)
