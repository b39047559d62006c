"""The boards feature's actions, the same over a socket and through the API."""

from __future__ import annotations

from typing import Any

from pydantic import StrictBool, StrictInt
from sqlalchemy.ext.asyncio import AsyncSession

from live import quotas
from live.actions import Action, Actor, Body, as_participant
from live.actions.batching import Kind, submit
from live.services import Samla
from rooms import boards
from rooms.errors import Refused, invalid, not_found
from rooms.models import Outcome, Role
from rooms.sessions import participant_in

PARTICIPANTS = frozenset[Role]({"participant"})
MODERATORS = frozenset[Role]({"moderator"})


class NewNote(Body):
    """A note: plain text, or a good-example card's fields (its text is then the card's what):
    what, who, where, contact, effect, link (http or https, stored normalised) and kind (one
    of its column's kinds)."""

    column: str | None = None
    text: str | None = None
    anonymous: StrictBool = False
    nonce: str | None = None
    fields: dict[str, Any] | None = None


class NoteOnBoard(NewNote):
    board: str | None = None


class NoteChange(Body):
    text: str | None = None
    fields: dict[str, Any] | None = None


class NoteEdit(NoteChange):
    note: str


class NoteRef(Body):
    note: str


class Like(NoteRef):
    # None: the like button, a second press takes it back; the API says which it means.
    take_back: StrictBool | None = None


class NewBoard(Body):
    """A board: its columns as titles, or as objects {title, card?, kinds?} (a card column
    takes good-example cards, each of one of its kinds: at most 12, of 1 to 60 characters)."""

    title: str | None = None
    columns: list[str | dict[str, Any]] | None = None
    room_id: str | None = None
    template: str | None = None


class NewRoomBoards(Body):
    template: str
    title: str | None = None


class BoardCreate(NewBoard):
    every_room: StrictBool = False  # one board for each prepared or open breakout room


class BoardShown(Body):
    board: str | None = None  # None: no board on the presenter view


class Moderation(Body):
    do: str
    note: str | None = None
    column: str | None = None  # where `move` puts the note, or `collect` its copies
    to: str | None = None  # the plenary board `collect` copies onto
    note_ids: list[str] | None = None  # what `collect` copies (else `note`)


class NewDotVote(Body):
    scope: str = "collected"
    dots: StrictInt = 3


class DotVoteOnBoard(NewDotVote):
    board: str


class DotGiven(Body):
    vote: str
    note_id: str  # as the API's body names it


class DotVoteRef(Body):
    vote: str


async def add_note(samla: Samla, actor: Actor, body: NoteOnBoard) -> Any:
    if body.board is None:
        raise invalid("Choose where the note goes.")
    board = body.board

    return await as_participant(
        samla,
        actor,
        lambda db, author: boards.add_note(
            db,
            author,
            board,
            text=body.text,
            column=body.column,
            anonymous=body.anonymous,
            nonce=body.nonce,
            fields=body.fields,
        ),
    )


async def edit_note(samla: Samla, actor: Actor, body: NoteEdit) -> Any:
    return await as_participant(
        samla,
        actor,
        lambda db, author: boards.edit_note(
            db, author, body.note, text=body.text, fields=body.fields
        ),
    )


async def delete_note(samla: Samla, actor: Actor, body: NoteRef) -> Any:
    return await as_participant(
        samla, actor, lambda db, author: boards.delete_note(db, body.note, participant=author)
    )


async def _like_many(
    db: AsyncSession, session_id: str, presses: list[boards.Press]
) -> Outcome[list[int | Refused]]:
    return await boards.upvote_many(db, session_id, presses)


async def _like_one(db: AsyncSession, session_id: str, press: boards.Press) -> Outcome[int]:
    participant_id, note_id, take_back = press
    who = await participant_in(db, session_id, participant_id)
    if take_back is None:
        return await boards.toggle_upvote(db, who, note_id)
    return await boards.upvote_note(db, who, note_id, take_back=take_back)


NOTE_LIKES = Kind[boards.Press, int]("likes of notes", _like_many, _like_one)


