"""The browser's pages: joining by code, the participant, moderator and presenter views
(the organiser's pages are in live/pages/organiser.py). Forms carry a CSRF token; pages show
the same live panels the socket later brings forward."""

from __future__ import annotations

import io
from typing import Any
from urllib.parse import quote

import segno
from markupsafe import Markup
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute

from live import auth, joining
from live.actions import joins
from live.api import sessions as api_sessions
from live.screens import Audience, Viewer
from live.services import Samla
from live.sockets import browser_socket, owner_of
from live.templating import LANGUAGES, pick_language
from rooms import lifecycle, sessions
from rooms.errors import Refused
from rooms.events import conferences
from rooms.models import Participant, Role, Session

# Form bodies are small; anything larger is refused before it is parsed.
FORM_MAX = 64 * 1024


def samla_of_page(request: Request) -> Samla:
    samla: Samla = request.app.state.samla
    return samla


def page_language(request: Request) -> str:
    return pick_language(request.headers.get("accept-language"), auth.cookie(request).get("lang"))


def page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    samla = samla_of_page(request)
    lang = page_language(request)
    html = samla.templates.render(
        template, lang, request=request, csrf=auth.csrf_token(request), **context
    )
    return HTMLResponse(html, status)


def refused_page(request: Request, exc: Refused) -> HTMLResponse:
    from live.errors import STATUS

    shown = page(request, "error.html", STATUS[exc.code], message=exc.message)
    if exc.retry_after is not None:
        shown.headers["Retry-After"] = str(exc.retry_after)
    return shown


async def read_form(request: Request, *, max_fields: int = 100) -> FormData:
    """The posted form, once its size, origin and CSRF token have been checked."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > FORM_MAX:
        raise Refused("too_large", "That form is too large.")
    origin = request.headers.get("origin")
    if origin is not None and not auth.origin_allowed(
        request, samla_of_page(request).settings.allowed_origins
    ):
        raise Refused("forbidden", "This form was sent from another site.")
    form = await request.form(max_files=0, max_fields=max_fields, max_part_size=FORM_MAX)
    if not auth.csrf_ok(request, form.get("csrf")):
        raise Refused("forbidden", "The form has expired; reload the page and try again.")
    return form


# -- joining ------------------------------------------------------------------------------


async def home(request: Request) -> Response:
    # Typed as it is shown ("1234 5678"), kept in the link as digits.
    digits = "".join(request.query_params.get("code", "").split())[:20]
    if digits:
        return RedirectResponse(request.url_for("join_page", code=digits), 303)
    return page(request, "home.html")


async def join_page(request: Request) -> Response:
    """Joining by code. Into an event's session, one person per event: a browser holding
    the event's invitation joins with it, and one that joined another of its sessions joins
    as that participant again (name and answers), both without the form; `?change=1`
    shows the form to change them."""
    samla = samla_of_page(request)
    gate = joining.gate_for(samla)
    changing = request.query_params.get("change") == "1"
    try:
        session = await gate.session_for(request, request.path_params["code"])
        async with samla.store.read() as db:
            held = await auth.browser_identities(db, request, session.id)
    except Refused as exc:
        return refused_page(request, exc)
    mine = next((who.participant for who in held if who.participant is not None), None)
    if mine is not None and not changing:
        return RedirectResponse(request.url_for("participant_page", sid=session.id), 303)
    if session.conference_id is not None and mine is None:
        at_once = await join_as_before(request, session)
        if at_once is not None:
            return at_once
    if request.method == "GET":
        values = {} if mine is None else participant_values(mine)
        return page(
            request, "join.html", session=session, values=values, error=None, changing=changing
        )
    values = {}
    try:
        form = await read_form(request)
        values = {k: v for k, v in form.items() if isinstance(v, str)}
        answers = {a["key"]: form.get(f"attr_{a['key']}") or None for a in session.attributes}
        if mine is not None:
            # Changed name or answers: the same participant (their votes stay theirs).
            changed = mine
            await samla.change(
                lambda db: lifecycle.change_answers(
                    db, changed.id, name=form.get("name"), attributes=answers
                )
            )
            forget_automatic(request, session.id)
            return RedirectResponse(request.url_for("participant_page", sid=session.id), 303)
        await gate.admit(request, session)
        joined = await joins.join(samla, session, form.get("name"), answers)
    except Refused as exc:
        if exc.code in ("invalid",):
            return page(
                request,
                "join.html",
                422,
                session=session,
                values=values,
                error=exc.message,
                changing=changing,
            )
        return refused_page(request, exc)
    auth.remember(request, "p", session.id, joined.token)
    forget_automatic(request, session.id)
    return RedirectResponse(request.url_for("participant_page", sid=session.id), 303)


def participant_values(participant: Participant) -> dict[str, str]:
    """The join form's fields as this participant filled them."""
    values = {f"attr_{k}": v for k, v in participant.attributes.items()}
    values["name"] = participant.name or ""
    return values


