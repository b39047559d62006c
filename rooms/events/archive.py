"""The event's archive: one report across an event's sessions, as plain frozen values.

It holds the event (title, dates, its partners: the organisers' organisations, and the
organisers' emails, which are for the organisers only), the editor's parts
when a `Report` row exists (the summary, the curated sections with their notes, each note's
original text beside its shortened wording), every session's archive exactly as
`rooms.archive_parts.build_archive` makes it, and the views across sessions: the most
upvoted notes of every session per column (or phase), and every poll side by side.

The session archives carry the privacy promise of `rooms/archive.py`; the editor's parts
take their notes from them, so `names=False` removes a name there too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from rooms.archive import Archive, Note, Poll
from rooms.archive_parts import build_archive
from rooms.events.conferences import conference_by_id, organisers_of, programme
from rooms.events.report import creator_first, partners_of
from rooms.models import Report, iso, utcnow

# A national forum's event has a handful of sessions; more than this in one download would
# hold the store's read open for minutes, so the organiser downloads sessions one by one.
SESSIONS_MAX = 50


@dataclass(frozen=True)
class EventInfo:
    id: str
    title: str
    description: str
    starts_at: str | None
    ends_at: str | None
    partners: tuple[str, ...]  # "in cooperation with": the organisers' organisations
    organisers: tuple[str, ...] = ()  # their emails: the archive is the organisers' own


@dataclass(frozen=True)
class PickedNote:
    """A note the editor picked into a section: its original text stays beside the wording
    shortened for print (`shortened`, None where the editor kept it as written)."""

    note_id: str
    session_id: str
    board_title: str
    column: str
    text: str
    shortened: str | None
    upvotes: int
    author: str | None = None

    @property
    def shown(self) -> str:
        return self.shortened or self.text


@dataclass(frozen=True)
class EditedSection:
    id: str
    title: str
    notes: tuple[PickedNote, ...]


@dataclass(frozen=True)
class Edited:
    """The editor's parts of the report (from the event's `Report` row)."""

    summary: str
    sections: tuple[EditedSection, ...]
    omitted: tuple[str, ...]
    with_names: bool
    version: int
    published_at: str | None


@dataclass(frozen=True)
class SessionNote:
    """A note in a view across sessions, with the session and board it was written on."""

    note: Note
    session_id: str
    session_title: str
    board_title: str
    room: str | None  # the breakout room's name; None for the plenary


@dataclass(frozen=True)
class EventColumnLeaders:
    column: str
    notes: tuple[SessionNote, ...]


@dataclass(frozen=True)
class SessionPoll:
    poll: Poll
    session_id: str
    session_title: str
    room: str | None


@dataclass(frozen=True)
class EventArchive:
    event: EventInfo
    made_at: str
    names: bool
    edited: Edited | None
    sessions: tuple[Archive, ...]
    top_notes: tuple[EventColumnLeaders, ...]
    polls: tuple[SessionPoll, ...]

    @property
    def session_titles(self) -> dict[str, str]:
        return {a.session.id: a.session.title for a in self.sessions}


async def build_event_archive(
    db: AsyncSession,
    conference_id: str,
    *,
    names: bool = True,
    now: datetime | None = None,
) -> EventArchive:
    """The event's archive as the store holds it now; read it in one transaction."""
    conference = await conference_by_id(db, conference_id)
    organisers = creator_first(conference, await organisers_of(db, conference.id))
    made = now or utcnow()
    sessions = tuple(
        [
            await build_archive(db, s.id, names=names, now=made)
            for s in (await programme(db, conference.id))[:SESSIONS_MAX]
        ]
    )
    report = await db.get(Report, conference.id)
    return EventArchive(
        event=EventInfo(
            conference.id,
            conference.title,
            conference.description,
            iso(conference.starts_at),
            iso(conference.ends_at),
            partners_of(organisers),
            tuple(o.email for o in organisers),
        ),
        made_at=iso(made) or "",
        names=names,
        edited=None if report is None else edited_parts(report, sessions),
        sessions=sessions,
        top_notes=top_notes(sessions),
        polls=side_by_side(sessions),
    )


def edited_parts(report: Report, sessions: Sequence[Archive]) -> Edited:
    """The editor's sections with their notes found in the sessions' archives; an item whose
    note is gone (deleted, hidden since) or left out is skipped, never shown half."""
    found: dict[str, PickedNote] = {}
    for archive in sessions:
        for board in archive.boards:
            for column in board.columns:
                for note in column.notes:
                    found.setdefault(
                        note.id,
                        PickedNote(
                            note.id,
                            archive.session.id,
                            board.title,
                            column.title,
                            note.text,
                            None,
                            note.upvotes,
                            # The edited report shows names only as the editor chose.
                            note.author if report.with_names else None,
                        ),
                    )
    omitted = tuple(str(i) for i in report.omitted or [])
    sections = []
    for section in report.sections or []:
        notes = []
        for item in _items(section):
            picked = found.get(str(item.get("note_id")))
            if picked is None or picked.note_id in omitted:
                continue
            shortened = item.get("text")
            notes.append(replace(picked, shortened=str(shortened) if shortened else None))
        sections.append(
            EditedSection(str(section.get("id", "")), str(section.get("title", "")), tuple(notes))
        )
    return Edited(
        summary=report.summary,
        sections=tuple(sections),
        omitted=omitted,
        with_names=report.with_names,
        version=report.version,
        published_at=iso(report.published_at),
    )


def _items(section: Any) -> list[dict[str, Any]]:
    items = section.get("items") if isinstance(section, dict) else None
    return [i for i in items or [] if isinstance(i, dict)]


def top_notes(sessions: Sequence[Archive]) -> tuple[EventColumnLeaders, ...]:
    """Per column title (a phase such as "Initiate" shares its title across sessions), each
    session's most upvoted notes as its own archive lists them, most upvoted first."""
    by_column: dict[str, list[SessionNote]] = {}
    titles: dict[str, str] = {}
    for archive in sessions:
        for leaders in archive.top_notes:
            key = leaders.column.casefold()
            titles.setdefault(key, leaders.column)
            by_column.setdefault(key, []).extend(
                SessionNote(
                    top.note,
                    archive.session.id,
                    archive.session.title,
                    top.board_title,
                    archive.room_name(top.room_id),
                )
                for top in leaders.notes
            )
    return tuple(
        EventColumnLeaders(titles[key], tuple(sorted(notes, key=lambda n: -n.note.upvotes)))
        for key, notes in by_column.items()
    )


def side_by_side(sessions: Sequence[Archive]) -> tuple[SessionPoll, ...]:
    """Every poll of every session, in the programme's order."""
    return tuple(
        SessionPoll(
            poll, archive.session.id, archive.session.title, archive.room_name(poll.room_id)
        )
        for archive in sessions
        for poll in archive.polls
    )
