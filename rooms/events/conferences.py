"""An event and its programme: creating and changing it, who organises it, its sessions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from rooms.errors import Refused, forbidden, invalid, not_found
from rooms.models import (
    DESCRIPTION_MAX,
    EMAIL_MAX,
    TITLE_MAX,
    Conference,
    Organiser,
    Organising,
    Registration,
    Session,
    iso,
)
from rooms.sessions import clean_attributes
from rooms.text import clean, moment

ACCESS = ("open", "invited")
STATUSES = ("applied", "selected", "waitlisted")


def _access(value: Any) -> str:
    if value is None:
        return "open"
    if value not in ACCESS:
        raise invalid('access must be "open" or "invited".')
    return str(value)


def _registration(value: Any) -> tuple[bool, datetime | None]:
    if value is None:
        return False, None
    if not isinstance(value, dict):
        raise invalid("registration must be an object: {open, closes_at?}.")
    is_open = value.get("open", False)
    if not isinstance(is_open, bool):
        raise invalid("registration.open must be true or false.")
    return is_open, moment(value.get("closes_at"), "registration.closes_at")


def _dates(starts_at: datetime | None, ends_at: datetime | None) -> None:
    if starts_at is not None and ends_at is not None and ends_at < starts_at:
        raise invalid("ends_at must not be before starts_at.")


async def create_conference(
    db: AsyncSession,
    *,
    organiser_id: str,
    title: Any,
    description: Any = None,
    starts_at: Any = None,
    ends_at: Any = None,
    attributes: Any = None,
    access: Any = None,
    registration: Any = None,
) -> Conference:
    """A new event; its creator is its first organiser."""
    is_open, closes_at = _registration(registration)
    conference = Conference(
        title=clean(title, "The title", TITLE_MAX, name=True),
        description=_description(description),
        starts_at=moment(starts_at, "starts_at"),
        ends_at=moment(ends_at, "ends_at"),
        attributes=clean_attributes(attributes),
        access=_access(access),
        registration_open=is_open,
        registration_closes_at=closes_at,
        organiser_id=organiser_id,
    )
    _dates(conference.starts_at, conference.ends_at)
    db.add(conference)
    await db.flush()
    db.add(Organising(conference_id=conference.id, organiser_id=organiser_id))
    await db.flush()
    return conference


def _description(value: Any) -> str:
    if value is None or value == "":
        return ""
    return clean(value, "The description", DESCRIPTION_MAX, multiline=True)


# What an organiser may change after creating the event (the API's create fields).
CHANGEABLE = (
    "title",
    "description",
    "starts_at",
    "ends_at",
    "attributes",
    "access",
    "registration",
)


async def change_conference(db: AsyncSession, conference_id: str, **fields: Any) -> Conference:
    """Changes what is given of the event. Its questions change only while no one has
    registered (the answers given would no longer fit); its sessions ask the new ones."""
    conference = await conference_by_id(db, conference_id)
    unknown = set(fields) - set(CHANGEABLE)
    if unknown:
        raise invalid(f"{sorted(unknown)[0]} cannot be changed.")
    if "title" in fields:
        conference.title = clean(fields["title"], "The title", TITLE_MAX, name=True)
    if "description" in fields:
        conference.description = _description(fields["description"])
    if "starts_at" in fields:
        conference.starts_at = moment(fields["starts_at"], "starts_at")
    if "ends_at" in fields:
        conference.ends_at = moment(fields["ends_at"], "ends_at")
    _dates(conference.starts_at, conference.ends_at)
    if "access" in fields:
        conference.access = _access(fields["access"])
    if "registration" in fields:
        conference.registration_open, conference.registration_closes_at = _registration(
            fields["registration"]
        )
    if "attributes" in fields:
        asked = clean_attributes(fields["attributes"])
        if asked != conference.attributes:
            if await _registered(db, conference.id):
                raise Refused(
                    "conflict",
                    "People have registered with the event's questions; they can no longer "
                    "be changed.",
                )
            conference.attributes = asked
            for session in await programme(db, conference.id):
                session.attributes = asked
                db.add(session)
    db.add(conference)
    await db.flush()
    return conference


async def _registered(db: AsyncSession, conference_id: str) -> int:
    return int(
        await db.scalar(
            select(func.count()).where(col(Registration.conference_id) == conference_id)
        )
        or 0
    )


async def conference_by_id(db: AsyncSession, conference_id: Any) -> Conference:
    if not isinstance(conference_id, str) or not 0 < len(conference_id) <= 40:
        raise not_found("event")
    conference = await db.get(Conference, conference_id)
    if conference is None:
        raise not_found("event")
    return conference


async def delete_conference(db: AsyncSession, conference_id: str) -> list[str]:
    """Removes the event with its sessions and registrations; returns the sessions' ids."""
    await conference_by_id(db, conference_id)
    gone = [s.id for s in await programme(db, conference_id)]
    await db.execute(delete(Session).where(col(Session.conference_id) == conference_id))
    await db.execute(delete(Conference).where(col(Conference.id) == conference_id))
    return gone


def over_at(conference: Conference, sessions: list[Session]) -> datetime | None:
    """When the event is over, which retention counts from: its end; without one, the
    close of its last session once all have closed; without sessions, its start or the
    close of its registration. None (kept until deleted by hand): a session still open, or
    an event without any of these times."""
    if conference.ends_at is not None:
        return conference.ends_at
    if sessions:
        closes = [s.closed_at for s in sessions]
        if all(c is not None for c in closes):
            return max(c for c in closes if c is not None)
        return None
    return conference.starts_at or conference.registration_closes_at


