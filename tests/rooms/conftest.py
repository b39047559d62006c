"""The domain's fixture: a migrated SQLite store of its own for each test."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from live.store import Store


@pytest.fixture
async def store(tmp_path: Path, migrated: Path) -> AsyncIterator[Store]:
    """A copy of the migrated database (tests/conftest.py), opened."""
    path = tmp_path / "samla.db"
    shutil.copyfile(migrated, path)
    opened = Store(f"sqlite+aiosqlite:///{path}")
    yield opened
    await opened.close()
