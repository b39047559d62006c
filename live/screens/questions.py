"""The Q&A feature's live panels: what each screen shows of it, and when it is stale;
the summary that fills in an upvote's total, and how the page's forms reach the actions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from live.screens import FormReader, Panel, Summary, Viewer
from live.screens.forms import checkboxes
from rooms.models import Event, new_id
from rooms.questions import (
    Question,
    approval_required,
    list_questions,
    question_json,
    sort_questions,
    upvote_count,
)

QUESTION_EVENTS = frozenset(
    {
        "participant.removed",  # their questions go or lose their name; their upvotes go
        "question.asked",
        "question.upvoted",
        "question.approved",
        "question.hidden",
        "question.answered",
        "question.shown",
        "qa.settings",
    }
)


async def questions_panel(db: AsyncSession, viewer: Viewer) -> dict[str, Any]:
    """Approved questions in both orders; the viewer's choice of order is a toggle beside them."""
    listed = await list_questions(db, viewer.audience.session_id, moderator=False)
    return {"questions": listed, "by_time": [q["id"] for q in sort_questions(listed, "time")]}


async def ask_panel(db: AsyncSession, viewer: Viewer) -> dict[str, Any]:
    """The ask form and the viewer's own questions still waiting for approval."""
    waiting: list[dict[str, Any]] = []
    if viewer.participant_id is not None:
        rows = await db.scalars(
            select(Question).where(
                col(Question.author_id) == viewer.participant_id,
                col(Question.approved).is_(False),
                col(Question.hidden).is_(False),
            )
        )
        waiting = [question_json(q, None, 0) for q in rows]
    return {
        "waiting": waiting,
        "nonce": new_id(),
        "approval": await approval_required(db, viewer.audience.session_id),
    }


async def queue_panel(db: AsyncSession, viewer: Viewer) -> dict[str, Any]:
    listed = await list_questions(db, viewer.audience.session_id, moderator=True)
    return {
        "questions": listed,
        "approval": await approval_required(db, viewer.audience.session_id),
    }


async def upvoted_total(db: AsyncSession, session_id: str, event: Event) -> dict[str, Any]:
    """The question's total as committed when the tick goes out (see boards.upvoted_total)."""
    return {**event.data, "upvotes": await upvote_count(db, str(event.data["question_id"]))}


def read_question(form: dict[str, Any]) -> dict[str, Any]:
    return checkboxes(form, "anonymous")


def read_approval(form: dict[str, Any]) -> dict[str, Any]:
    return checkboxes(form, "approval")


STAGE_EVENTS = frozenset(
    {
        "question.shown",
        "question.upvoted",
        "question.answered",
        "question.hidden",
        "participant.removed",
    }
)
PANELS: tuple[Panel, ...] = (
    Panel(
        "questions",
        "questions/_questions.html",
        frozenset({"participant"}),
        QUESTION_EVENTS,
        questions_panel,
        json=True,
        by_room=False,  # the session's questions, asked in the plenary
    ),
    Panel(
        "question-ask",
        "questions/_ask.html",
        frozenset({"participant"}),
        frozenset(),
        ask_panel,
        personal=True,
    ),
    Panel(
        "questions-queue",
        "questions/_queue.html",
        frozenset({"moderator"}),
        QUESTION_EVENTS,
        queue_panel,
        json=True,
    ),
)
SUMMARIES: Mapping[str, Summary] = {"question.upvoted": upvoted_total}
# action type -> the panel re-rendered for its sender
REPLIES: Mapping[str, str] = {"question.ask": "question-ask"}
FORMS: Mapping[str, FormReader] = {"question.ask": read_question, "qa.approval": read_approval}
