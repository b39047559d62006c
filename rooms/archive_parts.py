"""What each feature contributes to the archive, read from its tables.

Written by the archive for features whose branches had no part of their own yet; each part
only reads the feature's public tables and may move into the feature's module unchanged."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from rooms import archive, breakout


@archive.archive_part("rooms")
async def breakout_rooms(db: AsyncSession, session_id: str, names: bool) -> list[archive.Room]:
    """Every breakout room of every round, in the order they were opened.

    A room's count is the people seated in it now: a seat follows its participant into the
    next round, so an earlier round's rooms show who stayed there."""
    rounds = list(
        await db.scalars(
            select(col(breakout.Round.id))
            .where(col(breakout.Round.session_id) == session_id)
            .order_by(col(breakout.Round.created_at))
        )
    )
    rooms = list(
        await db.scalars(
            select(breakout.Room)
            .where(col(breakout.Room.session_id) == session_id)
            .order_by(col(breakout.Room.position))
        )
    )
    seated = dict(
        (
            await db.execute(
                select(col(breakout.Seat.room_id), func.count())
                .where(col(breakout.Seat.session_id) == session_id)
                .group_by(col(breakout.Seat.room_id))
            )
        ).all()
    )
    order = {round_id: i for i, round_id in enumerate(rounds)}
    out = []
    for room in sorted(rooms, key=lambda r: (order.get(r.round_id, 0), r.position)):
        name = room.name
        if len(rounds) > 1:
            name = f"{order.get(room.round_id, 0) + 1}: {room.name}"
        out.append(archive.Room(room.id, name, int(seated.get(room.id, 0))))
    return out


@archive.archive_count("rooms")
async def count_rooms(db: AsyncSession, session_ids: Sequence[str]) -> dict[str, int]:
    rows = await db.execute(
        select(col(breakout.Room.session_id), func.count())
        .where(col(breakout.Room.session_id).in_(session_ids))
        .group_by(col(breakout.Room.session_id))
    )
    return {sid: int(n) for sid, n in rows.all()}
