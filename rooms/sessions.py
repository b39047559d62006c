"""Sessions and the people in them: creating, joining by code, closing, deleting."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from rooms.errors import Refused, forbidden, invalid, not_found
from rooms.locks import Lock, locked
from rooms.models import (
    ATTRIBUTE_CHOICES_MAX,
    ATTRIBUTE_KEY_MAX,
    ATTRIBUTE_LABEL_MAX,
    ATTRIBUTES_MAX,
    NAME_MAX,
    PARTICIPANTS,
    STAFF,
    TITLE_MAX,
    Conference,
    Event,
    Outcome,
    Participant,
    Registration,
    Session,
    digest,
    iso,
    new_secret,
    utcnow,
)
from rooms.text import clean, moment, optional

# Join codes: 8 random digits, shown as "1234 5678". A hundred million codes against a
# guessing limit per address (live/joining.py); sessions made with the 6-digit codes of
# before keep theirs, and a lookup compares the digits as stored.
CODE_DIGITS = 8
CODE_LENGTH_MAX = 12  # the column's width: anything longer is no code
_KEY = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Created:
    session: Session
    moderator_token: str


@dataclass(frozen=True)
class Joined:
    participant: Participant
    token: str


async def create_session(
    db: AsyncSession,
    *,
    title: Any,
    organiser_id: str | None,
    attributes: Any = None,
    conference: Conference | None = None,
    starts_at: Any = None,
) -> Outcome[Created]:
    """A new session; one in an event's programme asks the event's questions at join."""
    clean_title = clean(title, "The title", TITLE_MAX, name=True)
    if conference is None:
        asked = clean_attributes(attributes)
    elif attributes not in (None, []):
        raise invalid("attributes come from the event for a session in its programme.")
    else:
        asked = list(conference.attributes)
    token = new_secret("m")
    session = Session(
        code=await _free_code(db),
        title=clean_title,
        organiser_id=organiser_id,
        moderator_token_hash=digest(token),
        attributes=asked,
        conference_id=conference.id if conference is not None else None,
        starts_at=moment(starts_at, "starts_at"),
    )
    db.add(session)
    await db.flush()
    return Outcome(session.id, Created(session, token), (Event("session.created"),))


def show_code(code: str) -> str:
    """A code as people read it aloud and type it: groups of four from the left, the
    6-digit codes of before as two groups of three."""
    if len(code) == 6:
        return f"{code[:3]} {code[3:]}"
    return " ".join(code[i : i + 4] for i in range(0, len(code), 4))


async def _free_code(db: AsyncSession) -> str:
    for _ in range(20):
        code = "".join(secrets.choice("0123456789") for _ in range(CODE_DIGITS))
        taken = await db.scalar(select(func.count()).where(col(Session.code) == code))
        if not taken:
            return code
    raise Refused("conflict", "No free join code was found; try again.")


def clean_attributes(raw: Any) -> list[dict[str, Any]]:
    if raw is None:
        return []
    if not isinstance(raw, list) or len(raw) > ATTRIBUTES_MAX:
        raise invalid(f"attributes must be a list of at most {ATTRIBUTES_MAX}.")
    seen: set[str] = set()
    out: list[dict[str, Any]] = []
    for item in raw:
        if not isinstance(item, dict):
            raise invalid("Each attribute must be an object with key, label and choices.")
        key = clean(item.get("key"), "An attribute key", ATTRIBUTE_KEY_MAX)
        if not _KEY.match(key) or key in seen:
            raise invalid(f"Attribute key {key!r} must be unique, lower-case letters, digits or _.")
        seen.add(key)
        label = clean(item.get("label", key), "An attribute label", ATTRIBUTE_LABEL_MAX)
        choices = item.get("choices")
        if not isinstance(choices, list) or not 1 <= len(choices) <= ATTRIBUTE_CHOICES_MAX:
            raise invalid(f"Attribute {key!r} needs between 1 and {ATTRIBUTE_CHOICES_MAX} choices.")
        labels = [clean(c, "A choice", ATTRIBUTE_LABEL_MAX) for c in choices]
        if len(set(labels)) != len(labels):
            raise invalid(f"Attribute {key!r} has the same choice twice.")
        out.append({"key": key, "label": label, "choices": labels})
    return out


async def session_by_id(db: AsyncSession, session_id: str) -> Session:
    session = await db.get(Session, session_id)
    if session is None:
        raise not_found("session")
    return session


async def session_by_code(db: AsyncSession, code: Any) -> Session:
    if not isinstance(code, str):
        raise invalid("The code must be text.")
    digits = re.sub(r"[\s#-]", "", code)
    session = (
        await db.scalar(select(Session).where(col(Session.code) == digits))
        # Only digits are ever a code: anything else (a NUL byte, which PostgreSQL cannot
        # even compare) is not found without asking the store.
        if 0 < len(digits) <= CODE_LENGTH_MAX and digits.isascii() and digits.isdigit()
        else None
    )
    if session is None:
        raise not_found("session with that code")
    return session


async def writable(db: AsyncSession, session_id: str, *, lock: Lock = "key share") -> Session:
    """The session, if it still takes changes; every write in a session starts here.

    Its row stays locked until the write commits: a close (which locks it for update)
    waits for the writes under way, and a write that comes later waits for the close and
    then finds the session closed. Writes hold it shared with each other and with the
    version bump that ends each of them."""
    session = await locked(db, Session, session_id, lock)
    if session is None:
        raise not_found("session")
    if session.status != "open":
        raise Refused("session_closed", "This session is closed; it can be read but not changed.")
    return session


# Ids are short (rooms.models.new_id); anything longer names no one, without a lookup.
ID_MAX = 40


async def participant_in(db: AsyncSession, session_id: str, participant_id: Any) -> Participant:
    """A participant of this session; one of another session is forbidden, not hidden."""
    if not isinstance(participant_id, str) or not 0 < len(participant_id) <= ID_MAX:
        raise not_found("participant")
    found = await db.get(Participant, participant_id)
    if found is None:
        raise not_found("participant")
    if found.session_id != session_id:
        raise forbidden("This participant belongs to another session.")
    return found


async def add_participant(
    db: AsyncSession,
    *,
    code: Any,
    name: Any = None,
    attributes: Any = None,
    registration: Registration | None = None,
) -> Outcome[Joined]:
    """Someone joins by code: the participant alone (`rooms.lifecycle.join` also seats them).

    A registrant joining with their personal invitation joins with their name and answers;
    one who joined this session before (on another device) is the same participant, with a
    new token."""
    session = await open_to_join(db, (await session_by_code(db, code)).id)
    token = new_secret("p")
    if registration is not None:
        again = await db.scalar(
            select(Participant).where(
                col(Participant.session_id) == session.id,
                col(Participant.registration_id) == registration.id,
            )
        )
        if again is not None:
            again.token_hash = digest(token)
            db.add(again)
            return Outcome(session.id, Joined(again, token))
        asked = {a["key"] for a in session.attributes}
        clean_name: str | None = registration.name
        given = {k: v for k, v in registration.attributes.items() if k in asked}
    else:
        clean_name = optional(name, "The name", NAME_MAX, name=True)
        given = clean_answers(session.attributes, attributes)
    participant = Participant(
        session_id=session.id,
        token_hash=digest(token),
        name=clean_name,
        attributes=given,
        registration_id=registration.id if registration is not None else None,
    )
    db.add(participant)
    await db.flush()
    return Outcome(session.id, Joined(participant, token), joined_events([participant]))


async def open_to_join(db: AsyncSession, session_id: str) -> Session:
    """The session, locked as `writable` locks it (no one joins after a close that is under
    way), if it still takes new participants."""
    session = await locked(db, Session, session_id, "key share")
    if session is None or session.status != "open":
        raise Refused("session_closed", "This session has ended; it takes no new participants.")
    return session


async def add_participants(
    db: AsyncSession, session: Session, arrivals: list[tuple[Any, Any]]
) -> Outcome[list[Joined | Refused]]:
    """Several people join an open session (`open_to_join`) by its code, each with their
    name and answers: each is accepted or refused on its own, as `add_participant` would,
    and those accepted are stored with one round of inserts."""
    done: list[Joined | Refused] = []
    for name, attributes in arrivals:
        try:
            clean_name = optional(name, "The name", NAME_MAX, name=True)
            given = clean_answers(session.attributes, attributes)
        except Refused as exc:
            done.append(exc)
            continue
        token = new_secret("p")
        participant = Participant(
            session_id=session.id, token_hash=digest(token), name=clean_name, attributes=given
        )
        done.append(Joined(participant, token))
    people = [d.participant for d in done if isinstance(d, Joined)]
    db.add_all(people)
    await db.flush()
    return Outcome(session.id, done, joined_events(people))


def joined_events(people: list[Participant]) -> tuple[Event, ...]:
    """Who joined is for those who run the session; everyone else is told how many have,
    once per tick however many join in it (a hall of thousands arriving at once)."""
    if not people:
        return ()
    told = [
        Event("participant.joined", {"participant_id": p.id, "name": p.name}, roles=STAFF)
        for p in people
    ]
    counted = Event("participants.count", {}, key="participants.count", roles=PARTICIPANTS)
    return (*told, counted)


def clean_answers(
    asked_list: list[dict[str, Any]], raw: Any, *, every: bool = False
) -> dict[str, str]:
    """The answers to the questions asked (key: one of its choices); `every` question must
    be answered at a registration, while a join may leave some out."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise invalid("attributes must be an object of key: choice.")
    asked = {a["key"]: a for a in asked_list}
    out: dict[str, str] = {}
    for key, choice in raw.items():
        if key not in asked:
            raise invalid(f"This session does not ask for {str(key)[:40]!r}.")
        if choice in (None, ""):
            continue
        if choice not in asked[key]["choices"]:
            raise invalid(f"{str(choice)[:60]!r} is not one of the choices for {key!r}.")
        out[key] = choice
    if every:
        missing = [key for key in asked if key not in out]
        if missing:
            raise invalid(f"Answer every question: {missing[0]!r} is missing.")
    return out


