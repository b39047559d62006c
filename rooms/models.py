"""The stored rows every feature stands on: organisers, their logins, sessions, participants."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, Literal, TypeVar

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

T = TypeVar("T")

Role = Literal["participant", "moderator", "presenter"]
ROLES: tuple[Role, ...] = ("participant", "moderator", "presenter")
# Who runs the session and its screens, as against those taking part.
STAFF: frozenset[Role] = frozenset({"moderator", "presenter"})
PARTICIPANTS: frozenset[Role] = frozenset({"participant"})

# Field limits (characters, after trimming), shared by the API, the forms and the sockets.
NAME_MAX = 80
TITLE_MAX = 200
EMAIL_MAX = 254
ATTRIBUTE_KEY_MAX = 40
ATTRIBUTE_LABEL_MAX = 120
ATTRIBUTE_CHOICES_MAX = 30
ATTRIBUTES_MAX = 10
STAGE_TEXT_MAX = 280
DESCRIPTION_MAX = 4000
REPORT_SUMMARY_MAX = 20_000


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.replace(microsecond=0).isoformat() + "Z"


def new_id() -> str:
    return secrets.token_urlsafe(9)


def new_secret(prefix: str) -> str:
    """A bearer secret; its prefix says its kind, so it is only looked up in its own table."""
    return f"{prefix}_{secrets.token_urlsafe(24)}"


def digest(secret: str) -> str:
    """Secrets are stored as their SHA-256: they are long and random, so no salt or stretching."""
    return hashlib.sha256(secret.encode()).hexdigest()


# An organisation's name, as "in cooperation with" names it on an event's report.
ORGANISATION_MAX = 120


class Organiser(SQLModel, table=True):
    """An organiser account; its organisation (optional) names it on its events' reports."""

    id: str = Field(default_factory=new_id, primary_key=True, max_length=16)
    email: str = Field(unique=True, max_length=EMAIL_MAX)
    password_hash: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow)
    organisation: str | None = Field(default=None, max_length=ORGANISATION_MAX)


class Login(SQLModel, table=True):
    """One signed-in browser or one API token of an organiser; deleting it ends it everywhere."""

    id: str = Field(default_factory=new_id, primary_key=True, max_length=16)
    organiser_id: str = Field(foreign_key="organiser.id", ondelete="CASCADE", index=True)
    token_hash: str = Field(unique=True, max_length=64)
    kind: str = Field(max_length=8)  # "web" or "api"
    created_at: datetime = Field(default_factory=utcnow)


class Conference(SQLModel, table=True):
    """An event (the API's word): a conference day or a consultation, a programme of sessions
    with one registration. Its organisers are its creator and the co-organisers added
    (`Organising`); every one of them has every organiser right on it and its sessions."""

    id: str = Field(default_factory=new_id, primary_key=True, max_length=16)
    title: str = Field(max_length=TITLE_MAX)
    description: str = Field(default="", max_length=DESCRIPTION_MAX)
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    # The questions asked of everyone in it, at registration and at every session's join.
    attributes: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    access: str = Field(default="open", max_length=8)  # "open" or "invited"
    registration_open: bool = Field(default=False)
    registration_closes_at: datetime | None = None
    # Whose event it is: the account that created it (shown on the organiser page).
    organiser_id: str | None = Field(
        default=None, foreign_key="organiser.id", ondelete="SET NULL", index=True
    )
    created_at: datetime = Field(default_factory=utcnow)


class Organising(SQLModel, table=True):
    """An organiser of an event: its creator, and every co-organiser added."""

    conference_id: str = Field(foreign_key="conference.id", ondelete="CASCADE", primary_key=True)
    organiser_id: str = Field(
        foreign_key="organiser.id", ondelete="CASCADE", primary_key=True, index=True
    )
    added_at: datetime = Field(default_factory=utcnow)


class Registration(SQLModel, table=True):
    """Someone who applied to an event: personal data, kept with the event and deleted when
    they withdraw. `email_key` (the address lower-cased) makes it one per email per event."""

    __table_args__ = (Index("ix_registration_email", "conference_id", "email_key", unique=True),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=16)
    conference_id: str = Field(foreign_key="conference.id", ondelete="CASCADE", index=True)
    name: str = Field(max_length=NAME_MAX)
    email: str = Field(max_length=EMAIL_MAX)
    email_key: str = Field(max_length=EMAIL_MAX)
    attributes: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON))
    status: str = Field(default="applied", max_length=10)  # applied, selected, waitlisted
    # A waitlisted registrant's place in the order they would be asked (1 first).
    place: int | None = None
    locale: str = Field(default="sv", max_length=8)  # the language they registered in
    consented_at: datetime = Field(default_factory=utcnow)
    created_at: datetime = Field(default_factory=utcnow)
    # Digests of the secrets their links carry: the link to withdraw, and the personal
    # invitation (made when they are invited).
    withdraw_hash: str = Field(unique=True, max_length=64)
    invite_hash: str | None = Field(default=None, unique=True, max_length=64)


