"""Which credentials that open sockets were let in with have ended since: organisers'
logins signed out or revoked, participants removed. Asked in bulk, so an instance can
check all its sockets in a few queries, whatever reached it or was lost on the way."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from rooms.models import Login, Participant

# Ids per query: SQLite allows 32,766 bound parameters and asyncpg 32,767; far fewer keeps
# each statement small, and ten thousand sockets cost twenty primary-key lookups.
IDS_PER_QUERY = 500


async def ended_logins(db: AsyncSession, login_ids: Iterable[str]) -> set[str]:
    """Those of `login_ids` that no longer exist (signed out, revoked, account deleted)."""
    return await _missing(db, col(Login.id), login_ids)


async def removed_participants(db: AsyncSession, participant_ids: Iterable[str]) -> set[str]:
    """Those of `participant_ids` that no longer exist (removed, or their session deleted)."""
    return await _missing(db, col(Participant.id), participant_ids)


async def _missing(db: AsyncSession, column: Any, ids: Iterable[str]) -> set[str]:
    wanted = sorted(set(ids))
    found: set[str] = set()
    for start in range(0, len(wanted), IDS_PER_QUERY):
        chunk = wanted[start : start + IDS_PER_QUERY]
        found.update(await db.scalars(select(column).where(column.in_(chunk))))
    return set(wanted) - found
