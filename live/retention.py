"""Deleting closed sessions RETENTION_DAYS after they closed, and events (with their
registrations) RETENTION_DAYS after they were over: the purge and its periodic loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlmodel import col

from live.services import Samla
from live.store import Store
from rooms import sessions
from rooms.events import conferences
from rooms.models import Conference, Session, utcnow

log = logging.getLogger("samla.retention")

# How often each instance looks for expired sessions. Retention is counted in days, so an
# hour late is nothing; several instances purging at once only find nothing left to delete.
PURGE_EVERY_S = 3600.0


def expires_at(closed_at: datetime | None, days: int) -> datetime | None:
    """When a closed session's data is deleted; None while open or when kept (days=0)."""
    if closed_at is None or days <= 0:
        return None
    return closed_at + timedelta(days=days)


async def expired(store: Store, days: int, now: datetime | None = None) -> list[str]:
    """The ids of closed sessions whose retention time has passed."""
    if days <= 0:
        return []
    cutoff = (now or utcnow()) - timedelta(days=days)
    async with store.read() as db:
        found = await db.scalars(
            select(col(Session.id)).where(
                col(Session.status) == "closed",
                col(Session.closed_at).is_not(None),
                col(Session.closed_at) <= cutoff,
            )
        )
        return list(found)


async def purge_expired(store: Store, days: int, now: datetime | None = None) -> int:
    """Deletes every closed session older than `days` (0 keeps them all); returns how many."""
    return len(await _purge(store, days, now))


async def _purge(store: Store, days: int, now: datetime | None) -> list[str]:
    deleted = await _purge_events(store, days, now)
    for session_id in await expired(store, days, now):
        # One transaction per session: a large one does not hold the write lock for all.
        async with store.write() as db:
            found = await db.get(Session, session_id)
            if found is None or found.status != "closed":
                continue
            await sessions.delete_session(db, session_id)
        deleted.append(session_id)
    return deleted


async def _purge_events(store: Store, days: int, now: datetime | None) -> list[str]:
    """Deletes the events over for `days`; returns the ids of the sessions that went too."""
    if days <= 0:
        return []
    cutoff = (now or utcnow()) - timedelta(days=days)
    async with store.read() as db:
        ended = await conferences.expired_conferences(db, cutoff)
    deleted: list[str] = []
    for conference_id in ended:
        async with store.write() as db:
            if await db.get(Conference, conference_id) is None:
                continue
            deleted += await conferences.delete_conference(db, conference_id)
        log.info("retention: deleted event %s", conference_id)
    return deleted


async def purge_once(samla: Samla, now: datetime | None = None) -> int:
    """One retention pass for a running Samla: deletes, then tells every instance's sockets."""
    deleted = await _purge(samla.store, samla.settings.retention_days, now)
    for session_id in deleted:
        await samla.hub.announce_deleted(session_id)
    if deleted:
        log.info("retention: deleted %d closed session(s)", len(deleted))
    return len(deleted)


async def _keep_purging(samla: Samla, every: float) -> None:
    while True:
        try:
            await purge_once(samla)
        except Exception:
            # A failed pass (the database away for a moment) is retried at the next one.
            log.exception("retention pass failed")
        await asyncio.sleep(every)


@contextlib.asynccontextmanager
async def running(samla: Samla, every: float = PURGE_EVERY_S) -> AsyncIterator[None]:
    """Purges expired sessions now and then every `every` seconds while the app runs."""
    if samla.settings.retention_days <= 0:
        yield
        return
    task = asyncio.create_task(_keep_purging(samla, every), name="samla-retention")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
