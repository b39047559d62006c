"""The public API's poll routes: create, open, close, answer, results, and hiding answers."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from live import auth
from live.api import _STR, _member_session, _obj, endpoint, samla_of
from live.errors import read_json
from rooms import polls, sessions
from rooms.models import Session

_BOOL = {"type": "boolean"}
_INT = {"type": "integer"}
_IDS = {"type": "array", "items": _STR}

_POLL = _obj(
    {
        "question": _STR,
        "kind": {"enum": list(polls.KINDS)},
        "options": _IDS,
        "room_id": _STR,
        "allow_change": _BOOL,
        "max_choices": _INT,
        "scale": _obj({"min": _INT, "max": _INT, "min_label": _STR, "max_label": _STR}),
        "show_results": {"enum": list(polls.SHOW_RESULTS)},
    },
    ["question", "kind"],
)
_VOTE = _obj({"choices": _IDS, "value": _INT, "words": _IDS, "text": _STR})


async def _poll_session(request: Request, db: Any) -> tuple[auth.Identity, polls.Poll, Session]:
    """Who asks, and the poll of the path with its session (404 before 403: ids are opaque)."""
    who = await auth.from_bearer(db, request)
    poll = await polls.poll_by_id(db, request.path_params["pid"])
    session = await sessions.session_by_id(db, poll.session_id)
    return who, poll, session


@endpoint(
    "POST",
    "/api/v1/sessions/{sid}/polls",
    "Prepare a poll (a draft)",
    who="moderator",
    body=_POLL,
    status=201,
)
async def create_poll(request: Request) -> Response:
    samla = samla_of(request)
    async with samla.store.read() as db:
        who, session = await _member_session(request, db)
        auth.require_moderator(who, session)
    body = await read_json(request)
    created = await samla.change(lambda db: polls.create_poll(db, session.id, body))
    return JSONResponse(created, 201)


async def _run_poll(request: Request, act: Any) -> Response:
    samla = samla_of(request)
    async with samla.store.read() as db:
        who, poll, session = await _poll_session(request, db)
        auth.require_moderator(who, session)
    done = await samla.change(lambda db: act(db, poll.id))
    return JSONResponse(done)


@endpoint("POST", "/api/v1/polls/{pid}/open", "Open (or reopen) a poll", who="moderator")
async def open_poll(request: Request) -> Response:
    return await _run_poll(request, polls.open_poll)


@endpoint(
    "POST",
    "/api/v1/polls/{pid}/close",
    "Close a poll; its ballots are unlinked from their voters",
    who="moderator",
)
async def close_poll(request: Request) -> Response:
    return await _run_poll(request, polls.close_poll)


@endpoint(
    "POST",
    "/api/v1/polls/{pid}/votes",
    "Answer a poll (201), or change the answer (200)",
    who="participant",
    body=_VOTE,
    status=201,
)
async def vote(request: Request) -> Response:
    samla = samla_of(request)
    async with samla.store.read() as db:
        who, poll, session = await _poll_session(request, db)
        participant = auth.require_participant(who, session)
    body = await read_json(request)
    voted = await samla.change(lambda db: polls.vote(db, poll.id, participant.id, body))
    return JSONResponse(
        {"poll_id": voted.poll_id, "replaced": voted.replaced}, 200 if voted.replaced else 201
    )


@endpoint(
    "GET",
    "/api/v1/polls/{pid}/results",
    "A poll's results, as this member may see them",
    who="member (participants as show_results allows)",
)
async def results(request: Request) -> Response:
    samla = samla_of(request)
    async with samla.store.read() as db:
        who, poll, session = await _poll_session(request, db)
        role = auth.member_role(who, session)
        found = await polls.results_for(db, poll.id, role, who.participant)
    return JSONResponse(found)


@endpoint(
    "POST",
    "/api/v1/polls/{pid}/answers/{aid}/hide",
    "Hide an open answer from participants and the big screen ({hidden: false} shows it)",
    who="moderator",
    body=_obj({"hidden": _BOOL}),
)
async def hide_answer(request: Request) -> Response:
    samla = samla_of(request)
    async with samla.store.read() as db:
        who, poll, session = await _poll_session(request, db)
        auth.require_moderator(who, session)
    body = await read_json(request)
    aid = request.path_params["aid"]
    hidden = await samla.change(
        lambda db: polls.hide_answer(db, poll.id, aid, body.get("hidden", True))
    )
    return JSONResponse(hidden)


@endpoint(
    "POST",
    "/api/v1/polls/{pid}/hidden-words",
    "Hide a word of a word cloud ({word, hidden: false} shows it again)",
    who="moderator",
    body=_obj({"word": _STR, "hidden": _BOOL}, ["word"]),
)
async def hide_word(request: Request) -> Response:
    samla = samla_of(request)
    async with samla.store.read() as db:
        who, poll, session = await _poll_session(request, db)
        auth.require_moderator(who, session)
    body = await read_json(request)
    words = await samla.change(
        lambda db: polls.hide_word(db, poll.id, body.get("word"), body.get("hidden", True))
    )
    return JSONResponse({"poll_id": poll.id, "hidden_words": words})
