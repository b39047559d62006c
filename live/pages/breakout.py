"""The breakout pages: printable table sheets with QR codes, a table's join page, a room's
page for the moderator who joins it."""

from __future__ import annotations

import io
import logging
from typing import Any

import segno
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from live import auth
from live.pages.sessions import page, read_form, refused_page, viewer_for
from live.screens import Audience, Viewer
from live.services import Samla
from rooms import breakout, lifecycle
from rooms.errors import Refused
from rooms.models import Outcome
from rooms.sessions import Joined

log = logging.getLogger("samla.breakout")


def samla_of_page(request: Request) -> Samla:
    samla: Samla = request.app.state.samla
    return samla


def _table_url(request: Request, room_id: str) -> str:
    return str(request.url_for("table_join", rid=room_id))


async def table_sheets(request: Request) -> Response:
    """/s/{sid}/tables — one printable sheet per hall table of the current round."""
    found = await viewer_for(request, "moderator")
    if isinstance(found, Response):
        return found
    session, _ = found
    samla = samla_of_page(request)
    async with samla.store.read() as db:
        r = await breakout.current_round(db, session.id) or await breakout.last_round(
            db, session.id
        )
        rooms = await breakout.rooms_of(db, r.id) if r is not None else []
    tables = [(room, _table_url(request, room.id)) for room in rooms if room.place]
    return page(request, "breakout/tables.html", session=session, tables=tables)


async def table_qr(request: Request) -> Response:
    samla = samla_of_page(request)
    try:
        async with samla.store.read() as db:
            _, room = await breakout.table(db, request.path_params["rid"])
    except Refused as exc:
        return refused_page(request, exc)
    url = _table_url(request, room.id)
    buf = io.BytesIO()
    segno.make(url, error="m").save(
        buf, kind="svg", scale=8, border=2, xmldecl=False, title=f"QR code: {url}"
    )
    return Response(
        buf.getvalue(),
        media_type="image/svg+xml",
        headers={"Cache-Control": "public, max-age=3600"},
    )


async def table_join(request: Request) -> Response:
    """/t/{rid} — a hall table's QR code: join the session (if not yet) and sit at this table."""
    samla = samla_of_page(request)
    rid = request.path_params["rid"]
    try:
        async with samla.store.read() as db:
            session, room = await breakout.table(db, rid)
            held = await auth.browser_identities(db, request, session.id)
    except Refused as exc:
        return refused_page(request, exc)
    mine = next((who.participant for who in held if who.participant is not None), None)
    participant_page = request.url_for("participant_page", sid=session.id)
    if mine is not None:
        try:
            await samla.change(lambda db: breakout.choose_room(db, mine, rid, table=True))
        except Refused as exc:
            return refused_page(request, exc)
        return RedirectResponse(participant_page, 303)
    if request.method == "GET":
        return page(
            request, "breakout/join_table.html", session=session, room=room, values={}, error=None
        )
    form: Any = {}
    try:
        form = await read_form(request)
        answers = {a["key"]: form.get(f"attr_{a['key']}") or None for a in session.attributes}

        async def join_at_table(db: Any) -> Outcome[Joined]:
            joined = await lifecycle.join(
                db, code=session.code, name=form.get("name"), attributes=answers
            )
            seated = await breakout.choose_room(db, joined.value.participant, rid, table=True)
            return Outcome(session.id, joined.value, joined.events + seated.events)

        made = await samla.change(join_at_table)
    except Refused as exc:
        if exc.code == "invalid":
            return page(
                request,
                "breakout/join_table.html",
                422,
                session=session,
                room=room,
                values=dict(form),
                error=exc.message,
            )
        return refused_page(request, exc)
    auth.remember(request, "p", session.id, made.token)
    return RedirectResponse(participant_page, 303)


async def room_page(request: Request) -> Response:
    """/s/{sid}/rooms/{rid} — the moderator joins a room: what its people see, and who they are."""
    found = await viewer_for(request, "moderator")
    if isinstance(found, Response):
        return found
    session, viewer = found
    samla = samla_of_page(request)
    rid = request.path_params["rid"]
    async with samla.store.read() as db:
        room = await db.get(breakout.Room, rid)
        if room is None or room.session_id != session.id:
            return refused_page(request, Refused("not_found", "No such room in this session."))
    inside = Viewer(Audience(session.id, "participant", rid, viewer.audience.locale), None)
    panels = await samla.hub.render_panels(inside)
    return page(
        request,
        "breakout/room.html",
        session=session,
        viewer=inside,
        room=room,
        panels=panels,
        ws_url=f"/s/{session.id}/ws?view=room&room={rid}&v={panels.version}",
    )


def routes() -> list[BaseRoute]:
    return [
        Route("/s/{sid}/tables", table_sheets, name="table_sheets"),
        Route("/s/{sid}/rooms/{rid}", room_page, name="room_page"),
        Route("/t/{rid}", table_join, methods=["GET", "POST"], name="table_join"),
        Route("/t/{rid}/qr.svg", table_qr, name="table_qr"),
    ]