class Report(SQLModel, table=True):
    """An event's edited report: the editor's summary, the curated sections and what is left
    out (`sections`: [{"id", "title", "items": [{"note_id", "text"?}]}], `omitted`: note
    ids), whether it shows names, and whether it is published at its public address.
    `version` rises with every saved draft, so two editors at once never overwrite each
    other unseen."""

    conference_id: str = Field(foreign_key="conference.id", ondelete="CASCADE", primary_key=True)
    summary: str = Field(default="", max_length=REPORT_SUMMARY_MAX)
    sections: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    omitted: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    with_names: bool = Field(default=False)
    version: int = Field(default=0)
    published_at: datetime | None = None
    updated_at: datetime = Field(default_factory=utcnow)


class Session(SQLModel, table=True):
    id: str = Field(default_factory=new_id, primary_key=True, max_length=16)
    code: str = Field(unique=True, max_length=12)
    title: str = Field(max_length=TITLE_MAX)
    status: str = Field(default="open", max_length=8)  # "open" or "closed"
    # Raised in the same transaction as every change, so an instance can tell it is behind.
    version: int = Field(default=0)
    organiser_id: str | None = Field(
        default=None, foreign_key="organiser.id", ondelete="SET NULL", index=True
    )
    moderator_token_hash: str = Field(unique=True, max_length=64)
    attributes: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    created_at: datetime = Field(default_factory=utcnow)
    closed_at: datetime | None = None
    # What the hall's big screen shows (rooms/stage.py): a view, what it shows of it, and
    # whether a poll's results are revealed there.
    stage_show: str = Field(default="join", max_length=8)
    stage_ref: str | None = Field(default=None, max_length=16)
    stage_text: str | None = Field(default=None, max_length=STAGE_TEXT_MAX)
    stage_reveal: bool = Field(default=False)
    # The stage link's salt: its secret is derived from it and SECRET_KEY, so nothing that
    # opens the stage is stored; a new salt revokes the old link.
    stage_salt: str | None = Field(default=None, max_length=24)
    # The join attribute a poll's results on the stage are split by (None: not split).
    stage_by: str | None = Field(default=None, max_length=ATTRIBUTE_KEY_MAX)
    # The event whose programme it is part of (None: a session on its own), and when.
    conference_id: str | None = Field(
        default=None, foreign_key="conference.id", ondelete="CASCADE", index=True
    )
    starts_at: datetime | None = None
    # Calls on the video service (rooms/calls.py): tables in the hall have none unless the
    # organiser says so (their people talk face to face); a plenary call for remote people.
    hall_calls: bool = Field(default=False)
    plenary_call: bool = Field(default=False)


class Participant(SQLModel, table=True):
    __table_args__ = (Index("ix_participant_session_joined", "session_id", "joined_at"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=16)
    session_id: str = Field(foreign_key="session.id", ondelete="CASCADE")
    token_hash: str = Field(unique=True, max_length=64)
    name: str | None = Field(default=None, max_length=NAME_MAX)
    attributes: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON))
    joined_at: datetime = Field(default_factory=utcnow)
    # The registrant who joined with their personal invitation (one per session).
    registration_id: str | None = Field(
        default=None, foreign_key="registration.id", ondelete="SET NULL", index=True
    )


# As an event's room_id: only participants in the plenary (in no breakout room) are told.
PLENARY = "plenary"


@dataclass(frozen=True)
class Event:
    """A committed change, told to everyone who shows it.

    `key` lets a burst collapse: of the events sharing a key within one tick only the
    last is sent. `room_id` limits which participants are told (None: the whole session,
    PLENARY: those in no room); `roles` limits it to some audiences (None: all)."""

    type: str
    data: dict[str, Any] = field(default_factory=dict)
    key: str | None = None
    room_id: str | None = None
    roles: frozenset[Role] | None = None


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """What a domain action returns: its value for the caller, its events for everyone else."""

    session_id: str
    value: T
    events: tuple[Event, ...] = ()


# The minutes' tables stand on the rows above; imported last, so they are registered too.
from rooms.minutes import tables as _minutes_tables  # noqa: E402, F401
