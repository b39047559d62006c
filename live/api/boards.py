"""The JSON API of note boards: boards, notes, upvotes, moderation, dot votes.

Every write performs the same action as its socket message (live/actions/boards.py): the
same validation, quota and refusals; a path's id is the part of the body it names."""

from __future__ import annotations

from typing import Any

from pydantic import StrictBool
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from live import auth
from live.actions import Action, Body, perform
from live.actions import boards as act
from live.api.base import Endpoint, actor_for, participant_actor, read_body, route, samla_of
from live.errors import read_json
from rooms import boards, polls, sessions
from rooms.boards.splits import upvote_splits
from rooms.errors import Refused, forbidden


class Pinned(Body):
    pinned: StrictBool = True


class Moved(Body):
    column: str


class Collected(Body):
    note_ids: list[str]
    column: str | None = None


class DotForNote(Body):
    note_id: str


async def _perform(request: Request, sid: str, action: Action[Any], raw: dict[str, Any]) -> Any:
    return await perform(samla_of(request), action, await actor_for(request, sid), raw)


async def _board(request: Request) -> boards.Board:
    async with samla_of(request).store.read() as db:
        return await boards.board_by_id(db, request.path_params["bid"])


async def _note(request: Request) -> boards.Note:
    async with samla_of(request).store.read() as db:
        return await boards.note_by_id(db, request.path_params["nid"])


async def _vote(request: Request, db: AsyncSession) -> boards.DotVote:
    vote = await db.get(boards.DotVote, request.path_params["vid"])
    if vote is None:
        raise Refused("not_found", "No such dot vote.")
    return vote


async def _vote_session(request: Request) -> tuple[str, str]:
    async with samla_of(request).store.read() as db:
        vote = await _vote(request, db)
    return vote.id, vote.session_id


def _board_json(board: boards.Board) -> dict[str, Any]:
    return {
        **boards.board_summary(board),
        "columns": [boards.column_json(c) for c in board.columns],
    }


# -- boards -------------------------------------------------------------------------------


async def create_board(request: Request) -> Response:
    raw = {**await read_json(request), "every_room": False}
    board = await _perform(request, request.path_params["sid"], act.CREATE_BOARD, raw)
    return JSONResponse(_board_json(board), 201)


async def create_room_boards(request: Request) -> Response:
    body = await read_json(request)
    raw = {"template": body.get("template"), "title": body.get("title"), "every_room": True}
    made = await _perform(request, request.path_params["sid"], act.CREATE_BOARD, raw)
    return JSONResponse({"boards": [_board_json(b) for b in made]}, 201)


async def get_board(request: Request) -> Response:
    samla = samla_of(request)
    async with samla.store.read() as db:
        who = await auth.from_bearer(db, request)
        board = await boards.board_by_id(db, request.path_params["bid"])
        session = await sessions.session_by_id(db, board.session_id)
        role = auth.member_role(who, session)
        pid = who.participant.id if who.participant else None
        if not await boards.may_see(db, board, role, pid):
            raise Refused("forbidden", "This board belongs to another room.")
        described = await boards.describe_board(db, board, include_hidden=role == "moderator")
    return JSONResponse(described)


async def upvote_split(request: Request) -> Response:
    """Every upvoted note's upvotes split by a join attribute (`?by=key`, moderators only),
    most upvoted first: `{board_id, by: {key, label}, notes: [{id, upvotes, groups}]}`, the
    same groups on every note (each choice someone in the session holds, then `choice: null`
    for no answer); a hidden group has `upvotes: null` and `hidden` "small" (fewer than 3
    people in the session hold it) or "protects" (so that the totals cannot give a small
    group away)."""
    samla = samla_of(request)
    async with samla.store.read() as db:
        who = await auth.from_bearer(db, request)
        board = await boards.board_by_id(db, request.path_params["bid"])
        session = await sessions.session_by_id(db, board.session_id)
        if auth.member_role(who, session) != "moderator":
            raise forbidden("Only this session's moderators may split the upvotes (by).")
        attribute = polls.attribute_named(session.attributes, request.query_params.get("by", ""))
        described = await boards.describe_board(db, board, include_hidden=True)
        upvoted = sorted(
            (n for n in described["notes"] if n["upvotes"]), key=lambda n: -int(n["upvotes"])
        )
        found = await upvote_splits(db, [n["id"] for n in upvoted], [attribute])
    return JSONResponse(
        {
            "board_id": board.id,
            "by": {"key": attribute["key"], "label": attribute.get("label", attribute["key"])},
            "notes": [
                {"id": n["id"], "upvotes": n["upvotes"], "groups": found[n["id"]][0]["groups"]}
                for n in upvoted
            ],
        }
    )


