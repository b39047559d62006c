"""The demo's boards and Q&A: room boards with notes, some collected to the plenary, questions."""

from __future__ import annotations

import random
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from rooms import boards, breakout, lifecycle, questions
from rooms.models import Participant, Session

GROUP_TALK = "Gruppsamtal: att inleda samverkan"
STRATEGY = "Strategisk samverkan"
EVALUATE = "Utvärdera och revidera"
ROOMS = 8

EXAMPLES: list[Any] = [
    {
        "what": "En kommuns gemensamma ingång för föreningar",
        "who": "Kommunen och föreningsrådet",
        "where": "Umeå",
        "effect": "Föreningarna får svar på en dag i stället för tre veckor",
        "link": "https://www.umea.se/foreningar",
        "kind": "Arbetssätt och metoder",
    },
    {
        "what": "IOP ger långsiktig finansiering",
        "who": "Regionen och en idéburen organisation",
        "where": "Region Västerbotten",
        "effect": "Verksamheten planerar för fem år, inte ett",
        "link": "https://www.regionvasterbotten.se/iop",
        "kind": "Arbetssätt och metoder",
    },
    {
        "what": "Volontärer matchas mot uppdrag på en gemensam webbplats",
        "who": "Frivilligcentralen och kommunen",
        "where": "Göteborg",
        "link": "https://www.frivilligcentralen.se/uppdrag",
        "kind": "Plattformar och nätverk",
    },
    {
        "what": "Handbok om idéburet offentligt partnerskap",
        "who": "Forum för idéburna organisationer",
        "link": "https://www.forumideburen.org/iop-handbok",
        "kind": "Lästips",
    },
    "Gemensam lokal för föreningar och fritidsgården",
    "Samverkansråd som träffas varje kvartal",
]
CHALLENGES: list[Any] = [
    "projektpengar tar slut efter tre år",
    "Olika språk och begrepp i sektorerna",
    "Svårt att veta vem man ska kontakta hos kommunen",
    "Upphandlingsregler som skrämmer båda sidor",
    "Samverkan hänger på enskilda eldsjälar",
]
IDEAS: list[Any] = [
    "börja med något praktiskt tillsammans",
    "En gemensam överenskommelse om hur vi samverkar",
    "Utvärdera tillsammans varje år",
    "Bjud in till öppet hus hos varandra",
    "Dela kunskap om behoven i området",
]
QUESTIONS = [
    ("Hur säkrar vi finansiering efter projekttiden?", 14, True),
    ("Vem har mandat att fatta beslut i ett partnerskap?", 9, False),
    ("Hur får vi med de mindre föreningarna?", 6, False),
    ("Finns det en mall för IOP som man kan utgå från?", 3, False),
]


async def _participants(db: AsyncSession, session: Session) -> list[Participant]:
    found = await db.scalars(
        select(Participant)
        .where(col(Participant.session_id) == session.id)
        .order_by(col(Participant.joined_at))
    )
    return list(found)


async def _room_ids(db: AsyncSession, session: Session) -> list[str]:
    """The session's breakout rooms if that feature made them, else stand-in room ids."""
    described = await lifecycle.describe(db, session)
    found = [str(r["id"]) for r in described.get("rooms", []) if r.get("id")]
    return found[:ROOMS] or [f"grupprum-{i}" for i in range(1, ROOMS + 1)]


async def _room_boards(db: AsyncSession, session: Session, rng: random.Random) -> None:
    people = await _participants(db, session)
    plenary = (
        await boards.create_board(
            db, session.id, template="examples", title="Lyft från grupprummen"
        )
    ).value
    picked: list[str] = []
    for number, room_id in enumerate(await _room_ids(db, session), start=1):
        board = (
            await boards.create_board_from_template(
                db,
                session.id,
                "examples",
                room_id,
                title=f"Grupprum {number}: Goda exempel / Utmaningar / Idéer",
            )
        ).value
        # The room's own people write on its board when breakout rooms placed them there.
        members = [
            p for p in people if await breakout.room_of(db, session.id, p.id) == room_id
        ] or people
        for column, pool in zip(board.columns, (EXAMPLES, CHALLENGES, IDEAS), strict=True):
            for item in rng.sample(pool, rng.randint(1, 3)):
                fields = item if isinstance(item, dict) else None
                note = boards.Note(
                    session_id=session.id,
                    board_id=board.id,
                    column_id=column["id"],
                    text=fields["what"] if fields else str(item),
                    fields=fields,
                    author_id=rng.choice(members).id,
                    anonymous=rng.random() < 0.2,
                )
                db.add(note)
                await db.flush()
                for voter in rng.sample(members, min(len(members), rng.randint(0, 6))):
                    db.add(boards.NoteUpvote(note_id=note.id, participant_id=voter.id))
                if number <= 4 and len(picked) < number:
                    picked.append(note.id)
    collected = (await boards.collect_notes(db, session.id, plenary.id, picked)).value
    for copy in collected:
        for voter in rng.sample(people, rng.randint(3, 20)):
            db.add(boards.NoteUpvote(note_id=copy["id"], participant_id=voter.id))
    await db.flush()


async def _questions(db: AsyncSession, session: Session, rng: random.Random) -> None:
    people = await _participants(db, session)
    for text, upvotes, answered in QUESTIONS:
        asker = rng.choice(people)
        data, _ = (await questions.ask(db, asker, text, anonymous=rng.random() < 0.3)).value
        for voter in rng.sample([p for p in people if p.id != asker.id], upvotes):
            await questions.upvote(db, voter, data["id"])
        if answered:
            await questions.mark_answered(db, session.id, data["id"])


async def step(db: AsyncSession, sessions_by_title: dict[str, Session]) -> None:
    rng = random.Random(2026)
    if GROUP_TALK in sessions_by_title:
        await _room_boards(db, sessions_by_title[GROUP_TALK], rng)
    if STRATEGY in sessions_by_title:
        await _questions(db, sessions_by_title[STRATEGY], rng)
    if EVALUATE in sessions_by_title:
        await boards.create_board_from_template(db, sessions_by_title[EVALUATE].id, "phases", None)
