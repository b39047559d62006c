"""The public API's events: a programme of sessions, its organisers, registration, the
balanced selection and personal invitations."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from pydantic import Field, StrictBool, StrictInt
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response

from live import auth, mail
from live.actions import Body
from live.api.base import Endpoint, read_body, route, samla_of
from live.api.sessions import AttributeBody
from live.joining import client_address
from live.services import Samla
from rooms.errors import Refused
from rooms.events import conferences, registrations, selection
from rooms.models import Conference, Registration


class RegistrationSettings(Body):
    """Whether the event takes registrations, and until when."""

    open: StrictBool = Field(False, description="Whether the registration page takes applications.")
    closes_at: str | None = Field(None, description="When registration closes (ISO 8601 UTC).")


class EventBody(Body):
    """A new event: a programme of sessions with one registration."""

    title: str = Field(description="The event's title.")
    description: str | None = Field(None, description="What it is about (plain text).")
    starts_at: str | None = Field(None, description="When it starts (ISO 8601 UTC).")
    ends_at: str | None = Field(None, description="When it ends (ISO 8601 UTC).")
    attributes: list[AttributeBody] | None = Field(
        None, description="What it asks of people at registration and at every session's join."
    )
    access: Literal["open", "invited"] | None = Field(
        None, description="open: anyone with a session's code joins; invited: personal links only."
    )
    registration: RegistrationSettings | None = Field(None, description="Registration.")


class EventChangeBody(Body):
    """What changes of an event (only the fields given)."""

    title: str | None = None
    description: str | None = None
    starts_at: str | None = None
    ends_at: str | None = None
    attributes: list[AttributeBody] | None = None
    access: Literal["open", "invited"] | None = None
    registration: RegistrationSettings | None = None


class OrganiserBody(Body):
    """A co-organiser: an existing organiser account."""

    email: str = Field(description="The organiser account's email.")


class RegistrationBody(Body):
    """Someone applies to an event."""

    name: str = Field(description="Their name (1 to 80 characters).")
    email: str = Field(description="Their email address; one registration per email.")
    attributes: dict[str, str | None] | None = Field(
        None, description="An answer to each of the event's attributes: key to choice."
    )
    consent: StrictBool = Field(False, description="Consent to how the data is used: must be true.")
    locale: Literal["sv", "en"] | None = Field(
        None, description="The language of their mail (Swedish if none)."
    )


class WithdrawBody(Body):
    """A registrant withdraws with the secret of their link."""

    token: str = Field(description="The secret the withdraw link carries.")


class QuotaBody(Body):
    min: StrictInt | None = Field(None, ge=0, description="At least this many with the choice.")
    max: StrictInt | None = Field(None, ge=0, description="At most this many with the choice.")


class SelectionBody(Body):
    """A balanced selection of a panel among the registrations."""

    size: StrictInt = Field(description="How many to select.")
    balance_by: list[str] = Field(description="The attributes whose choices get even shares.")
    quotas: dict[str, dict[str, QuotaBody]] | None = Field(
        None, description="Per attribute and choice: {min?, max?}."
    )
    seed: StrictInt | None = Field(None, description="Repeats a draw; a fresh one if none.")


def registration_url(request: Request, conference: Conference) -> str:
    return str(request.url_for("event_register", eid=conference.id))


def withdraw_url(request: Request, conference_id: str, token: str) -> str:
    return str(request.url_for("event_withdraw", eid=conference_id, token=token))


def invite_url(request: Request, invite: str) -> str:
    return str(request.url_for("invite_page", invite=invite))


def event_json(request: Request, conference: Conference) -> dict[str, Any]:
    return {
        "id": conference.id,
        "title": conference.title,
        "access": conference.access,
        "registration_url": registration_url(request, conference),
        "event_url": str(request.url_for("event_page", eid=conference.id)),
    }


async def _organiser(request: Request) -> str:
    async with samla_of(request).store.read() as db:
        return auth.require_organiser(await auth.from_bearer(db, request))


async def _organised(request: Request) -> tuple[str, Conference]:
    """The organiser calling, and the event of the path, which they must organise."""
    async with samla_of(request).store.read() as db:
        organiser_id = auth.require_organiser(await auth.from_bearer(db, request))
        conference = await conferences.require_organising(
            db, organiser_id, request.path_params["eid"]
        )
    return organiser_id, conference


# -- events ---------------------------------------------------------------------------------


async def create_event(request: Request) -> Response:
    """The caller becomes its first organiser. Sessions join its programme when created
    with its `event_id`."""
    organiser_id = await _organiser(request)
    body = await read_body(request, EventBody)
    fields = body.model_dump(exclude_none=True)
    async with samla_of(request).store.write() as db:
        conference = await conferences.create_conference(db, organiser_id=organiser_id, **fields)
    return JSONResponse(event_json(request, conference), 201)


async def list_events(request: Request) -> Response:
    """The events the caller organises, the newest first."""
    samla = samla_of(request)
    async with samla.store.read() as db:
        who = await auth.from_bearer(db, request)
        auth.require_organiser(who)
        found = await conferences.conferences_listed(db, who.conferences)
        listed = [event_json(request, c) for c in found]
    return JSONResponse({"events": listed})


async def get_event(request: Request) -> Response:
    """The event with its programme, its organisers and how many registered."""
    _, conference = await _organised(request)
    async with samla_of(request).store.read() as db:
        described = await conferences.describe_conference(db, conference)
    return JSONResponse({**described, **event_json(request, conference)})


async def change_event(request: Request) -> Response:
    """Changes the fields given. Its attributes change only while no one has registered."""
    _, conference = await _organised(request)
    body = await read_body(request, EventChangeBody)
    fields = body.model_dump(exclude_unset=True)
    async with samla_of(request).store.write() as db:
        changed = await conferences.change_conference(db, conference.id, **fields)
        described = await conferences.describe_conference(db, changed)
    return JSONResponse({**described, **event_json(request, changed)})


async def delete_event(request: Request) -> Response:
    """The event goes with its sessions (and everything in them) and its registrations;
    every socket open on its sessions closes."""
    _, conference = await _organised(request)
    samla = samla_of(request)
    async with samla.store.write() as db:
        gone = await conferences.delete_conference(db, conference.id)
    for session_id in gone:
        await samla.hub.announce_deleted(session_id)
    return Response(status_code=204)


async def add_organiser(request: Request) -> Response:
    """An existing organiser account (a partner organisation's) becomes a co-organiser, with
    every organiser right on the event, its sessions and its archives."""
    _, conference = await _organised(request)
    body = await read_body(request, OrganiserBody)
    async with samla_of(request).store.write() as db:
        added = await conferences.add_organiser(db, conference.id, body.email)
        emails = [o.email for o in await conferences.organisers_of(db, conference.id)]
    return JSONResponse({"email": added.email, "organisers": emails}, 201)


# -- registration ---------------------------------------------------------------------------


async def register(request: Request) -> Response:
    """While registration is open: one registration per email. The answer carries the link
    to withdraw (also mailed, with a confirmation, when SMTP_URL is set)."""
    body = await read_body(request, RegistrationBody)
    samla = samla_of(request)
    eid = request.path_params["eid"]
    registered, conference = await register_person(
        samla,
        request,
        eid,
        name=body.name,
        email=body.email,
        attributes=body.attributes,
        consent=body.consent,
        locale=body.locale or "sv",
    )
    link = withdraw_url(request, conference.id, registered.withdraw_token)
    confirm(samla, conference, registered.registration, link)
    return JSONResponse(
        {
            "id": registered.registration.id,
            "status": registered.registration.status,
            "withdraw_url": link,
        },
        201,
    )


# Registrations from one network address: an office registering its staff passes; past it,
# a script cannot make Samla mail strangers or fill an event with made-up people.
REGISTRATIONS_PER_ADDRESS = "60/10 minutes"
REGISTERING_TOO_FAST = (
    "Too many registrations have come from your network just now; try again in a few minutes."
)


async def register_person(
    samla: Samla, conn: HTTPConnection, conference_id: str, **given: Any
) -> tuple[registrations.Registered, Conference]:
    """One registration stored (the API's and the registration page's one path), within
    the allowance of the address it comes from."""
    await samla.limiter.hit(
        "register", REGISTRATIONS_PER_ADDRESS, client_address(conn), REGISTERING_TOO_FAST
    )
    async with samla.store.write() as db:
        registered = await registrations.register(db, conference_id, **given)
        conference = await conferences.conference_by_id(db, conference_id)
    return registered, conference


def confirm(samla: Samla, conference: Conference, registration: Registration, link: str) -> None:
    """The confirmation mail, sent in the background when mail is configured."""
    settings = samla.settings
    if not mail.can_mail(settings):
        return
    message = mail.confirmation(
        settings,
        to=registration.email,
        name=registration.name,
        locale=registration.locale,
        event_title=conference.title,
        starts_at=conference.starts_at,
        withdraw_url=link,
        invited=conference.access == "invited",
    )
    mail.send_later(settings, [message])


async def withdraw(request: Request) -> Response:
    """The registrant's row is deleted. An unknown or used link is 404."""
    body = await read_body(request, WithdrawBody)
    async with samla_of(request).store.write() as db:
        gone = await registrations.withdraw(db, body.token)
    if gone is None:
        raise Refused("not_found", "No registration has that link; it may have been withdrawn.")
    return Response(status_code=204)


async def list_registrations(request: Request) -> Response:
    """Every registration with its status, and the counts per choice of every attribute."""
    _, conference = await _organised(request)
    async with samla_of(request).store.read() as db:
        found = await registrations.registrations_of(db, conference.id)
    return JSONResponse(
        {
            "registrations": [registrations.registration_json(r) for r in found],
            "counts": registrations.counts_by_choice(conference, found),
        }
    )


async def delete_registration(request: Request) -> Response:
    """An organiser deletes a registration (its registrant asked them to)."""
    _, conference = await _organised(request)
    async with samla_of(request).store.write() as db:
        await registrations.remove_registration(db, conference.id, request.path_params["regid"])
    return Response(status_code=204)


async def select(request: Request) -> Response:
    """Draws the panel (see the contract). The answer adds the targets per choice and the
    seed, which repeats the draw."""
    _, conference = await _organised(request)
    body = await read_body(request, SelectionBody)
    quotas = (
        None
        if body.quotas is None
        else {
            key: {choice: q.model_dump(exclude_none=True) for choice, q in given.items()}
            for key, given in body.quotas.items()
        }
    )
    drawn = await draw_panel(
        samla_of(request),
        conference.id,
        size=body.size,
        balance_by=body.balance_by,
        quotas=quotas,
        seed=body.seed,
    )
    return JSONResponse(selection.selection_json(drawn))


# How often a selection is drawn when selected registrants withdraw during the draw.
DRAWS_MAX = 3


async def draw_panel(samla: Samla, conference_id: str, **asked: Any) -> selection.Selection:
    """The one path of a selection (the API's and the registrations page's): the applicants
    read, the panel drawn in a thread with no transaction open (a registration meanwhile
    is not held up, and stays applied), then stored."""
    for attempt in range(DRAWS_MAX):
        async with samla.store.read() as db:
            question = await selection.ask_selection(db, conference_id, **asked)
        drawn = await asyncio.to_thread(question.draw)
        try:
            async with samla.store.write() as db:
                return await selection.save_selection(db, question, drawn)
        except Refused as exc:
            # A selected registrant withdrew during the draw: drawn again without them.
            if exc.message != selection.WITHDRAWN_MEANWHILE or attempt + 1 == DRAWS_MAX:
                raise
    raise AssertionError("unreachable")


async def invite(request: Request) -> Response:
    """One personal link per selected registrant (the same link each time); mailed as well
    when SMTP_URL is set (`mailed` says how many were handed to the mail server)."""
    _, conference = await _organised(request)
    samla = samla_of(request)
    invited, programme = await invite_people(samla, conference)
    links = [
        {
            "registration_id": i.registration.id,
            "name": i.registration.name,
            "email": i.registration.email,
            "invite": i.invite,
            "join_url": invite_url(request, i.invite),
        }
        for i in invited
    ]
    mailed = send_invitations(samla, conference, invited, programme, request)
    return JSONResponse({"invitations": links, "mailed": mailed})


async def invite_people(
    samla: Samla, conference: Conference
) -> tuple[list[registrations.Invited], list[tuple[str, Any]]]:
    async with samla.store.write() as db:
        invited = await registrations.invite_selected(db, conference.id, samla.settings.secret_key)
        programme = [(s.title, s.starts_at) for s in await conferences.programme(db, conference.id)]
    return invited, programme


def send_invitations(
    samla: Samla,
    conference: Conference,
    invited: list[registrations.Invited],
    programme: list[tuple[str, Any]],
    request: Request,
) -> int:
    """The invitations by mail in the background; how many are on their way (0: no mail)."""
    settings = samla.settings
    if not mail.can_mail(settings) or not invited:
        return 0
    messages = [
        mail.invitation(
            settings,
            to=i.registration.email,
            name=i.registration.name,
            locale=i.registration.locale,
            event_title=conference.title,
            programme=programme,
            join_url=invite_url(request, i.invite),
        )
        for i in invited
    ]
    mail.send_later(settings, messages)
    return len(messages)


ENDPOINTS: list[Endpoint] = [
    route(
        "POST",
        "/api/v1/events",
        create_event,
        "Create an event",
        who="organiser",
        body=EventBody,
        status=201,
    ),
    route("GET", "/api/v1/events", list_events, "The events the caller organises", who="organiser"),
    route(
        "GET",
        "/api/v1/events/{eid}",
        get_event,
        "An event with its programme, organisers and registration counts",
        who="the event's organisers",
    ),
    route(
        "PATCH",
        "/api/v1/events/{eid}",
        change_event,
        "Change an event",
        who="the event's organisers",
        body=EventChangeBody,
    ),
    route(
        "DELETE",
        "/api/v1/events/{eid}",
        delete_event,
        "Delete an event with its sessions and registrations",
        who="the event's organisers",
        status=204,
    ),
    route(
        "POST",
        "/api/v1/events/{eid}/organisers",
        add_organiser,
        "Add a co-organiser",
        who="the event's organisers",
        body=OrganiserBody,
        status=201,
    ),
    route(
        "POST",
        "/api/v1/events/{eid}/registrations",
        register,
        "Register for an event",
        who="anyone, while registration is open",
        body=RegistrationBody,
        status=201,
    ),
    route(
        "GET",
        "/api/v1/events/{eid}/registrations",
        list_registrations,
        "The event's registrations, with counts per choice",
        who="the event's organisers",
    ),
    route(
        "DELETE",
        "/api/v1/events/{eid}/registrations/{regid}",
        delete_registration,
        "Delete a registration",
        who="the event's organisers",
        status=204,
    ),
    route(
        "POST",
        "/api/v1/registrations/withdraw",
        withdraw,
        "Withdraw a registration with its link's secret",
        who="anyone with the link",
        body=WithdrawBody,
        status=204,
    ),
    route(
        "POST",
        "/api/v1/events/{eid}/selection",
        select,
        "Select a balanced panel from the registrations",
        who="the event's organisers",
        body=SelectionBody,
    ),
    route(
        "POST",
        "/api/v1/events/{eid}/invitations",
        invite,
        "Personal invitations for the selected",
        who="the event's organisers",
    ),
]
