"""The same code path on PostgreSQL: migrations, concurrent writers, a served instance."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from live.store import Store, migrate
from tests.conftest import Api, Postgres, Served, open_stream
from tests.live.test_store import concurrent_writers_get_unique_versions


async def _database(postgres: Postgres) -> str:
    return await postgres.new_database()


async def test_migrations_build_the_models_schema_on_postgresql(postgres: Postgres) -> None:
    url = await _database(postgres)
    await asyncio.to_thread(migrate, url)
    store = Store(url)
    try:
        async with store.engine.connect() as conn:
            diff = await conn.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), SQLModel.metadata)
            )
        assert diff == []
    finally:
        await store.close()


async def test_concurrent_writers_get_unique_versions_on_postgresql(postgres: Postgres) -> None:
    await concurrent_writers_get_unique_versions(await _database(postgres), 100)


@pytest.fixture
def served_on_postgres(served_factory: Callable[..., Served], postgres: Postgres) -> Served:
    url = asyncio.run(_database(postgres))
    return served_factory(database_url=url)


async def test_a_served_instance_on_postgresql_streams_joins(served_on_postgres: Served) -> None:
    served = served_on_postgres
    async with httpx.AsyncClient(base_url=served.base, timeout=30) as client:
        api = Api(served, client)
        session = await api.make_session()
        first = await api.join(session, "Anna")
        async with open_stream(served)(session["id"], session["moderator_token"]) as s:
            await s.next()
            await api.join(session, "Bo")
            frame = await s.until(lambda f: f["type"] == "participant.joined")
            assert frame["name"] == "Bo"
        async with open_stream(served)(session["id"], first["token"]) as s:
            await s.next()
            await api.join(session, "Cay")
            frame = await s.until(lambda f: f["type"] == "participants.count")
            assert frame["joined"] == 3
        r = await api.call(
            "DELETE", f"/api/v1/sessions/{session['id']}", await api.organiser_token()
        )
        assert r.status_code == 204