# Sessions this browser joined without the form (as before): their page offers a change.
AUTOMATIC_KEPT = 8


def automatic(request: Request) -> list[str]:
    kept = auth.cookie(request).get("a")
    return [s for s in kept if isinstance(s, str)] if isinstance(kept, list) else []


def remember_automatic(request: Request, session_id: str) -> None:
    kept = [s for s in automatic(request) if s != session_id] + [session_id]
    auth.cookie(request)["a"] = kept[-AUTOMATIC_KEPT:]


def forget_automatic(request: Request, session_id: str) -> None:
    kept = automatic(request)
    if session_id in kept:
        auth.cookie(request)["a"] = [s for s in kept if s != session_id]


async def earlier_participant(request: Request, conference_id: str) -> Participant | None:
    """The participant this browser was last in another session of the same event."""
    samla = samla_of_page(request)
    found: list[Participant] = []
    async with samla.store.read() as db:
        for who in await auth.browser_identities(db, request, None):
            if who.participant is None:
                continue
            other = await db.get(Session, who.participant.session_id)
            if other is not None and other.conference_id == conference_id:
                found.append(who.participant)
    return max(found, key=lambda p: p.joined_at) if found else None


async def join_as_before(request: Request, session: Session) -> Response | None:
    """Joins at once as the person this browser is in the session's event: by its
    invitation, or as its participant in another of the event's sessions. An invited
    event's session without an invitation is a page saying so (403). None: the form."""
    samla = samla_of_page(request)
    gate = joining.gate_for(samla)
    conference_id = session.conference_id
    assert conference_id is not None
    held = auth.cookie(request).get("i")
    invite = held.get(conference_id) if isinstance(held, dict) else None
    try:
        async with samla.store.read() as db:
            conference = await conferences.conference_by_id(db, conference_id)
        if isinstance(invite, str):
            await gate.admit(request, session)
            joined = await samla.change(
                lambda db: lifecycle.join(db, code=session.code, invite=invite)
            )
        else:
            before = await earlier_participant(request, conference_id)
            if before is None or conference.access == "invited":
                if conference.access == "invited":
                    return page(request, "events/invited_only.html", 403, conference=conference)
                return None
            asked = {a["key"] for a in session.attributes}
            answers = {k: v for k, v in before.attributes.items() if k in asked}
            await gate.admit(request, session)
            joined = await joins.join(samla, session, before.name, answers)
            remember_automatic(request, session.id)
    except Refused as exc:
        if exc.code == "forbidden" and isinstance(invite, str):
            # An invitation no longer valid (withdrawn, or no longer selected): forgotten.
            held = dict(auth.cookie(request).get("i") or {})
            held.pop(conference_id, None)
            auth.cookie(request)["i"] = held
            if conference.access == "open":
                return None  # anyone joins an open event: the form, as for anyone
        return refused_page(request, exc)
    auth.remember_voter(joined.token, joined.participant.id, session.id)
    auth.remember(request, "p", session.id, joined.token)
    return RedirectResponse(request.url_for("participant_page", sid=session.id), 303)


async def qr_code(request: Request) -> Response:
    samla = samla_of_page(request)
    try:
        async with samla.store.read() as db:
            session = await sessions.session_by_id(db, request.path_params["sid"])
    except Refused as exc:
        return refused_page(request, exc)
    url = str(request.url_for("join_page", code=session.code))
    buf = io.BytesIO()
    segno.make(url, error="m").save(
        buf, kind="svg", scale=8, border=2, xmldecl=False, title=f"QR code: {url}"
    )
    return Response(
        buf.getvalue(),
        media_type="image/svg+xml",
        headers={"Cache-Control": "public, max-age=3600"},
    )


# -- the live views -----------------------------------------------------------------------


async def viewer_for(request: Request, want: Role) -> tuple[Session, Viewer] | Response:
    samla = samla_of_page(request)
    sid = request.path_params["sid"]
    try:
        async with samla.store.read() as db:
            session = await sessions.session_by_id(db, sid)
            held = await auth.browser_identities(db, request, sid)
    except Refused as exc:
        return refused_page(request, exc)
    for who in held:
        role = auth.role_in(who, session)
        if role is None or (want == "participant") != (role == "participant"):
            continue
        pid = who.participant.id if who.participant else None
        async with samla.store.read() as db:
            room = await samla.hub.screens.place(db, sid, pid) if pid else None
        owner = owner_of(who, session) is not None
        return session, Viewer(Audience(sid, want, room, page_language(request), owner), pid)
    if want == "participant":
        return RedirectResponse(request.url_for("join_page", code=session.code), 303)
    if not auth.cookie(request).get("o"):
        return RedirectResponse(
            str(request.url_for("login_page")) + "?next=" + quote(request.url.path), 303
        )
    return refused_page(
        request, Refused("forbidden", "Only this session's moderators may see this.")
    )


