"""The breakout feature's actions, the same over a socket and through the API."""

from __future__ import annotations

from typing import Any

from pydantic import Field, StrictInt
from sqlalchemy.ext.asyncio import AsyncSession

from live.actions import Action, Actor, Body, as_participant
from live.services import Samla
from rooms import boards, breakout
from rooms.breakout import Assignment, RoundView
from rooms.errors import forbidden
from rooms.models import Outcome, Role


class OpenRoomsBody(Body):
    """Open a round of rooms, or prepare it to open later."""

    count: StrictInt | None = Field(None, description="How many rooms")
    per_room: StrictInt | None = Field(None, description="Or: how many people per room")
    assignment: Assignment = "random"
    balance_by: str | list[str] | None = Field(
        None, description="The attribute to balance by, or a list of them to balance by all"
    )
    minutes: StrictInt | None = Field(None, description="How long the round lasts")
    close_at_end: bool = Field(False, description="Close the rooms when the time is up")
    names: list[str | None] | None = Field(None, description="The rooms' names, in order")
    places: list[str | None] | None = Field(None, description="Their places in the hall")
    capacity: StrictInt | None = Field(None, description="How many people each room takes")
    prepare: bool = Field(False, description="Only prepare the rooms; open them later")
    keep_groups: bool = Field(False, description="The groups of the last round, kept")
    board_template: boards.Template | None = Field(
        None, description="Give every room a board made from this template"
    )
    prepared: bool = Field(False, description="Open the prepared round (the rest is unused)")


class ExtendBody(Body):
    minutes: StrictInt = Field(description="How many minutes more")


class BroadcastBody(Body):
    text: str


class MoveBody(Body):
    participant_id: str
    room_id: str | None = Field(None, description="None: back to the plenary")


class ChooseRoomBody(Body):
    room_id: str
    participant_id: str | None = Field(None, description="Yourself, if given")


class AskForHelpBody(Body):
    room_id: str | None = Field(None, description="Your room, if given")


class AnswerHelpBody(Body):
    room_id: str


async def _open(samla: Samla, actor: Actor, body: OpenRoomsBody) -> RoundView:
    sid = actor.session_id
    if body.prepared:
        return await samla.change(lambda db: breakout.open_prepared(db, sid))

    async def open_them(db: AsyncSession) -> Outcome[RoundView]:
        opened = await breakout.open_rooms(
            db,
            sid,
            count=body.count,
            per_room=body.per_room,
            assignment=body.assignment,
            balance_by=body.balance_by,
            minutes=body.minutes,
            close_at_end=body.close_at_end,
            names=body.names,
            places=body.places,
            capacity=body.capacity,
            prepare=body.prepare,
            keep_groups=body.keep_groups,
        )
        if body.board_template is None:
            return opened
        # Every room gets its own board from the template, in the same transaction.
        made = await boards.create_room_boards(db, sid, body.board_template)
        return Outcome(sid, opened.value, opened.events + made.events)

    return await samla.change(open_them)


async def _close(samla: Samla, actor: Actor, body: Body) -> RoundView:
    return await samla.change(lambda db: breakout.close_rooms(db, actor.session_id))


async def _extend(samla: Samla, actor: Actor, body: ExtendBody) -> RoundView:
    return await samla.change(lambda db: breakout.extend(db, actor.session_id, body.minutes))


async def _broadcast(samla: Samla, actor: Actor, body: BroadcastBody) -> breakout.Broadcast:
    return await samla.change(lambda db: breakout.broadcast(db, actor.session_id, body.text))


async def _move(samla: Samla, actor: Actor, body: MoveBody) -> dict[str, Any]:
    return await samla.change(
        lambda db: breakout.move(db, actor.session_id, body.participant_id, body.room_id)
    )


async def _choose(samla: Samla, actor: Actor, body: ChooseRoomBody) -> dict[str, Any]:
    if body.participant_id not in (None, actor.participant_id):
        # The same refusal as a participant's rooms.move: moving others is the moderators'.
        raise forbidden("Only this session's moderators may do that.")

    return await as_participant(
        samla, actor, lambda db, me: breakout.choose_room(db, me, body.room_id)
    )


async def _ask_for_help(samla: Samla, actor: Actor, body: AskForHelpBody) -> dict[str, Any]:
    return await as_participant(
        samla, actor, lambda db, me: breakout.ask_for_help(db, me, body.room_id)
    )


async def _answer_help(samla: Samla, actor: Actor, body: AnswerHelpBody) -> dict[str, Any]:
    return await samla.change(lambda db: breakout.answer_help(db, actor.session_id, body.room_id))


MODERATOR: frozenset[Role] = frozenset({"moderator"})
PARTICIPANT: frozenset[Role] = frozenset({"participant"})

OPEN = Action("rooms.open", OpenRoomsBody, MODERATOR, _open)
CLOSE = Action("rooms.close", Body, MODERATOR, _close)
EXTEND = Action("rooms.extend", ExtendBody, MODERATOR, _extend)
BROADCAST = Action("rooms.broadcast", BroadcastBody, MODERATOR, _broadcast)
MOVE = Action("rooms.move", MoveBody, MODERATOR, _move)
ANSWER_HELP = Action("rooms.answer_help", AnswerHelpBody, MODERATOR, _answer_help)
HELP = Action("rooms.help", AskForHelpBody, PARTICIPANT, _ask_for_help)
CHOOSE = Action("rooms.choose", ChooseRoomBody, PARTICIPANT, _choose)

ACTIONS: tuple[Action[Any], ...] = (
    OPEN,
    CLOSE,
    EXTEND,
    BROADCAST,
    MOVE,
    ANSWER_HELP,
    HELP,
    CHOOSE,
)
