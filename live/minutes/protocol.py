"""The y-websocket protocol's messages as Samla reads and writes them (pycrdt's encoders):
sync step 1 and 2, updates, awareness, and the query for everyone's awareness."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from pycrdt import (
    Decoder,
    Encoder,
    YMessageType,
    YSyncMessageType,
    create_awareness_message,
    create_update_message,
)
from pycrdt import write_var_uint as var_uint

# y-websocket's message types beyond pycrdt's: 2 says what the server permits (unused by
# Samla), 3 asks for everyone's awareness state (Samla answers it itself, from the states
# it keeps; it never passes the question on).
QUERY_AWARENESS = 3
# What one client's awareness may carry: its name, colour and cursor take a few hundred bytes.
AWARENESS_MAX = 8 * 1024

_STEPS = frozenset(int(s) for s in YSyncMessageType)

Kind = Literal["step1", "step2", "update", "awareness", "query", "other"]


class Malformed(Exception):
    """A message that does not follow the protocol."""


@dataclass(frozen=True)
class Message:
    """A client's message: its kind and its payload (a state vector for step 1, an update for
    step 2 and update, an awareness update for awareness)."""

    kind: Kind
    payload: bytes = b""


def read(data: bytes) -> Message:
    """Reads one client message; raises Malformed for anything that does not decode."""
    try:
        decoder = Decoder(data)
        kind = decoder.read_var_uint()
        if kind == YMessageType.SYNC:
            step = decoder.read_var_uint()
            payload = decoder.read_message()
            if payload is None or step not in _STEPS:
                raise Malformed("an unknown sync message")
            if step == YSyncMessageType.SYNC_STEP1:
                return Message("step1", payload)
            if step == YSyncMessageType.SYNC_STEP2:
                return Message("step2", payload)
            return Message("update", payload)
        if kind == YMessageType.AWARENESS:
            payload = decoder.read_message()
            if payload is None:
                raise Malformed("an empty awareness message")
            return Message("awareness", payload)
        if kind == QUERY_AWARENESS:
            return Message("query")
        return Message("other")
    except (IndexError, ValueError, RuntimeError) as exc:
        raise Malformed(str(exc)) from None


@dataclass(frozen=True)
class Awareness:
    """An awareness update as read: each client's clock and state (None: it left)."""

    entries: list[tuple[int, int, Any]]

    @property
    def clocks(self) -> dict[int, int]:
        return {client: clock for client, clock, _ in self.entries}

    def named(self, name: str | None) -> bytes:
        """The update again, every state's name (`name`, and `user.name`) the writer's own
        as Samla knows it, or none: nobody writes under someone else's name."""
        encoder = Encoder()
        encoder.write_var_uint(len(self.entries))
        for client, clock, state in self.entries:
            if isinstance(state, dict):
                state = _with_name(state, name)
                user = state.get("user")
                if isinstance(user, dict):
                    state["user"] = _with_name(user, name)
            encoder.write_var_uint(client)
            encoder.write_var_uint(clock)
            encoder.write_var_string(state_json(state))
        return encoder.to_bytes()


def state_json(state: Any) -> str:
    """An awareness state as the protocol carries it."""
    return json.dumps(state, ensure_ascii=False)


def awareness_entries(entries: Iterable[tuple[int, int, str]]) -> bytes:
    """An awareness update of these (client, clock, state as JSON) entries."""
    listed = list(entries)
    encoder = Encoder()
    encoder.write_var_uint(len(listed))
    for client, clock, state in listed:
        encoder.write_var_uint(client)
        encoder.write_var_uint(clock)
        encoder.write_var_string(state)
    return encoder.to_bytes()


def _with_name(state: dict[str, Any], name: str | None) -> dict[str, Any]:
    out = {k: v for k, v in state.items() if k != "name"}
    if name is not None and "name" in state:
        out["name"] = name
    return out


def read_awareness(update: bytes) -> Awareness:
    """An awareness update's entries; Malformed unless every entry is a client id, a clock
    and a JSON state."""
    try:
        decoder = Decoder(update)
        entries = []
        for _ in range(decoder.read_var_uint()):
            client = decoder.read_var_uint()
            clock = decoder.read_var_uint()
            entries.append((client, clock, json.loads(decoder.read_var_string())))
        return Awareness(entries)
    except (IndexError, ValueError, RuntimeError, RecursionError) as exc:
        raise Malformed(str(exc)) from None


def awareness_gone(clocks: dict[int, int]) -> bytes:
    """The awareness message that says these clients have left (their state is null), each
    at its last clock: Yjs takes a null at the clock it holds as a removal, and the client's
    next state, its clock moved on, as new (a client that comes back bumps its clock)."""
    encoder = Encoder()
    encoder.write_var_uint(len(clocks))
    for client, clock in clocks.items():
        encoder.write_var_uint(client)
        encoder.write_var_uint(clock)
        encoder.write_var_string("null")
    return create_awareness_message(encoder.to_bytes())


def step1(state: bytes) -> bytes:
    return bytes([YMessageType.SYNC, YSyncMessageType.SYNC_STEP1]) + var_uint(len(state)) + state


def step2(update: bytes) -> bytes:
    return bytes([YMessageType.SYNC, YSyncMessageType.SYNC_STEP2]) + var_uint(len(update)) + update


def update(data: bytes) -> bytes:
    return create_update_message(data)


def awareness(data: bytes) -> bytes:
    return create_awareness_message(data)
