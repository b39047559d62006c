"""The public API's sign-in, session, join and participant routes."""

from __future__ import annotations

from typing import Any

from pydantic import Field
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from live import auth, joining
from live.actions import Body, joins
from live.actions.calls import CallsBody
from live.api.base import Endpoint, member_session, moderated_session, read_body, route, samla_of
from live.api.stage import stage_url
from live.services import Samla
from rooms import accounts, calls, copying, lifecycle, participants, sessions
from rooms.errors import Refused
from rooms.events import conferences
from rooms.models import Outcome, Session, iso


class TokenBody(Body):
    """An organiser's sign-in."""

    email: str = Field(description="The organiser's email address.")
    password: str = Field(description="The organiser's password.")


class AttributeBody(Body):
    """Something the session asks each participant when they join (their sector, say)."""

    key: str = Field(description="Lower-case letters, digits or _; unique in the session.")
    label: str | None = Field(None, description="What participants are asked; the key if none.")
    choices: list[str] = Field(description="The answers offered, each once.")


class SessionBody(Body):
    """A new session."""

    title: str = Field(description="The session's title, as participants see it.")
    attributes: list[AttributeBody] | None = Field(
        None, description="What to ask each participant when they join."
    )
    event_id: str | None = Field(
        None,
        description="The event whose programme the session joins (one you organise); it "
        "asks the event's attributes at join.",
    )
    starts_at: str | None = Field(
        None, description="When it starts (ISO 8601 UTC): its place in the programme."
    )
    calls: CallsBody | None = Field(
        None, description="Which calls it has besides its breakout rooms' (none: neither)."
    )


class DuplicateBody(Body):
    """A session copied as a template."""

    title: str | None = Field(None, description="The copy's title; the original's if none.")


class JoinBody(Body):
    """Joining a session by its code."""

    code: str = Field(description='The join code, spaces allowed ("1234 5678").')
    name: str | None = Field(None, description="The name others see; none to stay anonymous.")
    attributes: dict[str, str | None] | None = Field(
        None, description="An answer for each of the session's attributes: key to choice."
    )
    invite: str | None = Field(
        None,
        description="The token of a personal invitation: joins as that registrant, with "
        "their name and attributes (required in an event with access invited).",
    )


def session_json(
    session: Session, moderator_token: str | None = None, join_url: str | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": session.id,
        "code": session.code,
        "title": session.title,
        "status": session.status,
        "attributes": session.attributes,
        "created_at": iso(session.created_at),
        "event_id": session.conference_id,
        "starts_at": iso(session.starts_at),
        "calls": calls.choice_of(session).as_json(),
    }
    if moderator_token is not None:
        out["moderator_token"] = moderator_token
    if join_url is not None:
        out["join_url"] = join_url
    return out


def join_url(request: Request, session: Session) -> str:
    return str(request.url_for("join_page", code=session.code))


# -- auth ---------------------------------------------------------------------------------


async def create_token(request: Request) -> Response:
    """An API token for the organiser whose email and password these are; it lasts until
    revoked. A pair that does not match is 401 `unauthorized`."""
    body = await read_body(request, TokenBody)
    samla = samla_of(request)
    async with samla.store.read() as db:
        organiser_id = await accounts.check_password(db, body.email, body.password)
    async with samla.store.write() as db:
        signed = await accounts.start_login(db, organiser_id, "api")
    return JSONResponse({"token": signed.token})


async def revoke_token(request: Request) -> Response:
    """Ends this token at once, on every instance; event streams opened with it close."""
    samla = samla_of(request)
    async with samla.store.write() as db:
        who = await auth.from_bearer(db, request)
        auth.require_organiser(who)
        assert who.login_id is not None
        await accounts.sign_out(db, who.login_id)
    await samla.hub.announce_logout(who.login_id)
    return Response(status_code=204)


# -- sessions -----------------------------------------------------------------------------


