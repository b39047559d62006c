"""The public JSON API v1: routes, their authorisation, and the OpenAPI document that lists them.

Each endpoint is a small coroutine that reads who is asking, calls a domain action through
`Samla.change` (commit, then publish) or reads the store, and answers JSON. Each feature
lists its endpoints in `live/api/<feature>.py` as `ENDPOINTS = [route(...), ...]`, with
the typed body each reads; `live/app.py` assembles them, and the OpenAPI document is made
from the same list."""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, get_args

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute

from live import auth
from live.actions import Actor, B, Body, validate
from live.errors import STATUS, read_json, refusal_response
from live.services import Samla
from live.sockets import event_stream
from rooms import sessions
from rooms.errors import Code, Refused
from rooms.models import Session

Handler = Callable[[Request], Awaitable[Response]]
Schema = type[Body] | None


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    summary: str
    who: str
    handler: Handler
    body: Schema  # the typed body it reads: it validates, and gives the document its schema
    status: int
    # What the document says of it beyond its summary (its handler's docstring if none).
    about: str = ""
    # Its query parameters: name -> what it means.
    query: Mapping[str, str] = field(default_factory=dict)
    feature: str = ""  # the module listing it (its tag in the document)
    name: str = ""  # its handler's name (with the feature, its operationId)


def route(
    method: str,
    path: str,
    handler: Handler,
    summary: str,
    *,
    who: str,
    body: Schema = None,
    status: int = 200,
    about: str | None = None,
    query: Mapping[str, str] | None = None,
) -> Endpoint:
    """An API route; refusals from the domain become the API's error shape."""

    async def guarded(request: Request) -> Response:
        try:
            _check_ids(request)
            return await handler(request)
        except Refused as exc:
            return refusal_response(exc)

    told = inspect.cleandoc(handler.__doc__ or "") if about is None else about
    feature = handler.__module__.rpartition(".")[2]
    return Endpoint(
        method,
        path,
        summary,
        who,
        guarded,
        body,
        status,
        told,
        dict(query or {}),
        feature,
        handler.__name__,
    )


# Empty: every feature lists its ENDPOINTS now. Kept only while live/app.py still adds it.


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
    organiser_id = who.organiser_id if who.kind == "organiser" else None
    return Actor(session.id, role, participant_id, None, organiser_id)


async def participant_actor(request: Request) -> Actor | None:
    """A participant's Bearer token as the actor in their own session, without a read
    transaction (the token's owner is kept in memory): for the writes of a storm (votes,
    likes), whose batch checks the target's session and place. None for a moderator's or
    an organiser's token, which the caller reads with the target, as `actor_for` does."""
    try:
        voter = await auth.participant_by_bearer(samla_of(request).store.read, request)
    except Refused as exc:
        if exc.code != "forbidden":
            raise
        return None
    return Actor(voter.session_id, "participant", voter.participant_id, None)


async def member_session(request: Request, db: Any) -> tuple[auth.Identity, Session]:
    """Who calls, and the session of the path (not found if there is none)."""
    who = await auth.from_bearer(db, request)
    session = await sessions.session_by_id(db, request.path_params["sid"])
    return who, session


async def moderated_session(request: Request) -> Session:
    """The session of the path, if the caller moderates it (its moderator or organiser)."""
    async with samla_of(request).store.read() as db:
        who, session = await member_session(request, db)
        auth.require_moderator(who, session)
    return session


_STR = {"type": "string"}


# -- the document -------------------------------------------------------------------------

_INTRO = """Samla's public JSON API: sessions, joining, polls, note boards, questions, breakout
rooms and the archive.

**Who calls.** Send `Authorization: Bearer <token>`. An organiser's token comes from
`POST /api/v1/auth/token`; a session's moderator token from creating the session; a
participant's token from `POST /api/v1/join`. Each operation says who may call it
(a member: a participant or a moderator of that session).

**Bodies.** Requests and answers are JSON objects (at most 64 KB). A body that does not
fit its schema is refused with 422 `invalid`, and the message names the field.

**Errors.** Every refusal has the same shape, `{"error": {"code": ..., "message": ...}}`:
a stable code (see the `Error` schema) and a sentence that names the fix. A 429 carries
`Retry-After`.

**Live events.** `GET /api/v1/sessions/{sid}/events` opens a WebSocket of JSON events: a
snapshot first, then every change with the session's version."""

