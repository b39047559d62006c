"""The public API's Q&A routes: questions, upvotes, moderation.

Every write performs the same action as its socket message (live/actions/questions.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import StrictBool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from live import auth
from live.actions import Body, perform
from live.actions import questions as act
from live.api.base import Endpoint, actor_for, participant_actor, read_body, route, samla_of
from live.errors import read_json
from rooms import questions, sessions


class Approved(Body):
    approved: StrictBool = True


class Answered(Body):
    answered: StrictBool = True


async def ask(request: Request) -> Response:
    sid = request.path_params["sid"]
    actor = await actor_for(request, sid)
    raw = await read_json(request)
    question, new = await perform(samla_of(request), act.ASK, actor, raw)
    return JSONResponse(question, 201 if new else 200)


async def list_questions(request: Request) -> Response:
    samla = samla_of(request)
    sort: Literal["upvotes", "time"] = (
        "time" if request.query_params.get("sort") == "time" else "upvotes"
    )
    async with samla.store.read() as db:
        who = await auth.from_bearer(db, request)
        session = await sessions.session_by_id(db, request.path_params["sid"])
        role = auth.member_role(who, session)
        listed = await questions.list_questions(
            db,
            session.id,
            moderator=role == "moderator",
            sort=sort,
            participant_id=who.participant.id if who.participant else None,
        )
        approval = await questions.approval_required(db, session.id)
    return JSONResponse({"questions": listed, "approval": approval})


async def _question(request: Request) -> questions.Question:
    async with samla_of(request).store.read() as db:
        return await questions.question_by_id(db, request.path_params["qid"])


async def _upvote(request: Request, take_back: bool) -> Response:
    # As a note's like: a participant's reads nothing before its batch checks the question.
    actor = await participant_actor(request)
    if actor is None:
        actor = await actor_for(request, (await _question(request)).session_id)
    raw = {"question": request.path_params["qid"], "take_back": take_back}
    return JSONResponse({"upvotes": await perform(samla_of(request), act.LIKE, actor, raw)})


async def upvote_question(request: Request) -> Response:
    return await _upvote(request, take_back=False)


async def take_back_question_upvote(request: Request) -> Response:
    return await _upvote(request, take_back=True)


async def approve_question(request: Request) -> Response:
    q = await _question(request)
    actor = await actor_for(request, q.session_id)
    approved = (await read_body(request, Approved)).approved
    raw = {"question": q.id, "do": "approve" if approved else "reject"}
    return JSONResponse(await perform(samla_of(request), act.MODERATE, actor, raw))


async def mark_answered(request: Request) -> Response:
    q = await _question(request)
    actor = await actor_for(request, q.session_id)
    answered = (await read_body(request, Answered)).answered
    raw = {"question": q.id, "do": "answered" if answered else "unanswered"}
    return JSONResponse(await perform(samla_of(request), act.MODERATE, actor, raw))


async def show_question(request: Request) -> Response:
    q = await _question(request)
    raw = {"question": q.id, "do": "show"}
    actor = await actor_for(request, q.session_id)
    return JSONResponse(await perform(samla_of(request), act.MODERATE, actor, raw))


async def question_settings(request: Request) -> Response:
    sid = request.path_params["sid"]
    actor = await actor_for(request, sid)
    approval = await perform(samla_of(request), act.APPROVAL, actor, await read_json(request))
    return JSONResponse({"approval": approval})


ENDPOINTS: list[Endpoint] = [
    route(
        "POST",
        "/api/v1/sessions/{sid}/questions",
        ask,
        "Ask the panel a question",
        who="participant",
        body=act.NewQuestion,
        status=201,
    ),
    route(
        "GET",
        "/api/v1/sessions/{sid}/questions",
        list_questions,
        "The questions, by upvotes (?sort=time: newest first)",
        who="member",
    ),
    route(
        "POST",
        "/api/v1/questions/{qid}/upvote",
        upvote_question,
        "Upvote a question (once per participant)",
        who="participant",
    ),
    route(
        "DELETE",
        "/api/v1/questions/{qid}/upvote",
        take_back_question_upvote,
        "Take back your upvote of a question",
        who="participant",
    ),
    route(
        "POST",
        "/api/v1/questions/{qid}/approve",
        approve_question,
        "Approve a waiting question, or reject it with {approved: false}",
        who="moderator",
        body=Approved,
    ),
    route(
        "POST",
        "/api/v1/questions/{qid}/answered",
        mark_answered,
        "Mark a question answered, or not with {answered: false}",
        who="moderator",
        body=Answered,
    ),
    route(
        "POST",
        "/api/v1/questions/{qid}/show",
        show_question,
        "Show this question on the presenter view",
        who="moderator",
    ),
    route(
        "POST",
        "/api/v1/sessions/{sid}/questions/settings",
        question_settings,
        "Require approval before questions are shown",
        who="moderator",
        body=act.Approval,
    ),
]
