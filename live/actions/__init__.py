"""One path per action: what a participant or moderator does, whichever way they send it.

An action is named by its socket message type (`note.add`), declares its body as a typed
model, the roles that may send it, and the quota it spends. A browser's socket message and
the API's endpoint both call `perform`, so they meet the same validation, the same rate
limit (the shared limiter, through Redis when configured), the same batching where there
is one, and the same refusals. Each feature lists its actions in `live/actions/<feature>.py`;
`live/app.py` assembles them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from live.quotas import Quota, spend
from live.services import Samla
from rooms.errors import Refused
from rooms.models import Outcome, Participant, Role
from rooms.sessions import participant_in

__all__ = ["Action", "Actor", "Body", "allowed", "as_participant", "perform", "table", "validate"]


@dataclass(frozen=True)
class Actor:
    """Who does it: a socket's person, or the API's caller (`live.api.base.actor_for`)."""

    session_id: str
    role: Role
    participant_id: str | None
    room_id: str | None
    # The organiser account acting, when it is one (not a moderator link's holder): some
    # actions reach the organiser's other sessions.
    organiser_id: str | None = None


class Body(BaseModel):
    """A request body or socket message. Fields it does not name are ignored (a socket
    message carries its `type`, a form its own extras); a field of the wrong type is refused
    with its name."""

    model_config = ConfigDict(extra="ignore", frozen=True)


B = TypeVar("B", bound=Body)
T = TypeVar("T")


@dataclass(frozen=True)
class Action(Generic[B]):
    name: str  # the socket message type; the API endpoint for it performs the same action
    body: type[B]
    roles: frozenset[Role]
    run: Callable[[Samla, Actor, B], Awaitable[Any]]
    quota: Quota | None = None  # what each participant may send of it per minute


def table(*parts: Iterable[Action[Any]]) -> dict[str, Action[Any]]:
    """The actions by their type, each listed once."""
    out: dict[str, Action[Any]] = {}
    for part in parts:
        for act in part:
            if act.name in out:
                raise ValueError(f"action {act.name!r} is listed twice")
            out[act.name] = act
    return out


def validate(model: type[B], raw: Mapping[str, Any]) -> B:
    """The body as its model, or a refusal (422 `invalid`) that names the offending field."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        # A key is the sender's text: named, but never at length.
        where = ".".join(str(part)[:40] for part in first["loc"]) or "the body"
        raise Refused("invalid", f"{where}: {_reason(first)}") from None


def allowed(action: Action[Any], actor: Actor) -> None:
    """Refuses (403) an actor whose role may not send this action."""
    if actor.role not in action.roles:
        raise Refused("forbidden", _not_yours(action.roles))


def _not_yours(roles: frozenset[Role]) -> str:
    if roles == {"participant"}:
        return "Only participants of this session may do that; join it first."
    if "moderator" in roles:
        return "Only this session's moderators may do that."
    return "You may not do that here."


def _reason(error: Any) -> str:
    kind = error["type"]
    if kind == "missing":
        return "this field is required."
    message = str(error["msg"])
    return message[0].lower() + message[1:].rstrip(".") + "."


async def as_participant(
    samla: Samla,
    actor: Actor,
    act: Callable[[AsyncSession, Participant], Awaitable[Outcome[T]]],
) -> T:
    """Runs a participant's own action in one write transaction (`Samla.change`), given their
    row as it is in that transaction."""

    async def run(db: AsyncSession) -> Outcome[T]:
        return await act(db, await participant_in(db, actor.session_id, actor.participant_id))

    return await samla.change(run)


async def perform(samla: Samla, action: Action[B], actor: Actor, raw: Mapping[str, Any]) -> Any:
    """Checks who sends it, counts it against their quota, validates it, and runs it."""
    allowed(action, actor)
    if action.quota is not None and actor.participant_id is not None:
        await spend(samla.limiter, action.quota, actor.participant_id)
    return await action.run(samla, actor, validate(action.body, raw))
