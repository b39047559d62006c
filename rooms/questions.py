"""Questions to the panel (Q&A): asking, upvoting (alone or in a storm's batch), approval,
answering, the big screen."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import UniqueConstraint, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel, col

from rooms.boards import (
    LikeTally,
    Press,
    check_liker,
    like_counts,
    liked_among,
    precise,
    sessions_of,
)
from rooms.errors import Refused, forbidden, not_found
from rooms.models import Event, Outcome, Participant, Role, new_id, utcnow
from rooms.sessions import writable
from rooms.text import clean, optional

QUESTION_MAX = 500
NONCE_MAX = 64
# The same words from the same person this soon again are a re-send, not a second question.
RESEND_WINDOW = timedelta(seconds=10)
MODERATORS = frozenset[Role]({"moderator"})
Sort = Literal["upvotes", "time"]


class Question(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("author_id", "nonce", name="uq_question_author_nonce"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=16)
    session_id: str = Field(foreign_key="session.id", ondelete="CASCADE", index=True)
    author_id: str | None = Field(
        default=None, foreign_key="participant.id", ondelete="SET NULL", index=True
    )
    text: str = Field(max_length=QUESTION_MAX)
    anonymous: bool = False
    approved: bool = True  # False while it waits for a moderator in approval mode
    hidden: bool = False  # rejected by a moderator
    answered: bool = False
    shown: bool = False  # on the presenter view
    nonce: str | None = Field(default=None, max_length=NONCE_MAX)
    created_at: datetime = Field(default_factory=utcnow)


class QuestionUpvote(SQLModel, table=True):
    __tablename__ = "question_upvote"

    question_id: str = Field(foreign_key="question.id", ondelete="CASCADE", primary_key=True)
    participant_id: str = Field(foreign_key="participant.id", ondelete="CASCADE", primary_key=True)
    created_at: datetime = Field(default_factory=utcnow)


class QaSettings(SQLModel, table=True):
    __tablename__ = "qa_settings"

    session_id: str = Field(foreign_key="session.id", ondelete="CASCADE", primary_key=True)
    approval: bool = False  # questions wait for a moderator before anyone else sees them


def question_json(q: Question, name: str | None, upvotes: int) -> dict[str, Any]:
    author = None if q.anonymous or q.author_id is None else {"id": q.author_id, "name": name}
    return {
        "id": q.id,
        "text": q.text,
        "author": author,
        "upvotes": upvotes,
        "answered": q.answered,
        "approved": q.approved,
        "hidden": q.hidden,
        "shown": q.shown,
        "created_at": precise(q.created_at),
    }


async def approval_required(db: AsyncSession, session_id: str) -> bool:
    found = await db.get(QaSettings, session_id)
    return bool(found and found.approval)


async def question_by_id(db: AsyncSession, question_id: str) -> Question:
    q = await db.get(Question, question_id)
    if q is None:
        raise not_found("question")
    return q


async def upvote_count(db: AsyncSession, question_id: str) -> int:
    return int(
        await db.scalar(select(func.count()).where(col(QuestionUpvote.question_id) == question_id))
        or 0
    )


async def describe_question(db: AsyncSession, q: Question) -> dict[str, Any]:
    name = None
    if q.author_id is not None and not q.anonymous:
        author = await db.get(Participant, q.author_id)
        name = author.name if author else None
    return question_json(q, name, await upvote_count(db, q.id))


def _audience(q: Question) -> frozenset[Role] | None:
    """Who may be told about a question: everyone once it is public, else only moderators."""
    return None if q.approved and not q.hidden else MODERATORS


async def list_questions(
    db: AsyncSession,
    session_id: str,
    *,
    moderator: bool,
    sort: Sort = "upvotes",
    participant_id: str | None = None,
) -> list[dict[str, Any]]:
    """The session's questions; participants see approved ones (and their own waiting ones)."""
    query = (
        select(Question, col(Participant.name), func.count(col(QuestionUpvote.participant_id)))
        .outerjoin(Participant, col(Participant.id) == col(Question.author_id))
        .outerjoin(QuestionUpvote, col(QuestionUpvote.question_id) == col(Question.id))
        .where(col(Question.session_id) == session_id)
        .group_by(col(Question.id), col(Participant.name))
    )
    rows = (await db.execute(query)).all()
    out = []
    for q, name, n in rows:
        public = q.approved and not q.hidden
        if (
            moderator
            or public
            or (participant_id and q.author_id == participant_id and not q.hidden)
        ):
            out.append(question_json(q, name, int(n)))
    return sort_questions(out, sort)


