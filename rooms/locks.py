"""Row locks that put concurrent writes in order on PostgreSQL, where several instances write
at once at READ COMMITTED; on SQLite every write holds the one database write lock from its
start (BEGIN IMMEDIATE), so there these read the row as stored and lock nothing.

Every write takes its locks in one order, the session's row first, then the poll's (or the
room's, the board's), then a participant's rows, so that no two writes wait for each other.
A lock is taken while the action runs, never left to the flush at commit: that comes after
the version bump has locked the session's row for the rest of the write, out of order."""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

M = TypeVar("M", bound=SQLModel)

# "key share": the row must stay as it is for this write (a session that takes changes);
# it lets the version bump that ends every write pass, and only "update" waits for it.
# ("share" would not: two writes holding a session so would each wait for the other at
# their bumps, a deadlock.)
# "share": as "key share", but every change of the row waits (a poll's status and its votes).
# "update": this write alone changes the row and what hangs on it (a close).
Lock = Literal["key share", "share", "update"]
_FOR: dict[Lock, Any] = {
    "key share": {"read": True, "key_share": True},
    "share": {"read": True},
    "update": True,
}


def serial(db: AsyncSession) -> bool:
    """Whether this store runs one write at a time (SQLite): then no row needs a lock."""
    return db.get_bind().dialect.name == "sqlite"


async def locked(db: AsyncSession, model: type[M], key: Any, lock: Lock) -> M | None:
    """The row with primary key `key`, read afresh under `lock` (None if there is none).

    At READ COMMITTED a locking read that had to wait returns the row as the write it
    waited for left it; `populate_existing` makes the ORM take that row rather than the
    copy it may already hold from earlier in this transaction."""
    if serial(db):
        return await db.get(model, key)
    return await db.get(model, key, with_for_update=_FOR[lock], populate_existing=True)


async def claim(db: AsyncSession, model: type[SQLModel], values: dict[str, Any]) -> bool:
    """Inserts a row unless one with the same key exists; whether this transaction inserted it.

    On PostgreSQL a row another transaction has inserted but not yet committed makes this
    wait for that transaction: afterwards its row is either here to be read, or gone and
    this one inserted instead. Never an IntegrityError, so the transaction goes on."""
    insert = sqlite.insert if serial(db) else postgresql.insert
    table = model.__table__  # type: ignore[attr-defined]
    statement = insert(table).values(values).on_conflict_do_nothing()
    result = await (await db.connection()).execute(statement.returning(*table.primary_key))
    return result.first() is not None
