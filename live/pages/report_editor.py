"""The event report's editor (for the event's organisers) and its published page (public).

The editor is one form: the summary on top, the sections on the left, the notes of every
session on the right. Every button ("Lägg till", up, down, remove, a new section, publish)
posts the whole form, so nothing typed is lost and it all works without script; a small
script (static/report-editor.js) also saves the draft as the organiser types. Every save
carries the version it was based on: a stale one is refused and the page keeps the text."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from live import auth
from live.errors import STATUS, error_body
from live.pages.organiser_forms import _, signed_in_organiser, to_login
from live.pages.sessions import page, page_language, refused_page, samla_of_page
from rooms.errors import Refused
from rooms.events import conferences, report
from rooms.models import REPORT_SUMMARY_MAX, Conference

# The whole draft in one form: a 20,000-character summary and 200 shortened notes of 1,000
# characters, URL-encoded (up to 9 bytes a character), with room to spare.
REPORT_FORM_MAX = 4 * 1024 * 1024
REPORT_FIELDS_MAX = 4 * report.ITEMS_MAX + 3 * report.SECTIONS_MAX + report.OMITTED_MAX + 20
DONE = ("saved", "published", "withdrawn")


@dataclass
class Typed:
    """The editor's form as typed: kept whole through every post-back and refusal."""

    version: int = 0
    summary: str = ""
    with_names: bool = False
    sections: list[dict[str, Any]] = field(default_factory=list)
    omitted: list[str] = field(default_factory=list)
    target: int = 0  # the section "Lägg till" puts a note into


def typed_of(stored: Any) -> Typed:
    return Typed(
        version=stored.version,
        summary=stored.summary,
        with_names=stored.with_names,
        sections=[
            {
                "id": s.get("id"),
                "title": s.get("title", ""),
                "items": [dict(i) for i in s.get("items", [])],
            }
            for s in stored.sections
        ],
        omitted=list(stored.omitted),
    )


def _int(value: Any, default: int = 0) -> int:
    text = str(value or "")[:12]
    return int(text) if text.isdigit() else default


def typed_from_form(form: FormData) -> Typed:
    """The form's draft: `s-{i}-id`, `s-{i}-title`, `s-{i}-note` (in order) per section, each
    note's shortened wording in `short-{note id}`, the left-out notes in `omit`."""
    sections = []
    for i in range(report.SECTIONS_MAX + 1):
        if f"s-{i}-title" not in form:
            break
        items = []
        for nid in form.getlist(f"s-{i}-note")[: report.ITEMS_MAX + 1]:
            item: dict[str, Any] = {"note_id": str(nid)[:40]}
            short = str(form.get(f"short-{nid}", ""))[: report.SHORT_TEXT_MAX * 2]
            if short.strip():
                item["text"] = short
            items.append(item)
        sections.append(
            {
                "id": str(form.get(f"s-{i}-id", ""))[:40] or None,
                "title": str(form.get(f"s-{i}-title", ""))[: report.SECTION_TITLE_MAX * 2],
                "items": items,
            }
        )
    return Typed(
        version=_int(form.get("version")),
        summary=str(form.get("summary", ""))[: REPORT_SUMMARY_MAX * 2],
        with_names=form.get("with_names") is not None,
        sections=sections,
        omitted=[str(v)[:40] for v in form.getlist("omit")[: report.OMITTED_MAX + 1]],
        target=_int(form.get("target")),
    )


def apply_op(typed: Typed, op: str, new_title: str = "New section") -> None:
    """What a button does to the draft before it is saved: add a note to the chosen section,
    move or remove one, add or remove a section. Anything else (save, publish) changes
    nothing here."""
    name, _sep, rest = op.partition(":")
    args = rest.split(":")
    if name == "add" and typed.sections:
        target = typed.sections[min(typed.target, len(typed.sections) - 1)]
        picked = {i["note_id"] for s in typed.sections for i in s["items"]}
        if args[0] and args[0] not in picked:
            target["items"].append({"note_id": args[0]})
            typed.omitted = [n for n in typed.omitted if n != args[0]]
    elif name in ("up", "down", "drop") and len(args) == 2:
        i, j = _int(args[0], -1), _int(args[1], -1)
        if not 0 <= i < len(typed.sections):
            return
        items = typed.sections[i]["items"]
        if not 0 <= j < len(items):
            return
        if name == "drop":
            items.pop(j)
            return
        k = j - 1 if name == "up" else j + 1
        if 0 <= k < len(items):
            items[j], items[k] = items[k], items[j]
    elif name == "section":
        typed.sections.append({"id": None, "title": new_title, "items": []})
    elif name == "unsection" and len(args) == 1:
        i = _int(args[0], -1)
        if 0 <= i < len(typed.sections):
            typed.sections.pop(i)


# -- who may ----------------------------------------------------------------------------------


async def _organising(request: Request) -> Conference | Response:
    organiser_id = await signed_in_organiser(request)
    if organiser_id is None:
        return to_login(request, request.url.path)
    try:
        async with samla_of_page(request).store.read() as db:
            return await conferences.require_organising(
                db, organiser_id, request.path_params["eid"]
            )
    except Refused as exc:
        return refused_page(request, exc)