def sort_questions(questions: list[dict[str, Any]], sort: Sort) -> list[dict[str, Any]]:
    by_time = sorted(questions, key=lambda q: (q["created_at"] or "", q["id"]), reverse=True)
    if sort == "time":
        return by_time
    # Answered ones sink; among the rest the most upvoted first, the newest breaking ties.
    return sorted(by_time, key=lambda q: (q["answered"], -q["upvotes"]))


async def ask(
    db: AsyncSession,
    participant: Participant,
    text: Any,
    *,
    anonymous: bool = False,
    nonce: Any = None,
) -> Outcome[tuple[dict[str, Any], bool]]:
    """Asks a question; a re-sent one returns the first. The value: (question, whether new)."""
    await writable(db, participant.session_id)
    clean_text = clean(text, "The question", QUESTION_MAX, multiline=True)
    key = optional(nonce, "nonce", NONCE_MAX)
    existing = await _resent(db, participant.id, clean_text, key)
    if existing is not None:
        return Outcome(participant.session_id, (await describe_question(db, existing), False))
    q = Question(
        session_id=participant.session_id,
        author_id=participant.id,
        text=clean_text,
        anonymous=anonymous,
        nonce=key,
        approved=not await approval_required(db, participant.session_id),
    )
    try:
        async with db.begin_nested():
            db.add(q)
            await db.flush()
    except IntegrityError:
        found = await _resent(db, participant.id, clean_text, key)
        if found is None:
            raise
        return Outcome(participant.session_id, (await describe_question(db, found), False))
    data = question_json(q, participant.name, 0)
    event = Event("question.asked", {"question": data}, roles=_audience(q))
    return Outcome(participant.session_id, (data, True), (event,))


async def _resent(
    db: AsyncSession, author_id: str, text: str, nonce: str | None
) -> Question | None:
    if nonce is not None:
        found: Question | None = await db.scalar(
            select(Question).where(
                col(Question.author_id) == author_id, col(Question.nonce) == nonce
            )
        )
        return found
    same: Question | None = await db.scalar(
        select(Question)
        .where(
            col(Question.author_id) == author_id,
            col(Question.text) == text,
            col(Question.created_at) >= utcnow() - RESEND_WINDOW,
        )
        .limit(1)
    )
    return same


async def upvote(
    db: AsyncSession, participant: Participant, question_id: str, *, take_back: bool = False
) -> Outcome[int]:
    """One upvote per participant per question, kept by the primary key."""
    await writable(db, participant.session_id)
    q = _likeable(await db.get(Question, question_id), participant.session_id)
    changed = False
    if take_back:
        result = await db.execute(
            delete(QuestionUpvote).where(
                col(QuestionUpvote.question_id) == q.id,
                col(QuestionUpvote.participant_id) == participant.id,
            )
        )
        changed = bool(getattr(result, "rowcount", 0))
    elif await db.get(QuestionUpvote, (q.id, participant.id)) is None:
        try:
            async with db.begin_nested():
                db.add(QuestionUpvote(question_id=q.id, participant_id=participant.id))
                await db.flush()
            changed = True
        except IntegrityError:
            changed = False
    count = await upvote_count(db, q.id)
    if not changed:
        return Outcome(q.session_id, count)
    return Outcome(q.session_id, count, (_upvoted(q.id, count),))


def _upvoted(question_id: str, count: int) -> Event:
    return Event(
        "question.upvoted",
        {"question_id": question_id, "upvotes": count},
        key=f"question.upvoted:{question_id}",
    )


async def upvote_many(
    db: AsyncSession, session_id: str, presses: list[Press]
) -> Outcome[list[int | Refused]]:
    """Several participants' likes of questions in one transaction (a group commit), each
    accepted or refused as `upvote` (`toggle_upvote` where it toggles) would; as
    `rooms.boards.upvote_many` for notes."""
    await writable(db, session_id)  # the session's row first (rooms/locks.py)
    pids = sorted({pid for pid, _, _ in presses})
    people = await sessions_of(db, pids)
    found = await db.scalars(
        select(Question).where(col(Question.id).in_(sorted({qid for _, qid, _ in presses})))
    )
    asked = {q.id: q for q in found}
    liked = await liked_among(db, QuestionUpvote, "question_id", list(asked), pids)
    tally = LikeTally(liked, await like_counts(db, QuestionUpvote, "question_id", list(asked)))
    done: list[int | Refused] = []
    for pid, qid, take_back in presses:
        try:
            check_liker(people, session_id, pid)
            q = _likeable(asked.get(qid), session_id)
        except Refused as exc:
            done.append(exc)
            continue
        done.append(tally.press(q.id, pid, take_back))
    await tally.store(db, QuestionUpvote, "question_id")
    events = tuple(_upvoted(qid, tally.counts[qid]) for qid in sorted(tally.touched))
    return Outcome(session_id, done, events)


