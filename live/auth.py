"""Who is asking: identity from a Bearer token or the signed cookie, and what it may do."""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection

from rooms import accounts, participants, sessions
from rooms.errors import Refused, forbidden
from rooms.events import conferences
from rooms.models import Participant, Role, Session

Kind = Literal["organiser", "moderator", "participant"]


@dataclass(frozen=True)
class Identity:
    kind: Kind
    token: str
    organiser_id: str | None = None
    login_id: str | None = None
    session_id: str | None = None  # the one session a moderator or participant token is for
    participant: Participant | None = None
    # The events an organiser organises: they have the organiser's rights on their sessions.
    conferences: frozenset[str] = frozenset()

    def organises(self, session: Session) -> bool:
        """An organiser's rights on this session: part of an event they organise, or, outside
        events, theirs."""
        if self.kind != "organiser" or self.organiser_id is None:
            return False
        if session.conference_id is not None:
            # An event's session is its organisers': one removed from the event loses it.
            return session.conference_id in self.conferences
        return session.organiser_id is not None and session.organiser_id == self.organiser_id


def bearer(conn: HTTPConnection) -> str | None:
    header = conn.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()[:200]


async def identify(db: AsyncSession, token: str) -> Identity | None:
    """The identity a token stands for; None for an unknown, ended or malformed token."""
    if token.startswith("o_"):
        login = await accounts.login_by_token(db, token)
        if login is not None:
            return Identity(
                "organiser",
                token,
                organiser_id=login.organiser_id,
                login_id=login.id,
                conferences=await conferences.conferences_of(db, login.organiser_id),
            )
    elif token.startswith("m_"):
        session = await sessions.session_by_moderator_token(db, token)
        if session is not None:
            return Identity("moderator", token, session_id=session.id)
    elif token.startswith("p_"):
        participant = await sessions.participant_by_token(db, token)
        if participant is not None:
            return Identity(
                "participant", token, session_id=participant.session_id, participant=participant
            )
    return None


async def from_bearer(db: AsyncSession, conn: HTTPConnection) -> Identity:
    token = bearer(conn)
    if token is None:
        raise Refused("unauthorized", "Send a token: Authorization: Bearer <token>.")
    who = await identify(db, token)
    if who is None:
        raise Refused("unauthorized", "That token is unknown or has been revoked.")
    return who


# -- the browser's signed cookie ----------------------------------------------------------
# It holds the tokens this browser was given: {"o": organiser login, "m": {sid: moderator
# token}, "p": {sid: participant token}, "csrf": form secret}. Starlette signs it with
# SECRET_KEY; the tokens themselves are checked against the store on every use.


def cookie(conn: HTTPConnection) -> dict[str, Any]:
    jar: dict[str, Any] = conn.session
    return jar


def remember(conn: HTTPConnection, kind: Literal["m", "p"], session_id: str, token: str) -> None:
    jar = cookie(conn)
    tokens = dict(jar.get(kind) or {})
    tokens[session_id] = token
    # A browser seldom holds more than a few sessions; the cookie must stay under 4 KB.
    jar[kind] = dict(list(tokens.items())[-8:])


def held_token(conn: HTTPConnection, kind: Literal["m", "p"], session_id: str) -> str | None:
    """The token of this kind the cookie holds for this session, if any."""
    held = cookie(conn).get(kind)
    token = held.get(session_id) if isinstance(held, dict) else None
    return token if isinstance(token, str) else None


async def browser_identities(
    db: AsyncSession, conn: HTTPConnection, session_id: str | None
) -> list[Identity]:
    """Every identity the cookie carries that is still valid (for one session, if given)."""
    jar = cookie(conn)
    tokens: list[str] = []
    if isinstance(jar.get("o"), str):
        tokens.append(jar["o"])
    for kind in ("m", "p"):
        held = jar.get(kind)
        if isinstance(held, dict):
            tokens += [
                t
                for sid, t in held.items()
                if isinstance(t, str) and (session_id is None or sid == session_id)
            ]
    found = [await identify(db, t) for t in tokens]
    return [who for who in found if who is not None]


def csrf_token(conn: HTTPConnection) -> str:
    jar = cookie(conn)
    if not isinstance(jar.get("csrf"), str):
        jar["csrf"] = secrets.token_urlsafe(24)
    token: str = jar["csrf"]
    return token


def csrf_ok(conn: HTTPConnection, sent: Any) -> bool:
    expected = cookie(conn).get("csrf")
    return (
        isinstance(sent, str) and isinstance(expected, str) and hmac.compare_digest(sent, expected)
    )


