"""What each screen shows live: panels, the summaries that fill events, where people sit.

A panel is a template rendered from a loader's data. The hub snapshots every panel of a
role on each (re)connect, re-renders a shared panel once per audience when one of its
trigger events arrives, and sends the same bytes to every socket of that audience. Each
feature lists its panels in `live/screens/<feature>.py`; `live/app.py` assembles them into
one `Screens`, which the hub is given. Nothing in the transport changes for a new feature."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncSession

from rooms.models import Event, Role

PRESENCE = "presence"  # the trigger of panels that show who is here


@dataclass(frozen=True)
class Audience:
    """Everything a shared render depends on: sockets with the same audience get the same bytes."""

    session_id: str
    role: Role
    room_id: str | None
    locale: str
    # The session's own organiser, signed in: they also see what reaches their other
    # sessions (polls to reuse), which a moderator link's holder does not.
    owner: bool = False


@dataclass(frozen=True)
class Viewer:
    """Who a personal panel is rendered for."""

    audience: Audience
    participant_id: str | None


Loader = Callable[[AsyncSession, Viewer], Awaitable[dict[str, Any]]]
OwnRooms = Callable[[AsyncSession, str], Awaitable[set[str]]]
# The room of a shared load for every room with nothing of its own in a panel: no room has
# this id, so a loader's own room's part of it comes out empty, as it is for them.
ANY_ROOM = ""


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
    # Whether what it shows depends on the viewer's breakout room. One that does not (the
    # session's questions) is loaded once for the audiences of every room, not once a room.
    by_room: bool = True
    # For one that does: the rooms with something of their own in it (their polls, their
    # board). Every other room's audience is shown the same, loaded once as `ANY_ROOM`'s.
    own_rooms: OwnRooms | None = None

    def audience_of(self, audience: Audience) -> Audience:
        """The audience this panel is the same for: the viewer's, or every room's alike."""
        return audience if self.by_room else replace(audience, room_id=None)

    def stale(self, events: Iterable[Event]) -> bool:
        return any(e.type in self.triggers for e in events)


@dataclass(frozen=True)
class Painted:
    """A page's first paint: its panels by name, in the order the features list them, and
    the session's version they were read at. The page places panels where its layout wants
    them; its socket is told the version, so a snapshot at the same version redraws nothing."""

    version: int
    parts: Mapping[str, str]

    def __getitem__(self, name: str) -> Markup:
        return Markup(self.parts.get(name, ""))  # noqa: S704 (rendered, autoescaped)

    def others(self, *placed: str) -> Markup:
        """Every panel but those the page placed itself, in order."""
        return Markup("".join(h for n, h in self.parts.items() if n not in placed))  # noqa: S704


Placer = Callable[[AsyncSession, str, str], Awaitable[str | None]]
ManyPlacer = Callable[[AsyncSession, str, list[str]], Awaitable[dict[str, str | None]]]
Summary = Callable[[AsyncSession, str, Event], Awaitable[dict[str, Any]]]
# Turns what a page's form sent over its socket (htmx sends every field as text, a ticked
# checkbox as "on", an unticked one not at all) into the action's body.
FormReader = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Screens:
    panels: tuple[Panel, ...] = ()
    # Fills in an event's data once per tick before it is published: a vote storm crosses
    # the broker as one `poll.results` with the totals, not one per vote.
    summaries: Mapping[str, Summary] = field(default_factory=dict)
    # Which breakout room a participant is in (None: the plenary), one at a time and for
    # a whole session in one query (a round opened for ten thousand costs one read).
    placer: Placer | None = None
    many_placer: ManyPlacer | None = None
    # The panel re-rendered for the sender of a socket action as its reply.
    replies: Mapping[str, str] = field(default_factory=dict)
    # How a page's form reaches an action's body, for actions sent from forms.
    forms: Mapping[str, FormReader] = field(default_factory=dict)

    def __post_init__(self) -> None:
        names = [p.name for p in self.panels]
        twice = {n for n in names if names.count(n) > 1}
        if twice:
            raise ValueError(f"panels listed twice: {sorted(twice)}")
        unknown = set(self.replies.values()) - set(names)
        if unknown:
            raise ValueError(f"replies name panels nobody lists: {sorted(unknown)}")

    def panels_for(self, role: Role) -> list[Panel]:
        return [p for p in self.panels if role in p.roles]

    def panel_named(self, name: str) -> Panel | None:
        return next((p for p in self.panels if p.name == name), None)

    def summary_for(self, event_type: str) -> Summary | None:
        return self.summaries.get(event_type)

    def reply_to(self, action_type: str) -> Panel | None:
        name = self.replies.get(action_type)
        return self.panel_named(name) if name else None

    def read_form(self, action_type: str, message: dict[str, Any]) -> dict[str, Any]:
        reader = self.forms.get(action_type)
        return reader(message) if reader else message

    async def place(self, db: AsyncSession, session_id: str, participant_id: str) -> str | None:
        return await self.placer(db, session_id, participant_id) if self.placer else None

    async def place_many(
        self, db: AsyncSession, session_id: str, participant_ids: list[str]
    ) -> dict[str, str | None]:
        if self.many_placer is not None:
            return await self.many_placer(db, session_id, participant_ids)
        return {pid: await self.place(db, session_id, pid) for pid in participant_ids}
