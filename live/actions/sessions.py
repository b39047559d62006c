"""The sessions feature's actions, the same over a socket and through the API.

Renaming oneself has no API endpoint: a participant renames over their socket (the page's
form, or the event stream's `{"type": "rename", "name": ...}`)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from live.actions import Action, Actor, Body
from live.services import Samla
from rooms import sessions


class RenameBody(Body):
    name: str | None = Field(None, description="The name others see; none or blank: no name.")


async def rename(samla: Samla, actor: Actor, body: RenameBody) -> str | None:
    assert actor.participant_id is not None  # only participants may (the action's roles)
    participant_id = actor.participant_id
    return await samla.change(lambda db: sessions.rename(db, participant_id, body.name))


ACTIONS: tuple[Action[Any], ...] = (
    Action("rename", RenameBody, frozenset({"participant"}), rename),
)
