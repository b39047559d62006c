"""The public API's poll routes: create, open, close, answer, results, and hiding answers.

Each route that changes something performs the same action as its socket message
(live/actions/polls.py): the same validation, quota, batching and refusals."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from live import auth
from live.actions import Action, Actor, perform
from live.actions import polls as actions
from live.api.base import Endpoint, actor_for, participant_actor, route, samla_of
from live.errors import read_json
from rooms import polls, sessions
from rooms.errors import forbidden


async def _perform(request: Request, action: Action[Any], actor: Actor) -> Any:
    """The action with the request's body and the ids of its path (the path's win)."""
    body = await read_json(request)
    return await perform(samla_of(request), action, actor, {**body, **_ids(request)})


def _ids(request: Request) -> dict[str, Any]:
    names = {"pid": "poll_id", "aid": "answer_id"}
    return {names[k]: v for k, v in request.path_params.items() if k in names}


async def _poll_actor(request: Request) -> Actor:
    """Who calls, as the actor in the session of the path's poll (401, then 404, then 403)."""
    async with samla_of(request).store.read() as db:
        await auth.from_bearer(db, request)
        poll = await polls.poll_by_id(db, request.path_params["pid"])
    return await actor_for(request, poll.session_id)


async def create_poll(request: Request) -> Response:
    actor = await actor_for(request, request.path_params["sid"])
    created = await _perform(request, actions.CREATE, actor)
    return JSONResponse(created, 201)


async def open_poll(request: Request) -> Response:
    return JSONResponse(await _perform(request, actions.OPEN, await _poll_actor(request)))


async def close_poll(request: Request) -> Response:
    return JSONResponse(await _perform(request, actions.CLOSE, await _poll_actor(request)))


async def vote(request: Request) -> Response:
    # No read transaction of its own: the batch checks the poll, its session and place. A
    # moderator's or organiser's token is refused by the action, as over a socket.
    actor = await participant_actor(request) or await _poll_actor(request)
    voted: polls.Voted = await _perform(request, actions.VOTE, actor)
    return JSONResponse(
        {"poll_id": voted.poll_id, "replaced": voted.replaced}, 200 if voted.replaced else 201
    )


async def results(request: Request) -> Response:
    """A poll's results; `?by=key` (moderators) adds `groups`, split by that join attribute,
    a hidden group (`hidden`: "small", or "protects" one) without its counts."""
    samla = samla_of(request)
    by = request.query_params.get("by")
    async with samla.store.read() as db:
        who = await auth.from_bearer(db, request)
        poll = await polls.poll_by_id(db, request.path_params["pid"])
        session = await sessions.session_by_id(db, poll.session_id)
        role = auth.member_role(who, session)
        if by is not None and role != "moderator":
            raise forbidden("Only this session's moderators may split the results (by).")
        found = await polls.results_for(db, poll.id, role, who.participant)
        if by is not None:
            attribute = polls.attribute_named(session.attributes, by)
            split = (await polls.split_results(db, poll, [attribute]))[0]
            found["by"] = {"key": split["key"], "label": split["label"]}
            found["groups"] = split["groups"]
    return JSONResponse(found)


async def duplicate_poll(request: Request) -> Response:
    made = await _perform(request, actions.DUPLICATE, await _poll_actor(request))
    return JSONResponse(made, 201)


async def import_polls(request: Request) -> Response:
    """Copies polls of another session of the same organiser into this one, as drafts, in
    the order they were made there (the plenary's: rooms belong to their own session)."""
    actor = await actor_for(request, request.path_params["sid"])
    made = await _perform(request, actions.IMPORT, actor)
    return JSONResponse({"polls": made}, 201)


async def hide_answer(request: Request) -> Response:
    actor = await _poll_actor(request)
    return JSONResponse(await _perform(request, actions.HIDE_ANSWER, actor))


async def hide_word(request: Request) -> Response:
    actor = await _poll_actor(request)
    words = await _perform(request, actions.HIDE_WORD, actor)
    return JSONResponse({"poll_id": request.path_params["pid"], "hidden_words": words})


ENDPOINTS: list[Endpoint] = [
    route(
        "POST",
        "/api/v1/sessions/{sid}/polls",
        create_poll,
        "Prepare a poll (a draft)",
        who="moderator",
        body=actions.NewPoll,
        status=201,
    ),
    route(
        "POST", "/api/v1/polls/{pid}/open", open_poll, "Open (or reopen) a poll", who="moderator"
    ),
    route(
        "POST",
        "/api/v1/polls/{pid}/close",
        close_poll,
        "Close a poll; its ballots are unlinked from their voters",
        who="moderator",
    ),
    route(
        "POST",
        "/api/v1/polls/{pid}/votes",
        vote,
        "PollAnswer a poll (201), or change the answer (200)",
        who="participant",
        body=actions.PollAnswer,
        status=201,
    ),
    route(
        "GET",
        "/api/v1/polls/{pid}/results",
        results,
        "A poll's results, as this member may see them; ?by=key (moderators) splits them "
        "by a join attribute",
        who="member (participants as show_results allows)",
        query={
            "by": "a join attribute's key (moderators only): adds `groups`, one per choice "
            "and `choice: null` for no answer; a hidden group (fewer than 3 voters, or hidden "
            "to protect one: `hidden` says which) shows null counts"
        },
    ),
    route(
        "POST",
        "/api/v1/polls/{pid}/duplicate",
        duplicate_poll,
        "Duplicate a poll: a new draft with its question, kind, options and settings",
        who="moderator",
        status=201,
    ),
    route(
        "POST",
        "/api/v1/sessions/{sid}/polls/import",
        import_polls,
        "Reuse polls of another session of the same organiser, as drafts",
        who="moderator",
        body=actions.PollImport,
        status=201,
    ),
    route(
        "POST",
        "/api/v1/polls/{pid}/answers/{aid}/hide",
        hide_answer,
        "Hide an open answer from participants and the big screen ({hidden: false} shows it)",
        who="moderator",
        body=actions.PollHiding,
    ),
    route(
        "POST",
        "/api/v1/polls/{pid}/hidden-words",
        hide_word,
        "Hide a word of a word cloud ({word, hidden: false} shows it again)",
        who="moderator",
        body=actions.PollHiddenWord,
    ),
]
