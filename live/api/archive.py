"""Downloading a session's archive: the API endpoint and the response the organiser page reuses."""

from __future__ import annotations

import asyncio
import re
import unicodedata
from collections.abc import Callable, Mapping
from typing import Literal
from urllib.parse import quote

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from live.api.base import Endpoint, moderated_session, route, samla_of
from live.pages.report import render_report
from live.services import Samla
from live.templating import pick_language
from rooms import archive_formats as formats
from rooms import archive_office as office
from rooms.archive import Archive
from rooms.archive_parts import build_archive
from rooms.errors import invalid
from rooms.events.conferences import organisers_of
from rooms.models import Organiser
from rooms.sessions import session_by_id

Format = Literal["zip", "json", "md", "html", "docx", "xlsx", "csv"]
FORMATS: tuple[Format, ...] = ("zip", "json", "md", "html", "docx", "xlsx", "csv")
MEDIA_TYPES: dict[Format, str] = {
    "zip": "application/zip",
    "json": "application/json",
    "md": "text/markdown; charset=utf-8",
    "html": "text/html; charset=utf-8",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}
_NO = ("false", "0", "no", "off")


def choice(params: Mapping[str, str]) -> tuple[Format, formats.CsvKind | None, bool]:
    """The format, CSV kind and whether names are kept, from the query string."""
    fmt = params.get("format", "zip")
    if fmt not in FORMATS:
        raise invalid(f"format must be one of {', '.join(FORMATS)}.")
    kind = params.get("kind")
    if fmt == "csv":
        if kind not in formats.CSV_KINDS:
            raise invalid(f"A CSV holds one kind: add kind={'|'.join(formats.CSV_KINDS)}.")
    elif kind is not None:
        raise invalid("kind only applies to format=csv.")
    names = params.get("names", "true").lower() not in _NO
    return fmt, kind, names


def stem(archive: Archive) -> str:
    """A file name's stem: `samla-<title>-<date>`, ASCII so every system keeps it."""
    ascii_title = unicodedata.normalize("NFKD", archive.session.title)
    ascii_title = ascii_title.encode("ascii", "ignore").decode().lower()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title).strip("-")[:60].rstrip("-") or "session"
    return f"samla-{slug}-{archive.made_at[:10]}"


async def session_organisers(db: AsyncSession, session_id: str) -> str:
    """Who made a session's archive, for its files' properties: the event's organisers (the
    session's own organiser for a session on its own), by email, comma-separated."""
    session = await session_by_id(db, session_id)
    if session.conference_id is not None:
        return ", ".join(o.email for o in await organisers_of(db, session.conference_id))
    if session.organiser_id is None:
        return ""
    organiser = await db.get(Organiser, session.organiser_id)
    return organiser.email if organiser is not None else ""


async def archive_response(
    samla: Samla,
    session_id: str,
    fmt: Format,
    kind: formats.CsvKind | None,
    names: bool,
    lang: str,
) -> Response:
    """The archive as a download; built from one read of the store, written off the loop."""
    async with samla.store.read_long() as db:
        archive = await build_archive(db, session_id, names=names)
        author = await session_organisers(db, session_id)

    t = samla.templates.words(lang)

    name = stem(archive)
    body: bytes
    if fmt == "csv":
        assert kind is not None
        name = f"{name}-{kind}"
        body = formats.csv_bytes(archive, kind, t)
    elif fmt in ("html", "zip"):
        html = render_report(samla.templates, archive, lang)
        body = (
            html.encode()
            if fmt == "html"
            else await off_loop(lambda: office.zip_bytes(archive, name, html, t, author=author))
        )
    elif fmt == "md":
        body = formats.markdown(archive, t).encode()
    elif fmt == "docx":
        body = await off_loop(lambda: office.docx_bytes(archive, t, author=author))
    elif fmt == "xlsx":
        body = await off_loop(lambda: office.xlsx_bytes(archive, t, author=author))
    else:
        body = formats.json_bytes(archive)
    return download(body, name, fmt)


def download(body: bytes, name: str, fmt: Format) -> Response:
    """An archive in one format, as a download (a session's or an event's)."""
    filename = f"{name}.{fmt}"
    return Response(
        body,
        media_type=MEDIA_TYPES[fmt],
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"; '
            f"filename*=UTF-8''{quote(filename)}",
            # An archive holds what people wrote: never kept by a shared cache.
            "Cache-Control": "private, no-store",
        },
    )


async def off_loop(make: Callable[[], bytes]) -> bytes:
    """Word and Excel files of a large forum take a while to write: written in a thread,
    so the sockets keep flowing."""
    return await asyncio.to_thread(make)


async def download_archive(request: Request) -> Response:
    """Everything the session produced, as one download: a zip of the report and the data
    (the default), or one format. Its JSON shape is described in docs/archive.md."""
    samla = samla_of(request)
    session = await moderated_session(request)
    fmt, kind, names = choice(request.query_params)
    lang = pick_language(request.headers.get("accept-language"))
    return await archive_response(samla, session.id, fmt, kind, names, lang)


ENDPOINTS: list[Endpoint] = [
    route(
        "GET",
        "/api/v1/sessions/{sid}/archive",
        download_archive,
        "The session's archive: format=zip|json|md|html|docx|xlsx, or format=csv&"
        "kind=notes|polls|questions|splits|minutes; names=false removes every name",
        who="organiser or moderator",
        query={
            "format": f"One of {', '.join(FORMATS)} (zip if none).",
            "kind": f"With format=csv only: {', '.join(formats.CSV_KINDS)}.",
            "names": "false to remove every name (names are kept if none).",
        },
    ),
]