async def show_board(request: Request) -> Response:
    board = await _board(request)
    await _perform(request, board.session_id, act.SHOW_BOARD, {"board": board.id})
    return JSONResponse({"shown": board.id})


# -- notes --------------------------------------------------------------------------------


async def add_note(request: Request) -> Response:
    board = await _board(request)
    raw = {**await read_json(request), "board": board.id}
    note, new = await _perform(request, board.session_id, act.ADD_NOTE, raw)
    return JSONResponse(note, 201 if new else 200)


async def edit_note(request: Request) -> Response:
    note = await _note(request)
    raw = {**await read_json(request), "note": note.id}
    return JSONResponse(await _perform(request, note.session_id, act.EDIT_NOTE, raw))


async def delete_note(request: Request) -> Response:
    """The author deletes their note; a moderator deletes any, as the moderation's delete."""
    note = await _note(request)
    actor = await actor_for(request, note.session_id)
    samla = samla_of(request)
    if actor.role == "moderator":
        await perform(samla, act.MODERATE_NOTE, actor, {"note": note.id, "do": "delete"})
    else:
        await perform(samla, act.DELETE_NOTE, actor, {"note": note.id})
    return Response(status_code=204)


async def _upvote_note(request: Request, take_back: bool) -> Response:
    # A participant's like reads nothing before its batch, which checks the note, its
    # session and room (a storm of likes is thousands of these in seconds).
    actor = await participant_actor(request)
    if actor is None:
        actor = await actor_for(request, (await _note(request)).session_id)
    raw = {"note": request.path_params["nid"], "take_back": take_back}
    return JSONResponse({"upvotes": await perform(samla_of(request), act.LIKE_NOTE, actor, raw)})


async def upvote_note(request: Request) -> Response:
    return await _upvote_note(request, take_back=False)


async def take_back_note_upvote(request: Request) -> Response:
    return await _upvote_note(request, take_back=True)


async def _moderate_note(request: Request, raw: dict[str, Any]) -> Response:
    note = await _note(request)
    moderation = {**raw, "note": note.id}
    return JSONResponse(await _perform(request, note.session_id, act.MODERATE_NOTE, moderation))


async def hide_note(request: Request) -> Response:
    return await _moderate_note(request, {"do": "hide"})


async def restore_note(request: Request) -> Response:
    return await _moderate_note(request, {"do": "restore"})


async def pin_note(request: Request) -> Response:
    note = await _note(request)
    actor = await actor_for(request, note.session_id)
    pinned = (await read_body(request, Pinned)).pinned
    raw = {"note": note.id, "do": "pin" if pinned else "unpin"}
    return JSONResponse(await perform(samla_of(request), act.MODERATE_NOTE, actor, raw))


async def move_note(request: Request) -> Response:
    body = await read_json(request)
    return await _moderate_note(request, {"do": "move", "column": body.get("column")})


async def collect_notes(request: Request) -> Response:
    board = await _board(request)
    actor = await actor_for(request, board.session_id)
    body = await read_body(request, Collected)
    raw = {"do": "collect", "to": board.id, "note_ids": body.note_ids, "column": body.column}
    notes = await perform(samla_of(request), act.MODERATE_NOTE, actor, raw)
    return JSONResponse({"notes": notes})


# -- dot votes ----------------------------------------------------------------------------


async def open_dot_vote(request: Request) -> Response:
    board = await _board(request)
    raw = {**await read_json(request), "board": board.id}
    vote = await _perform(request, board.session_id, act.OPEN_DOTS, raw)
    return JSONResponse(boards.vote_json(vote), 201)


async def give_dot(request: Request) -> Response:
    vid, sid = await _vote_session(request)
    actor = await actor_for(request, sid)
    body = await read_json(request)  # validated as the socket's is: by GIVE_DOT's model
    left = await perform(samla_of(request), act.GIVE_DOT, actor, {**body, "vote": vid})
    return JSONResponse({"dots_left": left}, 201)


