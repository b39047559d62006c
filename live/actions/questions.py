"""The Q&A feature's actions, the same over a socket and through the API."""

from __future__ import annotations

from typing import Any

from pydantic import StrictBool
from sqlalchemy.ext.asyncio import AsyncSession

from live import quotas
from live.actions import Action, Actor, Body, as_participant
from live.actions.batching import Kind, submit
from live.actions.boards import MODERATORS, PARTICIPANTS
from live.services import Samla
from rooms import questions
from rooms.boards import Press
from rooms.errors import Refused, invalid, not_found
from rooms.models import Outcome
from rooms.sessions import participant_in


class NewQuestion(Body):
    text: str | None = None
    anonymous: StrictBool = False
    nonce: str | None = None


class QuestionLike(Body):
    question: str
    # None: the like button, a second press takes it back; the API says which it means.
    take_back: StrictBool | None = None


class QuestionModeration(Body):
    question: str
    do: str  # approve, reject, answered, unanswered, show, unshow


class Approval(Body):
    approval: StrictBool = False  # questions wait for a moderator before anyone sees them


async def ask(samla: Samla, actor: Actor, body: NewQuestion) -> Any:
    return await as_participant(
        samla,
        actor,
        lambda db, who: questions.ask(
            db, who, body.text, anonymous=body.anonymous, nonce=body.nonce
        ),
    )


async def _like_many(
    db: AsyncSession, session_id: str, presses: list[Press]
) -> Outcome[list[int | Refused]]:
    return await questions.upvote_many(db, session_id, presses)


async def _like_one(db: AsyncSession, session_id: str, press: Press) -> Outcome[int]:
    participant_id, question_id, take_back = press
    who = await participant_in(db, session_id, participant_id)
    if take_back is None:
        return await questions.toggle_upvote(db, who, question_id)
    return await questions.upvote(db, who, question_id, take_back=take_back)


QUESTION_LIKES = Kind[Press, int]("likes of questions", _like_many, _like_one)


async def like(samla: Samla, actor: Actor, body: QuestionLike) -> int:
    """A like joins its session's batch, as a like of a note does (`live/actions/boards.py`)."""
    if actor.participant_id is None:
        raise not_found("participant")
    press = (actor.participant_id, body.question, body.take_back)
    return await submit(samla, QUESTION_LIKES, actor.session_id, press)


async def moderate(samla: Samla, actor: Actor, body: QuestionModeration) -> Any:
    return await samla.change(lambda db: _moderate(db, actor.session_id, body))


async def _moderate(db: AsyncSession, sid: str, body: QuestionModeration) -> Outcome[Any]:
    do, qid = body.do, body.question
    if do in ("approve", "reject"):
        return await questions.approve(db, sid, qid, approved=do == "approve")
    if do in ("answered", "unanswered"):
        return await questions.mark_answered(db, sid, qid, answered=do == "answered")
    if do in ("show", "unshow"):
        return await questions.show(db, sid, qid if do == "show" else None)
    raise invalid("Unknown moderation.")


async def set_approval(samla: Samla, actor: Actor, body: Approval) -> Any:
    return await samla.change(
        lambda db: questions.set_approval(db, actor.session_id, body.approval)
    )


ASK = Action("question.ask", NewQuestion, PARTICIPANTS, ask, quota=quotas.QUESTION)
LIKE = Action("question.like", QuestionLike, PARTICIPANTS, like, quota=quotas.UPVOTE)
MODERATE = Action("question.moderate", QuestionModeration, MODERATORS, moderate)
APPROVAL = Action("qa.approval", Approval, MODERATORS, set_approval)

ACTIONS: tuple[Action[Any], ...] = (ASK, LIKE, MODERATE, APPROVAL)