async def expired_conferences(db: AsyncSession, cutoff: datetime) -> list[str]:
    """The events over before `cutoff`: their registrations (personal data) and sessions go."""
    out = []
    for conference in await db.scalars(select(Conference)):
        ended = over_at(conference, await programme(db, conference.id))
        if ended is not None and ended <= cutoff:
            out.append(conference.id)
    return out


# -- who organises it ---------------------------------------------------------------------


async def conferences_of(db: AsyncSession, organiser_id: str) -> frozenset[str]:
    """Every event this organiser organises (created or added to)."""
    rows = await db.scalars(
        select(col(Organising.conference_id)).where(col(Organising.organiser_id) == organiser_id)
    )
    return frozenset(rows)


async def conferences_listed(db: AsyncSession, ids: frozenset[str]) -> list[Conference]:
    """These events, the newest first (by their start, then when they were made)."""
    if not ids:
        return []
    found = await db.scalars(select(Conference).where(col(Conference.id).in_(ids)))
    return sorted(
        found,
        key=lambda c: (c.starts_at or c.created_at, c.created_at),
        reverse=True,
    )


async def organises(db: AsyncSession, organiser_id: str | None, conference_id: str) -> bool:
    if organiser_id is None:
        return False
    found = await db.get(Organising, (conference_id, organiser_id))
    return found is not None


async def organises_session(db: AsyncSession, organiser_id: str | None, session: Session) -> bool:
    """Whether this organiser has the organiser's rights on this session: it is part of an
    event they organise, or, outside events, theirs (a co-organiser removed from an event
    loses the sessions they made in it)."""
    if organiser_id is None:
        return False
    if session.conference_id is not None:
        return await organises(db, organiser_id, session.conference_id)
    return session.organiser_id == organiser_id


async def require_organising(db: AsyncSession, organiser_id: str, conference_id: str) -> Conference:
    """The event, for one of its organisers; anyone else is refused."""
    conference = await conference_by_id(db, conference_id)
    if not await organises(db, organiser_id, conference.id):
        raise forbidden("Only this event's organisers may do that.")
    return conference


async def organisers_of(db: AsyncSession, conference_id: str) -> list[Organiser]:
    """The event's organisers, its creator first, then in the order they were added."""
    rows = await db.scalars(
        select(Organiser)
        .join(Organising, col(Organising.organiser_id) == col(Organiser.id))
        .where(col(Organising.conference_id) == conference_id)
        .order_by(col(Organising.added_at), col(Organiser.email))
    )
    return list(rows)


async def add_organiser(db: AsyncSession, conference_id: str, email: Any) -> Organiser:
    """Adds an existing organiser account as a co-organiser (again: nothing changes)."""
    await conference_by_id(db, conference_id)
    address = clean(email, "The email address", EMAIL_MAX).lower()
    organiser = await db.scalar(
        select(Organiser).where(func.lower(col(Organiser.email)) == address)
    )
    if organiser is None:
        raise not_found("organiser account with that email")
    if not await organises(db, organiser.id, conference_id):
        db.add(Organising(conference_id=conference_id, organiser_id=organiser.id))
        await db.flush()
    return organiser


async def remove_organiser(db: AsyncSession, conference_id: str, organiser_id: str) -> None:
    """A co-organiser leaves the event; its creator stays, and so does its last organiser."""
    conference = await conference_by_id(db, conference_id)
    if organiser_id == conference.organiser_id:
        raise Refused("conflict", "The event's creator stays one of its organisers.")
    await db.execute(
        delete(Organising).where(
            col(Organising.conference_id) == conference_id,
            col(Organising.organiser_id) == organiser_id,
        )
    )


# -- its programme ------------------------------------------------------------------------


async def programme(db: AsyncSession, conference_id: str) -> list[Session]:
    """The event's sessions in time order (those without a time last, as they were made)."""
    return list(
        await db.scalars(
            select(Session)
            .where(col(Session.conference_id) == conference_id)
            .order_by(
                col(Session.starts_at).is_(None),
                col(Session.starts_at),
                col(Session.created_at),
                col(Session.id),
            )
        )
    )


async def registration_counts(db: AsyncSession, conference_id: str) -> dict[str, int]:
    rows = await db.execute(
        select(col(Registration.status), func.count())
        .where(col(Registration.conference_id) == conference_id)
        .group_by(col(Registration.status))
    )
    found = {status: int(n) for status, n in rows.all()}
    return {status: found.get(status, 0) for status in STATUSES}


def registration_closed(conference: Conference, now: datetime) -> bool:
    if not conference.registration_open:
        return True
    closes = conference.registration_closes_at
    return closes is not None and now >= closes


async def describe_conference(db: AsyncSession, conference: Conference) -> dict[str, Any]:
    """The event as GET /api/v1/events/{eid} shows it to its organisers."""
    organisers = await organisers_of(db, conference.id)
    creator = next((o.email for o in organisers if o.id == conference.organiser_id), None)
    return {
        "id": conference.id,
        "title": conference.title,
        "description": conference.description,
        "starts_at": iso(conference.starts_at),
        "ends_at": iso(conference.ends_at),
        "attributes": conference.attributes,
        "access": conference.access,
        "registration": {
            "open": conference.registration_open,
            "closes_at": iso(conference.registration_closes_at),
        },
        "sessions": [
            {
                "id": s.id,
                "title": s.title,
                "code": s.code,
                "status": s.status,
                "starts_at": iso(s.starts_at),
            }
            for s in await programme(db, conference.id)
        ],
        "organisers": [o.email for o in organisers],
        "created_by": creator,
        "registrations": await registration_counts(db, conference.id),
    }