async def close_dot_vote(request: Request) -> Response:
    vid, sid = await _vote_session(request)
    vote = await _perform(request, sid, act.CLOSE_DOTS, {"vote": vid})
    return JSONResponse(boards.vote_json(vote))


async def dot_results(request: Request) -> Response:
    samla = samla_of(request)
    async with samla.store.read() as db:
        vote = await _vote(request, db)
        who = await auth.from_bearer(db, request)
        auth.member_role(who, await sessions.session_by_id(db, vote.session_id))
        results = await boards.dot_results(db, vote.session_id, vote.id)
    return JSONResponse(results)


ENDPOINTS: list[Endpoint] = [
    route(
        "POST",
        "/api/v1/sessions/{sid}/boards",
        create_board,
        "Add a note board to the plenary or a room",
        who="moderator",
        body=act.NewBoard,
        status=201,
    ),
    route(
        "POST",
        "/api/v1/sessions/{sid}/room-boards",
        create_room_boards,
        "Give every open breakout room its own board from a template",
        who="moderator",
        body=act.NewRoomBoards,
        status=201,
    ),
    route(
        "GET",
        "/api/v1/boards/{bid}",
        get_board,
        "A board with its notes (hidden ones for moderators)",
        who="member",
    ),
    route(
        "GET",
        "/api/v1/boards/{bid}/splits",
        upvote_split,
        "Every upvoted note's upvotes split by a join attribute (?by=key)",
        who="moderator",
        query={
            "by": "a join attribute's key: a group per choice and `choice: null` for no answer; "
            "a hidden group (fewer than 3, or hidden to protect one) shows null upvotes"
        },
    ),
    route(
        "POST",
        "/api/v1/boards/{bid}/show",
        show_board,
        "Show this board on the presenter view",
        who="moderator",
    ),
    route(
        "POST",
        "/api/v1/boards/{bid}/notes",
        add_note,
        "Post a note (re-sending one stores it once)",
        who="participant",
        body=act.NewNote,
        status=201,
    ),
    route(
        "PATCH",
        "/api/v1/notes/{nid}",
        edit_note,
        "Edit your own note",
        who="participant",
        body=act.NoteChange,
    ),
    route(
        "DELETE",
        "/api/v1/notes/{nid}",
        delete_note,
        "Delete your own note (a moderator: any note)",
        who="participant or moderator",
        status=204,
    ),
    route(
        "POST",
        "/api/v1/notes/{nid}/upvote",
        upvote_note,
        "Upvote a note (once per participant)",
        who="participant",
    ),
    route(
        "DELETE",
        "/api/v1/notes/{nid}/upvote",
        take_back_note_upvote,
        "Take back your upvote of a note",
        who="participant",
    ),
    route(
        "POST",
        "/api/v1/notes/{nid}/hide",
        hide_note,
        "Hide a note from participants and the big screen",
        who="moderator",
    ),
    route(
        "POST",
        "/api/v1/notes/{nid}/restore",
        restore_note,
        "Show a hidden note again",
        who="moderator",
    ),
    route(
        "POST",
        "/api/v1/notes/{nid}/pin",
        pin_note,
        "Pin a note to the top, or unpin it with {pinned: false}",
        who="moderator",
        body=Pinned,
    ),
    route(
        "POST",
        "/api/v1/notes/{nid}/move",
        move_note,
        "Move a note to another column of its board",
        who="moderator",
        body=Moved,
    ),
    route(
        "POST",
        "/api/v1/boards/{bid}/collect",
        collect_notes,
        "Collect room notes onto this plenary board",
        who="moderator",
        body=Collected,
    ),
    route(
        "POST",
        "/api/v1/boards/{bid}/dot-votes",
        open_dot_vote,
        "Open a dot vote ordering this plenary board",
        who="moderator",
        body=act.NewDotVote,
        status=201,
    ),
    route(
        "POST",
        "/api/v1/dot-votes/{vid}/dots",
        give_dot,
        "Give one of your dots to a note",
        who="participant",
        body=DotForNote,
        status=201,
    ),
    route(
        "POST",
        "/api/v1/dot-votes/{vid}/close",
        close_dot_vote,
        "Close a dot vote",
        who="moderator",
    ),
    route(
        "GET",
        "/api/v1/dot-votes/{vid}",
        dot_results,
        "A dot vote's results, most dots first",
        who="member",
    ),
]