async def rename(
    db: AsyncSession, participant_id: str, name: Any, attributes: Any = None
) -> Outcome[str | None]:
    """A participant gives themselves a name, or blanks it, and changes their answers to the
    session's questions when they give them (they stay the same participant: their votes,
    notes and seat are theirs still)."""
    participant = await db.get(Participant, participant_id)
    if participant is None:
        raise not_found("participant")
    session = await writable(db, participant.session_id)
    participant.name = optional(name, "The name", NAME_MAX, name=True)
    if attributes is not None:
        participant.attributes = clean_answers(session.attributes, attributes)
    db.add(participant)
    event = Event(
        "participant.renamed", {"participant_id": participant.id, "name": participant.name}
    )
    return Outcome(participant.session_id, participant.name, (event,))


def mark_closed(db: AsyncSession, session: Session) -> Event:
    """The session itself closes (`rooms.lifecycle.close_session` winds up its features first)."""
    session.status = "closed"
    session.closed_at = utcnow()
    db.add(session)
    return Event("session.closed")


async def delete_session(db: AsyncSession, session_id: str) -> None:
    """Removes the session and, through the schema's cascades, everything in it."""
    await session_by_id(db, session_id)
    await db.execute(delete(Session).where(col(Session.id) == session_id))


async def bump_version(db: AsyncSession, session_id: str, steps: int) -> int:
    """Raises the session's version by `steps` in the caller's transaction; returns the new one."""
    # On the connection, past the ORM: every change of every feature passes here.
    conn = await db.connection()
    version = await conn.scalar(
        update(Session)
        .where(col(Session.id) == session_id)
        .values(version=col(Session.version) + steps)
        .returning(col(Session.version))
    )
    if version is None:
        raise not_found("session")
    return int(version)