_EVENTS = """A WebSocket (send the same `Authorization: Bearer <token>` header). The first
frame is `{"type": "snapshot", "version": n, ...}`: the session as GET /api/v1/sessions/{sid}
describes it, with what the caller may see, and `you`: the caller's role, participant id and
room (`room_id`, and `room` with its name and `size`). Its rooms are listed with their `size`;
a moderator's also with `participant_ids`, a participant's only where they may choose a room
(an open round with `assignment: "self"`), since where everyone else sits is the moderator's
to follow, not theirs. Every later frame is an event,
`{"type": "poll.results", "version": n, ...}`, in version order; after a gap the server
sends a fresh snapshot. Events of one key that come within a tick are sent once, the
newest: a vote storm is a `poll.results` a tick with the totals. So are joins: a moderator
is told each (`participant.joined`, with the name), a participant how many have joined
(`{"type": "participants.count", "joined": n}`). A client may send the same actions as a browser
(`{"type": "rename", "name": "Anna"}`, `{"type": "ping"}`), answered by
`{"type": "ack", "for": ...}`, `{"type": "pong"}` or an error frame
`{"type": "error", "error": {"code": ..., "message": ...}}`. A caller with no right to the
session is closed with 1008; one that falls far behind is reset and reconnects to a fresh
snapshot."""

_ERROR_CODES = ", ".join(f"`{code}` ({STATUS[code]})" for code in get_args(Code))

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Every refusal: a stable code and a sentence that names the fix.",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {
                    "type": "string",
                    "enum": [*get_args(Code), "error"],
                    "description": f"With its HTTP status: {_ERROR_CODES}; `error` (500) "
                    "for anything unexpected.",
                },
                "message": {"type": "string", "description": "What went wrong, and the fix."},
            },
            "required": ["code", "message"],
        }
    },
    "required": ["error"],
}

_DONE = {200: "Done", 201: "Created", 204: "Done; no content"}


def openapi(endpoints: list[Endpoint]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of these endpoints, their bodies' schemas from their models."""
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for e in endpoints:
        paths.setdefault(e.path, {})[e.method.lower()] = _operation(e, schemas)
    paths["/api/v1/sessions/{sid}/events"] = {
        "get": {
            "operationId": "events_stream",
            "tags": ["events"],
            "summary": "WebSocket: JSON events, a snapshot first, then versioned events",
            "description": f"Who may call it: member.\n\n{_EVENTS}",
            "security": [{"bearer": []}],
            "parameters": [_path_param("sid", "sessions")],
            "responses": {"101": {"description": "Switching to the WebSocket protocol"}},
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "Samla API", "version": "1.0.0", "description": _INTRO},
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {**schemas, "Error": ERROR_SCHEMA},
        },
    }


def _operation(e: Endpoint, schemas: dict[str, Any]) -> dict[str, Any]:
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    description = f"Who may call it: {e.who}."
    if e.about:
        description += f"\n\n{e.about}"
    op: dict[str, Any] = {
        "operationId": f"{e.feature}_{e.name}",
        "tags": [e.feature],
        "summary": e.summary,
        "description": description,
        "responses": {
            str(e.status): {"description": _DONE.get(e.status, "Done")},
            "4XX": {"description": "Refused: the error shape", "content": error},
        },
    }
    if not e.who.startswith("anyone"):
        op["security"] = [{"bearer": []}]
    if e.body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _schema(e.body, schemas)}},
        }
    segments = e.path.split("/")
    params = [
        _path_param(seg[1:-1], segments[i - 1])
        for i, seg in enumerate(segments)
        if seg.startswith("{")
    ]
    params += [
        {"name": name, "in": "query", "required": False, "description": about, "schema": _STR}
        for name, about in e.query.items()
    ]
    if params:
        op["parameters"] = params
    return op


def _path_param(name: str, after: str) -> dict[str, Any]:
    """A path's id, described by the collection it follows (`/polls/{pid}`: a poll's id)."""
    thing = after.removesuffix("s").replace("-", " ")
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": f"The {thing}'s id.",
        "schema": _STR,
    }


def _schema(body: type[Body], schemas: dict[str, Any]) -> dict[str, Any]:
    """A typed body's JSON schema, its nested models shared under components."""
    found = body.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(found.pop("$defs", {}))
    schemas[body.__name__] = found
    return {"$ref": f"#/components/schemas/{body.__name__}"}


def routes(endpoints: list[Endpoint]) -> list[BaseRoute]:
    """The API's routes, its OpenAPI document (made from the same list) and its event stream."""
    document: dict[str, Any] = {}

    async def openapi_json(request: Request) -> Response:
        # Made at the first request, not at every start: a few readers ask for it.
        if not document:
            document.update(openapi(endpoints))
        return JSONResponse(document)

    out: list[BaseRoute] = [Route(e.path, e.handler, methods=[e.method]) for e in endpoints]
    out.append(Route("/api/v1/openapi.json", openapi_json, methods=["GET"]))
    out.append(WebSocketRoute("/api/v1/sessions/{sid}/events", event_stream))
    return out
