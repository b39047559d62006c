"""The public JSON API v1: routes, their authorisation, and the OpenAPI document that lists them.

Each endpoint is a small coroutine that reads who is asking, calls a domain action through
`Samla.change` (commit, then publish) or reads the store, and answers JSON. Features add
their endpoints with `@endpoint(...)` in their own module under live/api_*.py."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlmodel import col
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute

from live import auth, joining
from live.actions import Actor, B, Body, validate
from live.errors import read_json, refusal_response
from live.services import Samla
from live.sockets import event_stream
from rooms import accounts, participants, sessions
from rooms.errors import Refused
from rooms.models import Session, iso

Handler = Callable[[Request], Awaitable[Response]]
Schema = type[Body] | dict[str, Any] | None


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    summary: str
    who: str
    handler: Handler
    body: Schema  # the typed body it reads (a hand-written schema only where none is yet)
    status: int


def route(
    method: str,
    path: str,
    handler: Handler,
    summary: str,
    *,
    who: str,
    body: Schema = None,
    status: int = 200,
) -> Endpoint:
    """An API route; refusals from the domain become the API's error shape."""

    async def guarded(request: Request) -> Response:
        try:
            _check_ids(request)
            return await handler(request)
        except Refused as exc:
            return refusal_response(exc)

    return Endpoint(method, path, summary, who, guarded, body, status)


_endpoints: list[Endpoint] = []


def endpoint(
    method: str,
    path: str,
    summary: str,
    *,
    who: str,
    body: Schema = None,
    status: int = 200,
) -> Callable[[Handler], Handler]:
    """Registers an API route (the older way: modules now list theirs in ENDPOINTS)."""

    def register(fn: Handler) -> Handler:
        _endpoints.append(route(method, path, fn, summary, who=who, body=body, status=status))
        return fn

    return register


async def read_body(request: Request, model: type[B]) -> B:
    """The request's JSON body as its typed model, or a 422 naming the offending field."""
    return validate(model, await read_json(request))


# Samla's ids and codes are short and URL-safe (rooms.models.new_id); anything else in a
# path is not found without asking the store (PostgreSQL cannot even compare a NUL byte).
_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _check_ids(request: Request) -> None:
    for value in request.path_params.values():
        if not isinstance(value, str) or not _ID.fullmatch(value):
            raise Refused("not_found", "Nothing has that id.")


def samla_of(request: Request) -> Samla:
    app_samla: Samla = request.app.state.samla
    return app_samla


async def actor_for(request: Request, session_id: str) -> Actor:
    """Who calls, as the actor of an action in this session (live/actions): its participant
    or its moderator; anyone else is refused (403)."""
    async with samla_of(request).store.read() as db:
        who = await auth.from_bearer(db, request)
        session = await sessions.session_by_id(db, session_id)
        role = auth.member_role(who, session)
    participant_id = who.participant.id if role == "participant" and who.participant else None
    return Actor(session.id, role, participant_id, None)


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
    }
    if moderator_token is not None:
        out["moderator_token"] = moderator_token
    if join_url is not None:
        out["join_url"] = join_url
    return out


def join_url(request: Request, session: Session) -> str:
    return str(request.url_for("join_page", code=session.code))


