"""The JSON API of note boards and Q&A: boards, notes, upvotes, moderation, dot votes, questions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from live import auth, quotas
from live.api.base import Endpoint, Handler, _obj, endpoint, samla_of
from live.errors import read_json
from rooms import boards, questions, sessions
from rooms.errors import Refused
from rooms.models import Participant, Session

_STR = {"type": "string"}
_BOOL = {"type": "boolean"}


async def _identity(request: Request, db: AsyncSession) -> auth.Identity:
    return await auth.from_bearer(db, request)


async def _participant_in(request: Request, db: AsyncSession, session_id: str) -> Participant:
    who = await _identity(request, db)
    session = await sessions.session_by_id(db, session_id)
    return auth.require_participant(who, session)


async def _moderator_of(request: Request, db: AsyncSession, session_id: str) -> Session:
    who = await _identity(request, db)
    session = await sessions.session_by_id(db, session_id)
    auth.require_moderator(who, session)
    return session


async def _limit(request: Request, quota: quotas.Quota, participant: Participant) -> None:
    await quotas.spend(samla_of(request).limiter, quota, participant.id)


# -- boards -------------------------------------------------------------------------------


@endpoint(
    "POST",
    "/api/v1/sessions/{sid}/boards",
    "Add a note board to the plenary or a room",
    who="moderator",
    status=201,
    body=_obj(
        {
            "title": _STR,
            "columns": {"type": "array", "items": _STR},
            "room_id": _STR,
            "template": {"enum": list(boards.TEMPLATES)},
        }
    ),
)
async def create_board(request: Request) -> Response:
    samla = samla_of(request)
    sid = request.path_params["sid"]
    async with samla.store.read() as db:
        await _moderator_of(request, db, sid)
    body = await read_json(request)
    board = await samla.change(
        lambda db: boards.create_board(
            db,
            sid,
            title=body.get("title"),
            columns=body.get("columns"),
            room_id=body.get("room_id"),
            template=body.get("template"),
        )
    )
    return JSONResponse(
        {**boards.board_summary(board), "columns": [boards.column_json(c) for c in board.columns]},
        201,
    )


@endpoint(
    "POST",
    "/api/v1/sessions/{sid}/room-boards",
    "Give every open breakout room its own board from a template",
    who="moderator",
    status=201,
    body=_obj({"template": {"enum": list(boards.TEMPLATES)}, "title": _STR}, ["template"]),
)
async def create_room_boards(request: Request) -> Response:
    samla = samla_of(request)
    sid = request.path_params["sid"]
    async with samla.store.read() as db:
        await _moderator_of(request, db, sid)
    body = await read_json(request)
    template = body.get("template")
    if not isinstance(template, str) or template not in boards.TEMPLATES:
        raise Refused("invalid", f"template must be one of {', '.join(boards.TEMPLATES)}.")
    made = await samla.change(
        lambda db: boards.create_room_boards(db, sid, template, body.get("title"))
    )
    listed = [
        {**boards.board_summary(b), "columns": [boards.column_json(c) for c in b.columns]}
        for b in made
    ]
    return JSONResponse({"boards": listed}, 201)


@endpoint(
    "GET",
    "/api/v1/boards/{bid}",
    "A board with its notes (hidden ones for moderators)",
    who="member",
)
async def get_board(request: Request) -> Response:
    samla = samla_of(request)
    async with samla.store.read() as db:
        who = await _identity(request, db)
        board = await boards.board_by_id(db, request.path_params["bid"])
        session = await sessions.session_by_id(db, board.session_id)
        role = auth.member_role(who, session)
        pid = who.participant.id if who.participant else None
        if not await boards.may_see(db, board, role, pid):
            raise Refused("forbidden", "This board belongs to another room.")
        described = await boards.describe_board(db, board, include_hidden=role == "moderator")
    return JSONResponse(described)


@endpoint(
    "POST", "/api/v1/boards/{bid}/show", "Show this board on the presenter view", who="moderator"
)
async def show_board(request: Request) -> Response:
    samla = samla_of(request)
    async with samla.store.read() as db:
        board = await boards.board_by_id(db, request.path_params["bid"])
        await _moderator_of(request, db, board.session_id)
    await samla.change(lambda db: boards.show_board(db, board.id, board.session_id))
    return JSONResponse({"shown": board.id})


# -- notes --------------------------------------------------------------------------------

_CARD = _obj({k: _STR for k in boards.CARD_FIELDS}, ["what"])


@endpoint(
    "POST",
    "/api/v1/boards/{bid}/notes",
    "Post a note (re-sending one stores it once)",
    who="participant",
    status=201,
    body=_obj(
        {"text": _STR, "column": _STR, "anonymous": _BOOL, "nonce": _STR, "fields": _CARD},
        ["column"],
    ),
)
async def add_note(request: Request) -> Response:
    samla = samla_of(request)
    async with samla.store.read() as db:
        board = await boards.board_by_id(db, request.path_params["bid"])
        participant = await _participant_in(request, db, board.session_id)
    body = await read_json(request)
    await _limit(request, quotas.NOTE, participant)
    note, new = await samla.change(
        lambda db: boards.add_note(
            db,
            participant,
            board.id,
            text=body.get("text"),
            column=body.get("column"),
            anonymous=body.get("anonymous") is True,
            nonce=body.get("nonce"),
            fields=body.get("fields"),
        )
    )
    return JSONResponse(note, 201 if new else 200)


async def _note_session(request: Request, db: AsyncSession) -> tuple[str, str]:
    note = await boards.note_by_id(db, request.path_params["nid"])
    return note.id, note.session_id


@endpoint(
    "PATCH",
    "/api/v1/notes/{nid}",
    "Edit your own note",
    who="participant",
    body=_obj({"text": _STR, "fields": _CARD}),
)
async def edit_note(request: Request) -> Response:
    samla = samla_of(request)
    async with samla.store.read() as db:
        nid, sid = await _note_session(request, db)
        participant = await _participant_in(request, db, sid)
    body = await read_json(request)
    note = await samla.change(
        lambda db: boards.edit_note(
            db, participant, nid, text=body.get("text"), fields=body.get("fields")
        )
    )
    return JSONResponse(note)


@endpoint(
    "DELETE",
    "/api/v1/notes/{nid}",
    "Delete your own note (a moderator: any note)",
    who="participant or moderator",
    status=204,
)
async def delete_note(request: Request) -> Response:
    samla = samla_of(request)
    async with samla.store.read() as db:
        nid, sid = await _note_session(request, db)
        who = await _identity(request, db)
        session = await sessions.session_by_id(db, sid)
        role = auth.member_role(who, session)
    if role == "moderator":
        await samla.change(lambda db: boards.delete_note(db, nid, session_id=sid))
    else:
        participant = auth.require_participant(who, session)
        await samla.change(lambda db: boards.delete_note(db, nid, participant=participant))
    return Response(status_code=204)


async def _upvote_note(request: Request, take_back: bool) -> Response:
    return await _upvote(request, _note_session, boards.upvote_note, take_back)


async def _upvote(request: Request, find: Any, upvote: Any, take_back: bool) -> Response:
    """An upvote (or taking it back) of a note or a question: `find` reads the item's id and
    session from the path, `upvote` is the domain action."""
    samla = samla_of(request)
    async with samla.store.read() as db:
        item_id, sid = await find(request, db)
        participant = await _participant_in(request, db, sid)
    await _limit(request, quotas.UPVOTE, participant)
    count = await samla.change(lambda db: upvote(db, participant, item_id, take_back=take_back))
    return JSONResponse({"upvotes": count})


@endpoint(
    "POST", "/api/v1/notes/{nid}/upvote", "Upvote a note (once per participant)", who="participant"
)
async def upvote_note(request: Request) -> Response:
    return await _upvote_note(request, take_back=False)


@endpoint(
    "DELETE", "/api/v1/notes/{nid}/upvote", "Take back your upvote of a note", who="participant"
)
async def take_back_note_upvote(request: Request) -> Response:
    return await _upvote_note(request, take_back=True)


def _moderation(
    path: str, summary: str, body: dict[str, Any] | None = None
) -> Callable[[Handler], Handler]:
    return endpoint("POST", path, summary, who="moderator", body=body)


async def _moderate_note(request: Request, act: Any) -> Response:
    samla = samla_of(request)
    async with samla.store.read() as db:
        nid, sid = await _note_session(request, db)
        await _moderator_of(request, db, sid)
    body = await read_json(request)
    note = await samla.change(lambda db: act(db, sid, nid, body))
    return JSONResponse(note)


@_moderation("/api/v1/notes/{nid}/hide", "Hide a note from participants and the big screen")
async def hide_note(request: Request) -> Response:
    return await _moderate_note(
        request, lambda db, sid, nid, body: boards.hide_note(db, sid, nid, hidden=True)
    )


@_moderation("/api/v1/notes/{nid}/restore", "Show a hidden note again")
async def restore_note(request: Request) -> Response:
    return await _moderate_note(
        request, lambda db, sid, nid, body: boards.hide_note(db, sid, nid, hidden=False)
    )


@_moderation(
    "/api/v1/notes/{nid}/pin",
    "Pin a note to the top, or unpin it with {pinned: false}",
    _obj({"pinned": _BOOL}),
)
async def pin_note(request: Request) -> Response:
    return await _moderate_note(
        request,
        lambda db, sid, nid, body: boards.pin_note(
            db, sid, nid, pinned=body.get("pinned", True) is not False
        ),
    )


@_moderation(
    "/api/v1/notes/{nid}/move",
    "Move a note to another column of its board",
    _obj({"column": _STR}, ["column"]),
)
async def move_note(request: Request) -> Response:
    return await _moderate_note(
        request, lambda db, sid, nid, body: boards.move_note(db, sid, nid, body.get("column"))
    )


@_moderation(
    "/api/v1/boards/{bid}/collect",
    "Collect room notes onto this plenary board",
    _obj({"note_ids": {"type": "array", "items": _STR}, "column": _STR}, ["note_ids"]),
)
async def collect_notes(request: Request) -> Response:
    samla = samla_of(request)
    async with samla.store.read() as db:
        board = await boards.board_by_id(db, request.path_params["bid"])
        await _moderator_of(request, db, board.session_id)
    body = await read_json(request)
    notes = await samla.change(
        lambda db: boards.collect_notes(
            db, board.session_id, board.id, body.get("note_ids"), body.get("column")
        )
    )
    return JSONResponse({"notes": notes})


# -- dot votes ----------------------------------------------------------------------------


@endpoint(
    "POST",
    "/api/v1/boards/{bid}/dot-votes",
    "Open a dot vote ordering this plenary board",
    who="moderator",
    status=201,
    body=_obj({"scope": {"enum": ["collected", "all"]}, "dots": {"type": "integer"}}),
)
async def open_dot_vote(request: Request) -> Response:
    samla = samla_of(request)
    async with samla.store.read() as db:
        board = await boards.board_by_id(db, request.path_params["bid"])
        await _moderator_of(request, db, board.session_id)
    body = await read_json(request)
    vote = await samla.change(
        lambda db: boards.open_dot_vote(
            db,
            board.session_id,
            board.id,
            scope=body.get("scope", "collected"),
            dots=body.get("dots", 3),
        )
    )
    return JSONResponse(boards.vote_json(vote), 201)


async def _vote_session(request: Request, db: AsyncSession) -> tuple[str, str]:
    vote = await db.get(boards.DotVote, request.path_params["vid"])
    if vote is None:
        raise Refused("not_found", "No such dot vote.")
    return vote.id, vote.session_id


@endpoint(
    "POST",
    "/api/v1/dot-votes/{vid}/dots",
    "Give one of your dots to a note",
    who="participant",
    status=201,
    body=_obj({"note_id": _STR}, ["note_id"]),
)
async def give_dot(request: Request) -> Response:
    samla = samla_of(request)
    async with samla.store.read() as db:
        vid, sid = await _vote_session(request, db)
        participant = await _participant_in(request, db, sid)
    body = await read_json(request)
    left = await samla.change(
        lambda db: boards.give_dot(db, participant, vid, str(body.get("note_id")))
    )
    return JSONResponse({"dots_left": left}, 201)


@endpoint("POST", "/api/v1/dot-votes/{vid}/close", "Close a dot vote", who="moderator")
async def close_dot_vote(request: Request) -> Response:
    samla = samla_of(request)
    async with samla.store.read() as db:
        vid, sid = await _vote_session(request, db)
        await _moderator_of(request, db, sid)
    vote = await samla.change(lambda db: boards.close_dot_vote(db, sid, vid))
    return JSONResponse(boards.vote_json(vote))


@endpoint("GET", "/api/v1/dot-votes/{vid}", "A dot vote's results, most dots first", who="member")
async def dot_results(request: Request) -> Response:
    samla = samla_of(request)
    async with samla.store.read() as db:
        vid, sid = await _vote_session(request, db)
        who = await _identity(request, db)
        auth.member_role(who, await sessions.session_by_id(db, sid))
        results = await boards.dot_results(db, sid, vid)
    return JSONResponse(results)


# -- questions ----------------------------------------------------------------------------


@endpoint(
    "POST",
    "/api/v1/sessions/{sid}/questions",
    "Ask the panel a question",
    who="participant",
    status=201,
    body=_obj({"text": _STR, "anonymous": _BOOL, "nonce": _STR}, ["text"]),
)
async def ask(request: Request) -> Response:
    samla = samla_of(request)
    sid = request.path_params["sid"]
    async with samla.store.read() as db:
        participant = await _participant_in(request, db, sid)
    body = await read_json(request)
    await _limit(request, quotas.QUESTION, participant)
    question, new = await samla.change(
        lambda db: questions.ask(
            db,
            participant,
            body.get("text"),
            anonymous=body.get("anonymous") is True,
            nonce=body.get("nonce"),
        )
    )
    return JSONResponse(question, 201 if new else 200)


@endpoint(
    "GET",
    "/api/v1/sessions/{sid}/questions",
    "The questions, by upvotes (?sort=time: newest first)",
    who="member",
)
async def list_questions(request: Request) -> Response:
    samla = samla_of(request)
    sort: Literal["upvotes", "time"] = (
        "time" if request.query_params.get("sort") == "time" else "upvotes"
    )
    async with samla.store.read() as db:
        who = await _identity(request, db)
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


async def _question_session(request: Request, db: AsyncSession) -> tuple[str, str]:
    q = await questions.question_by_id(db, request.path_params["qid"])
    return q.id, q.session_id


async def _upvote_question(request: Request, take_back: bool) -> Response:
    return await _upvote(request, _question_session, questions.upvote, take_back)


@endpoint(
    "POST",
    "/api/v1/questions/{qid}/upvote",
    "Upvote a question (once per participant)",
    who="participant",
)
async def upvote_question(request: Request) -> Response:
    return await _upvote_question(request, take_back=False)


@endpoint(
    "DELETE",
    "/api/v1/questions/{qid}/upvote",
    "Take back your upvote of a question",
    who="participant",
)
async def take_back_question_upvote(request: Request) -> Response:
    return await _upvote_question(request, take_back=True)


async def _moderate_question(request: Request, act: Any) -> Response:
    samla = samla_of(request)
    async with samla.store.read() as db:
        qid, sid = await _question_session(request, db)
        await _moderator_of(request, db, sid)
    body = await read_json(request)
    return JSONResponse(await samla.change(lambda db: act(db, sid, qid, body)))


@_moderation(
    "/api/v1/questions/{qid}/approve",
    "Approve a waiting question, or reject it with {approved: false}",
    _obj({"approved": _BOOL}),
)
async def approve_question(request: Request) -> Response:
    return await _moderate_question(
        request,
        lambda db, sid, qid, body: questions.approve(
            db, sid, qid, approved=body.get("approved", True) is not False
        ),
    )


@_moderation(
    "/api/v1/questions/{qid}/answered",
    "Mark a question answered, or not with {answered: false}",
    _obj({"answered": _BOOL}),
)
async def mark_answered(request: Request) -> Response:
    return await _moderate_question(
        request,
        lambda db, sid, qid, body: questions.mark_answered(
            db, sid, qid, answered=body.get("answered", True) is not False
        ),
    )


@_moderation("/api/v1/questions/{qid}/show", "Show this question on the presenter view")
async def show_question(request: Request) -> Response:
    return await _moderate_question(
        request, lambda db, sid, qid, body: questions.show(db, sid, qid)
    )


@_moderation(
    "/api/v1/sessions/{sid}/questions/settings",
    "Require approval before questions are shown",
    _obj({"approval": _BOOL}),
)
async def question_settings(request: Request) -> Response:
    samla = samla_of(request)
    sid = request.path_params["sid"]
    async with samla.store.read() as db:
        await _moderator_of(request, db, sid)
    body = await read_json(request)
    approval = await samla.change(
        lambda db: questions.set_approval(db, sid, body.get("approval") is True)
    )
    return JSONResponse({"approval": approval})


ENDPOINTS: list[Endpoint] = []
