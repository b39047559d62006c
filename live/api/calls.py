"""The JSON API of calls: the link into a room's call (or the plenary's) on the configured
video service, and the moderator's choice of which calls a session has.

A link is made for the person who asks, when they ask: with Jitsi token authentication it
carries their own short-lived token, so it is never part of a page rendered for many. The
pages' own way in (`live/pages/calls.py`) uses the same functions."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from live import auth, calls
from live.actions import calls as actions
from live.actions import perform
from live.api.base import Endpoint, actor_for, route, samla_of
from live.errors import read_json
from live.services import Samla
from live.templating import pick_language
from rooms import calls as rooms_calls
from rooms import sessions
from rooms.breakout import Room
from rooms.calls import CallSeat
from rooms.errors import Refused, forbidden

# A link with a person's token in it is theirs: no cache keeps it.
PRIVATE = {"Cache-Control": "no-store"}
# Links into calls one person may ask for (the API's and the pages' together): rejoining
# after a dropped connection, or a moderator looking into every room, stays far below; a
# script asking in a loop is stopped before it costs the video service anything.
LINKS_PER_PERSON = "30/minute"
ASKING_TOO_FAST = "You are asking for the call very often; wait a moment and try again."


def service_of(samla: Samla) -> calls.VideoService:
    service = calls.service_for(samla.settings)
    if service is None:
        raise Refused(
            "not_found",
            "Calls are not set up here: the organiser names a video service (JITSI_URL) first.",
        )
    return service


def _moderators_first(held: Sequence[auth.Identity]) -> list[auth.Identity]:
    """A browser that is both a participant and a moderator joins a call as the moderator."""
    return sorted(held, key=lambda who: who.kind == "participant")


async def room_seat(
    db: AsyncSession, room_id: str, held: Sequence[auth.Identity]
) -> tuple[CallSeat, auth.Identity]:
    """The room's call for the first of these identities that may join it."""
    room = await db.get(Room, room_id)
    if room is None:
        raise Refused("not_found", "No such room.")
    session = await sessions.session_by_id(db, room.session_id)
    refused: Refused | None = None
    for who in _moderators_first(held):
        role = auth.role_in(who, session)
        if role is None:
            continue
        try:
            return await rooms_calls.room_call_for(db, room.id, role, who.participant), who
        except Refused as exc:
            if exc.code != "forbidden":
                raise
            refused = exc
    raise refused or forbidden("This token is not for this session.")


async def plenary_seat(
    db: AsyncSession, session_id: str, held: Sequence[auth.Identity]
) -> tuple[CallSeat, auth.Identity]:
    """The session's plenary call for the first of these identities that is a member."""
    session = await sessions.session_by_id(db, session_id)
    for who in _moderators_first(held):
        role = auth.role_in(who, session)
        if role is not None:
            return await rooms_calls.plenary_call_for(db, session, role), who
    raise forbidden("This token is not for this session.")


def display_name(samla: Samla, lang: str, seat: CallSeat, who: auth.Identity) -> str:
    """The name the call shows: the participant's own, or a word for none."""
    if seat.role == "moderator":
        return samla.templates.gettext(lang, "Moderator")
    name = who.participant.name if who.participant is not None else None
    return name or samla.templates.gettext(lang, "Anonymous")


def _person(who: auth.Identity) -> str:
    """Whom a rate counts: the participant, the session's moderators, or the organiser."""
    if who.participant is not None:
        return who.participant.id
    if who.kind == "organiser":
        return f"organiser:{who.organiser_id}"
    return f"{who.kind}:{who.session_id}"


async def join_link(samla: Samla, seat: CallSeat, who: auth.Identity, name: str) -> str:
    """This person's link into the call (the service makes the call first, if it must),
    within their allowance of links (429 `rate_limited` past it)."""
    service = service_of(samla)
    await samla.limiter.hit("call-link", LINKS_PER_PERSON, _person(who), ASKING_TOO_FAST)
    call = calls.call_name(samla.settings.secret_key, seat.session.id, seat.room_id)
    await service.prepare(call, seat.title)
    return service.url_for(call, name, seat.role == "moderator")


async def _answer(request: Request, seat: CallSeat, who: auth.Identity) -> Response:
    samla = samla_of(request)
    lang = pick_language(request.headers.get("accept-language"))
    url = await join_link(samla, seat, who, display_name(samla, lang, seat, who))
    return JSONResponse({"url": url}, headers=PRIVATE)


async def room_call(request: Request) -> Response:
    """The caller's own link into the room's call: a participant placed in the room, or a
    moderator of its session. With Jitsi token authentication the link carries `?jwt=`, an
    HS256 token for this call and this person (`room`, `context.user.name`) that expires
    within hours. A table in the hall has a call only when the session gives tables calls;
    404 when no video service is configured. One person may ask 30 times a minute (429
    `rate_limited` with `Retry-After` past it); BigBlueButton's meeting is made once however
    many ask at once."""
    samla = samla_of(request)
    async with samla.store.read() as db:
        who = await auth.from_bearer(db, request)
        service_of(samla)
        seat, who = await room_seat(db, request.path_params["rid"], [who])
    return await _answer(request, seat, who)


async def plenary_call(request: Request) -> Response:
    """The caller's own link into the session's plenary call, when the session has one."""
    samla = samla_of(request)
    async with samla.store.read() as db:
        who = await auth.from_bearer(db, request)
        service_of(samla)
        seat, who = await plenary_seat(db, request.path_params["sid"], [who])
    return await _answer(request, seat, who)


async def choose_calls(request: Request) -> Response:
    """Every breakout room online has a call; these choose whether tables in the hall do
    too, and whether the plenary has one. The answer is the session's choices."""
    actor = await actor_for(request, request.path_params["sid"])
    raw = await read_json(request)
    choice = await perform(samla_of(request), actions.CHOOSE, actor, raw)
    return JSONResponse(choice.as_json())


ENDPOINTS: list[Endpoint] = [
    route(
        "GET",
        "/api/v1/rooms/{rid}/call",
        room_call,
        "Your link into the room's call on the video service",
        who="a participant placed in the room, or a moderator",
    ),
    route(
        "GET",
        "/api/v1/sessions/{sid}/call",
        plenary_call,
        "Your link into the session's plenary call",
        who="member",
    ),
    route(
        "POST",
        "/api/v1/sessions/{sid}/calls",
        choose_calls,
        "Choose which calls the session has: at tables in the hall, in the plenary",
        who="moderator",
        body=actions.CallsBody,
    ),
]