async def like_note(samla: Samla, actor: Actor, body: Like) -> int:
    """A like joins its session's batch; it is acknowledged, with the note's total, once its
    batch has committed."""
    if actor.participant_id is None:
        raise not_found("participant")
    press = (actor.participant_id, body.note, body.take_back)
    return await submit(samla, NOTE_LIKES, actor.session_id, press)


async def give_dot(samla: Samla, actor: Actor, body: DotGiven) -> Any:
    return await as_participant(
        samla, actor, lambda db, who: boards.give_dot(db, who, body.vote, body.note_id)
    )


async def create_board(samla: Samla, actor: Actor, body: BoardCreate) -> Any:
    sid = actor.session_id
    if body.every_room:
        return await samla.change(
            lambda db: boards.create_room_boards(db, sid, body.template, body.title)
        )
    return await samla.change(
        lambda db: boards.create_board(
            db,
            sid,
            title=body.title,
            columns=body.columns,
            room_id=body.room_id,
            template=body.template,
        )
    )


async def show_board(samla: Samla, actor: Actor, body: BoardShown) -> Any:
    return await samla.change(lambda db: boards.show_board(db, body.board, actor.session_id))


async def moderate_note(samla: Samla, actor: Actor, body: Moderation) -> Any:
    """Hide, restore, pin, unpin, move, collect or delete a note."""
    return await samla.change(lambda db: _moderate(db, actor.session_id, body))


async def _moderate(db: AsyncSession, sid: str, body: Moderation) -> Outcome[Any]:
    do, note = body.do, str(body.note)
    if do == "collect":
        chosen = [note] if body.note_ids is None else body.note_ids
        return await boards.collect_notes(db, sid, str(body.to), chosen, body.column)
    if do in ("hide", "restore"):
        return await boards.hide_note(db, sid, note, hidden=do == "hide")
    if do in ("pin", "unpin"):
        return await boards.pin_note(db, sid, note, pinned=do == "pin")
    if do == "move":
        return await boards.move_note(db, sid, note, body.column)
    if do == "delete":
        return await boards.delete_note(db, note, session_id=sid)
    raise invalid("Unknown moderation.")


async def open_dots(samla: Samla, actor: Actor, body: DotVoteOnBoard) -> Any:
    return await samla.change(
        lambda db: boards.open_dot_vote(
            db, actor.session_id, body.board, scope=body.scope, dots=body.dots
        )
    )


async def close_dots(samla: Samla, actor: Actor, body: DotVoteRef) -> Any:
    return await samla.change(lambda db: boards.close_dot_vote(db, actor.session_id, body.vote))


ADD_NOTE = Action("note.add", NoteOnBoard, PARTICIPANTS, add_note, quota=quotas.NOTE)
EDIT_NOTE = Action("note.edit", NoteEdit, PARTICIPANTS, edit_note)
DELETE_NOTE = Action("note.delete", NoteRef, PARTICIPANTS, delete_note)
LIKE_NOTE = Action("note.like", Like, PARTICIPANTS, like_note, quota=quotas.UPVOTE)
GIVE_DOT = Action("dot.give", DotGiven, PARTICIPANTS, give_dot)
CREATE_BOARD = Action("board.create", BoardCreate, MODERATORS, create_board)
SHOW_BOARD = Action("board.show", BoardShown, MODERATORS, show_board)
MODERATE_NOTE = Action("note.moderate", Moderation, MODERATORS, moderate_note)
OPEN_DOTS = Action("dots.open", DotVoteOnBoard, MODERATORS, open_dots)
CLOSE_DOTS = Action("dots.close", DotVoteRef, MODERATORS, close_dots)

ACTIONS: tuple[Action[Any], ...] = (
    ADD_NOTE,
    EDIT_NOTE,
    DELETE_NOTE,
    LIKE_NOTE,
    GIVE_DOT,
    CREATE_BOARD,
    SHOW_BOARD,
    MODERATE_NOTE,
    OPEN_DOTS,
    CLOSE_DOTS,
)
