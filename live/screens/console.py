"""The console's live panels: what needs the moderator's attention, seen from every section
(rooms asking for help, questions waiting for approval), and the room names other panels
show instead of ids."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from live.screens import FormReader, Panel, Summary, Viewer
from rooms import breakout, questions, sessions

ATTENTION_EVENTS = frozenset(
    {
        "rooms.help",
        "rooms.opened",
        "rooms.closed",
        "participants.moved",
        "participant.removed",
        "question.asked",
        "question.approved",
        "question.hidden",
        "qa.settings",
        "session.closed",
    }
)


async def open_rooms(db: AsyncSession, session_id: str) -> list[breakout.Room]:
    """The rooms of the round now open (or prepared), in their order."""
    r = await breakout.current_round(db, session_id)
    return await breakout.rooms_of(db, r.id) if r is not None else []


async def attention_panel(db: AsyncSession, viewer: Viewer) -> dict[str, Any]:
    sid = viewer.audience.session_id
    names = await breakout.room_names(db, sid)
    asking = [
        {"id": rid, "name": names.get(rid, ""), "count": n}
        for rid, n in (await breakout.help_by_room(db, sid)).items()
        if n and rid in names
    ]
    return {
        "asking": sorted(asking, key=lambda a: a["name"]),
        "help": len(asking),
        "waiting": await questions.waiting_count(db, sid),
    }


async def hands_panel(db: AsyncSession, viewer: Viewer) -> dict[str, Any]:
    """Beside the stage: how many are here and joined, and how many rooms ask for help."""
    sid = viewer.audience.session_id
    helping = [n for n in (await breakout.help_by_room(db, sid)).values() if n]
    return {
        "joined": await sessions.participant_count(db, sid),
        "help": len(helping),
        "session": await sessions.session_by_id(db, sid),
    }


PANELS: tuple[Panel, ...] = (
    Panel(
        "attention",
        "console/_attention.html",
        frozenset({"moderator"}),
        ATTENTION_EVENTS,
        attention_panel,
    ),
    Panel(
        "hands",
        "console/_hands.html",
        frozenset({"moderator"}),
        ATTENTION_EVENTS | {"participant.joined"},
        hands_panel,
    ),
)
SUMMARIES: Mapping[str, Summary] = {}
# action type -> the panel re-rendered for its sender
REPLIES: Mapping[str, str] = {}
FORMS: Mapping[str, FormReader] = {}
