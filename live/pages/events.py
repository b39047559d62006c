"""An event's public pages: its programme, registration, withdrawing, personal invitations.

The event page is the participant's door to every session of the event: what is on now,
what is next, one tap to join. Registration stores through `live.api.events.register_person`
(the API's one path); its withdraw link is shown once, on the confirmation page (and mailed
when mail is configured). A personal invitation is kept in this browser's cookie for its
event, so the event's sessions let this person in without a form (`live.pages.sessions`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from live import auth, mail
from live.api import events as api_events
from live.pages.sessions import FORM_MAX, page, page_language, refused_page, samla_of_page
from rooms.errors import Refused
from rooms.events import conferences, registrations
from rooms.models import NAME_MAX, Conference, Registration, Session

# Invitations a browser keeps (one per event): a few, so the cookie stays small.
INVITES_KEPT = 4
UNKNOWN_WITHDRAW = "This link to withdraw is not known: the registration may already be deleted."
UNKNOWN_INVITE = "This invitation link is not known. Check that the whole link was copied."
NOT_SELECTED = "This invitation is not valid now: you are not among those selected for this event."


def now_utc() -> datetime:
    return datetime.now(UTC)


def naive(moment: datetime) -> datetime:
    """A stored moment as UTC without its zone, however the database gave it back."""
    if moment.tzinfo is not None:
        return moment.astimezone(UTC).replace(tzinfo=None)
    return moment


# -- the invitations this browser holds ----------------------------------------------------


def held_invites(request: Request) -> dict[str, str]:
    held = auth.cookie(request).get("i")
    if not isinstance(held, dict):
        return {}
    return {k: v for k, v in held.items() if isinstance(k, str) and isinstance(v, str)}


def keep_invite(request: Request, conference_id: str, invite: str) -> None:
    held = held_invites(request)
    held.pop(conference_id, None)
    held[conference_id] = invite
    auth.cookie(request)["i"] = dict(list(held.items())[-INVITES_KEPT:])


def drop_invite(request: Request, conference_id: str) -> None:
    held = held_invites(request)
    if held.pop(conference_id, None) is not None:
        auth.cookie(request)["i"] = held


# -- the event page ---------------------------------------------------------------------------


@dataclass
class Programme:
    """The event's sessions as a participant reads them: now first, then next."""

    now: Session | None = None
    next: Session | None = None
    later: list[Session] = field(default_factory=list)
    over: list[Session] = field(default_factory=list)
    every: list[Session] = field(default_factory=list)


def arrange(sessions: list[Session], at: datetime) -> Programme:
    """What is on now (the open session started last of those whose time has come), what
    is next (the first open one still to come), the rest to come, and those over."""
    out = Programme(every=sessions)
    open_ = [s for s in sessions if s.status == "open"]
    out.over = [s for s in sessions if s.status != "open"]
    begun = [s for s in open_ if s.starts_at is not None and naive(s.starts_at) <= naive(at)]
    if begun:
        out.now = max(begun, key=lambda s: naive(s.starts_at or at))
    to_come = [s for s in open_ if s is not out.now and s not in begun]
    if out.now is None and to_come and to_come[0].starts_at is None:
        # No times given: the first open session is the one to join now.
        out.now = to_come.pop(0)
    if to_come:
        out.next = to_come.pop(0)
    out.later = to_come
    return out


async def event_page(request: Request) -> Response:
    samla = samla_of_page(request)
    eid = request.path_params["eid"]
    invite = held_invites(request).get(eid)
    try:
        async with samla.store.read() as db:
            conference = await conferences.conference_by_id(db, eid)
            sessions = await conferences.programme(db, conference.id)
            invited = await registrations.registration_by_invite(db, invite) if invite else None
    except Refused as exc:
        return refused_page(request, exc)
    if invited is not None and (
        invited.conference_id != conference.id or invited.status != "selected"
    ):
        invited = None
    if invite and invited is None:
        drop_invite(request, eid)
    at = now_utc()
    return page(
        request,
        "events/event.html",
        conference=conference,
        programme=arrange(sessions, at),
        invited=invited,
        may_join=conference.access == "open" or invited is not None,
        registration_open=not conferences.registration_closed(conference, at),
    )


# -- registering --------------------------------------------------------------------------------


@dataclass
class Filled:
    """The registration form as sent: what was typed, and what is wrong with it by field."""

    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    general: str | None = None

    @property
    def answers(self) -> dict[str, str | None]:
        return {k[5:]: v or None for k, v in self.values.items() if k.startswith("attr_")}


