"""An event on the organiser's side: creating it, its own page (its title, dates, questions,
access and registration; its programme; its organisers) and deleting it. Every organiser of
the event, its creator or a co-organiser, may do all of it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from live.errors import STATUS
from live.pages.organiser_forms import (
    Draft,
    _,
    apply_op,
    created_card,
    local_value,
    questions_from_form,
    questions_of,
    questions_shown,
    signed_in_organiser,
    to_login,
    utc_of_local,
)
from live.pages.sessions import page, read_form, refused_page, samla_of_page
from rooms import archive_parts, sessions
from rooms.errors import Refused
from rooms.events import conferences
from rooms.models import ATTRIBUTES_MAX, DESCRIPTION_MAX, EMAIL_MAX, TITLE_MAX, Conference

# A moment field's text is short: "2026-03-03T09:00" (a browser may add seconds).
MOMENT_TYPED_MAX = 40
# What the page says after a change it redirected from (?done=…).
DONE = ("created", "saved", "added", "removed")

NO_TIME = _("Write a date and a time, such as 2026-03-03 09:00.")


def event_links(request: Request, eid: str) -> dict[str, str]:
    """An event's addresses: its page here, its public programme and registration, and the
    registrations (selection, invitations) page."""
    return {
        "manage": str(request.url_for("organiser_event", eid=eid)),
        "page": str(request.url_for("event_page", eid=eid)),
        "register": str(request.url_for("event_register", eid=eid)),
        "registrations": str(request.url_for("event_registrations", eid=eid)),
    }


# -- the event's form -------------------------------------------------------------------------


@dataclass
class EventDraft(Draft):
    """The event's form as typed (its moments as typed, in TIME_ZONE), kept whole through
    every post-back and refusal; `errors` holds each wrong field's message."""

    description: str = ""
    starts_at: str = ""
    ends_at: str = ""
    access: str = "open"
    registration_open: bool = False
    closes_at: str = ""
    errors: dict[str, str] = field(default_factory=dict)


def event_draft_from_form(form: FormData) -> EventDraft:
    def typed(name: str, most: int) -> str:
        return str(form.get(name, ""))[:most]

    access = typed("access", 10)
    return EventDraft(
        title=typed("title", TITLE_MAX * 2),
        questions=questions_from_form(form),
        description=typed("description", DESCRIPTION_MAX * 2),
        starts_at=typed("starts_at", MOMENT_TYPED_MAX),
        ends_at=typed("ends_at", MOMENT_TYPED_MAX),
        access=access if access in conferences.ACCESS else "open",
        registration_open=form.get("registration_open") is not None,
        closes_at=typed("closes_at", MOMENT_TYPED_MAX),
    )


def event_draft_of(event: Conference, time_zone: str) -> EventDraft:
    """The form showing the event as it is stored."""
    return EventDraft(
        title=event.title,
        questions=questions_shown(event.attributes),
        description=event.description,
        starts_at=local_value(event.starts_at, time_zone),
        ends_at=local_value(event.ends_at, time_zone),
        access=event.access,
        registration_open=event.registration_open,
        closes_at=local_value(event.registration_closes_at, time_zone),
    )


def event_fields(draft: EventDraft, time_zone: str) -> dict[str, Any] | None:
    """The event's fields as the domain takes them, or None when one is wrong (then
    `draft.errors` says which and what)."""
    errors: dict[str, str] = {}
    title = draft.title.strip()
    if not title:
        errors["title"] = _("Write the event's title.")
    elif len(title) > TITLE_MAX:
        errors["title"] = _("The title is too long: at most 200 characters.")
    if len(draft.description) > DESCRIPTION_MAX:
        errors["description"] = _("The description is too long: at most 4000 characters.")
    moments: dict[str, str | None] = {}
    for name in ("starts_at", "ends_at", "closes_at"):
        try:
            moments[name] = utc_of_local(getattr(draft, name), time_zone)
        except ValueError:
            errors[name] = NO_TIME
    starts, ends = moments.get("starts_at"), moments.get("ends_at")
    if starts and ends and ends < starts:
        errors["ends_at"] = _("The end is before the start.")
    asked = questions_of(draft)
    if asked is None:
        errors["questions"] = "rows"
    draft.errors = errors
    if errors:
        return None
    return {
        "title": title,
        "description": draft.description.strip(),
        "starts_at": starts,
        "ends_at": ends,
        "attributes": asked,
        "access": draft.access,
        "registration": {"open": draft.registration_open, "closes_at": moments["closes_at"]},
    }


@dataclass
class SessionDraft:
    """The form that adds a session to the programme, as typed."""

    title: str = ""
    starts_at: str = ""
    errors: dict[str, str] = field(default_factory=dict)


@dataclass
class OrganiserDraft:
    """The form that adds a co-organiser, as typed."""

    email: str = ""
    error: str | None = None


# -- who may ------------------------------------------------------------------------------------