async def versions(db: AsyncSession, session_ids: list[str]) -> dict[str, int]:
    rows = await db.execute(
        select(col(Session.id), col(Session.version)).where(col(Session.id).in_(session_ids))
    )
    return {sid: int(v) for sid, v in rows.all()}


async def participant_by_token(db: AsyncSession, token: str) -> Participant | None:
    if not token.startswith("p_"):
        return None
    return await db.scalar(select(Participant).where(col(Participant.token_hash) == digest(token)))


async def session_by_moderator_token(db: AsyncSession, token: str) -> Session | None:
    if not token.startswith("m_"):
        return None
    return await db.scalar(
        select(Session).where(col(Session.moderator_token_hash) == digest(token))
    )


async def participant_count(db: AsyncSession, session_id: str) -> int:
    return int(
        await db.scalar(select(func.count()).where(col(Participant.session_id) == session_id)) or 0
    )


async def describe_session(db: AsyncSession, session: Session) -> dict[str, Any]:
    """The session's own fields (`rooms.lifecycle.describe` adds its rooms, polls and boards)."""
    return {
        "id": session.id,
        "code": session.code,
        "title": session.title,
        "status": session.status,
        "version": session.version,
        "attributes": session.attributes,
        "created_at": iso(session.created_at),
        "closed_at": iso(session.closed_at),
        "participants": await participant_count(db, session.id),
    }
