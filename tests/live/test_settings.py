"""Configuration is read once from the environment, and a bad value is named with its fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from live.settings import ConfigError, Settings


def test_no_configuration_means_one_process_sqlite_and_an_in_process_broker(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'samla.db'}"
    settings = Settings.from_env({"DATABASE_URL": url})
    assert settings.redis_url is None and settings.is_sqlite
    assert settings.port == 8000 and settings.retention_days == 90
    # The secret is generated once and kept beside the SQLite file.
    again = Settings.from_env({"DATABASE_URL": url})
    assert again.secret_key == settings.secret_key
    assert (tmp_path / "samla.secret").read_text().strip() == settings.secret_key


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"DATABASE_URL": "not a url at all"}, "cannot be parsed"),
        ({"DATABASE_URL": "mysql://x/y"}, "not supported"),
        ({"REDIS_URL": "http://localhost:6379"}, "not a Redis URL"),
        ({"PORT": "eighty"}, "not a whole number"),
        ({"PORT": "70000"}, "out of range"),
        ({"RETENTION_DAYS": "-1"}, "out of range"),
        ({"SECRET_KEY": "short"}, "too short"),
        ({"ALLOWED_ORIGINS": "samla.example"}, "must be an origin"),
        ({"DATABASE_URL": "postgresql+asyncpg://u:p@db/samla"}, "SECRET_KEY must be set"),
    ],
)
def test_a_bad_value_is_refused_with_a_message_that_names_it(
    tmp_path: Path, env: dict[str, str], says: str
) -> None:
    env = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 's.db'}", **env}
    with pytest.raises(ConfigError, match=says):
        Settings.from_env(env)


def test_allowed_origins_are_an_exact_list(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 's.db'}",
            "ALLOWED_ORIGINS": "https://samla.example/, http://localhost:8000",
            "REDIS_URL": "redis://127.0.0.1:6379/0",
            "RETENTION_DAYS": "0",
        }
    )
    assert settings.allowed_origins == ("https://samla.example", "http://localhost:8000")
    assert settings.redis_url == "redis://127.0.0.1:6379/0"
    assert settings.retention_days == 0
