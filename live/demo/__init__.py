"""`samla demo`: a believable Swedish dialogue conference in mid-flow, and the links to it."""

from __future__ import annotations

import asyncio
import random
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from live.demo import boards as demo_boards
from live.demo import breakout as demo_breakout
from live.demo import polls as demo_polls
from live.settings import Settings
from live.store import Store, migrate
from rooms import accounts, lifecycle, sessions
from rooms.models import Organiser, Session

DEMO_EMAIL = "arrangor@samla.demo"
EVENT = "Samverkansforum 2026 — samverkan i en föränderlig tid"
ATTRIBUTES = [
    {
        "key": "sektor",
        "label": "Sektor",
        "choices": ["Civilsamhälle", "Offentlig sektor", "Näringsliv", "Akademi"],
    },
    {"key": "niva", "label": "Nivå", "choices": ["Lokal", "Regional", "Nationell"]},
]
SESSIONS = [
    "Välkommen och inledning",
    "Gruppsamtal: att inleda samverkan",
    "Strategisk samverkan",
    "Utvärdera och revidera",
]
FIRST = [
    "Anna",
    "Erik",
    "Maria",
    "Lars",
    "Karin",
    "Johan",
    "Sara",
    "Mohammed",
    "Elin",
    "Per",
    "Fatima",
    "Anders",
    "Ida",
    "Nils",
    "Amina",
    "Olof",
    "Linnea",
    "Ali",
    "Emma",
    "Gustav",
]
LAST = [
    "Andersson",
    "Johansson",
    "Karlsson",
    "Nilsson",
    "Eriksson",
    "Larsson",
    "Olsson",
    "Persson",
    "Svensson",
    "Gustafsson",
    "Lindberg",
    "Hassan",
    "Berg",
    "Holm",
    "Ek",
]
PARTICIPANTS = 60

# What each feature adds to the demo: a coroutine given a write transaction and the demo
# sessions by title (their participants already joined), in programme order.
DemoStep = Callable[[AsyncSession, dict[str, Session]], Awaitable[None]]
# Boards and Q&A come after the rooms they use.
DEMO_STEPS: tuple[DemoStep, ...] = (demo_polls.step, demo_breakout.step, demo_boards.step)


@dataclass
class Demo:
    base: str
    password: str
    links: list[tuple[str, str, str, str]] = field(default_factory=list)
    shows: dict[str, str] = field(default_factory=dict)

    def text(self) -> str:
        lines = [
            f"Samla demo: {EVENT}",
            "",
            f"Organiser page: {self.base}/organiser",
            f"  sign in as {DEMO_EMAIL} with password {self.password}",
            "  (every session's archive downloads are there: report, Word, Excel, CSV, JSON)",
            "",
        ]
        for title, join, moderate, present in self.links:
            lines += [
                f"{title}",
                f"  shows:     {self.shows.get(title, '')}",
                f"  join:      {join}",
                f"  moderator: {moderate}",
                f"  presenter: {present}",
                "",
            ]
        return "\n".join(lines)


def _summary(described: dict[str, Any]) -> str:
    """What a newcomer will find in a session, in one line."""
    rooms = [r for r in described["rooms"] if r.get("status") == "open"]
    polls = described["polls"]
    parts = [f"{described['participants']} participants"]
    if rooms:
        parts.append(f"{len(rooms)} breakout rooms open")
    for status in ("open", "closed", "draft"):
        n = sum(1 for p in polls if p["status"] == status)
        if n:
            parts.append(f"{n} {status} poll{'s' if n > 1 else ''}")
    if described["boards"]:
        parts.append(f"{len(described['boards'])} boards")
    return ", ".join(parts)


async def _organiser(store: Store, password: str) -> str:
    async with store.write() as db:
        found = await db.scalar(select(Organiser).where(col(Organiser.email) == DEMO_EMAIL))
        if found is None:
            found = await accounts.add_organiser(db, DEMO_EMAIL, password)
        else:
            found.password_hash = PasswordHasher().hash(password)
            db.add(found)
        return found.id


async def fill(settings: Settings, base: str) -> str:
    await asyncio.to_thread(migrate, settings.database_url)
    store = Store(settings.database_url)
    rng = random.Random(2026)
    demo = Demo(base, secrets.token_urlsafe(9))
    try:
        organiser_id = await _organiser(store, demo.password)
        made: dict[str, Session] = {}
        for title in SESSIONS:
            async with store.write() as db:
                created = (
                    await sessions.create_session(
                        db, title=f"{title}", organiser_id=organiser_id, attributes=ATTRIBUTES
                    )
                ).value
                session: Session = created.session
                for _ in range(PARTICIPANTS if title == SESSIONS[1] else PARTICIPANTS // 3):
                    name = (
                        f"{rng.choice(FIRST)} {rng.choice(LAST)}" if rng.random() < 0.85 else None
                    )
                    answers = {
                        "sektor": rng.choice(ATTRIBUTES[0]["choices"]),
                        "niva": rng.choice(ATTRIBUTES[1]["choices"]),
                    }
                    await lifecycle.join(db, code=session.code, name=name, attributes=answers)
                await sessions.bump_version(db, session.id, 1)
                made[title] = session
            demo.links.append(
                (
                    f"{title} (code {session.code})",
                    f"{base}/j/{session.code}",
                    f"{base}/s/{session.id}/moderate?key={created.moderator_token}",
                    f"{base}/s/{session.id}/presenter",
                )
            )
        for step in DEMO_STEPS:
            async with store.write() as db:
                await step(db, made)
        async with store.read() as db:
            for (label, *_), session in zip(demo.links, made.values(), strict=True):
                demo.shows[label] = _summary(await lifecycle.describe(db, session))
    finally:
        await store.close()
    return demo.text()
