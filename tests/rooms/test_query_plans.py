"""The statements a crowd of sockets runs per batch find their rows by key: a batch of 64
people must not read every seat or every participant of a session of 10,000 (SQLite plans
without statistics, and picks the session's index when it is offered one)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy.dialects import sqlite
from sqlalchemy.sql import Select

from rooms.breakout.reading import _SEATED_AMONG
from rooms.participants import _STILL_IN


def plan(database: Path, statement: Select[tuple[object, ...]], **params: object) -> str:
    compiled = statement.params(**params).compile(
        dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}
    )
    with sqlite3.connect(database) as conn:
        rows = conn.execute(f"EXPLAIN QUERY PLAN {compiled}").fetchall()
    return "\n".join(str(row[-1]) for row in rows)


@pytest.mark.parametrize(
    ("statement", "params", "starts_from"),
    [
        (
            _SEATED_AMONG,
            {"session_id": "s1", "participant_ids": ["p1", "p2"]},
            "SEARCH seat USING INDEX sqlite_autoindex_seat_2 (session_id=? AND participant_id=?)",
        ),
        (
            _STILL_IN,
            {"participant_ids": ["p1", "p2"]},
            "SEARCH participant USING INDEX sqlite_autoindex_participant_1 (id=?)",
        ),
    ],
    ids=["seats of a batch", "who of a batch is still in"],
)
def test_a_batch_of_people_is_read_by_their_keys(
    migrated: Path,
    statement: Select[tuple[object, ...]],
    params: dict[str, object],
    starts_from: str,
) -> None:
    found = plan(migrated, statement, **params)
    assert found.splitlines()[0] == starts_from, found
    assert "ix_room_session_id" not in found and "ix_participant_session_joined" not in found
