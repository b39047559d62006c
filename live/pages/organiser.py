"""The organiser's pages: signing in and out, their organisation, their events (each with its
organisers and its programme) and their other sessions, newest first, with dates, people,
links and downloads; a new session with its join questions built row by row, duplicating a
session as a template, deleting one, and the archive's downloads. An event's own page is in
`organiser_events`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from babel.dates import format_datetime
from sqlalchemy import or_, select
from sqlmodel import col
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from live import auth, retention
from live.api import archive as api_archive
from live.api.stage import stage_url
from live.pages import organiser_events
from live.pages.organiser_forms import (
    Draft,
    _,
    apply_op,
    created_card,
    draft_from_form,
    questions_of,
    signed_in_organiser,
    to_login,
)
from live.pages.sessions import (
    own_path,
    page,
    page_language,
    read_form,
    refused_page,
    samla_of_page,
)
from live.templating import zone_named
from rooms import accounts, archive_parts, copying, sessions
from rooms.errors import Refused
from rooms.events import conferences
from rooms.models import ATTRIBUTES_MAX, ORGANISATION_MAX, TITLE_MAX, Session

# The downloads listed for each session on the organiser page: (format, kind, label).
ARCHIVE_LINKS = (
    ("html", None, "Report (HTML)"),
    ("docx", None, "Word"),
    ("md", None, "Markdown"),
    ("xlsx", None, "Excel"),
    ("csv", "notes", "CSV: notes"),
    ("csv", "polls", "CSV: polls"),
    ("csv", "questions", "CSV: questions"),
    ("json", None, "JSON"),
    ("zip", None, "Everything (zip)"),
)

# A session's dates as people read them: "1 dec. 2026 18:29" in Swedish.
DATE_FORMAT = "d MMM y HH:mm"


# -- signing in ---------------------------------------------------------------------------


async def login_page(request: Request) -> Response:
    samla = samla_of_page(request)
    target = request.query_params.get("next", "/organiser")
    if not own_path(target):
        target = "/organiser"
    if request.method == "GET":
        return page(request, "login.html", error=None, next=target, email="")
    try:
        form = await read_form(request)
        async with samla.store.read() as db:
            organiser_id = await accounts.check_password(
                db, form.get("email"), form.get("password")
            )
        async with samla.store.write() as db:
            signed = await accounts.start_login(db, organiser_id, "web")
    except Refused as exc:
        if exc.code in ("unauthorized", "invalid"):
            return page(
                request,
                "login.html",
                401 if exc.code == "unauthorized" else 422,
                error=exc.message,
                next=target,
                email=str(form.get("email", ""))[:254],
            )
        return refused_page(request, exc)
    auth.cookie(request)["o"] = signed.token
    return RedirectResponse(target, 303)


async def logout(request: Request) -> Response:
    samla = samla_of_page(request)
    try:
        await read_form(request)
    except Refused as exc:
        return refused_page(request, exc)
    token = auth.cookie(request).pop("o", None)
    if isinstance(token, str):
        async with samla.store.write() as db:
            login = await accounts.login_by_token(db, token)
            if login is not None:
                await accounts.sign_out(db, login.id)
        if login is not None:
            await samla.hub.announce_logout(login.id)
    return RedirectResponse("/", 303)


# -- the organiser's page ------------------------------------------------------------------


def _when(moment: datetime | None, lang: str, time_zone: str) -> dict[str, str] | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return {
        "iso": moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ"),
        "shown": format_datetime(moment, DATE_FORMAT, tzinfo=zone_named(time_zone), locale=lang),
    }


def _session_row(
    request: Request, s: Session, counted: dict[str, dict[str, int]]
) -> dict[str, Any]:
    """What the organiser page shows of one session."""
    samla = samla_of_page(request)
    lang, zone = page_language(request), samla.settings.time_zone
    return {
        "session": s,
        "counts": counted[s.id],
        "participants": counted[s.id]["participants"],
        "created": _when(s.created_at, lang, zone),
        "closed": _when(s.closed_at, lang, zone),
        "starts": _when(s.starts_at, lang, zone),
        "deleted_on": retention.expires_at(s.closed_at, samla.settings.retention_days),
        # The stage's own read-only link, to open on the hall's PC (no sign-in there).
        "stage_url": stage_url(request, s.id, s.stage_salt),
    }


async def _listed(request: Request, organiser_id: str) -> dict[str, Any]:
    """The organiser's events (theirs and those they were added to), the newest first, each
    with whose it is and its programme, and their sessions outside those events, the newest
    first."""
    samla = samla_of_page(request)
    lang, zone = page_language(request), samla.settings.time_zone
    async with samla.store.read() as db:
        ids = await conferences.conferences_of(db, organiser_id)
        found = [
            (
                event,
                await conferences.programme(db, event.id),
                await conferences.organisers_of(db, event.id),
            )
            for event in await conferences.conferences_listed(db, ids)
        ]
        # A session of theirs in an event they no longer organise is still theirs: listed.
        outside = list(
            await db.scalars(
                select(Session)
                .where(
                    col(Session.organiser_id) == organiser_id,
                    or_(
                        col(Session.conference_id).is_(None),
                        col(Session.conference_id).not_in(ids),
                    ),
                )
                .order_by(col(Session.created_at).desc(), col(Session.id))
            )
        )
        every = outside + [s for _, programme, _ in found for s in programme]
        counted = await archive_parts.counts(db, [s.id for s in every])
    events: list[dict[str, Any]] = [
        {
            "event": event,
            "creator": next((o.email for o in organisers if o.id == event.organiser_id), None),
            "others": [o.email for o in organisers if o.id != event.organiser_id],
            "starts": _when(event.starts_at, lang, zone),
            "ends": _when(event.ends_at, lang, zone),
            "sessions": [_session_row(request, s, counted) for s in programme],
            "links": organiser_events.event_links(request, event.id),
        }
        for event, programme, organisers in found
    ]
    return {"events": events, "sessions": [_session_row(request, s, counted) for s in outside]}


async def _organiser_page(
    request: Request, organiser_id: str, status: int = 200, **shown: Any
) -> Response:
    samla = samla_of_page(request)
    context: dict[str, Any] = {
        "created": None,
        "error": None,
        "draft": Draft(),
        "copied_from": None,
        "organisation_error": None,
    }
    async with samla.store.read() as db:
        account = await accounts.organiser_by_id(db, organiser_id)
    saved = request.query_params.get("organisation") == "saved"
    return page(
        request,
        "organiser.html",
        status,
        account=account,
        organisation_typed=shown.pop("organisation_typed", account.organisation or ""),
        organisation_saved=saved and "organisation_error" not in shown,
        organisation_max=ORGANISATION_MAX,
        listed=await _listed(request, organiser_id),
        questions_max=ATTRIBUTES_MAX,
        retention_days=samla.settings.retention_days,
        formats=ARCHIVE_LINKS,
        **(context | shown),
    )


async def organiser_page(request: Request) -> Response:
    organiser_id = await signed_in_organiser(request)
    if organiser_id is None:
        return to_login(request)
    if request.method == "GET":
        return await _organiser_page(request, organiser_id)
    try:
        form = await read_form(request)
    except Refused as exc:
        return refused_page(request, exc)
    draft = draft_from_form(form)
    if apply_op(draft, str(form.get("op", ""))[:20]):
        return await _organiser_page(request, organiser_id, draft=draft)
    created, error = await _create(request, organiser_id, draft)
    if created is None:
        return await _organiser_page(request, organiser_id, 422, draft=draft, error=error)
    return await _organiser_page(request, organiser_id, created=created)


async def organisation_page(request: Request) -> Response:
    """The signed-in organiser sets, changes or (left blank) removes their organisation; a
    refusal shows the page again with what they typed and why."""
    samla = samla_of_page(request)
    organiser_id = await signed_in_organiser(request)
    if organiser_id is None:
        return to_login(request)
    if request.method == "GET":
        return RedirectResponse(str(request.url_for("organiser_page")), 303)
    try:
        form = await read_form(request)
    except Refused as exc:
        return refused_page(request, exc)
    # Checked whole (the form's own limit bounds it), so a refusal says its true length.
    typed = str(form.get("organisation", ""))
    try:
        async with samla.store.write() as db:
            await accounts.set_organisation(db, organiser_id, typed)
    except Refused as exc:
        if exc.code != "invalid":
            return refused_page(request, exc)
        return await _organiser_page(
            request,
            organiser_id,
            422,
            organisation_error=exc.message,
            # Shown again as typed, up to a little past the limit.
            organisation_typed=typed[: ORGANISATION_MAX * 4],
        )
    back = str(request.url_for("organiser_page")) + "?organisation=saved#organisation-title"
    return RedirectResponse(back, 303)


async def _create(
    request: Request, organiser_id: str, draft: Draft
) -> tuple[dict[str, str] | None, str | None]:
    """Creates the session the draft describes: what the page shows of it, or an error."""
    samla = samla_of_page(request)
    asked = questions_of(draft)
    if asked is None:
        return None, "rows"
    try:
        made = await samla.change(
            lambda db: sessions.create_session(
                db, title=draft.title, organiser_id=organiser_id, attributes=asked
            )
        )
    except Refused as exc:
        return None, exc.message
    return created_card(request, made), None


async def _organised(request: Request) -> tuple[str, Session] | Response:
    """The signed-in organiser and the session in the path, which they must organise: it is
    theirs, or part of an event they organise."""
    samla = samla_of_page(request)
    organiser_id = await signed_in_organiser(request)
    if organiser_id is None:
        return to_login(request)
    try:
        async with samla.store.read() as db:
            session = await sessions.session_by_id(db, request.path_params["sid"])
            allowed = await conferences.organises_session(db, organiser_id, session)
    except Refused as exc:
        return refused_page(request, exc)
    if not allowed:
        return refused_page(
            request, Refused("forbidden", _("Only this session's organisers may do that."))
        )
    return organiser_id, session


async def duplicate_page(request: Request) -> Response:
    """Duplicating a session as a template: the organiser page again, with the copy's
    moderator link (shown only then) on top. A session of an event is copied into its
    programme; the copy is the organiser's who made it. Its address opened (the page's
    language switched, a reload) is the organiser page."""
    if request.method == "GET":
        return RedirectResponse(str(request.url_for("organiser_page")), 303)
    samla = samla_of_page(request)
    found = await _organised(request)
    if isinstance(found, Response):
        return found
    organiser_id, session = found
    try:
        form = await read_form(request)
        title = str(form.get("title", "")).strip()[:TITLE_MAX] or session.title
        made = await samla.change(
            lambda db: copying.duplicate_session(
                db, session.id, organiser_id=organiser_id, title=title
            )
        )
    except Refused as exc:
        return refused_page(request, exc)
    return await _organiser_page(
        request, organiser_id, created=created_card(request, made), copied_from=session.title
    )


async def delete_page(request: Request) -> Response:
    """Deleting a session and everything in it: a confirmation first, then a POST form."""
    samla = samla_of_page(request)
    found = await _organised(request)
    if isinstance(found, Response):
        return found
    _, session = found
    if request.method == "GET":
        async with samla.store.read() as db:
            counted = (await archive_parts.counts(db, [session.id]))[session.id]
        return page(request, "archive/delete.html", session=session, counts=counted)
    try:
        await read_form(request)
        async with samla.store.write() as db:
            await sessions.delete_session(db, session.id)
    except Refused as exc:
        return refused_page(request, exc)
    await samla.hub.announce_deleted(session.id)
    return RedirectResponse(str(request.url_for("organiser_page")) + "?deleted=1", 303)


async def archive_download(request: Request) -> Response:
    """The archive for a browser holding this session's organiser or moderator sign-in."""
    samla = samla_of_page(request)
    sid = request.path_params["sid"]
    try:
        async with samla.store.read() as db:
            session = await sessions.session_by_id(db, sid)
            held = await auth.browser_identities(db, request, sid)
        if not any(auth.role_in(who, session) == "moderator" for who in held):
            raise Refused(
                "forbidden",
                "Only this session's organiser and moderators may download its archive.",
            )
        fmt, kind, names = api_archive.choice(request.query_params)
    except Refused as exc:
        return refused_page(request, exc)
    return await api_archive.archive_response(samla, sid, fmt, kind, names, page_language(request))


def routes() -> list[BaseRoute]:
    return [
        Route("/login", login_page, methods=["GET", "POST"], name="login_page"),
        Route("/logout", logout, methods=["POST"], name="logout"),
        Route("/organiser", organiser_page, methods=["GET", "POST"], name="organiser_page"),
        Route(
            "/organiser/organisation",
            organisation_page,
            methods=["GET", "POST"],
            name="organisation_page",
        ),
        *organiser_events.routes(),
        Route(
            "/organiser/sessions/{sid}/duplicate",
            duplicate_page,
            methods=["GET", "POST"],
            name="duplicate_page",
        ),
        Route(
            "/organiser/sessions/{sid}/delete",
            delete_page,
            methods=["GET", "POST"],
            name="delete_page",
        ),
        Route("/s/{sid}/archive", archive_download, name="archive_download"),
    ]
