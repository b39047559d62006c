"""The store: async SQLModel engines for SQLite (the default) or PostgreSQL, and migrations."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import aiosqlite
from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
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
# The most a read on the loop's thread may wait for SQLite's locks (ms).
INLINE_READ_BUSY_MS = 20
# How often the SQLite write-ahead log is copied back into the database, off the loop.
CHECKPOINT_EVERY = 2.0


class Store:
    """Opens read and write transactions on the configured database.

    On SQLite, statements run right on the event loop's thread. Samla's transactions are
    short (a batch of votes, a note, a snapshot) and their statements take microseconds,
    while a hop to a worker thread and back costs a turn of a busy loop each: a write of ten
    statements would wait for forty turns, and a reconnecting crowd's snapshots queue behind
    them. Writers queue behind an asyncio lock and take the database lock up front (BEGIN
    IMMEDIATE) without waiting in SQLite: when another process holds it, the writer waits
    its turn asleep on the loop. In WAL mode readers never wait for writers. What may take
    long runs in aiosqlite's worker threads instead: a whole archive (`read_long`) and the
    checkpoints of the write-ahead log (with their fsync).

    On PostgreSQL (asyncpg) nothing blocks the loop; the same engine serves every kind."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            self._writer = _sqlite_engine(url, immediate=True, pool_size=1, inline=True)
            self._reader = _sqlite_engine(url, immediate=False, pool_size=4, inline=True)
            # Long reads (a whole archive) and checkpoints run in aiosqlite's threads.
            self._long_reader = _sqlite_engine(url, immediate=False, pool_size=2)
            # The hub's reads (a tick's totals, the panels it renders) have connections of
            # their own, run on the loop's thread like the writer's: in a vote storm they
            # must not queue behind thousands of requests, nor wait a busy loop's turn for
            # each statement. They are short, and in WAL mode they never wait for a writer.
            self._hub_reader = _sqlite_engine(url, immediate=False, pool_size=2, inline=True)
        else:
            self._writer = self._reader = self._long_reader = create_async_engine(
                url, pool_size=20, max_overflow=10, pool_pre_ping=True
            )
            self._hub_reader = create_async_engine(url, pool_size=2, max_overflow=2)
        self._write_lock = asyncio.Lock() if self.is_sqlite else None
        self._written = False  # since the last checkpoint
        self._write_sessions = async_sessionmaker(self._writer, expire_on_commit=False)
        self._read_sessions = async_sessionmaker(self._reader, expire_on_commit=False)
        self._hub_sessions = async_sessionmaker(self._hub_reader, expire_on_commit=False)
        self._long_sessions = async_sessionmaker(self._long_reader, expire_on_commit=False)

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
        async with self._write_lock, self._write_sessions() as db:
            await self._begin_immediate(db)
            try:
                yield db
            except BaseException:
                await db.rollback()
                raise
            await db.commit()
            self._written = True

    async def _begin_immediate(self, db: AsyncSession) -> None:
        """Takes SQLite's write lock for `db`, waiting asleep while another process has it."""
        deadline = time.monotonic() + SQLITE_BUSY_MS / 1000
        delay = 0.001
        while True:
            try:
                await db.connection()  # BEGIN IMMEDIATE, without waiting inside SQLite
                return
            except OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() + delay > deadline:
                    raise
            await db.rollback()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.05)

    async def checkpoint(self) -> None:
        """Copies the write-ahead log back into the database (SQLite; a reader's thread)."""
        if not self.is_sqlite or not self._written:
            return
        self._written = False
        async with self._long_reader.connect() as conn:
            await conn.execute(text("PRAGMA wal_checkpoint(PASSIVE)"))

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """One consistent read: everything inside sees the same committed state."""
        async with self._read_sessions() as db, db.begin():
            yield db

    @asynccontextmanager
    async def read_long(self) -> AsyncIterator[AsyncSession]:
        """A consistent read of much (a whole session's archive), its statements off the loop."""
        async with self._long_sessions() as db, db.begin():
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
            await self._long_reader.dispose()
        await self._hub_reader.dispose()


class _InlineSQLite(aiosqlite.Connection):
    """aiosqlite's connection, with each call made on the caller's thread instead of a hop
    to its worker thread and back (the worker only opens and closes the connection)."""

    def __init__(self, connector: Callable[[], sqlite3.Connection]) -> None:
        super().__init__(connector, iter_chunk_size=64)
        self._thread.daemon = True

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)


def _sqlite_engine(
    url: str, *, immediate: bool, pool_size: int, inline: bool = False
) -> AsyncEngine:
    options: dict[str, Any] = {}
    if inline:
        database = make_url(url).database or ":memory:"
        # Opened in the worker thread, used on the loop's: never at the same time.
        connector = partial(sqlite3.connect, database, check_same_thread=False)
        options["async_creator"] = lambda: _InlineSQLite(connector)
    engine = create_async_engine(url, pool_size=pool_size, max_overflow=0, **options)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the driver, so BEGIN is ours to choose.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # Nothing on the loop's thread waits long inside SQLite: its writer waits asleep
        # (Store.write); its readers, which WAL lets pass writers, only for rare moments
        # such as another process's recovery of the log.
        busy = (INLINE_READ_BUSY_MS if not immediate else 0) if inline else SQLITE_BUSY_MS
        cursor.execute(f"PRAGMA busy_timeout = {busy}")
        cursor.execute("PRAGMA journal_mode = WAL")
        # NORMAL in WAL mode: a committed transaction survives a crash of Samla; only a
        # power cut can take the last few, and it costs a third of FULL's fsyncs.
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        # Deleted rows (an archive deleted, a ballot unlinked from its voter) are
        # overwritten, not left readable in free pages.
        cursor.execute("PRAGMA secure_delete = ON")
        if inline and immediate:
            # Its commits never checkpoint (an fsync on the loop); Store.checkpoint does.
            cursor.execute("PRAGMA wal_autocheckpoint = 0")
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
