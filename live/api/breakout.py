"""The JSON API of breakout rooms: opening, moving, closing, timers, broadcasts and help.

Each endpoint performs the same action as its socket message (live/actions/breakout.py):
the same body, the same validation and the same refusals."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from live import auth
from live.actions import Actor, Body, perform
from live.actions import breakout as actions
from live.api.base import Endpoint, actor_for, read_body, route, samla_of
from live.errors import read_json
from rooms import breakout
from rooms.breakout import RoundView
from rooms.models import iso


class RoomMembersBody(Body):
    """A moderator names who moves here; a participant sends nothing (or themselves)."""

    participant_id: str | None = None


def _rooms_answer(view: RoundView) -> dict[str, Any]:
    return {"rooms": view.rooms, "round": breakout.round_json(view.round)}


async def _session_actor(request: Request) -> Actor:
    return await actor_for(request, request.path_params["sid"])


async def _room_actor(request: Request) -> tuple[Actor, str]:
    """The caller as an actor in the session of the path's room, and the room. As the
    contract says, an unknown room is 404 and a room of a session the caller does not
    belong to is 403; neither reveals anything of the room."""
    rid = request.path_params["rid"]
    async with samla_of(request).store.read() as db:
        await auth.from_bearer(db, request)  # no token: 401 before anything of the room
        session_id = await breakout.session_of_room(db, rid)
    return await actor_for(request, session_id), rid


async def open_rooms(request: Request) -> Response:
    actor = await _session_actor(request)
    raw = await read_json(request)
    view = await perform(samla_of(request), actions.OPEN, actor, raw)
    return JSONResponse(_rooms_answer(view), 201)


async def list_rooms(request: Request) -> Response:
    actor = await _session_actor(request)
    async with samla_of(request).store.read() as db:
        r = await breakout.current_round(db, actor.session_id)
        view = await breakout.view_round(db, r)
    return JSONResponse(_rooms_answer(view))


async def open_prepared(request: Request) -> Response:
    actor = await _session_actor(request)
    view = await perform(samla_of(request), actions.OPEN, actor, {"prepared": True})
    return JSONResponse(_rooms_answer(view))


async def close_rooms(request: Request) -> Response:
    actor = await _session_actor(request)
    view = await perform(samla_of(request), actions.CLOSE, actor, {})
    return JSONResponse(_rooms_answer(view))


async def extend(request: Request) -> Response:
    actor = await _session_actor(request)
    raw = await read_json(request)
    view = await perform(samla_of(request), actions.EXTEND, actor, raw)
    return JSONResponse(_rooms_answer(view))


async def broadcast(request: Request) -> Response:
    actor = await _session_actor(request)
    raw = await read_json(request)
    sent = await perform(samla_of(request), actions.BROADCAST, actor, raw)
    return JSONResponse({"id": sent.id, "text": sent.text, "sent_at": iso(sent.created_at)}, 201)


async def members(request: Request) -> Response:
    actor, rid = await _room_actor(request)
    body = await read_body(request, RoomMembersBody)
    samla = samla_of(request)
    raw = {"room_id": rid}
    if body.participant_id is not None:
        raw["participant_id"] = body.participant_id
    if actor.role == "moderator":
        return JSONResponse(await perform(samla, actions.MOVE, actor, raw))
    return JSONResponse(await perform(samla, actions.CHOOSE, actor, raw))


async def ask_for_help(request: Request) -> Response:
    actor, rid = await _room_actor(request)
    asked = await perform(samla_of(request), actions.HELP, actor, {"room_id": rid})
    return JSONResponse(asked, 201)


async def answer_help(request: Request) -> Response:
    actor, rid = await _room_actor(request)
    answered = await perform(samla_of(request), actions.ANSWER_HELP, actor, {"room_id": rid})
    return JSONResponse(answered)


ENDPOINTS: list[Endpoint] = [
    route(
        "POST",
        "/api/v1/sessions/{sid}/rooms",
        open_rooms,
        "Open breakout rooms (or prepare them): by count or people per room, assigned at "
        "random, balanced by an attribute, self-selected or by hand",
        who="moderator",
        body=actions.OpenRoomsBody,
        status=201,
    ),
    route(
        "GET",
        "/api/v1/sessions/{sid}/rooms",
        list_rooms,
        "The current round (prepared or open) and its rooms with who is in them",
        who="member",
    ),
    route(
        "POST",
        "/api/v1/sessions/{sid}/rooms/open",
        open_prepared,
        "Open the prepared round",
        who="moderator",
    ),
    route(
        "POST",
        "/api/v1/sessions/{sid}/rooms/close",
        close_rooms,
        "Close every room: everyone is back in the plenary",
        who="moderator",
    ),
    route(
        "POST",
        "/api/v1/sessions/{sid}/rooms/extend",
        extend,
        "Give the open round more minutes",
        who="moderator",
        body=actions.ExtendBody,
    ),
    route(
        "POST",
        "/api/v1/sessions/{sid}/rooms/broadcast",
        broadcast,
        "Send a message to every room at once",
        who="moderator",
        body=actions.BroadcastBody,
        status=201,
    ),
    route(
        "POST",
        "/api/v1/rooms/{rid}/members",
        members,
        "Moderator: move a participant into this room. Participant: choose this room",
        who="moderator or participant",
        body=RoomMembersBody,
    ),
    route(
        "POST",
        "/api/v1/rooms/{rid}/help",
        ask_for_help,
        "Ask the moderator to come to your room",
        who="participant",
        status=201,
    ),
    route(
        "POST",
        "/api/v1/rooms/{rid}/help/answer",
        answer_help,
        "Clear a room's call for help: the moderator is on the way",
        who="moderator",
    ),
]
