"""The participants feature's live panel: the moderator's list of who joined last."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from live.screens import FormReader, Panel, Summary, Viewer
from rooms import participants, sessions

# The moderator's console lists the people who joined last: enough to find someone who
# just started trouble, few enough that a join storm re-renders it cheaply.
SHOWN_MAX = 50


async def participants_panel(db: AsyncSession, viewer: Viewer) -> dict[str, Any]:
    session_id = viewer.audience.session_id
    return {
        "session_id": session_id,
        "people": await participants.list_participants(db, session_id, latest=SHOWN_MAX),
        "joined": await sessions.participant_count(db, session_id),
        "shown_max": SHOWN_MAX,
    }


PANELS: tuple[Panel, ...] = (
    Panel(
        "participants",
        "sessions/_participants.html",
        frozenset({"moderator"}),
        frozenset({"participant.joined", "participant.renamed", "participant.removed"}),
        participants_panel,
    ),
)
SUMMARIES: Mapping[str, Summary] = {}
# action type -> the panel re-rendered for its sender
REPLIES: Mapping[str, str] = {}
FORMS: Mapping[str, FormReader] = {}
