"""Fan-out: a session's released changes shown to every socket here, rendered once per audience."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from live.hub.connections import Connection, Watch
from live.hub.outbox import Outboxes
from live.hub.snapshots import Snapshots, version_marker
from live.screens import PRESENCE, Audience, Panel, Screens, Viewer
from live.store import Store
from rooms.models import Event


class FanOut:
    """Sends each released event to the JSON streams that may see it, and each stale panel,
    rendered once per audience (personal panels once per person), to the browsers."""

    def __init__(
        self, store: Store, screens: Screens, snapshots: Snapshots, outboxes: Outboxes
    ) -> None:
        self.store = store
        self.screens = screens
        self.snapshots = snapshots
        self.outboxes = outboxes

    async def fan_out(
        self, session_id: str, watch: Watch, released: list[tuple[int, Event]], presence: bool
    ) -> None:
        """Shows the released (version, event) pairs, and a presence change, to the session."""
        events = [e for _, e in released]
        if any(e.type == "participants.moved" for e in events):
            await self._relocate(session_id, watch)
        push_many = self.outboxes.push_many
        # The JSON stream: each event once, serialised once, to every socket that may see it.
        # Who may see an event depends on a socket's role and room alone: the sockets are
        # grouped by them once, and an event told to a few (a join, to the moderators) is
        # not checked against the thousands it is not for.
        json_groups: dict[tuple[str, str | None], list[Connection]] = defaultdict(list)
        for c in watch.connections:
            if c.kind == "json" and not c.needs_snapshot:
                json_groups[c.role, c.room_id].append(c)
        # Of the events sharing a key only the last is sent, as within one instance's tick:
        # messages released together (several instances' ticks) collapse alike.
        last = {e.key: v for v, e in released if e.key is not None}
        for version, event in released:
            if event.key is not None and last[event.key] != version:
                continue
            to = [
                c
                for group in json_groups.values()
                if group[0].sees(event)
                for c in group
                if version > c.version
            ]
            if to:
                frame = json.dumps({"type": event.type, "version": version, **event.data})
                push_many(to, frame, version)
        # The browser: stale panels, rendered once per audience.
        triggers = [*events, Event(PRESENCE)] if presence else events
        groups: dict[Audience, list[Connection]] = defaultdict(list)
        for conn in watch.connections:
            if conn.kind == "html" and not conn.needs_snapshot:
                groups[conn.audience].append(conn)
        if not groups:
            return
        render = self.snapshots.render
        newest = max(v for v, _ in released) if released else None
        marker = version_marker(newest) if newest is not None else ""
        # A panel that is the same in every room is rendered once for all rooms' audiences.
        rendered: dict[tuple[str, Audience], str] = {}
        async with self.store.hub_read() as db:
            for audience, conns in groups.items():
                visible = [e for e in triggers if conns[0].sees(e)]
                stale = [p for p in self.screens.panels_for(audience.role) if p.stale(visible)]
                if not stale:
                    continue
                parts = []
                for p in stale:
                    if p.personal:
                        continue
                    key = (p.name, p.audience_of(audience))
                    if key not in rendered:
                        rendered[key] = await render(db, p, Viewer(key[1], None))
                    parts.append(rendered[key])
                shared = "".join(parts)
                shared += marker if shared else ""
                alike = []  # the sockets whose frame is the shared part alone
                for conn in conns:
                    personal = await self._personal(db, conn, stale, visible)
                    if personal:
                        frame = shared + personal + ("" if shared else marker)
                        push_many((conn,), frame, newest)
                    else:
                        alike.append(conn)
                if shared:
                    push_many(alike, shared, newest)

    async def _personal(
        self, db: Any, conn: Connection, stale: list[Panel], events: list[Event]
    ) -> str:
        mine = [
            p
            for p in stale
            if p.personal
            and any(
                e.type in p.triggers and e.data.get("participant_id") in (None, conn.participant_id)
                for e in events
            )
        ]
        viewer = Viewer(conn.audience, conn.participant_id)
        return "".join([await self.snapshots.render(db, p, viewer) for p in mine])

    async def _relocate(self, session_id: str, watch: Watch) -> None:
        """After people were moved between rooms, every moved socket starts over."""
        people = [c for c in watch.connections if c.participant_id is not None]
        async with self.store.hub_read() as db:
            rooms = await self.screens.place_many(
                db, session_id, sorted({c.participant_id or "" for c in people})
            )
        for conn in people:
            room = rooms.get(conn.participant_id or "")
            if room != conn.room_id:
                conn.room_id = room
                conn.needs_snapshot = True
                conn.wake()
