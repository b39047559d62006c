"""The store: migrations make exactly the schema the models describe; SQLite runs in WAL."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlmodel import SQLModel

from live.store import Store, migrate
from rooms import lifecycle, sessions


async def test_migrations_build_exactly_the_models_schema(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
    await asyncio.to_thread(migrate, url)
    store = Store(url)
    try:
        async with store.engine.connect() as conn:
            diff = await conn.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), SQLModel.metadata)
            )
        assert diff == []
        async with store.read() as db:
            tables = set(
                (
                    await db.execute(text("SELECT name FROM sqlite_master WHERE type='table'"))
                ).scalars()
            )
        assert {"organiser", "login", "session", "participant", "alembic_version"} <= tables
    finally:
        await store.close()


async def test_sqlite_runs_in_wal_with_foreign_keys(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'w.db'}"
    await asyncio.to_thread(migrate, url)
    store = Store(url)
    try:
        async with store.read() as db:
            assert (await db.scalar(text("PRAGMA journal_mode"))) == "wal"
            assert (await db.scalar(text("PRAGMA foreign_keys"))) == 1
    finally:
        await store.close()


async def concurrent_writers_get_unique_versions(url: str, writers: int) -> None:
    """The store's contract, on SQLite here and on PostgreSQL in test_postgres: concurrent
    write transactions all commit, and each raises the session's version exactly once."""
    await asyncio.to_thread(migrate, url)
    store = Store(url)
    try:
        async with store.write() as db:
            made = await sessions.create_session(db, title="Storm", organiser_id=None)
        sid, code = made.session_id, made.value.session.code

        async def one() -> int:
            async with store.write() as db:
                await lifecycle.join(db, code=code)
                return await sessions.bump_version(db, sid, 1)

        versions = await asyncio.gather(*(one() for _ in range(writers)))
        assert sorted(versions) == list(range(1, writers + 1))
        async with store.read() as db:
            assert await sessions.participant_count(db, sid) == writers
    finally:
        await store.close()


async def test_concurrent_writers_all_commit_and_versions_are_unique(tmp_path: Path) -> None:
    await concurrent_writers_get_unique_versions(f"sqlite+aiosqlite:///{tmp_path / 'c.db'}", 200)


async def test_sqlite_statements_run_on_the_loop_thread_and_long_reads_in_threads(
    tmp_path: Path,
) -> None:
    """Writes and reads run their statements on the event loop's own thread (no hop per
    statement); a long read (an archive) runs in aiosqlite's threads."""
    url = f"sqlite+aiosqlite:///{tmp_path / 't.db'}"
    await asyncio.to_thread(migrate, url)
    store = Store(url)
    threads: dict[str, int] = {}

    async def where(kind: str, opened: Any) -> None:
        async with opened as db:
            raw = (await db.connection()).sync_connection
            assert raw is not None
            await raw.connection.driver_connection.create_function(
                "here", 0, lambda: threads.setdefault(kind, threading.get_ident())
            )
            await db.execute(text("SELECT here()"))

    try:
        await where("write", store.write())
        await where("read", store.read())
        await where("hub", store.hub_read())
        await where("long", store.read_long())
    finally:
        await store.close()
    loop_thread = threading.get_ident()
    assert threads["write"] == threads["read"] == threads["hub"] == loop_thread
    assert threads["long"] != loop_thread


async def test_a_writer_waits_asleep_while_another_process_holds_the_lock(
    tmp_path: Path,
) -> None:
    """Another process (here: a plain sqlite3 connection) holds SQLite's write lock: the
    store's write waits for it without blocking the loop, then commits."""
    path = tmp_path / "b.db"
    url = f"sqlite+aiosqlite:///{path}"
    await asyncio.to_thread(migrate, url)
    store = Store(url)
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        other.execute("BEGIN IMMEDIATE")
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticker = asyncio.create_task(tick())

        async def write() -> str:
            async with store.write() as db:
                made = await sessions.create_session(db, title="Waited", organiser_id=None)
            return made.session_id

        writing = asyncio.create_task(write())
        await asyncio.sleep(0.4)
        assert not writing.done()
        assert ticks >= 10  # the loop ran on while the writer waited
        other.execute("COMMIT")
        sid = await asyncio.wait_for(writing, 5)
        ticker.cancel()
        async with store.read() as db:
            assert (await sessions.session_by_id(db, sid)).title == "Waited"
    finally:
        other.close()
        await store.close()


async def test_the_write_ahead_log_is_checkpointed_off_the_writer(tmp_path: Path) -> None:
    """The writer's commits never checkpoint (an fsync on the loop); Store.checkpoint does,
    after which the log starts over."""
    path = tmp_path / "c.db"
    url = f"sqlite+aiosqlite:///{path}"
    await asyncio.to_thread(migrate, url)
    store = Store(url)

    async def join_many(code: str, count: int) -> None:
        for i in range(count):
            async with store.write() as db:
                await lifecycle.join(db, code=code, name=f"Person {i}")

    def frames_in_log() -> int:
        with contextlib.closing(sqlite3.connect(path)) as raw:
            _, logged, _ = raw.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return int(logged)

    try:
        async with store.write() as db:
            made = await sessions.create_session(db, title="Many", organiser_id=None)
        code = made.value.session.code
        await join_many(code, 400)
        # SQLite's own default would have checkpointed at 1,000 frames.
        assert await asyncio.to_thread(frames_in_log) > 1000
        await join_many(code, 400)
        await store.checkpoint()
        await join_many(code, 1)
        assert await asyncio.to_thread(frames_in_log) < 50
    finally:
        await store.close()
