"""The polls feature's actions, the same over a socket and through the API."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from live import quotas
from live.actions import Action, Actor, Body, votes
from live.actions.batching import submit
from live.services import Samla
from rooms import polls
from rooms.errors import forbidden
from rooms.models import Outcome, Role
from rooms.polls import copying

PARTICIPANT: frozenset[Role] = frozenset({"participant"})
MODERATOR: frozenset[Role] = frozenset({"moderator"})


class Strict(Body):
    """A body whose fields take their own JSON type only: "3" is not a number, 1 not true."""

    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)


class PollAnswer(Strict):
    """An answer, with what the poll's kind asks for: `choices` (option ids; for a ranking
    every option, best first), a `value` on the scale, 1 to 3 `words`, or a `text`."""

    choices: list[str] | None = None
    value: int | None = None
    words: list[str] | None = None
    text: str | None = None

    def given(self) -> dict[str, Any]:
        """The answer as the domain takes it: only the fields that were sent."""
        return self.model_dump(include=set(PollAnswer.model_fields), exclude_unset=True)


class PollVote(PollAnswer):
    poll_id: str


class PollScale(Strict):
    min: int = 1
    max: int = 5
    min_label: str | None = None
    max_label: str | None = None


class NewPoll(Strict):
    """A draft poll; `options` for single, multiple and ranking, `scale` for a scale."""

    question: str
    kind: polls.Kind
    options: list[str] | None = None
    room_id: str | None = None
    allow_change: bool = False
    max_choices: int | None = None
    scale: PollScale | None = None
    show_results: Literal["live", "closed", "never"] = "live"


class PollRef(Strict):
    poll_id: str


class PollImport(Strict):
    """Polls of another session of the same organiser, to copy here as drafts."""

    from_session_id: str = Field(max_length=40)
    poll_ids: list[Annotated[str, Field(max_length=40)]] = Field(
        min_length=1, max_length=copying.IMPORT_MAX
    )


class PollHiding(Strict):
    """Hide it (the default), or show it again with `hidden: false`."""

    hidden: bool = True


class PollHiddenWord(PollHiding):
    word: str


class PollHideAnswer(PollHiding):
    poll_id: str
    answer_id: str


class PollHideWord(PollHiddenWord):
    poll_id: str


async def vote(samla: Samla, actor: Actor, body: PollVote) -> polls.Voted:
    """An answer joins its session's batch; it is acknowledged once its batch committed."""
    if actor.participant_id is None:
        raise forbidden()
    answer = (body.poll_id, actor.participant_id, body.given())
    return await submit(samla, votes.ANSWERS, actor.session_id, answer)


async def create(samla: Samla, actor: Actor, body: NewPoll) -> dict[str, Any]:
    spec = body.model_dump(exclude_unset=True)
    created: dict[str, Any] = await samla.change(
        lambda db: polls.create_poll(db, actor.session_id, spec)
    )
    return created


RunPoll = Callable[[AsyncSession, str], Awaitable[Outcome[dict[str, Any]]]]


async def _run(samla: Samla, actor: Actor, poll_id: str, act: RunPoll) -> dict[str, Any]:
    async def run(db: AsyncSession) -> Outcome[dict[str, Any]]:
        poll = await polls.poll_in_session(db, poll_id, actor.session_id)
        return await act(db, poll.id)

    done: dict[str, Any] = await samla.change(run)
    return done


async def open_poll(samla: Samla, actor: Actor, body: PollRef) -> dict[str, Any]:
    return await _run(samla, actor, body.poll_id, polls.open_poll)


async def close_poll(samla: Samla, actor: Actor, body: PollRef) -> dict[str, Any]:
    return await _run(samla, actor, body.poll_id, polls.close_poll)


async def hide_answer(samla: Samla, actor: Actor, body: PollHideAnswer) -> dict[str, Any]:
    async def run(db: AsyncSession) -> Outcome[dict[str, Any]]:
        poll = await polls.poll_in_session(db, body.poll_id, actor.session_id)
        return await polls.hide_answer(db, poll.id, body.answer_id, body.hidden)

    hidden: dict[str, Any] = await samla.change(run)
    return hidden


async def hide_word(samla: Samla, actor: Actor, body: PollHideWord) -> list[str]:
    async def run(db: AsyncSession) -> Outcome[list[str]]:
        poll = await polls.poll_in_session(db, body.poll_id, actor.session_id)
        return await polls.hide_word(db, poll.id, body.word, body.hidden)

    words: list[str] = await samla.change(run)
    return words


async def duplicate(samla: Samla, actor: Actor, body: PollRef) -> dict[str, Any]:
    made: dict[str, Any] = await samla.change(
        lambda db: copying.duplicate_poll(db, actor.session_id, body.poll_id)
    )
    return made


async def import_polls(samla: Samla, actor: Actor, body: PollImport) -> list[dict[str, Any]]:
    made: list[dict[str, Any]] = await samla.change(
        lambda db: copying.import_polls(
            db, actor.session_id, body.from_session_id, body.poll_ids, actor.organiser_id
        )
    )
    return made


VOTE = Action("poll.vote", PollVote, PARTICIPANT, vote, quota=quotas.VOTE)
CREATE = Action("poll.create", NewPoll, MODERATOR, create)
OPEN = Action("poll.open", PollRef, MODERATOR, open_poll)
CLOSE = Action("poll.close", PollRef, MODERATOR, close_poll)
HIDE_ANSWER = Action("poll.hide_answer", PollHideAnswer, MODERATOR, hide_answer)
HIDE_WORD = Action("poll.hide_word", PollHideWord, MODERATOR, hide_word)
DUPLICATE = Action("poll.duplicate", PollRef, MODERATOR, duplicate)
IMPORT = Action("poll.import", PollImport, MODERATOR, import_polls)

ACTIONS: tuple[Action[Any], ...] = (
    VOTE,
    CREATE,
    OPEN,
    CLOSE,
    HIDE_ANSWER,
    HIDE_WORD,
    DUPLICATE,
    IMPORT,
)
