"""The hub's messages between instances: one per session per tick, positional and compact.

`{"s": session, "v": [versions…], "e": [[version, type, data, room, roles, key], …],
"p": presence}`: `v` lists every version the tick committed (so a receiver sees the stream
has no gap), `e` only the events left after coalescing by key (the key kept, so that a
receiver can collapse what several instances sent), and `p` whether who is here changed."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from rooms.models import Event


@dataclass(frozen=True, slots=True)
class Message:
    """One session's tick as received: its versions, its events by version, presence."""

    session_id: str
    versions: list[int]
    events: dict[int, list[Event]]
    presence: bool


def encode(
    session_id: str,
    versions: list[int],
    events: Iterable[tuple[int, Event, dict[str, Any]]],
    presence: bool,
) -> bytes:
    """A tick's message: each event with its version and the data to send (its summary)."""
    wire: list[list[Any]] = []
    for version, event, data in events:
        roles = sorted(event.roles) if event.roles is not None else None
        wire.append([version, event.type, data, event.room_id, roles, event.key])
    message = {"s": session_id, "v": versions, "e": wire, "p": presence}
    return json.dumps(message).encode()


def decode(message: dict[str, Any]) -> Message:
    """A tick's message, parsed from JSON, back into events by version."""
    by_version: dict[int, list[Event]] = defaultdict(list)
    for version, type_, data, room_id, roles, *key in message["e"]:
        # An instance of an earlier release sends no key: its events are never collapsed.
        by_version[version].append(
            Event(
                type_,
                data,
                key=key[0] if key else None,
                room_id=room_id,
                roles=frozenset(roles) if roles else None,
            )
        )
    return Message(message["s"], message["v"], by_version, bool(message.get("p")))


def merge(earlier: Message | None, later: Message) -> Message:
    """Two messages of one session as one (received together; their order is kept)."""
    if earlier is None:
        return later
    events: dict[int, list[Event]] = defaultdict(list)
    for version, happened in [*earlier.events.items(), *later.events.items()]:
        events[version].extend(happened)
    return Message(
        later.session_id,
        [*earlier.versions, *later.versions],
        events,
        earlier.presence or later.presence,
    )
