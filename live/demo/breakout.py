"""The demo's breakout rooms: the group conversation in session 2, open, balanced by sector."""

from __future__ import annotations

import random

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from rooms import breakout, minutes
from rooms.models import Participant, Session
from rooms.sessions import bump_version

GROUP_SESSION = "Gruppsamtal: att inleda samverkan"
# Half the rooms are tables in the hall, half meet online: a hybrid conference.
ROOM_NAMES = [f"Grupp {letter}" for letter in "ABCDEFGH"]
PLACES = ["Bord 1", "Bord 2", "Bord 3", "Bord 4"]
# What the first rooms' secretaries have written in their shared minutes so far.
MINUTES = [
    [
        "Minnesanteckningar, grupp A",
        "Närvarande: sex personer från kommun, region och föreningsliv.",
        "Vi började med en presentationsrunda.",
        "Gott exempel: fritidsgården som drivs tillsammans med en förening.",
        "Nästa steg: en gemensam kontaktperson i kommunen.",
    ],
    [
        "Minnesanteckningar, grupp B",
        "Hinder: korta projektbidrag gör det svårt att planera långsiktigt.",
        "Förslag: idéburet offentligt partnerskap i stället för upphandling.",
    ],
    [
        "Minnesanteckningar, grupp C",
        "Vi pratade om hur ungas röster kan höras i samråd.",
        "Att göra: bjuda in elevråden till nästa träff.",
    ],
]


async def step(db: AsyncSession, sessions_by_title: dict[str, Session]) -> None:
    session = sessions_by_title.get(GROUP_SESSION)
    if session is None:
        return
    opened = await breakout.open_rooms(
        db,
        session.id,
        count=len(ROOM_NAMES),
        assignment="balanced",
        balance_by="sektor",
        minutes=20,
        names=ROOM_NAMES,
        places=PLACES,
        rng=random.Random(2026),
    )
    sent = await breakout.broadcast(
        db,
        session.id,
        "Välkomna till gruppsamtalen! Börja med en kort presentationsrunda, "
        "skriv sedan era goda exempel på tavlan.",
    )
    # One room has called for the moderator, so the overview shows what a call looks like.
    first = opened.value.rooms[2]["participant_ids"][0]
    person = await db.scalar(select(Participant).where(Participant.id == first))
    assert person is not None
    asked = await breakout.ask_for_help(db, person)
    for room, lines in zip(opened.value.rooms, MINUTES, strict=False):
        target, _ = await minutes.room_target(db, room["id"])
        await minutes.append_text(db, target, "\n".join(lines))
    await bump_version(db, session.id, len(opened.events) + len(sent.events) + len(asked.events))