def read_registration(form: FormData, conference: Conference) -> Filled:
    """The fields this event's form has, as text (at most a few thousand characters each:
    enough to say what is wrong), and the fields left empty."""
    filled = Filled()
    names = ["name", "email", "consent"] + [f"attr_{a['key']}" for a in conference.attributes]
    for name in names:
        value = form.get(name)
        filled.values[name] = value.strip()[: FORM_MAX // 4] if isinstance(value, str) else ""
    if not filled.values["name"]:
        filled.errors["name"] = "Write your name."
    if not filled.values["email"]:
        filled.errors["email"] = "Write your email address."
    for a in conference.attributes:
        if not filled.values[f"attr_{a['key']}"]:
            filled.errors[f"attr_{a['key']}"] = "Choose one of the answers."
    if filled.values["consent"] != "yes":
        filled.errors["consent"] = "Tick the box to agree; without it we cannot register you."
    return filled


def field_error(exc: Refused, conference: Conference) -> tuple[str | None, str]:
    """The form field a refusal is about, and what to tell the person there."""
    message = exc.message
    if exc.code == "conflict" and "email" in message:
        return "email", "This email address is already registered for this event."
    if exc.code != "invalid":
        return None, message
    if message.startswith("The name"):
        if "characters" in message:
            return "name", f"Your name is too long: at most {NAME_MAX} characters."
        return "name", "Write your name."
    if message.startswith("The email"):
        return "email", "Write an email address, such as name@example.org."
    if message.startswith("consent"):
        return "consent", "Tick the box to agree; without it we cannot register you."
    for a in conference.attributes:
        if repr(a["key"]) in message:
            return f"attr_{a['key']}", "Choose one of the answers."
    return None, message


async def read_page_form(request: Request) -> tuple[FormData, bool]:
    """The posted form (size and origin checked) and whether its CSRF token is right: a
    stale token shows the form again, with what was typed, rather than losing it."""
    samla = samla_of_page(request)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > FORM_MAX:
        raise Refused("too_large", "That form is too large.")
    if request.headers.get("origin") is not None and not auth.origin_allowed(
        request, samla.settings.allowed_origins
    ):
        raise Refused("forbidden", "This form was sent from another site.")
    form = await request.form(max_files=0, max_fields=100, max_part_size=FORM_MAX)
    return form, auth.csrf_ok(request, form.get("csrf"))


def registration_form(
    request: Request, conference: Conference, filled: Filled, status: int = 200
) -> Response:
    return page(
        request,
        "events/register.html",
        status,
        conference=conference,
        filled=filled,
        retention_days=samla_of_page(request).settings.retention_days,
        mailed=mail.can_mail(samla_of_page(request).settings),
    )


async def register_page(request: Request) -> Response:
    samla = samla_of_page(request)
    try:
        async with samla.store.read() as db:
            conference = await conferences.conference_by_id(db, request.path_params["eid"])
    except Refused as exc:
        return refused_page(request, exc)
    if conferences.registration_closed(conference, now_utc()):
        return page(request, "events/closed.html", conference=conference)
    if request.method == "GET":
        return registration_form(request, conference, Filled())
    try:
        form, fresh = await read_page_form(request)
    except Refused as exc:
        return refused_page(request, exc)
    filled = read_registration(form, conference)
    if not fresh:
        filled.general = "The form had expired. Check what you wrote and send it again."
    if filled.errors or not fresh:
        return registration_form(request, conference, filled, 422)
    try:
        registered, conference = await api_events.register_person(
            samla,
            request,
            conference.id,
            name=filled.values["name"],
            email=filled.values["email"],
            attributes=filled.answers,
            consent=True,
            locale=page_language(request),
        )
    except Refused as exc:
        if exc.code == "registration_closed":
            return page(request, "events/closed.html", 409, conference=conference)
        if exc.code == "rate_limited":
            filled.general = exc.message
            return registration_form(request, conference, filled, 429)
        if exc.code not in ("invalid", "conflict"):
            return refused_page(request, exc)
        where, message = field_error(exc, conference)
        if where is None:
            filled.general = message
        else:
            filled.errors[where] = message
        return registration_form(request, conference, filled, 422)
    link = api_events.withdraw_url(request, conference.id, registered.withdraw_token)
    api_events.confirm(samla, conference, registered.registration, link)
    return page(
        request,
        "events/registered.html",
        conference=conference,
        registration=registered.registration,
        withdraw_link=link,
        mailed=mail.can_mail(samla.settings),
    )


# -- withdrawing --------------------------------------------------------------------------------


async def withdraw_page(request: Request) -> Response:
    samla = samla_of_page(request)
    token = request.path_params["token"]
    try:
        async with samla.store.read() as db:
            conference = await conferences.conference_by_id(db, request.path_params["eid"])
            found = await registrations.registration_by_withdraw_token(db, token)
        if found is None or found.conference_id != conference.id:
            raise Refused("not_found", UNKNOWN_WITHDRAW)
        if request.method == "GET":
            return page(request, "events/withdraw.html", conference=conference, registration=found)
        _, fresh = await read_page_form(request)
        if not fresh:
            return page(
                request,
                "events/withdraw.html",
                422,
                conference=conference,
                registration=found,
                error="The form had expired. Press the button again to withdraw.",
            )
        async with samla.store.write() as db:
            gone = await registrations.withdraw(db, token)
        if gone is None:
            raise Refused("not_found", UNKNOWN_WITHDRAW)
    except Refused as exc:
        return refused_page(request, exc)
    drop_invite(request, conference.id)
    return page(request, "events/withdrawn.html", conference=conference)


# -- personal invitations -----------------------------------------------------------------------


async def invite_page(request: Request) -> Response:
    """The personal link: kept in this browser for its event, then on to the event page."""
    samla = samla_of_page(request)
    invite = request.path_params["invite"]
    try:
        async with samla.store.read() as db:
            found: Registration | None = await registrations.registration_by_invite(db, invite)
            if found is None:
                raise Refused("not_found", UNKNOWN_INVITE)
            conference = await conferences.conference_by_id(db, found.conference_id)
        if found.status != "selected":
            return page(request, "events/not_selected.html", 403, conference=conference)
    except Refused as exc:
        return refused_page(request, exc)
    keep_invite(request, conference.id, invite)
    return RedirectResponse(request.url_for("event_page", eid=conference.id), 303)


def routes() -> list[BaseRoute]:
    return [
        Route("/e/{eid}", event_page, name="event_page"),
        Route("/e/{eid}/register", register_page, methods=["GET", "POST"], name="event_register"),
        Route(
            "/e/{eid}/withdraw/{token}",
            withdraw_page,
            methods=["GET", "POST"],
            name="event_withdraw",
        ),
        Route("/i/{invite}", invite_page, name="invite_page"),
    ]
