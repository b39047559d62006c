"""The demo's polls: a closed scale and word cloud, an open ranking, a draft to open."""

from __future__ import annotations

import random

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from rooms import polls
from rooms.models import Participant, Session
from rooms.sessions import bump_version

WORDS = [
    "tillit",
    "dialog",
    "mandat",
    "långsiktighet",
    "Tillit",
    "lyssna",
    "respekt",
    "tid",
    "mod",
    "gemensamma mål",
    "dialog",
    "öppenhet",
]


async def _people(db: AsyncSession, session: Session) -> list[str]:
    found = await db.scalars(
        select(col(Participant.id)).where(col(Participant.session_id) == session.id)
    )
    return list(found)


async def step(db: AsyncSession, sessions_by_title: dict[str, Session]) -> None:
    rng = random.Random(3)
    first, third, fourth = (
        sessions_by_title["Välkommen och inledning"],
        sessions_by_title["Strategisk samverkan"],
        sessions_by_title["Utvärdera och revidera"],
    )
    people = await _people(db, first)
    scale = (
        await polls.create_poll(
            db,
            first.id,
            {
                "question": "Hur väl fungerar samverkan mellan civilsamhället och offentlig sektor "
                "där du verkar? (1-5)",
                "kind": "scale",
                "scale": {"min": 1, "max": 5, "min_label": "Inte alls", "max_label": "Mycket väl"},
            },
        )
    ).value
    cloud = (
        await polls.create_poll(
            db,
            first.id,
            {
                "question": "Ett ord för god samverkan",
                "kind": "wordcloud",
            },
        )
    ).value
    for poll in (scale, cloud):
        await polls.open_poll(db, poll["id"])
    for pid in people:
        value = rng.choices([1, 2, 3, 4, 5], weights=[1, 3, 5, 4, 2])[0]
        await polls.vote(db, scale["id"], pid, {"value": value})
        await polls.vote(db, cloud["id"], pid, {"words": rng.sample(WORDS, rng.randint(1, 3))})
    for poll in (scale, cloud):
        await polls.close_poll(db, poll["id"])

    ranking = (
        await polls.create_poll(
            db,
            third.id,
            {
                "question": "Vad behövs mest?",
                "kind": "ranking",
                "options": [
                    "Tydliga roller",
                    "Långsiktig finansiering",
                    "Mandat hos dem som deltar",
                    "Dokumentation",
                ],
                "allow_change": True,
            },
        )
    ).value
    await polls.open_poll(db, ranking["id"])
    ids = [o["id"] for o in ranking["options"]]
    for pid in (await _people(db, third))[:15]:
        # Funding and mandate tend to come first, as they do in such rooms.
        weight = {ids[0]: 1.0, ids[1]: 0.5, ids[2]: 0.6, ids[3]: 1.3}
        order = sorted(ids, key=lambda oid: rng.random() * weight[oid])
        await polls.vote(db, ranking["id"], pid, {"choices": order})

    await polls.create_poll(
        db,
        fourth.id,
        {
            "question": "Ska vi samverka mer eller samverka bättre?",
            "kind": "single",
            "options": ["Samverka mer", "Samverka bättre", "Både och"],
        },
    )
    for session in (first, third, fourth):
        await bump_version(db, session.id, 1)