async def _read_form(request: Request) -> FormData:
    """The posted form, its size, origin and CSRF token checked (a larger form than the
    other pages', as the draft is)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > REPORT_FORM_MAX:
        raise Refused("too_large", "The report is too large to save.")
    origin = request.headers.get("origin")
    if origin is not None and not auth.origin_allowed(
        request, samla_of_page(request).settings.allowed_origins
    ):
        raise Refused("forbidden", "This form was sent from another site.")
    form = await request.form(
        max_files=0, max_fields=REPORT_FIELDS_MAX, max_part_size=REPORT_FORM_MAX
    )
    if not auth.csrf_ok(request, form.get("csrf")):
        raise Refused("forbidden", "The form has expired; reload the page and try again.")
    return form


# -- the editor ---------------------------------------------------------------------------------


def public_url(request: Request, eid: str) -> str:
    return str(request.url_for("published_report", eid=eid))


async def _editor(
    request: Request,
    event: Conference,
    typed: Typed | None = None,
    status: int = 200,
    error: str | None = None,
) -> Response:
    async with samla_of_page(request).store.write() as db:
        stored = await report.report_of(db, event.id)
        boards = await report.pickable(db, event.id)
        partners = await report.partners(db, event.id)
    shown = typed or typed_of(stored)
    notes = {p.id: p for b in boards for p in b.notes}
    picked = {i["note_id"]: s_i for s_i, s in enumerate(shown.sections) for i in s["items"]}
    done = request.query_params.get("done")
    return page(
        request,
        "report_editor/editor.html",
        status,
        event=event,
        typed=shown,
        boards=boards,
        notes=notes,
        picked=picked,
        omitted=set(shown.omitted),
        published=stored.published_at is not None,
        public_url=public_url(request, event.id),
        partners=partners,
        error=error,
        done=done if done in DONE else None,
        summary_max=REPORT_SUMMARY_MAX,
        title_max=report.SECTION_TITLE_MAX,
        short_max=report.SHORT_TEXT_MAX,
        sections_max=report.SECTIONS_MAX,
    )


def _known(typed: Typed, known: set[str]) -> None:
    """Notes hidden or deleted since the page was drawn drop out of the draft."""
    for s in typed.sections:
        s["items"] = [i for i in s["items"] if i["note_id"] in known]
    typed.omitted = [n for n in typed.omitted if n in known]


async def editor_page(request: Request) -> Response:
    """GET: the editor. POST: the whole form, with the button pressed (`op`), saved."""
    found = await _organising(request)
    if isinstance(found, Response):
        return found
    event = found
    if request.method == "GET":
        return await _editor(request, event)
    samla = samla_of_page(request)
    wants_json = "application/json" in request.headers.get("accept", "")
    try:
        form = await _read_form(request)
    except Refused as exc:
        if wants_json:
            return JSONResponse(error_body(exc.code, exc.message), STATUS[exc.code])
        return refused_page(request, exc)
    typed = typed_from_form(form)
    op = str(form.get("op", "save"))[:60]
    lang = page_language(request)
    apply_op(typed, op, samla.templates.gettext(lang, _("New section")))
    try:
        async with samla.store.write() as db:
            organiser_id = await signed_in_organiser(request)
            await conferences.require_organising(db, organiser_id or "", event.id)
            _known(typed, {p.id for b in await report.pickable(db, event.id) for p in b.notes})
            stored = await report.save_draft(
                db,
                event.id,
                version=typed.version,
                summary=typed.summary,
                sections=typed.sections,
                omitted=typed.omitted,
                with_names=typed.with_names,
            )
            if op == "publish":
                await report.publish(db, event.id)
            elif op == "withdraw":
                await report.withdraw(db, event.id)
    except Refused as exc:
        message = report.STALE if exc.code == "conflict" else exc.message
        if wants_json:
            shown = samla.templates.gettext(lang, message)
            return JSONResponse(error_body(exc.code, shown), STATUS[exc.code])
        return await _editor(request, event, typed, STATUS[exc.code], message)
    if wants_json:
        return JSONResponse({"version": stored.version})
    done = {"publish": "published", "withdraw": "withdrawn"}.get(op, "saved")
    back = str(request.url_for("report_editor", eid=event.id)) + f"?done={done}"
    anchor = op.partition(":")[2].split(":")[0] if op.startswith("add:") else ""
    return RedirectResponse(back + (f"#pick-{anchor}" if anchor else ""), 303)


# -- the published page ---------------------------------------------------------------------


# An event's id as rooms.models.new_id makes it; anything else is not found without asking
# the store (PostgreSQL cannot even compare a NUL byte).
_EVENT_ID = re.compile(r"[A-Za-z0-9_-]{1,40}")


async def _published(request: Request) -> report.Curated | None:
    eid = str(request.path_params["eid"])
    if not _EVENT_ID.fullmatch(eid):
        return None
    async with samla_of_page(request).store.read() as db:
        return await report.published_report(db, eid)


async def published_page(request: Request) -> Response:
    """The published report: public, no sign-in; 404 unless published (and once withdrawn,
    or with the event deleted)."""
    shown = await _published(request)
    if shown is None:
        return refused_page(request, Refused("not_found", "No report is published here."))
    return page(
        request,
        "report_editor/published.html",
        shown=shown,
        summary=Markup(report.summary_html(shown.summary)),  # noqa: S704 - markdown-it, html off
        conference=shown,
    )


async def published_json(request: Request) -> Response:
    """The published report as JSON: each item's printed and original text."""
    shown = await _published(request)
    if shown is None:
        return JSONResponse(error_body("not_found", "No report is published here."), 404)
    return Response(
        json.dumps(report.curated_json(shown), ensure_ascii=False),
        media_type="application/json",
    )


def routes() -> list[BaseRoute]:
    return [
        Route(
            "/organiser/events/{eid}/report",
            editor_page,
            methods=["GET", "POST"],
            name="report_editor",
        ),
        Route("/e/{eid}/report", published_page, name="published_report"),
        Route("/e/{eid}/report.json", published_json, name="published_report_json"),
    ]
