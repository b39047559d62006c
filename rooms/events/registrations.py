"""Registering for an event, withdrawing, and the personal invitations of those selected.

A registration is personal data: a name, an email and the answers to the event's questions,
given with consent. It is kept with the event (deleted with it, and by retention) and
deleted at once when its registrant withdraws. Its links carry secrets: the link to withdraw
(random, stored as its digest) and the personal invitation (derived from SECRET_KEY and the
registration, so it can be sent again; stored as its digest, to be looked up)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from rooms.errors import Refused, forbidden, invalid
from rooms.events.conferences import conference_by_id, registration_closed
from rooms.models import (
    EMAIL_MAX,
    NAME_MAX,
    Conference,
    Registration,
    Session,
    digest,
    iso,
    new_secret,
    utcnow,
)
from rooms.sessions import clean_answers
from rooms.text import clean

LOCALES = ("sv", "en")
REGISTRATIONS_MAX = 20_000  # per event: a national forum's applicants, with room to spare
SECRET_MAX = 200  # a link's secret longer than this is no secret of Samla's


@dataclass(frozen=True)
class Registered:
    registration: Registration
    withdraw_token: str


def clean_email(value: Any) -> str:
    """An address as given (trimmed), if it is one; the registration's key is it lower-cased."""
    text = clean(value, "The email address", EMAIL_MAX)
    try:
        checked = validate_email(text, check_deliverability=False)
    except EmailNotValidError:
        raise invalid("The email is not an email address, such as name@example.org.") from None
    return str(checked.normalized)


async def register(
    db: AsyncSession,
    conference_id: str,
    *,
    name: Any,
    email: Any,
    attributes: Any,
    consent: Any,
    locale: Any = "sv",
    now: datetime | None = None,
) -> Registered:
    """Someone applies to the event (while its registration is open), once per email."""
    conference = await conference_by_id(db, conference_id)
    if registration_closed(conference, now or utcnow()):
        raise Refused("registration_closed", "Registration for this event is closed.")
    if consent is not True:
        raise invalid("consent: agree to how your data is used to register.")
    clean_name = clean(name, "The name", NAME_MAX, name=True)
    address = clean_email(email)
    answers = clean_answers(conference.attributes, attributes, every=True)
    taken = await db.scalar(
        select(func.count()).where(
            col(Registration.conference_id) == conference.id,
            col(Registration.email_key) == address.lower(),
        )
    )
    if taken:
        raise Refused("conflict", "This email has already registered for this event.")
    held = await db.scalar(
        select(func.count()).where(col(Registration.conference_id) == conference.id)
    )
    if int(held or 0) >= REGISTRATIONS_MAX:
        raise Refused("conflict", "This event takes no more registrations.")
    token = new_secret("w")
    registration = Registration(
        conference_id=conference.id,
        name=clean_name,
        email=address,
        email_key=address.lower(),
        attributes=answers,
        locale=locale if locale in LOCALES else "sv",
        withdraw_hash=digest(token),
    )
    db.add(registration)
    try:
        async with db.begin_nested():
            await db.flush()
    except IntegrityError:
        # The same email at the same moment on another connection: it came first.
        raise Refused("conflict", "This email has already registered for this event.") from None
    return Registered(registration, token)


async def registration_by_withdraw_token(db: AsyncSession, token: Any) -> Registration | None:
    if not isinstance(token, str) or not token.startswith("w_") or len(token) > SECRET_MAX:
        return None
    return await db.scalar(
        select(Registration).where(col(Registration.withdraw_hash) == digest(token))
    )


async def withdraw(db: AsyncSession, token: Any) -> Registration | None:
    """The registrant withdraws: their row is deleted (their participants in the event's
    sessions stay, as anyone who joined does, without the link to it). None: no such link."""
    registration = await registration_by_withdraw_token(db, token)
    if registration is None:
        return None
    await db.execute(delete(Registration).where(col(Registration.id) == registration.id))
    return registration


async def remove_registration(db: AsyncSession, conference_id: str, registration_id: Any) -> None:
    """An organiser deletes a registration (asked to by its registrant, or a duplicate)."""
    registration = await _registration_in(db, conference_id, registration_id)
    await db.execute(delete(Registration).where(col(Registration.id) == registration.id))


