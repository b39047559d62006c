"""Repair: releasing each session's versions in order, and resnapshotting what fell behind.

The store is the truth. A session's events are released in version order; a gap that lasts
(a lost message), a broker link that was lost, or a store version this instance never heard
of (an instance died before publishing) sends its sockets a fresh snapshot instead."""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.status import WS_1008_POLICY_VIOLATION

from live import auth
from live.broker import Broker, session_channel
from live.hub.coalesce import Coalescer
from live.hub.connections import Registry, Watch
from live.hub.outbox import close
from live.store import Store
from rooms import credentials, sessions
from rooms.models import Event

log = logging.getLogger("samla.hub")

# A session's events waiting for an earlier version are released anyway, after a fresh
# snapshot, once the gap has lasted this long (the earlier message was lost).
GAP_PATIENCE = 2.0


def release(
    watch: Watch, versions: list[int], events: dict[int, list[Event]]
) -> list[tuple[int, Event]]:
    """Takes in one message's versions; answers the (version, event) pairs now in order."""
    for version in versions:
        if version > watch.watermark:
            watch.pending.setdefault(version, []).extend(events.get(version, ()))
    released: list[tuple[int, Event]] = []
    while watch.watermark + 1 in watch.pending:
        watch.watermark += 1
        released.extend((watch.watermark, e) for e in watch.pending.pop(watch.watermark))
    watch.gap_since = (watch.gap_since or time.monotonic()) if watch.pending else None
    return released


def resnapshot(watch: Watch, version: int) -> None:
    """Every socket of the session drops its backlog and gets a snapshot of `version`."""
    watch.watermark = max(watch.watermark, version)
    watch.pending = {v: e for v, e in watch.pending.items() if v > watch.watermark}
    watch.gap_since = time.monotonic() if watch.pending else None
    for conn in watch.connections:
        conn.outbox.clear()
        conn.needs_snapshot = True
        conn.wake()


class Repair:
    """Brings this instance's sessions back in line with the store: after a lost broker
    link, and at every reconcile round (versions, and every socket's credentials)."""

    def __init__(
        self, store: Store, broker: Broker, registry: Registry, coalescer: Coalescer
    ) -> None:
        self.store = store
        self.broker = broker
        self.registry = registry
        self.coalescer = coalescer

    async def resync_all(self) -> None:
        """The broker link was lost and is back: whatever was published meanwhile is gone."""
        watches = self.registry.watches
        await self.broker.refresh_present(self.registry.presence())
        async with self.store.hub_read() as db:
            found = await sessions.versions(db, list(watches))
        for session_id, watch in list(watches.items()):
            await self.broker.subscribe(session_channel(session_id))
            resnapshot(watch, found.get(session_id, watch.watermark))
            self.coalescer.nudge_presence(session_id)

    async def reconcile(self) -> None:
        """Compares each shown session's version with the store; a session whose newer
        version was not heard of since the previous round (its instance died before
        publishing, a message was lost) is resnapshotted. Every socket's credentials are
        checked again too: a session deleted or a login ended while its message was lost
        (Redis was down) closes its sockets here, whatever the broker delivered."""
        watches = self.registry.watches
        if not watches:
            return
        # The store first: it is the truth, and it answers while Redis may not.
        async with self.store.hub_read() as db:
            found = await sessions.versions(db, list(watches))
            await self._recheck_credentials(db, found)
        await self.broker.refresh_present(self.registry.presence())
        now = time.monotonic()
        self.coalescer.forget_old(now)
        for session_id, watch in list(watches.items()):
            stored = found.get(session_id)
            if stored is None:
                for conn in watch.connections:
                    close(conn, WS_1008_POLICY_VIOLATION, "session deleted")
                continue
            gap_too_long = watch.gap_since is not None and now - watch.gap_since > GAP_PATIENCE
            # Behind, and no progress for a whole round: what is missing is lost, not late
            # (in a storm the watermark trails the store but keeps moving).
            stalled = watch.watermark == watch.watermark_seen
            if gap_too_long or (watch.store_version_seen > watch.watermark and stalled):
                log.info("session %s is behind the store; resnapshotting", session_id)
                resnapshot(watch, stored)
            watch.store_version_seen = stored
            watch.watermark_seen = watch.watermark

    async def _recheck_credentials(self, db: Any, found: dict[str, int]) -> None:
        """Closes the sockets of logins that ended and of participants removed, found in
        the store: a few queries a round for all of this instance's sockets, not one each.
        (The sockets of a deleted session are closed by `reconcile` itself.)"""
        watches = self.registry.watches
        logins = {c.login_id for c in self.registry.all() if c.login_id}
        people = {pid for sid, w in watches.items() if sid in found for pid in w.present}
        ended = await credentials.ended_logins(db, logins) if logins else set()
        removed = await credentials.removed_participants(db, people) if people else set()
        if not ended and not removed:
            return
        for participant_id in removed:
            auth.forget_participant(participant_id)
        for conn in self.registry.all():
            if conn.login_id in ended:
                close(conn, WS_1008_POLICY_VIOLATION, "signed out")
            elif conn.participant_id in removed:
                close(conn, WS_1008_POLICY_VIOLATION, "removed from the session")
