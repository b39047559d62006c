"""The stored rows of breakout rooms: rounds, rooms, seats, broadcasts and calls for help."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from rooms.errors import invalid
from rooms.models import ATTRIBUTE_KEY_MAX, ATTRIBUTES_MAX, new_id, utcnow

Assignment = Literal["random", "balanced", "self", "manual"]
ASSIGNMENTS: tuple[Assignment, ...] = ("random", "balanced", "self", "manual")

# A thousand rooms is the design's largest session (10,000 people in groups of ten).
ROOMS_MAX = 1000
ROOM_NAME_MAX = 80
PLACE_MAX = 80
CAPACITY_MAX = 1000
MINUTES_MAX = 600
EXTEND_MAX = 120
BROADCAST_MAX = 500
# People see a warning this long before a round ends.
WARNING = timedelta(minutes=1)
# The moderator's overview lists who is where; beyond this many the list is cut, counts stay.
OVERVIEW_NAMES_MAX = 2000

# The statuses of a round (and its rooms) that are not over.
LIVE = ("prepared", "open")


class Round(SQLModel, table=True):
    """One period of breakout rooms, prepared, opened and closed together."""

    __tablename__ = "breakout_round"
    # At most one round per session is being prepared or is open: two moderators pressing
    # "open" at once get one round, and the other a conflict.
    __table_args__ = (
        Index(
            "uq_breakout_round_current",
            "session_id",
            unique=True,
            sqlite_where=text("status IN ('prepared', 'open')"),
            postgresql_where=text("status IN ('prepared', 'open')"),
        ),
        # The clock looks for open rounds by their end every second.
        Index("ix_breakout_round_status_ends_at", "status", "ends_at"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=16)
    session_id: str = Field(foreign_key="session.id", ondelete="CASCADE", index=True)
    status: str = Field(default="prepared", max_length=8)  # prepared, open, closed
    assignment: str = Field(max_length=8)
    # The attributes a balanced round balances by, their keys joined by commas.
    balance_by: str | None = Field(
        default=None, max_length=(ATTRIBUTE_KEY_MAX + 1) * ATTRIBUTES_MAX
    )
    minutes: int | None = None
    close_at_end: bool = False
    created_at: datetime = Field(default_factory=utcnow)
    opened_at: datetime | None = None
    ends_at: datetime | None = None
    warned: bool = False
    closed_at: datetime | None = None


class Room(SQLModel, table=True):
    """A breakout room of one round; a table in the hall when it has a place."""

    __tablename__ = "room"
    __table_args__ = (Index("ix_room_round_position", "round_id", "position"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=16)
    session_id: str = Field(foreign_key="session.id", ondelete="CASCADE", index=True)
    round_id: str = Field(foreign_key="breakout_round.id", ondelete="CASCADE")
    name: str = Field(max_length=ROOM_NAME_MAX)
    place: str | None = Field(default=None, max_length=PLACE_MAX)
    capacity: int | None = None
    position: int = 0
    status: str = Field(default="prepared", max_length=8)  # the round's status
    # How many people were in it when its round closed (seats move on to later rounds).
    people: int | None = None


class Seat(SQLModel, table=True):
    """Where a participant sits: one row per participant per session, so nobody sits twice.

    A seat in a closed room is where that person was when the round ended (how a later
    round keeps the same groups); only a seat in an open room places anyone."""

    __tablename__ = "seat"
    __table_args__ = (UniqueConstraint("session_id", "participant_id"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=16)
    session_id: str = Field(foreign_key="session.id", ondelete="CASCADE")
    participant_id: str = Field(foreign_key="participant.id", ondelete="CASCADE", index=True)
    room_id: str = Field(foreign_key="room.id", ondelete="CASCADE", index=True)
    # The participant's answer for the round's balance attribute, so a late joiner is
    # balanced with one grouped count instead of reading everyone's attributes.
    tag: str | None = Field(default=None, max_length=120)
    placed_at: datetime = Field(default_factory=utcnow)


class Broadcast(SQLModel, table=True):
    """A moderator's message to every room at once."""

    __tablename__ = "broadcast"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=16)
    session_id: str = Field(foreign_key="session.id", ondelete="CASCADE", index=True)
    round_id: str | None = Field(default=None, max_length=16)
    text: str = Field(max_length=BROADCAST_MAX)
    created_at: datetime = Field(default_factory=utcnow)


class HelpRequest(SQLModel, table=True):
    """A participant's call to the moderator from their room; answered calls are deleted."""

    __tablename__ = "help_request"
    __table_args__ = (UniqueConstraint("room_id", "participant_id"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=16)
    session_id: str = Field(foreign_key="session.id", ondelete="CASCADE", index=True)
    room_id: str = Field(foreign_key="room.id", ondelete="CASCADE", index=True)
    participant_id: str = Field(foreign_key="participant.id", ondelete="CASCADE")
    created_at: datetime = Field(default_factory=utcnow)


def whole(value: int, what: str, low: int, high: int) -> int:
    """A whole number within its limits, or a refusal that names them."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise invalid(f"{what} must be a whole number from {low} to {high}.")
    return value