async def create_session(request: Request) -> Response:
    """A new open session with a fresh join code. The answer carries the moderator token
    (shown only here) and the link participants join by."""
    samla = samla_of(request)
    async with samla.store.read() as db:
        organiser_id = auth.require_organiser(await auth.from_bearer(db, request))
    body = await read_body(request, SessionBody)
    attributes = (
        None
        if body.attributes is None
        else [a.model_dump(exclude_none=True) for a in body.attributes]
    )

    async def create(db: AsyncSession) -> Outcome[sessions.Created]:
        conference = (
            None
            if body.event_id is None
            else await conferences.require_organising(db, organiser_id, body.event_id)
        )
        created = await sessions.create_session(
            db,
            title=body.title,
            organiser_id=organiser_id,
            attributes=attributes,
            conference=conference,
            starts_at=body.starts_at,
        )
        if body.calls is not None:
            chosen = body.calls
            calls.choose(
                created.value.session, hall_tables=chosen.hall_tables, plenary=chosen.plenary
            )
        return created

    created = await samla.change(create)
    session = created.session
    answer = session_json(session, created.moderator_token, join_url(request, session))
    answer["stage_url"] = stage_url(request, session.id, session.stage_salt)
    return JSONResponse(answer, 201)


async def list_sessions(request: Request) -> Response:
    """The sessions this organiser created or organises in an event, the newest first,
    without their contents."""
    samla = samla_of(request)
    async with samla.store.read() as db:
        who = await auth.from_bearer(db, request)
        organiser_id = auth.require_organiser(who)
        found = await db.scalars(
            select(Session)
            .where(
                or_(
                    col(Session.organiser_id) == organiser_id,
                    col(Session.conference_id).in_(who.conferences),
                )
            )
            .order_by(col(Session.created_at).desc())
        )
        listed = [session_json(s) for s in found]
    return JSONResponse({"sessions": listed})


async def get_session(request: Request) -> Response:
    """What the session holds, as the caller may see it (a participant is not shown what is
    still being prepared). Its `version` rises with every change."""
    samla = samla_of(request)
    async with samla.store.read() as db:
        who, session = await member_session(request, db)
        role = auth.member_role(who, session)
        described = await lifecycle.describe(db, session, role)
    return JSONResponse(described)


async def close_session(request: Request) -> Response:
    """Its open polls and rooms close with it; later changes are refused with 409
    `session_closed`. Everything stays readable and in the archive."""
    samla = samla_of(request)
    session = await moderated_session(request)
    closed = await samla.change(lambda db: lifecycle.close_session(db, session.id))
    return JSONResponse(
        {"id": closed.id, "status": closed.status, "closed_at": iso(closed.closed_at)}
    )


async def delete_session(request: Request) -> Response:
    """Only the organiser who created it may. Everything in it goes, and every socket
    open on it closes."""
    samla = samla_of(request)
    async with samla.store.write() as db:
        who, session = await member_session(request, db)
        auth.require_owner(who, session)
        await sessions.delete_session(db, session.id)
    await samla.hub.announce_deleted(session.id)
    return Response(status_code=204)


async def duplicate_session(request: Request) -> Response:
    """A new session prepared like this one: its join questions, its polls (as drafts), its
    boards (with their columns, without notes) and its last round of breakout rooms (as a
    prepared round); none of its people or answers. Only the organiser who created it may.
    The answer is that of creating a session: a new code and a new moderator token."""
    samla = samla_of(request)
    async with samla.store.read() as db:
        who, session = await member_session(request, db)
        auth.require_owner(who, session)
    body = await read_body(request, DuplicateBody)
    created = await samla.change(
        lambda db: copying.duplicate_session(
            db, session.id, organiser_id=session.organiser_id, title=body.title
        )
    )
    copy = created.session
    answer = session_json(copy, created.moderator_token, join_url(request, copy))
    answer["stage_url"] = stage_url(request, copy.id, copy.stage_salt)
    return JSONResponse(answer, 201)


