"""The store: migrations make exactly the schema the models describe; SQLite runs in WAL."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlmodel import SQLModel

from live.store import Store, migrate
from rooms import sessions


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
                await sessions.join(db, code=code)
                return await sessions.bump_version(db, sid, 1)

        versions = await asyncio.gather(*(one() for _ in range(writers)))
        assert sorted(versions) == list(range(1, writers + 1))
        async with store.read() as db:
            assert await sessions.participant_count(db, sid) == writers
    finally:
        await store.close()


async def test_concurrent_writers_all_commit_and_versions_are_unique(tmp_path: Path) -> None:
    await concurrent_writers_get_unique_versions(f"sqlite+aiosqlite:///{tmp_path / 'c.db'}", 200)
