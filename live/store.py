"""The store: async SQLModel engines for SQLite (the default) or PostgreSQL, and migrations."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

import rooms  # noqa: F401  (registers every table on the metadata)

MIGRATIONS = Path(__file__).parent / "migrations"
# How long a SQLite writer waits for another process's write lock before giving up (ms).
SQLITE_BUSY_MS = 15_000


class Store:
    """Opens read and write transactions on the configured database.

    On SQLite every write takes the database lock up front (BEGIN IMMEDIATE) on one
    connection, queued in-process behind an asyncio lock: writers wait their turn instead
    of failing on upgrade, and readers in WAL mode never wait for them."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            self._writer = _sqlite_engine(url, immediate=True, pool_size=1)
            self._reader = _sqlite_engine(url, immediate=False, pool_size=4)
            # The hub's reads (a tick's totals, the panels it renders) have a connection of
            # their own: in a vote storm they must not queue behind thousands of requests.
            self._hub_reader = _sqlite_engine(url, immediate=False, pool_size=1)
        else:
            self._writer = self._reader = create_async_engine(
                url, pool_size=20, max_overflow=10, pool_pre_ping=True
            )
            self._hub_reader = create_async_engine(url, pool_size=2, max_overflow=2)
        self._write_lock = asyncio.Lock() if self.is_sqlite else None
        self._write_sessions = async_sessionmaker(self._writer, expire_on_commit=False)
        self._read_sessions = async_sessionmaker(self._reader, expire_on_commit=False)
        self._hub_sessions = async_sessionmaker(self._hub_reader, expire_on_commit=False)

    @property
    def engine(self) -> AsyncEngine:
        return self._writer

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """One write transaction: committed when the block ends, rolled back if it raises."""
        if self._write_lock is None:
            async with self._write_sessions() as db, db.begin():
                yield db
            return
        async with self._write_lock, self._write_sessions() as db, db.begin():
            yield db

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """One consistent read: everything inside sees the same committed state."""
        async with self._read_sessions() as db, db.begin():
            yield db

    @asynccontextmanager
    async def hub_read(self) -> AsyncIterator[AsyncSession]:
        """A consistent read on the hub's own connection."""
        async with self._hub_sessions() as db, db.begin():
            yield db

    async def close(self) -> None:
        await self._writer.dispose()
        if self._reader is not self._writer:
            await self._reader.dispose()
        await self._hub_reader.dispose()


def _sqlite_engine(url: str, *, immediate: bool, pool_size: int) -> AsyncEngine:
    engine = create_async_engine(url, pool_size=pool_size, max_overflow=0)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the driver, so BEGIN is ours to choose.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        # NORMAL in WAL mode: a committed transaction survives a crash of Samla; only a
        # power cut can take the last few, and it costs a third of FULL's fsyncs.
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        # Deleted rows (an archive deleted, a ballot unlinked from its voter) are
        # overwritten, not left readable in free pages.
        cursor.execute("PRAGMA secure_delete = ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(url: str) -> None:
    """Brings the database up to the newest schema; blocking, so call it from a thread."""
    logging.getLogger("alembic").setLevel(logging.WARNING)
    database = make_url(url).database
    if url.startswith("sqlite") and database and database != ":memory:":
        Path(database).resolve().parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(_alembic_config(url), "head")
