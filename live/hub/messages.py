"""The hub's messages between instances: one per session per tick, positional and compact.

`{"s": session, "v": [versions…], "e": [[version, type, data, room, roles], …], "p": presence}`:
`v` lists every version the tick committed (so a receiver sees the stream has no gap), `e`
only the events left after coalescing by key, and `p` whether who is here changed."""

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
        wire.append([version, event.type, data, event.room_id, roles])
    message = {"s": session_id, "v": versions, "e": wire, "p": presence}
    return json.dumps(message).encode()


def decode(message: dict[str, Any]) -> Message:
    """A tick's message, parsed from JSON, back into events by version."""
    by_version: dict[int, list[Event]] = defaultdict(list)
    for version, type_, data, room_id, roles in message["e"]:
        by_version[version].append(
            Event(type_, data, room_id=room_id, roles=frozenset(roles) if roles else None)
        )
    return Message(message["s"], message["v"], by_version, bool(message.get("p")))