async def _live_page(request: Request, role: Role, template: str) -> Response:
    found = await viewer_for(request, role)
    if isinstance(found, Response):
        return found
    session, viewer = found
    samla = samla_of_page(request)
    url = str(request.url_for("join_page", code=session.code))
    panels = await samla.hub.render_panels(viewer)
    extra: dict[str, Any] = {}
    if role == "participant" and viewer.participant_id and session.id in automatic(request):
        extra["notice"] = await joined_as(request, session, viewer.participant_id)
    return page(
        request,
        template,
        session=session,
        viewer=viewer,
        join_url=url,
        panels=panels,
        ws_url=f"/s/{session.id}/ws?view={role}&v={panels.version}",
        **extra,
    )


async def joined_as(request: Request, session: Session, participant_id: str) -> Markup:
    """Who this browser joined the session as, without the form: the way to change it."""
    samla = samla_of_page(request)
    async with samla.store.read() as db:
        participant = await db.get(Participant, participant_id)
    name = participant.name if participant is not None else None
    change = str(request.url_for("join_page", code=session.code)) + "?change=1"
    html = samla.templates.render(
        "events/_joined_as.html", page_language(request), who=name, change_url=change
    )
    return Markup(html)  # noqa: S704 (a template of ours, its values escaped)


async def participant_page(request: Request) -> Response:
    return await _live_page(request, "participant", "session.html")


async def moderator_page(request: Request) -> Response:
    return await _live_page(request, "moderator", "moderator.html")


async def presenter_page(request: Request) -> Response:
    return await _live_page(request, "presenter", "presenter.html")


async def moderate_link(request: Request) -> Response:
    """The moderator link: its key is kept in this browser's cookie, then dropped from the URL."""
    samla = samla_of_page(request)
    key = request.query_params.get("key", "")[:200]
    async with samla.store.read() as db:
        session = await sessions.session_by_moderator_token(db, key)
    if session is None or session.id != request.path_params["sid"]:
        return refused_page(request, Refused("forbidden", "This moderator link is not valid."))
    auth.remember(request, "m", session.id, key)
    return RedirectResponse(request.url_for("moderator_page", sid=session.id), 303)


async def close_page(request: Request) -> Response:
    samla = samla_of_page(request)
    found = await viewer_for(request, "moderator")
    if isinstance(found, Response):
        return found
    session, _ = found
    try:
        await read_form(request)
        await samla.change(lambda db: lifecycle.close_session(db, session.id))
    except Refused as exc:
        return refused_page(request, exc)
    # Back to the console's section it was closed from.
    return RedirectResponse(f"{request.url_for('moderator_page', sid=session.id)}#sec-stage", 303)


async def remove_page(request: Request) -> Response:
    """Removing a participant from the moderator's console: a confirmation, then a POST."""
    samla = samla_of_page(request)
    found = await viewer_for(request, "moderator")
    if isinstance(found, Response):
        return found
    session, _ = found
    try:
        async with samla.store.read() as db:
            person = await sessions.participant_in(db, session.id, request.path_params["pid"])
        if request.method == "GET":
            return page(request, "sessions/remove.html", session=session, person=person)
        form = await read_form(request)
        await api_sessions.remove_participant(
            samla, session.id, person.id, remove_content=form.get("content") == "remove"
        )
    except Refused as exc:
        return refused_page(request, exc)
    return RedirectResponse(f"{request.url_for('moderator_page', sid=session.id)}#sec-people", 303)


# -- where a form may send people ---------------------------------------------------------


def own_path(target: str) -> bool:
    """Whether a `next=` target is a path on this site. Browsers read a backslash as a slash
    and drop tabs and newlines, so a slash, a backslash or a tab and a host would lead to
    another site; such targets are not taken."""
    return (
        target.startswith("/")
        and not target.startswith("//")
        and "\\" not in target
        and target.isprintable()
    )


async def set_language(request: Request) -> Response:
    lang = request.path_params["lang"]
    if lang in LANGUAGES:
        auth.cookie(request)["lang"] = lang
    back = request.query_params.get("next", "/")
    if not own_path(back):
        back = "/"
    return RedirectResponse(back, 303)


def routes() -> list[BaseRoute]:
    return [
        Route("/", home, name="home"),
        Route("/j/{code}", join_page, methods=["GET", "POST"], name="join_page"),
        Route("/s/{sid}", participant_page, name="participant_page"),
        Route("/s/{sid}/qr.svg", qr_code, name="qr_code"),
        Route("/s/{sid}/moderate", moderate_link, name="moderate_link"),
        Route("/s/{sid}/moderator", moderator_page, name="moderator_page"),
        Route("/s/{sid}/presenter", presenter_page, name="presenter_page"),
        Route("/s/{sid}/close", close_page, methods=["POST"], name="close_page"),
        Route(
            "/s/{sid}/participants/{pid}/remove",
            remove_page,
            methods=["GET", "POST"],
            name="remove_page",
        ),
        WebSocketRoute("/s/{sid}/ws", browser_socket),
        Route("/lang/{lang}", set_language, name="set_language"),
    ]
