"""The sessions feature's live panels: who is here, whether the session is open, and you."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from live.screens import PRESENCE, FormReader, Panel, Summary, Viewer
from rooms import sessions
from rooms.models import ROLES, Event, Participant


async def presence_panel(db: AsyncSession, viewer: Viewer) -> dict[str, Any]:
    """How many are here right now (the hub adds `here`) and how many joined in all."""
    return {"joined": await sessions.participant_count(db, viewer.audience.session_id)}


async def status_panel(db: AsyncSession, viewer: Viewer) -> dict[str, Any]:
    return {"session": await sessions.session_by_id(db, viewer.audience.session_id)}


async def you_panel(db: AsyncSession, viewer: Viewer) -> dict[str, Any]:
    participant = (
        await db.get(Participant, viewer.participant_id) if viewer.participant_id else None
    )
    return {"participant": participant}


PANELS: tuple[Panel, ...] = (
    Panel(
        "presence",
        "sessions/_presence.html",
        frozenset(ROLES),
        frozenset({PRESENCE, "participant.joined", "participants.count", "participant.removed"}),
        presence_panel,
    ),
    Panel(
        "session-status",
        "sessions/_status.html",
        frozenset(ROLES),
        frozenset({"session.closed"}),
        status_panel,
    ),
    Panel(
        "you",
        "sessions/_you.html",
        frozenset({"participant"}),
        frozenset({"participant.renamed"}),
        you_panel,
        personal=True,
    ),
)


async def joined_count(db: AsyncSession, session_id: str, event: Event) -> dict[str, Any]:
    """How many have joined, read once per tick for the burst of joins it gathered."""
    return {"joined": await sessions.participant_count(db, session_id)}


SUMMARIES: Mapping[str, Summary] = {"participants.count": joined_count}
# action type -> the panel re-rendered for its sender
REPLIES: Mapping[str, str] = {"rename": "you"}
FORMS: Mapping[str, FormReader] = {}
