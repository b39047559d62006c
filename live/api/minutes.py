"""The JSON API of shared minutes: a room's (or the plenary's) text, the plenary switch, and
a passage collected onto a plenary board. The documents themselves are written over their
sync sockets (live/minutes)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from live import auth
from live.actions import perform
from live.api.base import Endpoint, actor_for, route, samla_of
from live.errors import read_json
from live.minutes import actions as act
from live.minutes.access import Access, plenary_access, room_access
from rooms import minutes
from rooms.models import iso


async def _text(access: Access, request: Request) -> dict[str, Any]:
    async with samla_of(request).store.read() as db:
        text, updated_at = await minutes.text_and_time(db, access.target.id)
    return {"text": text, "updated_at": iso(updated_at)}


async def room_minutes(request: Request) -> Response:
    """The room's shared minutes as plain text (empty, with `updated_at` null, until someone
    writes); for the people placed in the room and the session's moderators. The document
    itself is written over `WS /api/v1/rooms/{rid}/minutes/sync` (Bearer header): the Yjs
    sync protocol on the shared text `"minutes"`; an update over 64 KB or a document past
    1 MB closes it with 1009, anyone not in the room with 1008 (docs/minutes.md)."""
    async with samla_of(request).store.read() as db:
        who = await auth.from_bearer(db, request)
        access = await room_access(db, [who], request.path_params["rid"])
    return JSONResponse({"room_id": access.target.id, **await _text(access, request)})


async def plenary_minutes(request: Request) -> Response:
    """The session's plenary minutes as plain text, once a moderator has switched them on;
    for every member."""
    async with samla_of(request).store.read() as db:
        who = await auth.from_bearer(db, request)
        access = await plenary_access(db, [who], request.path_params["sid"])
    return JSONResponse({"session_id": access.target.id, **await _text(access, request)})


async def switch_plenary(request: Request) -> Response:
    """Switches the session's plenary minutes on (every member may write them, over
    `WS /api/v1/sessions/{sid}/minutes/sync`) or off (they stay, read-only)."""
    sid = request.path_params["sid"]
    raw = await read_json(request)
    switched = await perform(samla_of(request), act.PLENARY, await actor_for(request, sid), raw)
    return JSONResponse(switched)


async def collect(request: Request) -> Response:
    """Puts a passage of the room's minutes on a plenary board of its session as a note
    without an author (`column_id` none: the board's first column). The passage must be in
    the minutes as they stand, and is limited like a note."""
    async with samla_of(request).store.read() as db:
        target, _ = await minutes.room_target(db, request.path_params["rid"])
    raw = {**await read_json(request), "room_id": target.id}
    actor = await actor_for(request, target.session_id)
    note = await perform(samla_of(request), act.COLLECT, actor, raw)
    return JSONResponse(note, 201)


ENDPOINTS: list[Endpoint] = [
    route(
        "GET",
        "/api/v1/rooms/{rid}/minutes",
        room_minutes,
        "A room's shared minutes, as plain text",
        who="a participant placed in the room, or a moderator",
    ),
    route(
        "POST",
        "/api/v1/rooms/{rid}/minutes/collect",
        collect,
        "Put a passage of a room's minutes on a plenary board",
        who="moderator",
        body=act.Passage,
        status=201,
    ),
    route(
        "GET",
        "/api/v1/sessions/{sid}/minutes",
        plenary_minutes,
        "The session's plenary minutes, as plain text",
        who="member",
    ),
    route(
        "POST",
        "/api/v1/sessions/{sid}/minutes",
        switch_plenary,
        "Switch the session's plenary minutes on or off",
        who="moderator",
        body=act.PlenaryMinutes,
    ),
]
