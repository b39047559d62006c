"""An event's edited report: the editor's draft (summary, curated sections, what is left out,
with or without names), saved against the version it was based on, published and withdrawn.

A section's item is a note (or a good-example card) of one of the event's sessions, with an
optional shortened wording for print; the note itself is never changed, so the original
stays in the data. What the public page shows is `published_report`."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from markdown_it import MarkdownIt
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from rooms import boards
from rooms.errors import Refused, forbidden, invalid
from rooms.events import conferences
from rooms.models import (
    REPORT_SUMMARY_MAX,
    Conference,
    Organiser,
    Report,
    Session,
    iso,
    new_id,
    utcnow,
)
from rooms.text import clean

SECTIONS_MAX = 20
SECTION_TITLE_MAX = 120
ITEMS_MAX = 200
SHORT_TEXT_MAX = 1_000
# Left-out notes: every note of a large event could be listed; more is not a report's.
OMITTED_MAX = 5_000
# The phases offered as a start (renamed or removed as the editor likes).
START_SECTIONS = ("Inleda", "Fördjupa", "Utvärdera")
_SECTION_ID = re.compile(r"[A-Za-z0-9_-]{1,16}")
_NOTE_ID = re.compile(r"[A-Za-z0-9_-]{1,16}")

STALE = "Someone else saved the report meanwhile; your text is kept here, reload to see theirs."


def start_sections() -> list[dict[str, Any]]:
    return [{"id": new_id(), "title": title, "items": []} for title in START_SECTIONS]


# -- the draft ------------------------------------------------------------------------------


async def report_of(db: AsyncSession, conference_id: str) -> Report:
    """The event's report, made on first use (in a write) with the phases as its sections."""
    found = await db.get(Report, conference_id)
    if found is not None:
        return found
    made = Report(conference_id=conference_id, sections=start_sections())
    try:
        # A savepoint: two editors opening it first at once make one row, not an error.
        async with db.begin_nested():
            db.add(made)
    except IntegrityError:
        found = await db.get(Report, conference_id)
        if found is None:
            raise
        return found
    return made


def describe(report: Report) -> dict[str, Any]:
    """The draft as the API answers it."""
    return {
        "event_id": report.conference_id,
        "summary": report.summary,
        "sections": report.sections,
        "omitted": report.omitted,
        "with_names": report.with_names,
        "version": report.version,
        "published": report.published_at is not None,
        "published_at": iso(report.published_at),
        "updated_at": iso(report.updated_at),
    }


@dataclass(frozen=True)
class Draft:
    """A draft as validated, ready to be stored."""

    summary: str
    sections: list[dict[str, Any]]
    omitted: list[str]
    with_names: bool


def _summary(value: Any) -> str:
    if value is None or value == "":
        return ""
    return clean(value, "summary", REPORT_SUMMARY_MAX, min_len=0, multiline=True)


