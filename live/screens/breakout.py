"""The breakout feature's live panels: what each screen shows of it, and when it is stale.

Also how the moderator's and the participant's forms reach the actions' bodies: htmx sends
every field as text, a ticked checkbox as "on" and an unticked one not at all."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from live.screens import FormReader, Panel, Summary, Viewer
from live.screens.forms import checkboxes
from rooms import breakout, minutes
from rooms import calls as room_calls
from rooms.boards.reading import session_boards
from rooms.breakout import Round
from rooms.breakout.reading import spread
from rooms.models import Session, iso, utcnow

_TRIGGERS = frozenset(
    {
        "note.added",  # a room's activity, in the overview
        "note.deleted",
        "rooms.opened",
        "rooms.prepared",
        "rooms.closed",
        "participants.moved",
        "rooms.placed",
        "rooms.extended",
        "rooms.ending",
        "rooms.broadcast",
        "rooms.help",
        "participant.joined",
        "participant.renamed",
        "participant.removed",
        "session.closed",
        "session.calls",  # which rooms have calls
        "minutes.plenary",  # the plenary minutes switched on or off
        "board.created",  # a plenary board to collect minutes to
    }
)


# A moderator's message to all rooms leads a participant's phone while it is news; after
# this long it has been read or overtaken, and the room itself comes first again.
BROADCAST_FRESH = timedelta(minutes=10)


def time_left(seconds: float) -> str:
    """A countdown's text, as static/countdown.js writes it: "12:41", never below "0:00"."""
    whole = max(0, int(-(-seconds // 1)))  # whole seconds, rounded up as the script does
    return f"{whole // 60}:{whole % 60:02d}"


def _clock(r: Round | None) -> dict[str, Any]:
    """What the countdown shows: the end, the time left as text (the script keeps it
    ticking), whether it is near, whether it has passed."""
    now = utcnow()
    ends = r.ends_at if r is not None and r.status == "open" else None
    return {
        "ends_at": iso(ends),
        "ends_hm": ends.strftime("%H:%M") if ends else None,
        "left": time_left((_utc(ends) - now).total_seconds()) if ends else None,
        "now": iso(now),
        "ending": bool(ends and now < ends <= now + breakout.WARNING),
        "over": bool(ends and ends <= now),
    }


async def room_panel(db: AsyncSession, viewer: Viewer) -> dict[str, Any]:
    """The participant's room (its name, place, people, countdown, help), or the plenary."""
    sid = viewer.audience.session_id
    r = await breakout.current_round(db, sid)
    room = await db.get(breakout.Room, viewer.audience.room_id) if viewer.audience.room_id else None
    names: list[str | None] = []
    choices: list[dict[str, Any]] = []
    if room is not None:
        ids = (await breakout.members(db, [room.id]))[room.id]
        found = await breakout.names_of(db, ids)
        names = sorted((found.get(pid) for pid in ids), key=lambda n: (n is None, n or ""))
    elif r is not None and r.status == "open" and r.assignment == "self":
        view = await breakout.view_round(db, r)
        choices = view.rooms
    said = await breakout.latest_broadcast(db, sid)
    fresh = said is not None and _fresh(said, r)
    return {
        "room": room,
        "names": names,
        "help": await breakout.help_count(db, room.id) if room is not None else 0,
        "round": r,
        "choices": choices,
        "broadcast": said,
        # The announcement at the top of the phone, while it is news.
        "announce": said if fresh else None,
        "announce_until": iso(said.created_at + BROADCAST_FRESH) if said and fresh else None,
        "open": await breakout.session_is_open(db, sid),
        "call": await room_calls.call_here(db, sid, room),  # the room's call, or the plenary's
        **_clock(r),
    }


def _fresh(said: breakout.Broadcast, r: Round | None) -> bool:
    """A broadcast is news while it is recent and the round it was sent in is still open."""
    if said.round_id is not None and (r is None or r.id != said.round_id or r.status != "open"):
        return False
    return _utc(said.created_at) + BROADCAST_FRESH > utcnow()


def _utc(moment: datetime) -> datetime:
    """A stored time as UTC: SQLite gives it back without its zone."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


async def overview_panel(db: AsyncSession, viewer: Viewer) -> dict[str, Any]:
    """Every room with who is in it, its timer and its activity; the controls of a round."""
    sid = viewer.audience.session_id
    session = await db.get(Session, sid)
    assert session is not None
    r = await breakout.current_round(db, sid)
    view = await breakout.view_round(db, r)
    # Between rounds, the rooms that last closed: their minutes stay readable, and a passage
    # of them can still be collected to a plenary board.
    past: list[dict[str, Any]] = []
    if r is None:
        last = await breakout.last_round(db, sid)
        if last is not None and last.status == "closed":
            past = (await breakout.view_round(db, last)).rooms
    people = await breakout.people(db, sid, breakout.OVERVIEW_NAMES_MAX)
    seated = {pid for room in view.rooms for pid in room["participant_ids"]}
    return {
        "session": session,
        "round": r,
        "rooms": view.rooms,
        "past_rooms": past,
        "help": await breakout.help_by_room(db, sid),
        "notes": await breakout.notes_by_room(db, sid),
        "spread": await spread(db, r, session.attributes),
        "names": dict(people),
        "people": people,
        "plenary": len([pid for pid, _ in people if pid not in seated]),
        "broadcast": await breakout.latest_broadcast(db, sid),
        "assignments": breakout.ASSIGNMENTS,
        "calls_in": room_calls.rooms_with_calls(session, view.rooms),
        # Where a passage of a room's minutes may be collected to: the plenary's boards.
        "minutes_boards": [b for b in await session_boards(db, sid) if b.room_id is None],
        "plenary_minutes": await _plenary_minutes_on(db, sid),
        **_clock(r),
    }


async def plenary_call_panel(db: AsyncSession, viewer: Viewer) -> dict[str, Any]:
    """The plenary's call on a participant's phone, while they are in the plenary."""
    sid = viewer.audience.session_id
    here = await room_calls.call_here(db, sid, None)
    return {"plenary_call": here.plenary and viewer.audience.room_id is None, "sid": sid}


async def call_choice_panel(db: AsyncSession, viewer: Viewer) -> dict[str, Any]:
    """The moderator's choice of which calls the session has (shown with a video service)."""
    session = await db.get(Session, viewer.audience.session_id)
    assert session is not None
    return {"session": session, "choice": room_calls.choice_of(session)}


async def _plenary_minutes_on(db: AsyncSession, session_id: str) -> bool:
    head = await db.get(minutes.Minutes, session_id)
    return head is not None and head.plenary


async def minutes_after_panel(db: AsyncSession, viewer: Viewer) -> dict[str, Any]:
    """A participant's minutes outside a room: the room they sat in when its round closed
    (read-only), and the plenary's while the moderator has them on."""
    sid = viewer.audience.session_id
    past = None
    if viewer.audience.room_id is None and viewer.participant_id is not None:
        past = await db.scalar(
            select(breakout.Room)
            .join(breakout.Seat, col(breakout.Seat.room_id) == col(breakout.Room.id))
            .where(
                col(breakout.Seat.participant_id) == viewer.participant_id,
                col(breakout.Seat.session_id) == sid,
                col(breakout.Room.status) == "closed",
            )
        )
    on = await _plenary_minutes_on(db, sid)
    return {
        "session": await db.get(Session, sid),
        "past_room": past,
        "plenary_minutes": on and viewer.audience.room_id is None,
    }


PANELS: tuple[Panel, ...] = (
    Panel(
        "breakout",
        "breakout/_room.html",
        frozenset({"participant"}),
        frozenset(
            {
                "rooms.opened",
                "rooms.closed",
                "participants.moved",
                "rooms.placed",
                "rooms.extended",
                "rooms.ending",
                "rooms.broadcast",
                "rooms.help",
                "participant.renamed",
                "participant.removed",
                "session.closed",
                "session.calls",
            }
        ),
        room_panel,
    ),
    Panel(
        "breakout-overview",
        "breakout/_overview.html",
        frozenset({"moderator"}),
        _TRIGGERS,
        overview_panel,
    ),
    Panel(
        "plenary-call",
        "sessions/_plenary_call.html",
        frozenset({"participant"}),
        frozenset(
            {"session.calls", "session.closed", "rooms.opened", "rooms.closed"}
            | {"participants.moved", "rooms.placed"}
        ),
        plenary_call_panel,
    ),
    Panel(
        "call-choice",
        "breakout/_call_choice.html",
        frozenset({"moderator"}),
        frozenset({"session.calls", "session.closed"}),
        call_choice_panel,
    ),
    Panel(
        "minutes-after",
        "breakout/_minutes_after.html",
        frozenset({"participant"}),
        frozenset(
            {"rooms.opened", "rooms.closed", "participants.moved", "minutes.plenary"}
            | {"session.closed"}
        ),
        minutes_after_panel,
        personal=True,
    ),
)
SUMMARIES: Mapping[str, Summary] = {}
# action type -> the panel re-rendered for its sender
REPLIES: Mapping[str, str] = {}


# -- the forms --------------------------------------------------------------------------------


def _whole(value: Any) -> Any:
    """A number field's text as a whole number; anything else as it came, for the body's
    validation to refuse by name. An empty field is no number."""
    if value == "":
        return None
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) < 8:
        return int(value.strip())
    return value


def _lines(value: Any) -> Any:
    """A textarea's lines, one per room; an empty one is none."""
    if value == "":
        return None
    return value.splitlines() if isinstance(value, str) else value


def read_open(message: dict[str, Any]) -> dict[str, Any]:
    """The moderator's "open rooms" form: an amount that counts rooms or people per room, the
    balance attributes only for balanced rooms (one ticked box sends a text, several a
    list, as the API takes them), boxes, lines."""
    out = dict(message)
    if "by" in message or "amount" in message:
        by = message.get("by", "count")
        amount = _whole(message.get("amount"))
        out.pop("amount", None)
        out["count"] = amount if by == "count" else None
        out["per_room"] = amount if by == "per_room" else None
    if message.get("assignment") != "balanced":
        out.pop("balance_by", None)
    for field in ("count", "per_room", "minutes", "capacity"):
        if field in out:
            out[field] = _whole(out[field])
    out = checkboxes(out, "close_at_end", "prepare", "keep_groups")
    out["prepared"] = message.get("prepared") == "open" or message.get("prepared") is True
    for field in ("names", "places"):
        if field in out:
            out[field] = _lines(out[field])
    return out


def read_extend(message: dict[str, Any]) -> dict[str, Any]:
    if "minutes" not in message:
        return message
    return {**message, "minutes": _whole(message["minutes"])}


def read_move(message: dict[str, Any]) -> dict[str, Any]:
    """The move form: the plenary is the room with no id."""
    return {**message, "room_id": message.get("room_id") or None}


def read_plenary_minutes(message: dict[str, Any]) -> dict[str, Any]:
    """The switch's button sends what the plenary minutes become ("on" or "off"); a JSON
    message's own boolean (or its wrong type) is left for the action to judge."""
    value = message.get("plenary")
    return {**message, "plenary": value == "on"} if isinstance(value, str) else message


FORMS: Mapping[str, FormReader] = {
    "session.calls": lambda message: checkboxes(message, "hall_tables", "plenary"),
    "rooms.open": read_open,
    "rooms.extend": read_extend,
    "rooms.move": read_move,
    "minutes.plenary": read_plenary_minutes,
}
