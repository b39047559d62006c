"""The public API's poll routes: create, open, close, answer, results, and hiding answers."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any
from weakref import WeakKeyDictionary

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from live import auth, quotas, sockets
from live.api.base import _STR, Endpoint, _obj, endpoint, moderated_session, samla_of
from live.errors import read_json
from live.services import Samla
from rooms import polls, sessions
from rooms.errors import Refused, forbidden, not_found
from rooms.models import Session
from rooms.panels import Actor

log = logging.getLogger("samla.polls")

# The most answers one write transaction takes: a longer batch would hold the write lock
# (and delay a moderator's close) for longer than a tick.
BATCH_MAX = 200
# Answers gather until just before their session's next update goes out (the hub sends
# at most one per tick), then commit together: a storm's answers share one transaction
# per tick, and each shows on the screens at the first update after it arrived, as soon as
# if it had committed alone. The batch commits this long before that update…
COMMIT_LEAD = 0.01
# …and batches are this far apart at least, however soon the next update.
GATHER_MIN = 0.01


@dataclass(eq=False)
class _Waiting:
    poll_id: str
    participant_id: str
    answer: dict[str, Any]
    done: asyncio.Future[polls.Voted] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class VoteBatcher:
    """Group commit for a vote storm: answers that arrive while a write is under way share
    the next transaction, so the store commits once per batch rather than once per answer.
    A lone answer goes straight through; each answer is still accepted or refused on its own,
    and none is acknowledged before its transaction has committed."""

    def __init__(self, samla: Samla) -> None:
        self.samla = samla
        self._waiting: defaultdict[str, list[_Waiting]] = defaultdict(list)
        self._draining: dict[str, asyncio.Task[None]] = {}
        self._last_commit: dict[str, float] = {}

    async def vote(
        self, session_id: str, poll_id: str, participant_id: str, answer: dict[str, Any]
    ) -> polls.Voted:
        waiting = _Waiting(poll_id, participant_id, answer)
        self._waiting[session_id].append(waiting)
        if session_id not in self._draining:
            self._draining[session_id] = asyncio.create_task(self._drain(session_id))
        return await waiting.done

    async def _drain(self, session_id: str) -> None:
        loop = asyncio.get_running_loop()
        hub = self.samla.hub
        try:
            while self._waiting.get(session_id):
                # An answer after a quiet spell commits at once (its update goes out at
                # once too); in a storm, a batch waits for the next update, collecting.
                wait = max(
                    hub.next_flush(session_id) - COMMIT_LEAD,
                    self._last_commit.get(session_id, 0.0) + GATHER_MIN - loop.time(),
                )
                queue = self._waiting[session_id]
                if wait > 0 and len(queue) < BATCH_MAX:
                    await asyncio.sleep(wait)
                self._last_commit[session_id] = loop.time()
                batch, queue[:] = queue[:BATCH_MAX], queue[BATCH_MAX:]
                await self._commit(session_id, batch)
        finally:
            self._waiting.pop(session_id, None)
            del self._draining[session_id]
            if len(self._last_commit) > 1000:  # sessions that are long quiet
                now = loop.time()
                for sid, at in list(self._last_commit.items()):
                    if now - at > GATHER_MIN:
                        del self._last_commit[sid]

    async def _commit(self, session_id: str, batch: list[_Waiting]) -> None:
        items = [(w.poll_id, w.participant_id, w.answer) for w in batch]
        try:
            outcomes = await self.samla.change(lambda db: polls.vote_many(db, session_id, items))
        except Refused as exc:  # the session closed: every answer in it is refused alike
            for w in batch:
                _settle(w, exc)
            return
        except Exception:
            # A constraint lost a race with another instance, or worse: nothing of the batch
            # was committed; each answer gets its own transaction and its own verdict.
            log.info("a batch of %d answers is retried one by one", len(batch))
            for w in batch:
                await self._commit_one(session_id, w)
            return
        for w, outcome in zip(batch, outcomes, strict=True):
            _settle(w, outcome)

    async def _commit_one(self, session_id: str, w: _Waiting) -> None:
        try:
            voted = await self.samla.change(
                lambda db: polls.vote(
                    db, w.poll_id, w.participant_id, w.answer, in_session=session_id
                )
            )
        except Exception as exc:
            _settle(w, exc)
        else:
            _settle(w, voted)


def _settle(w: _Waiting, outcome: polls.Voted | BaseException) -> None:
    if w.done.done():
        return  # the client went away; its answer stands (or not) all the same
    if isinstance(outcome, BaseException):
        w.done.set_exception(outcome)
    else:
        w.done.set_result(outcome)


_batchers: WeakKeyDictionary[Samla, VoteBatcher] = WeakKeyDictionary()


def batcher_for(samla: Samla) -> VoteBatcher:
    """The running Samla's one batcher: the API's answers and the browsers' share it."""
    found = _batchers.get(samla)
    if found is None:
        found = _batchers[samla] = VoteBatcher(samla)
    return found


@sockets.commits("poll.vote")
async def vote_from_browser(samla: Samla, actor: Actor, message: dict[str, Any]) -> None:
    """A browser's answer (the poll form over its socket) joins the API's in the batches."""
    poll_id = message.get("poll_id")
    if actor.participant_id is None:
        raise forbidden()
    if not isinstance(poll_id, str):
        raise not_found("poll")
    answer = polls.answer_from_form(message)
    await batcher_for(samla).vote(actor.session_id, poll_id, actor.participant_id, answer)


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


async def moderated_poll(request: Request) -> polls.Poll:
    """The poll of the path, if the caller moderates its session."""
    async with samla_of(request).store.read() as db:
        who, poll, session = await _poll_session(request, db)
        auth.require_moderator(who, session)
    return poll


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
    session = await moderated_session(request)
    body = await read_json(request)
    created = await samla.change(lambda db: polls.create_poll(db, session.id, body))
    return JSONResponse(created, 201)


async def _run_poll(request: Request, act: Any) -> Response:
    samla = samla_of(request)
    poll = await moderated_poll(request)
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
    # No read transaction of its own: the batch checks the poll, its session and place.
    voter = await auth.participant_by_bearer(samla.store.read, request)
    await quotas.spend(samla.limiter, quotas.VOTE, voter.participant_id)
    body = await read_json(request)
    poll_id = request.path_params["pid"]
    voted = await batcher_for(samla).vote(voter.session_id, poll_id, voter.participant_id, body)
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
    poll = await moderated_poll(request)
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
    poll = await moderated_poll(request)
    body = await read_json(request)
    words = await samla.change(
        lambda db: polls.hide_word(db, poll.id, body.get("word"), body.get("hidden", True))
    )
    return JSONResponse({"poll_id": poll.id, "hidden_words": words})


ENDPOINTS: list[Endpoint] = []