def origin_allowed(conn: HTTPConnection, allowed: tuple[str, ...]) -> bool:
    """An exact allow-list; without one, only the origin Samla itself is served on: the same
    scheme, host and port, so a page on https://host cannot speak for http://host."""
    origin = conn.headers.get("origin")
    if not origin:
        return False
    origin = origin.rstrip("/")
    if allowed:
        return origin in allowed
    own = own_origin(conn)
    return own is not None and _origin_of(origin) == own


# A socket's scheme is ws or wss; its origin is that of the page that opened it.
_PAGE_SCHEME = {"http": "http", "ws": "http", "https": "https", "wss": "https"}
_DEFAULT_PORT = {"http": 80, "https": 443}


def own_origin(conn: HTTPConnection) -> tuple[str, str, int] | None:
    """(scheme, host, port) this request reached Samla on, as the browser saw it: the scheme
    is https behind a trusted proxy that says so (uvicorn's proxy headers)."""
    scheme = _PAGE_SCHEME.get(conn.scope.get("scheme", "http"))
    host = conn.headers.get("host")
    if scheme is None or not host:
        return None
    return _origin_of(f"{scheme}://{host}")


def _origin_of(url: str) -> tuple[str, str, int] | None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORT or not parts.hostname or parts.path:
        return None
    return parts.scheme, parts.hostname, port or _DEFAULT_PORT[parts.scheme]


# -- what an identity may do in a session ---------------------------------------------------


def role_in(who: Identity, session: Session) -> Role | None:
    if who.kind == "participant":
        return "participant" if who.session_id == session.id else None
    if who.kind == "moderator":
        return "moderator" if who.session_id == session.id else None
    if who.organises(session):
        return "moderator"
    return None


def member_role(who: Identity, session: Session) -> Role:
    role = role_in(who, session)
    if role is None:
        raise forbidden("This token is not for this session.")
    return role


def require_moderator(who: Identity, session: Session) -> None:
    if role_in(who, session) != "moderator":
        raise forbidden("Only this session's moderators may do that.")


def require_organiser(who: Identity) -> str:
    if who.kind != "organiser" or who.organiser_id is None:
        raise forbidden("Only an organiser may do that; sign in with POST /api/v1/auth/token.")
    return who.organiser_id


def require_owner(who: Identity, session: Session) -> None:
    """The session's organisers only: its creator, or an organiser of its event."""
    require_organiser(who)
    if not who.organises(session):
        raise forbidden("Only this session's organisers may do that.")


# -- participants' tokens on the hot path -------------------------------------------------------


@dataclass(frozen=True)
class Voter:
    participant_id: str
    session_id: str


# A vote storm asks the same question thousands of times a second: whose is this token?
# The answer is noted at join (or at first use) and kept for ten minutes in this process.
# A participant token never changes owner; the worst a stale entry can do is let a deleted
# participant's write reach the domain, which refuses it (its session and poll are gone).
_VOTER_TTL = 600.0
_VOTERS_MAX = 100_000
_voters: dict[str, tuple[float, Voter]] = {}


def remember_voter(token: str, participant_id: str, session_id: str) -> None:
    """Called at join: the new token's owner is known without asking the store."""
    if len(_voters) >= _VOTERS_MAX:
        _voters.clear()
    _voters[token] = (time.monotonic() + _VOTER_TTL, Voter(participant_id, session_id))


def forget_participant(participant_id: str) -> None:
    """A removed participant's tokens are asked of the store again, which no longer knows
    them. Rare (a moderator's hand), so a walk over the kept tokens is cheap enough."""
    for token, (_, voter) in list(_voters.items()):
        if voter.participant_id == participant_id:
            _voters.pop(token, None)


async def participant_by_bearer(db_read: Callable[[], Any], conn: HTTPConnection) -> Voter:
    """The participant a Bearer token stands for, read at most every ten minutes."""
    token = bearer(conn)
    if token is None:
        raise Refused("unauthorized", "Send a token: Authorization: Bearer <token>.")
    found = await voter(db_read, token)
    if found is not None:
        return found
    async with db_read() as db:
        who = await identify(db, token)
    if who is None:
        raise Refused("unauthorized", "That token is unknown or has been revoked.")
    raise forbidden("Only participants may do that; join the session first.")


async def voter(db_read: Callable[[], Any], token: str) -> Voter | None:
    """The participant a token stands for: the kept answer, or one plain read (None for any
    other token). Whoever relies on it for more than a write the domain checks again (a
    socket's snapshot) reads whether the participant is still in the session."""
    now = time.monotonic()
    kept = _voters.get(token)
    if kept is not None and kept[0] > now:
        return kept[1]
    async with db_read() as db:
        row = await participants.owner_of_token(db, token)
    if row is None:
        return None
    found = Voter(*row)
    if len(_voters) >= _VOTERS_MAX:
        _voters.clear()
    _voters[token] = (now + _VOTER_TTL, found)
    return found