def _obj(props: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": required or []}


_STR = {"type": "string"}


# -- auth ---------------------------------------------------------------------------------


@endpoint(
    "POST",
    "/api/v1/auth/token",
    "Sign in as an organiser; returns an API token",
    who="anyone",
    body=_obj({"email": _STR, "password": _STR}, ["email", "password"]),
)
async def create_token(request: Request) -> Response:
    body = await read_json(request)
    samla = samla_of(request)
    async with samla.store.read() as db:
        organiser_id = await accounts.check_password(db, body.get("email"), body.get("password"))
    async with samla.store.write() as db:
        signed = await accounts.start_login(db, organiser_id, "api")
    return JSONResponse({"token": signed.token})


@endpoint("DELETE", "/api/v1/auth/token", "Revoke this API token", who="organiser", status=204)
async def revoke_token(request: Request) -> Response:
    samla = samla_of(request)
    async with samla.store.write() as db:
        who = await auth.from_bearer(db, request)
        auth.require_organiser(who)
        assert who.login_id is not None
        await accounts.sign_out(db, who.login_id)
    await samla.hub.announce_logout(who.login_id)
    return Response(status_code=204)


# -- sessions -----------------------------------------------------------------------------

_ATTRIBUTE = _obj(
    {"key": _STR, "label": _STR, "choices": {"type": "array", "items": _STR}}, ["key", "choices"]
)


@endpoint(
    "POST",
    "/api/v1/sessions",
    "Create a session",
    who="organiser",
    status=201,
    body=_obj({"title": _STR, "attributes": {"type": "array", "items": _ATTRIBUTE}}, ["title"]),
)
async def create_session(request: Request) -> Response:
    samla = samla_of(request)
    async with samla.store.read() as db:
        organiser_id = auth.require_organiser(await auth.from_bearer(db, request))
    body = await read_json(request)
    created = await samla.change(
        lambda db: sessions.create_session(
            db,
            title=body.get("title"),
            organiser_id=organiser_id,
            attributes=body.get("attributes"),
        )
    )
    session = created.session
    return JSONResponse(
        session_json(session, created.moderator_token, join_url(request, session)), 201
    )


@endpoint("GET", "/api/v1/sessions", "The signed-in organiser's sessions", who="organiser")
async def list_sessions(request: Request) -> Response:
    samla = samla_of(request)
    async with samla.store.read() as db:
        organiser_id = auth.require_organiser(await auth.from_bearer(db, request))
        found = await db.scalars(
            select(Session)
            .where(col(Session.organiser_id) == organiser_id)
            .order_by(col(Session.created_at).desc())
        )
        listed = [session_json(s) for s in found]
    return JSONResponse({"sessions": listed})


async def _member_session(request: Request, db: Any) -> tuple[auth.Identity, Session]:
    who = await auth.from_bearer(db, request)
    session = await sessions.session_by_id(db, request.path_params["sid"])
    return who, session


async def moderated_session(request: Request) -> Session:
    """The session of the path, if the caller moderates it (its moderator or organiser)."""
    async with samla_of(request).store.read() as db:
        who, session = await _member_session(request, db)
        auth.require_moderator(who, session)
    return session


@endpoint(
    "GET", "/api/v1/sessions/{sid}", "A session with its rooms, polls and boards", who="member"
)
async def get_session(request: Request) -> Response:
    samla = samla_of(request)
    async with samla.store.read() as db:
        who, session = await _member_session(request, db)
        role = auth.member_role(who, session)
        described = await sessions.describe(db, session, role)
    return JSONResponse(described)


@endpoint(
    "POST",
    "/api/v1/sessions/{sid}/close",
    "Close a session: it is kept, read-only",
    who="moderator",
)
async def close_session(request: Request) -> Response:
    samla = samla_of(request)
    session = await moderated_session(request)
    closed = await samla.change(lambda db: sessions.close_session(db, session.id))
    return JSONResponse(
        {"id": closed.id, "status": closed.status, "closed_at": iso(closed.closed_at)}
    )


@endpoint(
    "DELETE",
    "/api/v1/sessions/{sid}",
    "Delete a session and everything in it",
    who="organiser",
    status=204,
)
async def delete_session(request: Request) -> Response:
    samla = samla_of(request)
    async with samla.store.write() as db:
        who, session = await _member_session(request, db)
        auth.require_owner(who, session)
        await sessions.delete_session(db, session.id)
    await samla.hub.announce_deleted(session.id)
    return Response(status_code=204)


@endpoint(
    "POST",
    "/api/v1/join",
    "Join a session by its code",
    who="anyone",
    status=201,
    body=_obj({"code": _STR, "name": _STR, "attributes": {"type": "object"}}, ["code"]),
)
async def join(request: Request) -> Response:
    body = await read_json(request)
    samla = samla_of(request)
    gate = joining.gate_for(samla)
    session = await gate.session_for(request, body.get("code"))
    await gate.admit(request, session)
    joined = await samla.change(
        lambda db: sessions.join(
            db, code=session.code, name=body.get("name"), attributes=body.get("attributes")
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


@endpoint(
    "GET",
    "/api/v1/sessions/{sid}/participants",
    "The session's participants, in the order they joined",
    who="moderator",
)
async def get_participants(request: Request) -> Response:
    samla = samla_of(request)
    session = await moderated_session(request)
    async with samla.store.read() as db:
        listed = await participants.list_participants(db, session.id)
    return JSONResponse({"participants": listed})


@endpoint(
    "DELETE",
    "/api/v1/sessions/{sid}/participants/{pid}",
    "Remove a participant: their token ends and their sockets close; their poll answers stay "
    "counted, anonymously; their notes and questions stay without their name, or go too "
    "with ?content=remove",
    who="moderator",
)
async def delete_participant(request: Request) -> Response:
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


# -- the document -------------------------------------------------------------------------


def openapi(endpoints: list[Endpoint]) -> dict[str, Any]:
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for e in endpoints:
        op: dict[str, Any] = {
            "summary": e.summary,
            "description": f"Who may call it: {e.who}.",
            "responses": {
                str(e.status): {"description": "Done"},
                "4XX": {"description": "Refused", "content": error},
            },
        }
        if e.who != "anyone":
            op["security"] = [{"bearer": []}]
        if e.body is not None:
            op["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": _schema(e.body, schemas)}},
            }
        params = [seg[1:-1] for seg in e.path.split("/") if seg.startswith("{")]
        if params:
            op["parameters"] = [
                {"name": p, "in": "path", "required": True, "schema": _STR} for p in params
            ]
        paths.setdefault(e.path, {})[e.method.lower()] = op
    paths["/api/v1/sessions/{sid}/events"] = {
        "get": {
            "summary": "WebSocket: JSON events, a snapshot first, then versioned events",
            "security": [{"bearer": []}],
            "parameters": [{"name": "sid", "in": "path", "required": True, "schema": _STR}],
            "responses": {"101": {"description": "Switching to the WebSocket protocol"}},
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "Samla API", "version": "1.0.0"},
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                **schemas,
                "Error": _obj(
                    {"error": _obj({"code": _STR, "message": _STR}, ["code", "message"])}, ["error"]
                ),
            },
        },
    }


def _schema(body: type[Body] | dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    """A typed body's JSON schema, its nested models shared under components."""
    if isinstance(body, dict):
        return body
    found = body.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(found.pop("$defs", {}))
    schemas[body.__name__] = found
    return {"$ref": f"#/components/schemas/{body.__name__}"}


def routes(endpoints: list[Endpoint]) -> list[BaseRoute]:
    """The API's routes, its OpenAPI document (made from the same list) and its event stream."""
    document = openapi(endpoints)

    async def openapi_json(request: Request) -> Response:
        return JSONResponse(document)

    out: list[BaseRoute] = [Route(e.path, e.handler, methods=[e.method]) for e in endpoints]
    out.append(Route("/api/v1/openapi.json", openapi_json, methods=["GET"]))
    out.append(WebSocketRoute("/api/v1/sessions/{sid}/events", event_stream))
    return out
