"""The browser's way into a call: the room card's link (the same for everyone in the room)
leads here, and this browser's person is sent on to their own link (303).

The card is rendered once for everyone in the room, so it names only `/rooms/{rid}/call`;
the personal part (with Jitsi token authentication, the person's token) is made here, for
the cookie's person, and never stored or cached."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from live import auth
from live.api.calls import PRIVATE, display_name, join_link, plenary_seat, room_seat
from live.pages.sessions import page_language, refused_page, samla_of_page
from rooms.breakout import Room
from rooms.errors import Refused


async def room_call(request: Request) -> Response:
    """/rooms/{rid}/call — into the room's call, as the participant placed in it or as a
    moderator of its session."""
    samla = samla_of_page(request)
    rid = request.path_params["rid"]
    try:
        async with samla.store.read() as db:
            room = await db.get(Room, rid[:64])
            if room is None:
                raise Refused("not_found", "No such room.")
            held = await auth.browser_identities(db, request, room.session_id)
            _member(held)
            seat, who = await room_seat(db, room.id, held)
        name = display_name(samla, page_language(request), seat, who)
        url = await join_link(samla, seat, who, name)
    except Refused as exc:
        return refused_page(request, exc)
    return _onwards(url)


async def plenary_call(request: Request) -> Response:
    """/s/{sid}/call — into the session's plenary call, when it has one."""
    samla = samla_of_page(request)
    sid = request.path_params["sid"][:64]
    try:
        async with samla.store.read() as db:
            held = await auth.browser_identities(db, request, sid)
            _member(held)
            seat, who = await plenary_seat(db, sid, held)
        name = display_name(samla, page_language(request), seat, who)
        url = await join_link(samla, seat, who, name)
    except Refused as exc:
        return refused_page(request, exc)
    return _onwards(url)


def _onwards(url: str) -> Response:
    # The link may carry the person's token: never cached. (The pages' Referrer-Policy,
    # same-origin, already keeps Samla's addresses from the video service.)
    return RedirectResponse(url, 303, headers=PRIVATE)


def _member(held: list[auth.Identity]) -> None:
    if not held:
        raise Refused(
            "forbidden",
            "Join the session first, with its code; your room's call is then on your page.",
        )


def routes() -> list[BaseRoute]:
    return [
        Route("/rooms/{rid}/call", room_call, name="room_call"),
        Route("/s/{sid}/call", plenary_call, name="plenary_call"),
    ]
