"""The demo's event: a programme of four sessions on one digital half-day, organised by a
national agency together with a civil-society network, with open registration, 60
registrations and a selection of 25 balanced on sektor and nivå."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from rooms import accounts
from rooms.events import conferences, registrations, report, selection
from rooms.models import Conference, Organiser

PARTNER_EMAIL = "samordnare@natverket.demo"
# Who the event is run by, as its report names them: "I samarbete med …".
ORGANISATION = "Myndigheten för samverkan"
PARTNER_ORGANISATION = "Nätverket Idéburen samverkan"
DESCRIPTION = (
    "En digital halvdag för dig som arbetar med samverkan mellan civilsamhälle och "
    "offentlig sektor: inledning, gruppsamtal om att inleda samverkan, strategisk "
    "samverkan och hur vi utvärderar den.\n\n"
    f"Arrangeras av {ORGANISATION} tillsammans med {PARTNER_ORGANISATION}."
)
# When each session starts, in hours after 09:00 on the demo's day (local time).
STARTS = (0.0, 0.5, 1.5, 2.25)
REGISTRATIONS = 60
SELECTED = 25


def day_at(zone: str, hours: float) -> datetime:
    """Today (in the configured zone) at 09:00 plus `hours`, in UTC."""
    local = ZoneInfo(zone)
    today = datetime.now(local).date()
    start = datetime.combine(today, time(9, 0), tzinfo=local) + timedelta(hours=hours)
    return start.astimezone(UTC)


async def partner(db: AsyncSession, password: str) -> Organiser:
    """The co-organiser's account (the civil-society network's staff), made once; its
    organisation is set again on every run (an earlier demo's account may have none)."""
    found = await db.scalar(select(Organiser).where(col(Organiser.email) == PARTNER_EMAIL))
    if found is None:
        return await accounts.add_organiser(db, PARTNER_EMAIL, password, PARTNER_ORGANISATION)
    return await accounts.set_organisation(db, found.id, PARTNER_ORGANISATION)


async def clear(db: AsyncSession, organiser_id: str, title: str) -> None:
    """An earlier run's demo event goes, with its sessions and registrations."""
    earlier = await db.scalars(
        select(col(Conference.id)).where(
            col(Conference.organiser_id) == organiser_id, col(Conference.title) == title
        )
    )
    for conference_id in list(earlier):
        await conferences.delete_conference(db, conference_id)


async def make_event(
    db: AsyncSession,
    *,
    organiser_id: str,
    partner_password: str,
    title: str,
    attributes: Sequence[Mapping[str, object]],
    zone: str,
) -> Conference:
    conference = await conferences.create_conference(
        db,
        organiser_id=organiser_id,
        title=title,
        description=DESCRIPTION,
        starts_at=day_at(zone, 0).isoformat(),
        ends_at=day_at(zone, 3).isoformat(),
        attributes=attributes,
        access="open",
        registration={"open": True, "closes_at": day_at(zone, 24 * 14).isoformat()},
    )
    co = await partner(db, partner_password)
    await conferences.add_organiser(db, conference.id, co.email)
    return conference


async def register_people(
    db: AsyncSession, conference: Conference, names: list[str], rng: random.Random
) -> None:
    """60 registrations, skewed as such a forum's are: more from the public sector and
    civil society than from business and academia, more local than national."""
    weights = {
        "sektor": [0.38, 0.4, 0.12, 0.1],
        "niva": [0.5, 0.32, 0.18],
    }
    seen: set[str] = set()
    for n in range(REGISTRATIONS):
        name = names[n % len(names)]
        local = name.lower().replace(" ", ".").translate(str.maketrans("åäöé", "aaoe"))
        email = f"{local}@exempel.se" if local not in seen else f"{local}{n}@exempel.se"
        seen.add(local)
        answers = {
            str(a["key"]): rng.choices(list(a["choices"]), weights=weights[str(a["key"])])[0]
            for a in conference.attributes
        }
        await registrations.register(
            db,
            conference.id,
            name=name,
            email=email,
            attributes=answers,
            consent=True,
            locale="sv",
        )


async def select_panel(db: AsyncSession, conference: Conference) -> selection.Selection:
    return await selection.run_selection(
        db, conference.id, size=SELECTED, balance_by=["sektor", "niva"], seed=2026
    )


SUMMARY = (
    "Den här rapporten samlar det som kom fram under Samverkansforum 2026: tips från "
    "gruppsamtalen om att inleda samverkan, om att fördjupa den och om att utvärdera den, "
    "och exempel att inspireras av.\n\n"
    "Deltagarna återkom till **tillit**, **tydliga roller** och **långsiktig finansiering**. "
    "Civilsamhället och den offentliga sektorn lyfte delvis olika saker; resultaten per sektor "
    "finns i dokumentationen av varje programpunkt."
)
# Each phase of the report takes the most upvoted notes of one column of the group talks.
PHASES = (("Inleda", "Goda exempel"), ("Fördjupa", "Idéer"), ("Utvärdera", "Utmaningar"))


async def publish_report(db: AsyncSession, conference: Conference) -> None:
    """The edited report, published: a summary, the three phases with the most upvoted
    notes of the group talks (one of them shortened for print), and the links of the cards."""
    notes = [n for board in await report.pickable(db, conference.id) for n in board.notes]
    sections = []
    for title, column in PHASES:
        best = sorted((n for n in notes if n.column_title == column), key=lambda n: -n.upvotes)
        items: list[dict[str, str]] = [{"note_id": n.id} for n in best[:3]]
        if items and len(best[0].text) > 40:
            items[0]["text"] = best[0].text[:40].rsplit(" ", 1)[0] + " …"
        sections.append({"title": title, "items": items})
    draft = await report.report_of(db, conference.id)
    await report.save_draft(
        db, conference.id, version=draft.version, summary=SUMMARY, sections=sections
    )
    await report.publish(db, conference.id)