def _note_id(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _NOTE_ID.fullmatch(value):
        raise invalid(f"{where} must be a note's id.")
    return value


def _item(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid(f"{where} must be an object: {{note_id, text?}}.")
    unknown = set(value) - {"note_id", "text"}
    if unknown:
        raise invalid(f"{where}.{sorted(unknown)[0]} is not a field of an item.")
    item: dict[str, Any] = {"note_id": _note_id(value.get("note_id"), f"{where}.note_id")}
    text = value.get("text")
    if text is not None and text != "":
        item["text"] = clean(text, f"{where}.text", SHORT_TEXT_MAX, multiline=True)
    return item


def _section(value: Any, where: str, taken: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid(f"{where} must be an object: {{id?, title, items}}.")
    unknown = set(value) - {"id", "title", "items"}
    if unknown:
        raise invalid(f"{where}.{sorted(unknown)[0]} is not a field of a section.")
    sid = value.get("id")
    if sid is None or sid == "":
        sid = new_id()
    elif not isinstance(sid, str) or not _SECTION_ID.fullmatch(sid):
        raise invalid(f"{where}.id must be 1 to 16 letters, digits, - or _.")
    if sid in taken:
        raise invalid(f"{where}.id is used by another section.")
    taken.add(sid)
    title = clean(value.get("title"), f"{where}.title", SECTION_TITLE_MAX)
    items = value.get("items", [])
    if not isinstance(items, list):
        raise invalid(f"{where}.items must be a list.")
    return {
        "id": sid,
        "title": title,
        "items": [_item(v, f"{where}.items[{i}]") for i, v in enumerate(items[: ITEMS_MAX + 1])],
    }


def validate_draft(
    *, summary: Any, sections: Any, omitted: Any = None, with_names: Any = False
) -> Draft:
    """A draft's fields as stored, or a refusal naming the field and its limit."""
    if not isinstance(sections, list):
        raise invalid("sections must be a list.")
    if len(sections) > SECTIONS_MAX:
        raise invalid(f"sections: at most {SECTIONS_MAX} sections.")
    taken: set[str] = set()
    cleaned = [_section(s, f"sections[{i}]", taken) for i, s in enumerate(sections)]
    picked = [item["note_id"] for s in cleaned for item in s["items"]]
    if len(picked) > ITEMS_MAX:
        raise invalid(f"sections: at most {ITEMS_MAX} items in all.")
    if len(set(picked)) != len(picked):
        raise invalid("sections: a note is picked twice; each note goes in one place.")
    if omitted is None:
        omitted = []
    if not isinstance(omitted, list) or len(omitted) > OMITTED_MAX:
        raise invalid(f"omitted must be a list of at most {OMITTED_MAX} note ids.")
    left_out = list(dict.fromkeys(_note_id(v, f"omitted[{i}]") for i, v in enumerate(omitted)))
    both = set(left_out) & set(picked)
    if both:
        raise invalid("omitted: a note that is left out cannot also be picked into a section.")
    if not isinstance(with_names, bool):
        raise invalid("with_names must be true or false.")
    return Draft(_summary(summary), cleaned, left_out, with_names)


async def _check_notes(db: AsyncSession, conference_id: str, draft: Draft) -> None:
    """Every picked or left-out note is a shown note of one of the event's sessions."""
    wanted = {item["note_id"] for s in draft.sections for item in s["items"]} | set(draft.omitted)
    if not wanted:
        return
    rows = (
        await db.execute(
            select(col(boards.Note.id), col(Session.conference_id), col(boards.Note.hidden))
            .join(Session, col(Session.id) == col(boards.Note.session_id))
            .where(col(boards.Note.id).in_(wanted))
        )
    ).all()
    found = {nid: (cid, hidden) for nid, cid, hidden in rows}
    for where, nid in _places(draft):
        if nid not in found:
            raise invalid(f"{where}: no note has that id.")
        cid, hidden = found[nid]
        if cid != conference_id:
            raise forbidden(f"{where}: that note is not from one of this event's sessions.")
        if hidden and not where.startswith("omitted"):
            raise invalid(f"{where}: a moderator has hidden that note.")


def _places(draft: Draft) -> list[tuple[str, str]]:
    out = [
        (f"sections[{i}].items[{j}].note_id", item["note_id"])
        for i, s in enumerate(draft.sections)
        for j, item in enumerate(s["items"])
    ]
    return out + [(f"omitted[{i}]", nid) for i, nid in enumerate(draft.omitted)]


async def save_draft(
    db: AsyncSession,
    conference_id: str,
    *,
    version: Any,
    summary: Any,
    sections: Any,
    omitted: Any = None,
    with_names: Any = False,
) -> Report:
    """Stores the draft if it was based on the stored version; a stale one is refused
    (409 `conflict`) and nothing is overwritten."""
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise invalid("version must be the report's version the draft was based on.")
    await conferences.conference_by_id(db, conference_id)
    draft = validate_draft(
        summary=summary, sections=sections, omitted=omitted, with_names=with_names
    )
    await _check_notes(db, conference_id, draft)
    report = await report_of(db, conference_id)
    await db.flush()
    # Compare and set in one statement: two saves based on one version cannot both pass.
    done = await db.execute(
        update(Report)
        .where(col(Report.conference_id) == conference_id, col(Report.version) == version)
        .values(
            summary=draft.summary,
            sections=draft.sections,
            omitted=draft.omitted,
            with_names=draft.with_names,
            version=version + 1,
            updated_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    if getattr(done, "rowcount", 0) != 1:
        raise Refused("conflict", STALE)
    await db.refresh(report)
    return report


async def publish(db: AsyncSession, conference_id: str) -> Report:
    """The report is shown at its public address (again, if it was withdrawn)."""
    report = await report_of(db, conference_id)
    if report.published_at is None:
        report.published_at = utcnow()
        db.add(report)
        await db.flush()
    return report


async def withdraw(db: AsyncSession, conference_id: str) -> Report:
    """The public address answers 404 again; the draft stays."""
    report = await report_of(db, conference_id)
    report.published_at = None
    db.add(report)
    await db.flush()
    return report


# -- what the editor picks from -------------------------------------------------------------


@dataclass(frozen=True)
class Pickable:
    """A note or card the editor may pick, with where it was written."""

    id: str
    text: str
    upvotes: int
    author: str | None  # the name its author chose to show, if any
    session_id: str
    session_title: str
    board_title: str
    column_title: str
    link: str | None = None
    kind: str | None = None
    card: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class BoardNotes:
    session_id: str
    session_title: str
    board_id: str
    board_title: str
    notes: tuple[Pickable, ...]


def safe_link(value: Any) -> str | None:
    """A card's link if it is an http(s) address with a host; anything else is not shown."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return value


def _field(fields: Any, key: str) -> str | None:
    if not isinstance(fields, dict):
        return None
    value = fields.get(key)
    return str(value) if isinstance(value, str) and value else None


async def pickable(db: AsyncSession, conference_id: str) -> list[BoardNotes]:
    """Every shown note and card of the event's sessions, by session and board, each board's
    most upvoted first."""
    out = []
    for session in await conferences.programme(db, conference_id):
        found = await boards.session_boards(db, session.id)
        notes = await boards.board_notes(db, found, include_hidden=False)
        for board in found:
            titles = {str(c["id"]): str(c["title"]) for c in board.columns}
            listed = [
                Pickable(
                    id=n["id"],
                    text=n["text"],
                    upvotes=int(n["upvotes"]),
                    author=(n["author"] or {}).get("name") or None,
                    session_id=session.id,
                    session_title=session.title,
                    board_title=board.title,
                    column_title=titles.get(str(n["column"]), ""),
                    link=safe_link(_field(n.get("fields"), "link")),
                    kind=_field(n.get("fields"), "kind"),
                    card=tuple(
                        (k, str(v))
                        for k, v in (n.get("fields") or {}).items()
                        if k in boards.CARD_FIELDS and isinstance(v, str) and v
                    ),
                )
                for n in notes[board.id]
            ]
            listed.sort(key=lambda p: -p.upvotes)
            out.append(BoardNotes(session.id, session.title, board.id, board.title, tuple(listed)))
    return out


# -- what is shown ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    note_id: str
    text: str  # as printed: the shortened wording, or the original
    original: str
    author: str | None
    session_title: str
    board_title: str
    upvotes: int
    link: str | None = None
    kind: str | None = None


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    items: tuple[Item, ...]


@dataclass(frozen=True)
class Link:
    text: str
    url: str
    author: str | None


@dataclass(frozen=True)
class LinkGroup:
    kind: str | None  # None: cards without a kind
    links: tuple[Link, ...]


@dataclass(frozen=True)
class Curated:
    """The report as the public page (and the event archive) shows it."""

    event_id: str
    title: str
    starts_at: datetime | None
    ends_at: datetime | None
    partners: tuple[str, ...]
    summary: str  # Markdown, rendered safely where it is shown
    sections: tuple[Section, ...]
    links: tuple[LinkGroup, ...]
    with_names: bool
    published_at: datetime | None


def partners_of(organisers: Iterable[Organiser]) -> tuple[str, ...]:
    """The organisations behind the organiser accounts, each once, in the accounts' order
    (an event's creator first): an account's organisation, or else its mail domain (a
    person's address is not for a public page). The same name written in another case is
    the same organisation."""
    seen: dict[str, str] = {}
    for organiser in organisers:
        name = organiser.organisation or organiser.email.rpartition("@")[2].lower()
        if name:
            seen.setdefault(name.casefold(), name)
    return tuple(seen.values())


def creator_first(conference: Conference, organisers: Iterable[Organiser]) -> list[Organiser]:
    """The event's organisers with its creator first, the others in their order (even when
    a co-organiser was added within the same instant as the event was made)."""
    return sorted(organisers, key=lambda o: o.id != conference.organiser_id)


async def partners(db: AsyncSession, conference_id: str) -> tuple[str, ...]:
    """Who the event is run in cooperation with, as its report and archive name them."""
    conference = await conferences.conference_by_id(db, conference_id)
    return partners_of(
        creator_first(conference, await conferences.organisers_of(db, conference_id))
    )


async def curated(db: AsyncSession, conference: Conference, report: Report) -> Curated:
    """The report's content now: the picked notes in their order (the shortened wording where
    given), the cards' links grouped by kind, names only with `with_names` and only where
    their author chose to show one. Notes hidden or deleted since are left out."""
    shown = {p.id: p for b in await pickable(db, conference.id) for p in b.notes}
    names = report.with_names
    sections = []
    for s in report.sections:
        items = []
        for entry in s.get("items", []):
            p = shown.get(str(entry.get("note_id")))
            if p is None or p.id in report.omitted:
                continue
            items.append(
                Item(
                    p.id,
                    str(entry.get("text") or p.text),
                    p.text,
                    p.author if names else None,
                    p.session_title,
                    p.board_title,
                    p.upvotes,
                    p.link,
                    p.kind,
                )
            )
        sections.append(Section(str(s.get("id")), str(s.get("title")), tuple(items)))
    groups: dict[str | None, list[Link]] = {}
    left_out = set(report.omitted)
    listed: set[str] = set()
    # Each link once, as its most upvoted card gives it: the same example shared in several
    # rooms (and collected to the plenary) is one inspiring example in the report.
    for p in sorted(shown.values(), key=lambda p: -p.upvotes):
        if p.link is None or p.id in left_out or p.link in listed:
            continue
        listed.add(p.link)
        groups.setdefault(p.kind, []).append(Link(p.text, p.link, p.author if names else None))
    links = tuple(
        LinkGroup(kind, tuple(found))
        for kind, found in sorted(groups.items(), key=lambda g: (g[0] is None, g[0] or ""))
    )
    return Curated(
        conference.id,
        conference.title,
        conference.starts_at,
        conference.ends_at,
        await partners(db, conference.id),
        report.summary,
        tuple(sections),
        links,
        names,
        report.published_at,
    )


async def published_report(db: AsyncSession, conference_id: str) -> Curated | None:
    """What the public page shows; None unless the event has a published report."""
    report = await db.get(Report, conference_id)
    if report is None or report.published_at is None:
        return None
    conference = await db.get(Conference, conference_id)
    if conference is None:
        return None
    return await curated(db, conference, report)


def curated_json(report: Curated) -> dict[str, Any]:
    """The curated report as JSON: each item keeps its note's original text beside the
    printed one."""
    return {
        "event_id": report.event_id,
        "title": report.title,
        "starts_at": iso(report.starts_at),
        "ends_at": iso(report.ends_at),
        "partners": list(report.partners),
        "summary": report.summary,
        "with_names": report.with_names,
        "published_at": iso(report.published_at),
        "sections": [
            {
                "id": s.id,
                "title": s.title,
                "items": [
                    {
                        "note_id": i.note_id,
                        "text": i.text,
                        "author": i.author,
                        "session": i.session_title,
                        "board": i.board_title,
                        "upvotes": i.upvotes,
                        "link": i.link,
                        "kind": i.kind,
                    }
                    for i in s.items
                ],
            }
            for s in report.sections
        ],
        "links": [
            {
                "kind": g.kind,
                "links": [{"text": k.text, "url": k.url, "author": k.author} for k in g.links],
            }
            for g in report.links
        ],
    }


# -- the summary, rendered safely -----------------------------------------------------------

# CommonMark without raw HTML (what is typed as HTML shows as text), without images (a
# public page fetches nothing from addresses a person typed); markdown-it's own check keeps
# javascript:, vbscript: and data: out of links.
_MARKDOWN = MarkdownIt("commonmark", {"html": False}).disable("image")
# The summary sits under the page's own h2: its headings start at h3.
_HEADING_SHIFT = 2


def summary_html(text: str) -> str:
    """The summary's Markdown as HTML that carries nothing of its own: no raw HTML, no
    scripts, links that open without telling the page they came from."""
    tokens = _MARKDOWN.parse(text)
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            level = min(int(token.tag[1]) + _HEADING_SHIFT, 6)
            token.tag = f"h{level}"
        elif token.type == "inline":
            for child in token.children or []:
                if child.type == "link_open":
                    child.attrSet("rel", "noopener noreferrer")
    return str(_MARKDOWN.renderer.render(tokens, _MARKDOWN.options, {}))
