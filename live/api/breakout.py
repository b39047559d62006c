"""The JSON API of breakout rooms: opening, moving, closing, timers, broadcasts and help."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from live import auth
from live.api.base import (
    Endpoint,
    _member_session,
    _obj,
    endpoint,
    moderated_session,
    samla_of,
)
from live.errors import read_json
from rooms import boards, breakout
from rooms.errors import forbidden, invalid, not_found
from rooms.models import Outcome, Session, iso

_STR = {"type": "string"}
_INT = {"type": "integer"}
_BOOL = {"type": "boolean"}
_TEXTS = {"type": "array", "items": _STR}


def _rooms_answer(view: breakout.RoundView) -> dict[str, Any]:
    return {"rooms": view.rooms, "round": breakout.round_json(view.round)}


@endpoint(
    "POST",
    "/api/v1/sessions/{sid}/rooms",
    "Open breakout rooms (or prepare them): by count or people per room, assigned at random, "
    "balanced by an attribute, self-selected or by hand",
    who="moderator",
    status=201,
    body=_obj(
        {
            "count": _INT,
            "per_room": _INT,
            "assignment": {"enum": list(breakout.ASSIGNMENTS)},
            "balance_by": _STR,
            "minutes": _INT,
            "close_at_end": _BOOL,
            "names": _TEXTS,
            "places": _TEXTS,
            "capacity": _INT,
            "prepare": _BOOL,
            "keep_groups": _BOOL,
            "board_template": {"enum": list(boards.TEMPLATES)},
        },
        ["assignment"],
    ),
)
async def open_rooms(request: Request) -> Response:
    samla = samla_of(request)
    session = await moderated_session(request)
    body = await read_json(request)
    template = body.get("board_template")
    # A name is text; anything else (an object, a list) is no template and no server error.
    named = isinstance(template, str) and template in boards.TEMPLATES
    if template is not None and not named:
        raise invalid(f"board_template must be one of {', '.join(boards.TEMPLATES)}.")

    async def open_them(db: Any) -> Outcome[Any]:
        opened = await breakout.open_rooms(
            db,
            session.id,
            count=body.get("count"),
            per_room=body.get("per_room"),
            assignment=body.get("assignment", "random"),
            balance_by=body.get("balance_by"),
            minutes=body.get("minutes"),
            close_at_end=body.get("close_at_end", False),
            names=body.get("names"),
            places=body.get("places"),
            capacity=body.get("capacity"),
            prepare=body.get("prepare", False),
            keep_groups=body.get("keep_groups", False),
        )
        if template is None:
            return opened
        # Every room gets its own board from the template, in the same transaction.
        made = await boards.create_room_boards(db, session.id, template)
        return Outcome(session.id, opened.value, opened.events + made.events)

    view = await samla.change(open_them)
    return JSONResponse(_rooms_answer(view), 201)


@endpoint(
    "GET",
    "/api/v1/sessions/{sid}/rooms",
    "The current round (prepared or open) and its rooms with who is in them",
    who="member",
)
async def list_rooms(request: Request) -> Response:
    samla = samla_of(request)
    async with samla.store.read() as db:
        who, session = await _member_session(request, db)
        auth.member_role(who, session)
        view = await breakout.view_round(db, await breakout.current_round(db, session.id))
    return JSONResponse(_rooms_answer(view))


@endpoint("POST", "/api/v1/sessions/{sid}/rooms/open", "Open the prepared round", who="moderator")
async def open_prepared(request: Request) -> Response:
    samla = samla_of(request)
    session = await moderated_session(request)
    view = await samla.change(lambda db: breakout.open_prepared(db, session.id))
    return JSONResponse(_rooms_answer(view))


@endpoint(
    "POST",
    "/api/v1/sessions/{sid}/rooms/close",
    "Close every room: everyone is back in the plenary",
    who="moderator",
)
async def close_rooms(request: Request) -> Response:
    samla = samla_of(request)
    session = await moderated_session(request)
    view = await samla.change(lambda db: breakout.close_rooms(db, session.id))
    return JSONResponse(_rooms_answer(view))


@endpoint(
    "POST",
    "/api/v1/sessions/{sid}/rooms/extend",
    "Give the open round more minutes",
    who="moderator",
    body=_obj({"minutes": _INT}, ["minutes"]),
)
async def extend(request: Request) -> Response:
    samla = samla_of(request)
    session = await moderated_session(request)
    body = await read_json(request)
    view = await samla.change(lambda db: breakout.extend(db, session.id, body.get("minutes")))
    return JSONResponse(_rooms_answer(view))


@endpoint(
    "POST",
    "/api/v1/sessions/{sid}/rooms/broadcast",
    "Send a message to every room at once",
    who="moderator",
    status=201,
    body=_obj({"text": _STR}, ["text"]),
)
async def broadcast(request: Request) -> Response:
    samla = samla_of(request)
    session = await moderated_session(request)
    body = await read_json(request)
    sent = await samla.change(lambda db: breakout.broadcast(db, session.id, body.get("text")))
    return JSONResponse({"id": sent.id, "text": sent.text, "sent_at": iso(sent.created_at)}, 201)


async def _room_as(request: Request, db: Any) -> tuple[auth.Identity, Session, breakout.Room]:
    """The caller and the room. As the contract says, an unknown room is 404 and a room of a
    session the caller does not belong to is 403; neither reveals anything of the room."""
    who = await auth.from_bearer(db, request)
    room = await db.get(breakout.Room, request.path_params["rid"])
    session = await db.get(Session, room.session_id) if room is not None else None
    if room is None or session is None:
        raise not_found("room")
    if auth.role_in(who, session) is None:
        raise forbidden("This room belongs to another session.")
    return who, session, room


@endpoint(
    "POST",
    "/api/v1/rooms/{rid}/members",
    "Moderator: move a participant into this room. Participant: choose this room",
    who="moderator or participant",
    body=_obj({"participant_id": _STR}),
)
async def members(request: Request) -> Response:
    samla = samla_of(request)
    async with samla.store.read() as db:
        who, session, room = await _room_as(request, db)
    body = await read_json(request)
    if auth.role_in(who, session) == "moderator":
        moved = await samla.change(
            lambda db: breakout.move(db, session.id, body.get("participant_id"), room.id)
        )
        return JSONResponse(moved)
    me = auth.require_participant(who, session)
    if body.get("participant_id") not in (None, me.id):
        raise forbidden("Only a moderator may move other people; choose a room for yourself.")
    chosen = await samla.change(lambda db: breakout.choose_room(db, me, room.id))
    return JSONResponse(chosen)


@endpoint(
    "POST",
    "/api/v1/rooms/{rid}/help",
    "Ask the moderator to come to your room",
    who="participant",
    status=201,
)
async def ask_for_help(request: Request) -> Response:
    samla = samla_of(request)
    async with samla.store.read() as db:
        who, session, room = await _room_as(request, db)
    me = auth.require_participant(who, session)
    asked = await samla.change(lambda db: breakout.ask_for_help(db, me, room.id))
    return JSONResponse(asked, 201)


@endpoint(
    "POST",
    "/api/v1/rooms/{rid}/help/answer",
    "Clear a room's call for help: the moderator is on the way",
    who="moderator",
)
async def answer_help(request: Request) -> Response:
    samla = samla_of(request)
    async with samla.store.read() as db:
        who, session, room = await _room_as(request, db)
        auth.require_moderator(who, session)
    answered = await samla.change(lambda db: breakout.answer_help(db, session.id, room.id))
    return JSONResponse(answered)


ENDPOINTS: list[Endpoint] = []
