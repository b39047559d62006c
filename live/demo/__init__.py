"""`samla demo`: a believable Swedish dialogue conference in mid-flow, and the links to it."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from live.demo import boards as demo_boards
from live.demo import breakout as demo_breakout
from live.demo import event as demo_event
from live.demo import polls as demo_polls
from live.settings import Settings
from live.store import Store, migrate
from rooms import accounts, lifecycle, sessions
from rooms.models import Organiser, Session
from rooms.stage import link_secret

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
    replaced: int = 0  # demo sessions of an earlier run, deleted for these
    event_id: str = ""
    selected: int = 0

    def text(self) -> str:
        lines = [
            f"Samla demo: {EVENT}",
            "",
            f"Organiser page: {self.base}/organiser",
            f"  sign in as {DEMO_EMAIL} ({demo_event.ORGANISATION}) with password {self.password}",
            "  (every session's archive downloads are there: report, Word, Excel, CSV, JSON)",
            f"  co-organiser: {demo_event.PARTNER_EMAIL} ({demo_event.PARTNER_ORGANISATION}), "
            "the same password",
            "",
            f"The event's programme: {self.base}/e/{self.event_id}",
            f"  registration: {self.base}/e/{self.event_id}/register",
            f"  {demo_event.REGISTRATIONS} registrations, {self.selected} selected, balanced on "
            f"sektor and nivå: {self.base}/organiser/events/{self.event_id}/registrations",
            f"  the published report: {self.base}/e/{self.event_id}/report",
            f"  (edit it at {self.base}/organiser/events/{self.event_id}/report)",
            "",
        ]
        if self.replaced:
            lines += [
                f"The {self.replaced} demo sessions of an earlier run were replaced by these;",
                "their old moderator links no longer work.",
                "",
            ]
        for title, join, moderate, stage in self.links:
            lines += [
                f"{title}",
                f"  shows:     {self.shows.get(title, '')}",
                f"  join:      {join}",
                f"  moderator: {moderate}",
                f"  stage:     {stage}  (the hall's screen: no sign-in, F for fullscreen)",
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
        n = len(described["boards"])
        parts.append(f"{n} board{'s' if n > 1 else ''}")
    return ", ".join(parts)


def demo_password(settings: Settings) -> str:
    """The demo organiser's password: the same on every run against the same store (it is
    derived from the instance's secret key), so a password printed once keeps working, and
    nobody without that key can guess it."""
    mac = hmac.new(settings.secret_key.encode(), b"samla demo organiser", hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()[:12]).decode()


def _is_password(password_hash: str, password: str) -> bool:
    try:
        return PasswordHasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def _organiser(store: Store, password: str) -> str:
    """The demo organiser (the national agency's), made once; its password is set only if it
    is not this one already (a demo made before passwords were derived), its organisation
    on every run."""
    async with store.write() as db:
        found = await db.scalar(select(Organiser).where(col(Organiser.email) == DEMO_EMAIL))
        if found is None:
            found = await accounts.add_organiser(db, DEMO_EMAIL, password, demo_event.ORGANISATION)
        elif not await asyncio.to_thread(_is_password, found.password_hash, password):
            found.password_hash = PasswordHasher().hash(password)
            db.add(found)
        await accounts.set_organisation(db, found.id, demo_event.ORGANISATION)
        return found.id


async def _clear_earlier_demo(store: Store, organiser_id: str) -> int:
    """Deletes the demo sessions an earlier run made, so that the store holds one demo event;
    returns how many there were. The demo organiser's other sessions stay."""
    async with store.write() as db:
        earlier = list(
            await db.scalars(
                select(col(Session.id)).where(
                    col(Session.organiser_id) == organiser_id, col(Session.title).in_(SESSIONS)
                )
            )
        )
        for sid in earlier:
            await sessions.delete_session(db, sid)
    return len(earlier)


async def fill(settings: Settings, base: str) -> str:
    await asyncio.to_thread(migrate, settings.database_url)
    store = Store(settings.database_url)
    rng = random.Random(2026)
    demo = Demo(base, demo_password(settings))
    try:
        organiser_id = await _organiser(store, demo.password)
        demo.replaced = await _clear_earlier_demo(store, organiser_id)
        async with store.write() as db:
            await demo_event.clear(db, organiser_id, EVENT)
        async with store.write() as db:
            conference = await demo_event.make_event(
                db,
                organiser_id=organiser_id,
                partner_password=demo.password,
                title=EVENT,
                attributes=ATTRIBUTES,
                zone=settings.time_zone,
            )
            demo.event_id = conference.id
        made: dict[str, Session] = {}
        key = settings.secret_key
        for title, hours in zip(SESSIONS, demo_event.STARTS, strict=True):
            async with store.write() as db:
                created = (
                    await sessions.create_session(
                        db,
                        title=f"{title}",
                        organiser_id=organiser_id,
                        conference=conference,
                        starts_at=demo_event.day_at(settings.time_zone, hours).isoformat(),
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
                    f"{base}/stage/{link_secret(key, session.id, session.stage_salt)}",
                )
            )
        for step in DEMO_STEPS:
            async with store.write() as db:
                await step(db, made)
        async with store.write() as db:
            names = sorted({f"{a} {b}" for a in FIRST for b in LAST})
            rng.shuffle(names)
            await demo_event.register_people(db, conference, names, rng)
            demo.selected = len((await demo_event.select_panel(db, conference)).selected)
        async with store.write() as db:
            await demo_event.publish_report(db, conference)
        async with store.read() as db:
            for (label, *_), session in zip(demo.links, made.values(), strict=True):
                demo.shows[label] = _summary(await lifecycle.describe(db, session))
    finally:
        await store.close()
    return demo.text()
