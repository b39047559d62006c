"""What a feature shows live and what it takes from sockets: panels, summaries, socket actions.

A feature adds a panel with `@panel(...)`; the hub then snapshots it on every (re)connect,
re-renders it once per audience when one of its trigger events arrives, and sends the same
bytes to every socket of that audience. A feature adds a socket message with `@action(...)`.
Nothing in the transport changes for a new feature."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from rooms.models import Event, Outcome, Role


@dataclass(frozen=True)
class Audience:
    """Everything a shared render depends on: sockets with the same audience get the same bytes."""

    session_id: str
    role: Role
    room_id: str | None
    locale: str


@dataclass(frozen=True)
class Viewer:
    """Who a personal panel is rendered for."""

    audience: Audience
    participant_id: str | None


@dataclass(frozen=True)
class Actor:
    """Who sent a socket message."""

    session_id: str
    role: Role
    participant_id: str | None
    room_id: str | None


Loader = Callable[[AsyncSession, Viewer], Awaitable[dict[str, Any]]]
Placer = Callable[[AsyncSession, str, str], Awaitable[str | None]]
ManyPlacer = Callable[[AsyncSession, str, list[str]], Awaitable[dict[str, str | None]]]
Summary = Callable[[AsyncSession, str, Event], Awaitable[dict[str, Any]]]
Handler = Callable[[AsyncSession, Actor, dict[str, Any]], Awaitable[Outcome[Any]]]

PRESENCE = "presence"  # the trigger of panels that show who is here


@dataclass(frozen=True)
class Panel:
    name: str  # the root element's id in the page
    template: str  # the partial, e.g. "sessions/_presence.html"
    roles: frozenset[Role]
    triggers: frozenset[str]  # event types (or PRESENCE) that make it stale
    load: Loader
    # Personal panels depend on who looks (their own answer): rendered per socket, at
    # snapshot and when an event names that participant. Shared ones once per audience.
    personal: bool = False
    # Whether the JSON event stream's snapshot carries the loaded data under `name`.
    json: bool = False

    def stale(self, events: Iterable[Event]) -> bool:
        return any(e.type in self.triggers for e in events)


_panels: list[Panel] = []
_summaries: dict[str, Summary] = {}
_placer: list[Placer] = []
_many_placer: list[ManyPlacer] = []


@dataclass(frozen=True)
class SocketAction:
    type: str
    roles: frozenset[Role]
    handle: Handler
    # The personal or shared panel re-rendered for the sender as the reply, if any.
    reply: str | None


_actions: dict[str, SocketAction] = {}


def panel(
    name: str,
    template: str,
    *,
    roles: Iterable[Role],
    triggers: Iterable[str],
    personal: bool = False,
    json: bool = False,
) -> Callable[[Loader], Loader]:
    """Registers a loader as a live panel."""

    def register(load: Loader) -> Loader:
        if any(p.name == name for p in _panels):
            raise ValueError(f"panel {name!r} is registered twice")
        _panels.append(
            Panel(name, template, frozenset(roles), frozenset(triggers), load, personal, json)
        )
        return load

    return register


def summary(event_type: str) -> Callable[[Summary], Summary]:
    """Registers a loader that fills in an event's data once per tick before it is published:
    a vote storm crosses the broker as one `poll.results` with the totals, not one per vote."""

    def register(fn: Summary) -> Summary:
        _summaries[event_type] = fn
        return fn

    return register


def placer(fn: Placer) -> Placer:
    """Registers how to find which breakout room a participant is in (None: the plenary)."""
    _placer[:] = [fn]
    return fn


def panels_for(role: Role) -> list[Panel]:
    return [p for p in _panels if role in p.roles]


def summary_for(event_type: str) -> Summary | None:
    return _summaries.get(event_type)


async def place(db: AsyncSession, session_id: str, participant_id: str) -> str | None:
    return await _placer[0](db, session_id, participant_id) if _placer else None


def placer_many(fn: ManyPlacer) -> ManyPlacer:
    """Registers the batched form of the placer: everyone of a session in one query, so a
    round opened for ten thousand people costs one read, not ten thousand."""
    _many_placer[:] = [fn]
    return fn


async def place_many(
    db: AsyncSession, session_id: str, participant_ids: list[str]
) -> dict[str, str | None]:
    if _many_placer:
        return await _many_placer[0](db, session_id, participant_ids)
    return {pid: await place(db, session_id, pid) for pid in participant_ids}


def action(
    type_: str, *, roles: Iterable[Role], reply: str | None = None
) -> Callable[[Handler], Handler]:
    """Registers a domain action as a socket message `{"type": type_, ...}`."""

    def register(handle: Handler) -> Handler:
        _actions[type_] = SocketAction(type_, frozenset(roles), handle, reply)
        return handle

    return register


def action_for(type_: str) -> SocketAction | None:
    return _actions.get(type_)


def panel_named(name: str) -> Panel | None:
    return next((p for p in _panels if p.name == name), None)