async def _organising(request: Request) -> tuple[str, Conference] | Response:
    """The signed-in organiser and the event in the path, which they must organise."""
    organiser_id = await signed_in_organiser(request)
    if organiser_id is None:
        return to_login(request, request.url.path)
    try:
        async with samla_of_page(request).store.read() as db:
            event = await conferences.require_organising(
                db, organiser_id, request.path_params["eid"]
            )
    except Refused as exc:
        return refused_page(request, exc)
    return organiser_id, event


def _back(request: Request, eid: str, done: str) -> Response:
    return RedirectResponse(str(request.url_for("organiser_event", eid=eid)) + f"?done={done}", 303)


async def to_event(request: Request) -> Response:
    """A form's address opened (a page answered there switches its language, is reloaded):
    the event's page."""
    eid = str(request.path_params["eid"])
    return RedirectResponse(str(request.url_for("organiser_event", eid=eid)), 303)


# -- creating an event ----------------------------------------------------------------------------


def _new_page(request: Request, draft: EventDraft, status: int = 200) -> Response:
    return page(
        request,
        "organiser/new_event.html",
        status,
        draft=draft,
        questions_max=ATTRIBUTES_MAX,
        time_zone=samla_of_page(request).settings.time_zone,
    )


async def new_event_page(request: Request) -> Response:
    organiser_id = await signed_in_organiser(request)
    if organiser_id is None:
        return to_login(request, request.url.path)
    if request.method == "GET":
        return _new_page(request, EventDraft())
    samla = samla_of_page(request)
    try:
        form = await read_form(request)
    except Refused as exc:
        return refused_page(request, exc)
    draft = event_draft_from_form(form)
    if apply_op(draft, str(form.get("op", ""))[:20]):
        return _new_page(request, draft)
    fields = event_fields(draft, samla.settings.time_zone)
    if fields is None:
        return _new_page(request, draft, 422)
    try:
        async with samla.store.write() as db:
            event = await conferences.create_conference(db, organiser_id=organiser_id, **fields)
    except Refused as exc:
        draft.errors["form"] = exc.message
        return _new_page(request, draft, STATUS[exc.code])
    return _back(request, event.id, "created")


# -- the event's page -------------------------------------------------------------------------


async def _event_page(
    request: Request,
    organiser_id: str,
    event: Conference,
    status: int = 200,
    *,
    draft: EventDraft | None = None,
    session_draft: SessionDraft | None = None,
    organiser_draft: OrganiserDraft | None = None,
    created: dict[str, str] | None = None,
    error: str | None = None,
) -> Response:
    samla = samla_of_page(request)
    async with samla.store.read() as db:
        programme = await conferences.programme(db, event.id)
        organisers = await conferences.organisers_of(db, event.id)
        registrations = await conferences.registration_counts(db, event.id)
        counted = await archive_parts.counts(db, [s.id for s in programme])
    done = request.query_params.get("done")
    return page(
        request,
        "organiser/event.html",
        status,
        event=event,
        draft=draft or event_draft_of(event, samla.settings.time_zone),
        session_draft=session_draft or SessionDraft(),
        organiser_draft=organiser_draft or OrganiserDraft(),
        programme=[(s, counted[s.id]["participants"]) for s in programme],
        organisers=[
            {
                "id": o.id,
                "email": o.email,
                "organisation": o.organisation,
                "creator": o.id == event.organiser_id,
            }
            for o in organisers
        ],
        you=organiser_id,
        registrations=registrations,
        registered=sum(registrations.values()),
        links=event_links(request, event.id),
        created=created,
        error=error,
        done=done if done in DONE else None,
        questions_max=ATTRIBUTES_MAX,
        time_zone=samla.settings.time_zone,
    )


async def event_page(request: Request) -> Response:
    """The event's page; its form changes the event (its questions only while no one has
    registered: the domain says so)."""
    found = await _organising(request)
    if isinstance(found, Response):
        return found
    organiser_id, event = found
    if request.method == "GET":
        return await _event_page(request, organiser_id, event)
    samla = samla_of_page(request)
    try:
        form = await read_form(request)
    except Refused as exc:
        return refused_page(request, exc)
    draft = event_draft_from_form(form)
    if apply_op(draft, str(form.get("op", ""))[:20]):
        return await _event_page(request, organiser_id, event, draft=draft)
    fields = event_fields(draft, samla.settings.time_zone)
    if fields is None:
        return await _event_page(request, organiser_id, event, 422, draft=draft)
    try:
        async with samla.store.write() as db:
            await conferences.require_organising(db, organiser_id, event.id)
            await conferences.change_conference(db, event.id, **fields)
    except Refused as exc:
        # The only refusal of fields that passed the form's checks: changed questions after
        # someone registered.
        draft.errors["questions" if exc.code == "conflict" else "form"] = exc.message
        return await _event_page(request, organiser_id, event, STATUS[exc.code], draft=draft)
    return _back(request, event.id, "saved")


