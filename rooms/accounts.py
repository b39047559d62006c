"""Organiser accounts and their logins: Argon2 passwords, server-side revocable tokens; the
organisation an account names on its events' reports."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any, Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from rooms.errors import Refused, invalid, not_found
from rooms.models import EMAIL_MAX, ORGANISATION_MAX, Login, Organiser, digest, new_secret
from rooms.text import clean, optional

PASSWORD_MIN = 10
PASSWORD_MAX = 1024
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Anything that reads as an address within a name: a public page never shows one.
_ADDRESS = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
NOT_AN_ADDRESS = "The organisation is shown on public pages: give its name, not an email address."
_hasher = PasswordHasher()
# Verifying against this when the email is unknown keeps the answer's timing the same.
_DUMMY_HASH = _hasher.hash("samla-no-such-organiser")


@dataclass(frozen=True)
class SignedIn:
    login: Login
    token: str


def _email(raw: Any) -> str:
    email = clean(raw, "The email address", EMAIL_MAX).lower()
    if not _EMAIL.match(email):
        raise invalid("That is not an email address.")
    return email


def organisation_name(raw: Any) -> str | None:
    """An organisation's name as stored: trimmed, at most ORGANISATION_MAX characters; blank
    is none. It is printed on public pages, so it is a name and never an email address."""
    name = optional(raw, "The organisation", ORGANISATION_MAX, name=True)
    if name is not None and _ADDRESS.search(name):
        raise invalid(NOT_AN_ADDRESS)
    return name


async def add_organiser(
    db: AsyncSession, email: Any, password: Any, organisation: Any = None
) -> Organiser:
    address = _email(email)
    if not isinstance(password, str) or not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise invalid(f"The password must be {PASSWORD_MIN} to {PASSWORD_MAX} characters.")
    name = organisation_name(organisation)
    if await db.scalar(select(Organiser).where(col(Organiser.email) == address)):
        raise Refused("conflict", f"An organiser with {address} already exists.")
    organiser = Organiser(email=address, password_hash=_hasher.hash(password), organisation=name)
    db.add(organiser)
    await db.flush()
    return organiser


async def organiser_by_id(db: AsyncSession, organiser_id: str) -> Organiser:
    found = await db.get(Organiser, organiser_id)
    if found is None:
        raise not_found("organiser account")
    return found


async def set_organisation(db: AsyncSession, organiser_id: str, organisation: Any) -> Organiser:
    """Sets (or, given blank, removes) the organisation the account names on its events."""
    name = organisation_name(organisation)
    organiser = await organiser_by_id(db, organiser_id)
    organiser.organisation = name
    db.add(organiser)
    await db.flush()
    return organiser


async def check_password(db: AsyncSession, email: Any, password: Any) -> str:
    """The organiser's id, if `password` is theirs. Argon2's deliberate work (tens of
    milliseconds) runs in a thread: call this in a read, never while holding a write."""
    refused = Refused("unauthorized", "That email and password do not match an organiser.")
    if not isinstance(email, str) or not isinstance(password, str) or len(password) > PASSWORD_MAX:
        raise refused
    address = email.strip().lower()
    # Checked before the store is asked: PostgreSQL cannot even compare a NUL byte.
    if len(address) > EMAIL_MAX or not address.isprintable() or not _EMAIL.match(address):
        raise invalid("The email is not an email address.")
    organiser = await db.scalar(select(Organiser).where(col(Organiser.email) == address))
    stored = organiser.password_hash if organiser else _DUMMY_HASH
    try:
        await asyncio.to_thread(_hasher.verify, stored, password)
    except (VerificationError, InvalidHashError):
        raise refused from None
    if organiser is None:
        raise refused
    return organiser.id


async def start_login(db: AsyncSession, organiser_id: str, kind: Literal["web", "api"]) -> SignedIn:
    """A new login for an organiser whose password was checked."""
    token = new_secret("o")
    login = Login(organiser_id=organiser_id, token_hash=digest(token), kind=kind)
    db.add(login)
    await db.flush()
    return SignedIn(login, token)


async def login_by_token(db: AsyncSession, token: str) -> Login | None:
    if not token.startswith("o_"):
        return None
    return await db.scalar(select(Login).where(col(Login.token_hash) == digest(token)))


async def sign_out(db: AsyncSession, login_id: str) -> None:
    await db.execute(delete(Login).where(col(Login.id) == login_id))
