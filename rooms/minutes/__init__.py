"""Shared minutes: one document per breakout room (and per session for the plenary) that
everyone in it writes at once, stored as its Yjs updates.

`from rooms import minutes; minutes.write(...)` reaches every part."""

from rooms.minutes.collecting import collect_passage
from rooms.minutes.editing import (
    Edit,
    Target,
    Written,
    append_text,
    check_update,
    placed,
    plenary_target,
    room_target,
    seated,
    switch_plenary,
    write,
)
from rooms.minutes.reading import (
    document,
    missing,
    state_of,
    stored,
    text_and_time,
    text_of,
    text_of_room,
    texts_of_session,
    versions,
)
from rooms.minutes.tables import (
    COMPACT_AFTER,
    DOCUMENT_MAX,
    EMPTY,
    TEXT,
    UPDATE_MAX,
    Minutes,
    MinutesUpdate,
)
from rooms.minutes.whole import Whole

__all__ = [
    "COMPACT_AFTER",
    "DOCUMENT_MAX",
    "EMPTY",
    "TEXT",
    "UPDATE_MAX",
    "Edit",
    "Minutes",
    "MinutesUpdate",
    "Target",
    "Whole",
    "Written",
    "append_text",
    "check_update",
    "collect_passage",
    "document",
    "missing",
    "placed",
    "plenary_target",
    "room_target",
    "seated",
    "state_of",
    "stored",
    "switch_plenary",
    "text_and_time",
    "text_of",
    "text_of_room",
    "texts_of_session",
    "versions",
    "write",
]