async def _registration_in(
    db: AsyncSession, conference_id: str, registration_id: Any
) -> Registration:
    if not isinstance(registration_id, str) or not 0 < len(registration_id) <= 40:
        raise invalid("registration_id must be a registration's id.")
    found = await db.get(Registration, registration_id)
    if found is None:
        raise Refused("not_found", "No such registration.")
    if found.conference_id != conference_id:
        raise forbidden("This registration belongs to another event.")
    return found


async def registrations_of(db: AsyncSession, conference_id: str) -> list[Registration]:
    """Every registration of the event: the selected, then the waiting list in its order,
    then the rest as they came."""
    rows = await db.scalars(
        select(Registration)
        .where(col(Registration.conference_id) == conference_id)
        .order_by(col(Registration.created_at), col(Registration.id))
    )
    rank = {"selected": 0, "waitlisted": 1, "applied": 2}
    return sorted(rows, key=lambda r: (rank.get(r.status, 3), r.place or 0))


def registration_json(r: Registration) -> dict[str, Any]:
    return {
        "id": r.id,
        "name": r.name,
        "email": r.email,
        "attributes": r.attributes,
        "status": r.status,
        "place": r.place,
        "created_at": iso(r.created_at),
    }


def counts_by_choice(
    conference: Conference, registrations: list[Registration]
) -> list[dict[str, Any]]:
    """Per question of the event, how many registrations gave each choice (all, and of the
    selected), every choice listed, in the event's order."""
    out = []
    for attribute in conference.attributes:
        key = attribute["key"]
        rows = []
        for choice in attribute["choices"]:
            given = [r for r in registrations if r.attributes.get(key) == choice]
            rows.append(
                {
                    "choice": choice,
                    "count": len(given),
                    "selected": sum(1 for r in given if r.status == "selected"),
                }
            )
        out.append({"key": key, "label": attribute["label"], "choices": rows})
    return out


# -- invitations ------------------------------------------------------------------------------


def invite_token(secret_key: str, registration_id: str) -> str:
    """The personal invitation's secret: the same each time it is made, so links sent
    earlier keep working when invitations go out again."""
    mac = hmac.new(secret_key.encode(), f"invite:{registration_id}".encode(), hashlib.sha256)
    return "i_" + base64.urlsafe_b64encode(mac.digest()[:24]).decode().rstrip("=")


@dataclass(frozen=True)
class Invited:
    registration: Registration
    invite: str


async def invite_selected(db: AsyncSession, conference_id: str, secret_key: str) -> list[Invited]:
    """One personal invitation per selected registrant (made again: the same links)."""
    await conference_by_id(db, conference_id)
    selected = await db.scalars(
        select(Registration)
        .where(
            col(Registration.conference_id) == conference_id,
            col(Registration.status) == "selected",
        )
        .order_by(col(Registration.name), col(Registration.id))
    )
    out = []
    for registration in selected:
        token = invite_token(secret_key, registration.id)
        if registration.invite_hash != digest(token):
            registration.invite_hash = digest(token)
            db.add(registration)
        out.append(Invited(registration, token))
    await db.flush()
    return out


async def registration_by_invite(db: AsyncSession, invite: Any) -> Registration | None:
    if not isinstance(invite, str) or not invite.startswith("i_") or len(invite) > SECRET_MAX:
        return None
    return await db.scalar(
        select(Registration).where(col(Registration.invite_hash) == digest(invite))
    )


NOT_INVITED = "This event is by invitation only: open the personal link you were sent."


async def admitted(db: AsyncSession, session: Session, invite: Any) -> Registration | None:
    """Who a join into this session is, by its invitation: the registrant, or None for a
    join without one where the event allows it. A session of an invited event admits only
    its own invitations, of registrants still selected."""
    if session.conference_id is None:
        if invite not in (None, ""):
            raise forbidden("This invitation is not for this session.")
        return None
    conference = await conference_by_id(db, session.conference_id)
    if invite in (None, ""):
        if conference.access == "invited":
            raise forbidden(NOT_INVITED)
        return None
    registration = await registration_by_invite(db, invite)
    if registration is None or registration.conference_id != conference.id:
        raise forbidden("This invitation is not for this event.")
    if registration.status != "selected":
        raise forbidden("This invitation is no longer valid: you are not among those selected.")
    return registration