async def join(request: Request) -> Response:
    """The caller becomes a participant; the answer's token is theirs. Wrong codes from one
    address are limited (429 `rate_limited`), and so are joins into one session."""
    body = await read_body(request, JoinBody)
    samla = samla_of(request)
    gate = joining.gate_for(samla)
    session = await gate.session_for(request, body.code)
    await gate.admit(request, session)
    if not body.invite:
        joined = await joins.join(samla, session, body.name, body.attributes)
    else:
        joined = await samla.change(
            lambda db: lifecycle.join(
                db,
                code=session.code,
                name=body.name,
                attributes=body.attributes,
                invite=body.invite,
            )
        )
    p = joined.participant
    auth.remember_voter(joined.token, p.id, p.session_id)
    return JSONResponse(
        {
            "participant_id": p.id,
            "token": joined.token,
            "session_id": p.session_id,
            "name": p.name,
            "attributes": p.attributes,
        },
        201,
    )


# -- participants -------------------------------------------------------------------------


async def get_participants(request: Request) -> Response:
    """Each with their name, their answers to the session's attributes, their breakout
    room (null: the plenary) and when they joined."""
    samla = samla_of(request)
    session = await moderated_session(request)
    async with samla.store.read() as db:
        listed = await participants.list_participants(db, session.id)
    return JSONResponse({"participants": listed})


async def delete_participant(request: Request) -> Response:
    """`content=remove` deletes their notes and questions as well."""
    samla = samla_of(request)
    session = await moderated_session(request)
    content = request.query_params.get("content", "keep")
    if content not in ("keep", "remove"):
        raise Refused("invalid", "content must be keep (the default) or remove.")
    removed = await remove_participant(
        samla, session.id, request.path_params["pid"], remove_content=content == "remove"
    )
    return JSONResponse(
        {
            "participant_id": removed.participant_id,
            "content": removed.content,
            "notes": removed.notes,
            "questions": removed.questions,
            "ballots": removed.ballots,
        }
    )


async def remove_participant(
    samla: Samla, session_id: str, participant_id: str, *, remove_content: bool
) -> participants.Removed:
    """Removes them in the store, then ends what this and every other instance holds for
    them: their open sockets close, and their token is asked of the store again."""
    removed = await samla.change(
        lambda db: participants.remove_participant(
            db, session_id, participant_id, remove_content=remove_content
        )
    )
    await samla.hub.announce_removed(removed.participant_id)
    return removed


ENDPOINTS: list[Endpoint] = [
    route(
        "POST",
        "/api/v1/auth/token",
        create_token,
        "Sign in as an organiser; returns an API token",
        who="anyone",
        body=TokenBody,
    ),
    route(
        "DELETE",
        "/api/v1/auth/token",
        revoke_token,
        "Revoke this API token",
        who="organiser",
        status=204,
    ),
    route(
        "POST",
        "/api/v1/sessions",
        create_session,
        "Create a session",
        who="organiser",
        body=SessionBody,
        status=201,
    ),
    route(
        "GET",
        "/api/v1/sessions",
        list_sessions,
        "The signed-in organiser's sessions",
        who="organiser",
    ),
    route(
        "GET",
        "/api/v1/sessions/{sid}",
        get_session,
        "A session with its rooms, polls and boards",
        who="member",
    ),
    route(
        "POST",
        "/api/v1/sessions/{sid}/close",
        close_session,
        "Close a session: it is kept, read-only",
        who="moderator",
    ),
    route(
        "DELETE",
        "/api/v1/sessions/{sid}",
        delete_session,
        "Delete a session and everything in it",
        who="organiser",
        status=204,
    ),
    route(
        "POST",
        "/api/v1/sessions/{sid}/duplicate",
        duplicate_session,
        "Duplicate a session as a template: its polls, boards and room plan, without people",
        who="organiser",
        body=DuplicateBody,
        status=201,
    ),
    route(
        "POST",
        "/api/v1/join",
        join,
        "Join a session by its code",
        who="anyone",
        body=JoinBody,
        status=201,
    ),
    route(
        "GET",
        "/api/v1/sessions/{sid}/participants",
        get_participants,
        "The session's participants, in the order they joined",
        who="moderator",
    ),
    route(
        "DELETE",
        "/api/v1/sessions/{sid}/participants/{pid}",
        delete_participant,
        "Remove a participant: their token ends and their sockets close; their poll answers "
        "stay counted, anonymously; their notes and questions stay without their name, or go "
        "too with ?content=remove",
        who="moderator",
        query={
            "content": "keep (the default) or remove: what becomes of their notes and questions."
        },
    ),
]
