"""What polls hand back and announce: a vote's outcome, a poll as JSON, its events."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rooms.models import PLENARY, STAFF, Event, iso
from rooms.polls.tables import Poll, PollOption


@dataclass(frozen=True)
class Voted:
    """A vote's outcome: `replaced` when it took the place of this participant's earlier one."""

    poll_id: str
    replaced: bool


def poll_brief(poll: Poll) -> dict[str, Any]:
    """What the live views and the JSON stream's snapshot say about a poll (options are in
    its results)."""
    return {
        "id": poll.id,
        "status": poll.status,
        "kind": poll.kind,
        "question": poll.question,
        "room_id": poll.room_id,
        "allow_change": poll.allow_change,
        "show_results": poll.show_results,
    }


def poll_json(poll: Poll, options: list[PollOption]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": poll.id,
        "session_id": poll.session_id,
        "status": poll.status,
        "kind": poll.kind,
        "question": poll.question,
        "room_id": poll.room_id,
        "options": [{"id": o.id, "label": o.label} for o in options],
        "allow_change": poll.allow_change,
        "show_results": poll.show_results,
        "max_choices": poll.max_choices,
        "opened_at": iso(poll.opened_at),
        "closed_at": iso(poll.closed_at),
    }
    if poll.kind == "scale":
        out["scale"] = {
            "min": poll.scale_min,
            "max": poll.scale_max,
            "min_label": poll.min_label,
            "max_label": poll.max_label,
        }
    return out


def told(poll: Poll) -> str:
    """Whose participants hear of a poll: its room's, or the plenary's (not those in rooms)."""
    return poll.room_id or PLENARY


def results_event(poll: Poll) -> Event:
    """Of a burst of these within one tick only the last is published, with the totals."""
    return Event(
        "poll.results",
        {"poll_id": poll.id},
        key=f"poll.results:{poll.id}",
        room_id=told(poll),
        roles=None if poll.show_results == "live" else STAFF,
    )
