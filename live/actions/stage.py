"""What the hall's big screen shows, chosen by a moderator; and a new link for it."""

from __future__ import annotations

from typing import Any

from pydantic import Field, StrictBool

from live.actions import Action, Actor, Body
from live.services import Samla
from rooms import stage
from rooms.models import ATTRIBUTE_KEY_MAX, STAGE_TEXT_MAX, Role

MODERATORS = frozenset[Role]({"moderator"})


class StageShown(Body):
    """What the stage shows: one view, and what of it."""

    show: stage.Show = Field(description="The view: join, poll, question, board, rooms or message.")
    id: str | None = Field(
        None,
        max_length=16,
        description="The poll, question or board shown (a poll: none shows the current one).",
    )
    text: str | None = Field(
        None, max_length=STAGE_TEXT_MAX, description="The message (show: message)."
    )
    reveal_results: StrictBool = Field(
        False, description="A poll's results are shown; else its question and count only."
    )
    by: str | None = Field(
        None,
        max_length=ATTRIBUTE_KEY_MAX,
        description="A poll's results, or a board's likes, split by this join question (its "
        "key); groups of fewer than 3 show no counts.",
    )


class StageRevoke(Body):
    """Nothing to send: the stage gets a new link, and the old one opens nothing."""


async def show(samla: Samla, actor: Actor, body: StageShown) -> Any:
    return await samla.change(
        lambda db: stage.show(
            db,
            actor.session_id,
            body.show,
            body.id or None,
            text=body.text,
            reveal=body.reveal_results,
            by=body.by or None,
        )
    )


async def revoke(samla: Samla, actor: Actor, body: StageRevoke) -> Any:
    return await samla.change(lambda db: stage.revoke_link(db, actor.session_id))


SHOW = Action("stage.show", StageShown, MODERATORS, show)
REVOKE = Action("stage.revoke", StageRevoke, MODERATORS, revoke)

ACTIONS: tuple[Action[Any], ...] = (SHOW, REVOKE)
