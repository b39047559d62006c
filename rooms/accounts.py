"""Organiser accounts and their logins: Argon2 passwords, server-side revocable tokens."""

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

from rooms.errors import Refused, invalid
from rooms.models import EMAIL_MAX, Login, Organiser, digest, new_secret
from rooms.text import clean

PASSWORD_MIN = 10
PASSWORD_MAX = 1024
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
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


async def add_organiser(db: AsyncSession, email: Any, password: Any) -> Organiser:
    address = _email(email)
    if not isinstance(password, str) or not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise invalid(f"The password must be {PASSWORD_MIN} to {PASSWORD_MAX} characters.")
    if await db.scalar(select(Organiser).where(col(Organiser.email) == address)):
        raise Refused("conflict", f"An organiser with {address} already exists.")
    organiser = Organiser(email=address, password_hash=_hasher.hash(password))
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
