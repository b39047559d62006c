"""The public API's event archive: one report across an event's sessions, in every format."""

from __future__ import annotations

import re
import unicodedata

from markdown_it import MarkdownIt
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response

from live import auth
from live.api.archive import FORMATS, Format, choice, download, off_loop
from live.api.base import Endpoint, route, samla_of
from live.pages.report import render_report
from live.services import Samla
from live.templating import Templates, pick_language
from rooms import archive_formats as formats
from rooms.events import archive_formats as event_formats
from rooms.events.archive import EventArchive, build_event_archive
from rooms.events.conferences import require_organising

# The summary is the organiser's Markdown: raw HTML in it is shown as text, never run.
_SUMMARY = MarkdownIt("commonmark", {"html": False})
_BODY = re.compile(r"<body[^>]*>(.*)</body>", re.S)
_STYLE = re.compile(r"<style>.*?</style>", re.S)
_NAV = re.compile(r"<nav\b.*?</nav>|<footer\b.*?</footer>", re.S)
_HEADING = re.compile(r"<(/?)h([1-5])\b")
_ID = re.compile(r'\b(id|href)="(#?)([^"]*)"')
_LANDMARK = re.compile(r"<(/?)(main|header)\b")


def stem(archive: EventArchive) -> str:
    """A file name's stem: `samla-<event title>-<date>`, ASCII so every system keeps it."""
    ascii_title = unicodedata.normalize("NFKD", archive.event.title)
    ascii_title = ascii_title.encode("ascii", "ignore").decode().lower()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title).strip("-")[:60].rstrip("-") or "event"
    return f"samla-{slug}-{archive.made_at[:10]}"


def _session_body(page: str, n: int) -> str:
    """A session report's page as a part of the event's: its body without contents or
    footer, headings one level down, landmarks as plain blocks, ids made unique. User text
    in it is escaped, so no tag or attribute below can come from what someone wrote."""
    found = _BODY.search(page)
    body = _NAV.sub("", found.group(1) if found else "")
    body = _HEADING.sub(lambda m: f"<{m.group(1)}h{int(m.group(2)) + 1}", body)
    body = _LANDMARK.sub(lambda m: f"<{m.group(1)}div", body)
    return _ID.sub(
        lambda m: (
            f'{m.group(1)}="{m.group(2)}s{n}-{m.group(3)}"'
            if m.group(1) == "id" or m.group(2)
            else m.group(0)
        ),
        body,
    )


def render_event_report(templates: Templates, archive: EventArchive, lang: str) -> str:
    """The event's report page, in the reader's language; user text is autoescaped."""
    t = templates.words(lang)
    pages = [render_report(templates, s, lang) for s in archive.sessions]
    style = _STYLE.search(pages[0]) if pages else None
    edited = archive.edited
    summary = edited.summary.strip() if edited else ""
    return templates.render(
        "event_archive/report.html",
        lang,
        archive=archive,
        facts=event_formats.facts(archive, t),
        # The session report's own page is rendered by our templates: its markup is ours.
        session_style=Markup(style.group(0) if style else ""),  # noqa: S704
        summary_html=Markup(_SUMMARY.render(summary)) if summary else "",  # noqa: S704
        edited_sections=edited.sections if edited else (),
        sessions=[
            {"title": s.session.title, "body": Markup(_session_body(page, i))}  # noqa: S704
            for i, (s, page) in enumerate(zip(archive.sessions, pages, strict=True), start=1)
        ],
        headline=lambda poll: formats.poll_headline(poll, t),
        kind_label=lambda kind: t(formats.KIND_LABELS[kind]),
    )


async def event_archive_response(
    samla: Samla,
    conference_id: str,
    fmt: Format,
    kind: formats.CsvKind | None,
    names: bool,
    lang: str,
) -> Response:
    """The event's archive as a download; built from one read of the store, written off
    the loop."""
    async with samla.store.read_long() as db:
        archive = await build_event_archive(db, conference_id, names=names)
    t = samla.templates.words(lang)
    name = stem(archive)
    body: bytes
    if fmt == "csv":
        assert kind is not None
        name = f"{name}-{kind}"
        body = await off_loop(lambda: event_formats.event_csv_bytes(archive, kind, t))
    elif fmt in ("html", "zip"):
        html = await off_loop(lambda: render_event_report(samla.templates, archive, lang).encode())
        body = (
            html
            if fmt == "html"
            else await off_loop(
                lambda: event_formats.event_zip_bytes(archive, name, html.decode(), t)
            )
        )
    elif fmt == "md":
        body = await off_loop(lambda: event_formats.event_markdown(archive, t).encode())
    elif fmt == "docx":
        body = await off_loop(lambda: event_formats.event_docx_bytes(archive, t))
    elif fmt == "xlsx":
        body = await off_loop(lambda: event_formats.event_xlsx_bytes(archive, t))
    else:
        body = await off_loop(lambda: event_formats.event_json_bytes(archive))
    return download(body, name, fmt)


async def download_event_archive(request: Request) -> Response:
    """Everything the event's sessions produced, as one report: a zip of the report and the
    data (the default), or one format. Its JSON shape is described in docs/archive.md."""
    samla = samla_of(request)
    async with samla.store.read() as db:
        organiser_id = auth.require_organiser(await auth.from_bearer(db, request))
        conference = await require_organising(db, organiser_id, request.path_params["eid"])
    fmt, kind, names = choice(request.query_params)
    lang = pick_language(request.headers.get("accept-language"))
    return await event_archive_response(samla, conference.id, fmt, kind, names, lang)


ENDPOINTS: list[Endpoint] = [
    route(
        "GET",
        "/api/v1/events/{eid}/archive",
        download_event_archive,
        "The event's archive, one report across its sessions: format=zip|json|md|html|docx|"
        "xlsx, or format=csv&kind=notes|polls|questions|splits|minutes; names=false removes every "
        "name",
        who="the event's organisers",
        query={
            "format": f"One of {', '.join(FORMATS)} (zip if none).",
            "kind": f"With format=csv only: {', '.join(formats.CSV_KINDS)}.",
            "names": "false to remove every name (names are kept if none).",
        },
    ),
]