async def add_session(request: Request) -> Response:
    """A new session in the programme, asking the event's questions; its moderator link is
    shown once, now."""
    if request.method == "GET":
        return await to_event(request)
    found = await _organising(request)
    if isinstance(found, Response):
        return found
    organiser_id, event = found
    samla = samla_of_page(request)
    try:
        form = await read_form(request)
    except Refused as exc:
        return refused_page(request, exc)
    typed = SessionDraft(
        title=str(form.get("title", ""))[: TITLE_MAX * 2],
        starts_at=str(form.get("starts_at", ""))[:MOMENT_TYPED_MAX],
    )
    title = typed.title.strip()
    if not title:
        typed.errors["title"] = _("Write the session's title.")
    elif len(title) > TITLE_MAX:
        typed.errors["title"] = _("The title is too long: at most 200 characters.")
    try:
        starts_at = utc_of_local(typed.starts_at, samla.settings.time_zone)
    except ValueError:
        typed.errors["starts_at"] = NO_TIME
    if typed.errors:
        return await _event_page(request, organiser_id, event, 422, session_draft=typed)

    async def make(db: Any) -> Any:
        # Checked again in the write: a co-organiser removed meanwhile adds nothing.
        current = await conferences.require_organising(db, organiser_id, event.id)
        return await sessions.create_session(
            db, title=title, organiser_id=organiser_id, conference=current, starts_at=starts_at
        )

    try:
        made = await samla.change(make)
    except Refused as exc:
        typed.errors["form"] = exc.message
        return await _event_page(
            request, organiser_id, event, STATUS[exc.code], session_draft=typed
        )
    return await _event_page(request, organiser_id, event, created=created_card(request, made))


async def add_organiser(request: Request) -> Response:
    """An existing organiser account (a partner organisation's) becomes a co-organiser."""
    if request.method == "GET":
        return await to_event(request)
    found = await _organising(request)
    if isinstance(found, Response):
        return found
    organiser_id, event = found
    try:
        form = await read_form(request)
    except Refused as exc:
        return refused_page(request, exc)
    typed = OrganiserDraft(email=str(form.get("email", ""))[: EMAIL_MAX * 2])
    email = typed.email.strip()
    if not email:
        typed.error = _("Write the email of their organiser account.")
    elif len(email) > EMAIL_MAX or "@" not in email:
        typed.error = _("Write an email address, such as kim@example.org.")
    if typed.error is None:
        try:
            async with samla_of_page(request).store.write() as db:
                await conferences.require_organising(db, organiser_id, event.id)
                await conferences.add_organiser(db, event.id, email)
        except Refused as exc:
            typed.error = (
                _("No organiser account has this email. They need an account first.")
                if exc.code == "not_found"
                else exc.message
            )
    if typed.error is not None:
        return await _event_page(request, organiser_id, event, 422, organiser_draft=typed)
    return _back(request, event.id, "added")


async def remove_organiser(request: Request) -> Response:
    """A co-organiser leaves the event (its creator stays); one who removes themselves goes
    back to their own page, where the event is no longer theirs."""
    if request.method == "GET":
        return await to_event(request)
    found = await _organising(request)
    if isinstance(found, Response):
        return found
    organiser_id, event = found
    gone = str(request.path_params["oid"])
    try:
        await read_form(request)
        async with samla_of_page(request).store.write() as db:
            await conferences.remove_organiser(db, event.id, gone)
    except Refused as exc:
        return await _event_page(request, organiser_id, event, STATUS[exc.code], error=exc.message)
    if gone == organiser_id:
        return RedirectResponse(str(request.url_for("organiser_page")), 303)
    return _back(request, event.id, "removed")


async def delete_event(request: Request) -> Response:
    """Deleting the event with its sessions and registrations: the page's <dialog> asks
    first; without script, this confirmation page does."""
    found = await _organising(request)
    if isinstance(found, Response):
        return found
    _, event = found
    samla = samla_of_page(request)
    if request.method == "GET":
        async with samla.store.read() as db:
            programme = await conferences.programme(db, event.id)
            registrations = await conferences.registration_counts(db, event.id)
        return page(
            request,
            "organiser/delete_event.html",
            event=event,
            sessions_n=len(programme),
            registered=sum(registrations.values()),
        )
    try:
        await read_form(request)
        async with samla.store.write() as db:
            gone = await conferences.delete_conference(db, event.id)
    except Refused as exc:
        return refused_page(request, exc)
    for session_id in gone:
        await samla.hub.announce_deleted(session_id)
    return RedirectResponse(str(request.url_for("organiser_page")) + "?deleted=event", 303)


def routes() -> list[BaseRoute]:
    return [
        Route(
            "/organiser/events/new",
            new_event_page,
            methods=["GET", "POST"],
            name="new_event_page",
        ),
        Route(
            "/organiser/events/{eid}",
            event_page,
            methods=["GET", "POST"],
            name="organiser_event",
        ),
        Route(
            "/organiser/events/{eid}/sessions",
            add_session,
            methods=["GET", "POST"],
            name="event_add_session",
        ),
        Route(
            "/organiser/events/{eid}/organisers",
            add_organiser,
            methods=["GET", "POST"],
            name="event_add_organiser",
        ),
        Route(
            "/organiser/events/{eid}/organisers/{oid}/remove",
            remove_organiser,
            methods=["GET", "POST"],
            name="event_remove_organiser",
        ),
        Route(
            "/organiser/events/{eid}/delete",
            delete_event,
            methods=["GET", "POST"],
            name="event_delete",
        ),
    ]