def _likeable(q: Question | None, session_id: str) -> Question:
    """The question a like may count for: refused if it is gone, of another session, waiting
    for a moderator or rejected (alone and in a batch alike)."""
    if q is None:
        raise not_found("question")
    if q.session_id != session_id:
        raise forbidden("This question belongs to another session.")
    if not q.approved or q.hidden:
        raise not_found("question")
    return q


async def toggle_upvote(
    db: AsyncSession, participant: Participant, question_id: str
) -> Outcome[int]:
    had = await db.get(QuestionUpvote, (question_id, participant.id))
    return await upvote(db, participant, question_id, take_back=had is not None)


async def _moderated(db: AsyncSession, session_id: str, question_id: str) -> Question:
    await writable(db, session_id)
    q = await question_by_id(db, question_id)
    if q.session_id != session_id:
        raise forbidden("This question belongs to another session.")
    return q


async def approve(
    db: AsyncSession, session_id: str, question_id: str, *, approved: bool = True
) -> Outcome[dict[str, Any]]:
    """Approves a waiting question (everyone sees it) or rejects it (nobody but moderators)."""
    q = await _moderated(db, session_id, question_id)
    q.approved, q.hidden = approved, not approved
    if not approved:
        q.shown = False
    db.add(q)
    data = await describe_question(db, q)
    if approved:
        return Outcome(session_id, data, (Event("question.approved", {"question": data}),))
    return Outcome(
        session_id,
        data,
        (
            Event(
                "question.hidden",
                {"question_id": q.id},
                roles=frozenset[Role]({"participant", "presenter"}),
            ),
            Event("question.hidden", {"question_id": q.id, "question": data}, roles=MODERATORS),
        ),
    )


async def mark_answered(
    db: AsyncSession, session_id: str, question_id: str, *, answered: bool = True
) -> Outcome[dict[str, Any]]:
    q = await _moderated(db, session_id, question_id)
    q.answered = answered
    db.add(q)
    data = await describe_question(db, q)
    return Outcome(
        session_id, data, (Event("question.answered", {"question": data}, roles=_audience(q)),)
    )


async def show(
    db: AsyncSession, session_id: str, question_id: str | None
) -> Outcome[dict[str, Any] | None]:
    """Puts one approved question on the stage, or none (the stage shows the join screen):
    the stage's own action (rooms/stage.py), so the question and the stage never disagree."""
    from rooms import stage  # rooms.stage reads the questions' table: imported when used

    if question_id is not None:
        await _moderated(db, session_id, question_id)
    elif (await writable(db, session_id)).stage_show != "question":
        return Outcome(session_id, None)  # no question is on the stage: it stays as it is
    shown = await stage.show(db, session_id, "question" if question_id else "join", question_id)
    target = await db.get(Question, question_id) if question_id else None
    data = await describe_question(db, target) if target is not None else None
    return Outcome(session_id, data, shown.events)


async def set_approval(db: AsyncSession, session_id: str, approval: bool) -> Outcome[bool]:
    await writable(db, session_id)
    settings = await db.get(QaSettings, session_id)
    if settings is None:
        settings = QaSettings(session_id=session_id)
    settings.approval = approval
    db.add(settings)
    return Outcome(
        session_id,
        settings.approval,
        (Event("qa.settings", {"approval": settings.approval}, roles=MODERATORS),),
    )


async def waiting_count(db: AsyncSession, session_id: str) -> int:
    """Questions that wait for a moderator's approval (neither approved nor hidden)."""
    found = await db.scalar(
        select(func.count()).where(
            col(Question.session_id) == session_id,
            col(Question.approved).is_(False),
            col(Question.hidden).is_(False),
        )
    )
    return int(found or 0)
