"""The domain's fixture: a migrated SQLite store of its own for each test."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from live.store import Store, migrate


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'samla.db'}"
    await asyncio.to_thread(migrate, url)
    opened = Store(url)
    yield opened
    await opened.close()
