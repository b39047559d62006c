"""The organiser's view of an event's registrations: the list, the counts per choice, the
export, the balanced selection and the personal invitations.

The list and the counts refresh by themselves while the page is open: htmx asks for the
live fragment every few seconds with the version it shows, and gets 204 (nothing to redraw)
while nothing changed, or the fragment, morphed in place. The selection's and the
invitations' answers are shown once, on the page that posted them."""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from live import mail
from live.api.events import draw_panel, invite_people, invite_url, send_invitations
from live.pages.organiser_forms import signed_in_organiser
from live.pages.sessions import page, page_language, read_form, refused_page, samla_of_page
from rooms.errors import Refused
from rooms.events import exports, registrations, selection
from rooms.events.conferences import require_organising
from rooms.models import ATTRIBUTE_CHOICES_MAX, ATTRIBUTES_MAX, Conference, Registration, utcnow

# The selection form holds a min and a max per choice of every question, and a few fields.
FIELDS_MAX = 2 * ATTRIBUTES_MAX * ATTRIBUTE_CHOICES_MAX + 20
NUMBER_CHARS = 12  # a whole number typed into a field: anything longer is not one of ours
# How often the open page asks for the list and the counts: fresh enough to watch a
# registration come in, and one small request (204 while nothing changed) per page.
POLL_SECONDS = 5
# A refusal of the selection names its field first ("quotas: …"): the form's field it marks.
FIELD_OF = {"size": "size", "balance_by": "balance", "quotas": "quotas", "seed": "seed"}
EXPORTS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


# -- who may see it ---------------------------------------------------------------------------


async def _organised(request: Request) -> Conference | Response:
    """The event of the path, for one of its organisers signed in; anyone else is sent to
    sign in, or refused."""
    organiser_id = await signed_in_organiser(request)
    if organiser_id is None:
        login = request.url_for("login_page").path
        return RedirectResponse(f"{login}?next={quote(request.url.path)}", 303)
    try:
        async with samla_of_page(request).store.read() as db:
            return await require_organising(db, organiser_id, request.path_params["eid"])
    except Refused as exc:
        return refused_page(request, exc)


async def _read_form(request: Request) -> FormData:
    """The posted form, checked as every page's form is; the selection's quotas may hold
    more fields than other forms do."""
    return await read_form(request, max_fields=FIELDS_MAX)


# -- the selection form, as typed ---------------------------------------------------------------


@dataclass
class SelectionForm:
    """The selection's fields as typed, kept whole through a refusal."""

    size: str = ""
    balance: list[str] = field(default_factory=list)
    seed: str = ""
    # (question index, choice index) -> (min, max) as typed
    quotas: dict[tuple[int, int], tuple[str, str]] = field(default_factory=dict)
    error: str | None = None
    error_field: str | None = None

    def quota(self, q: int, c: int) -> tuple[str, str]:
        return self.quotas.get((q, c), ("", ""))

    @property
    def any_quota(self) -> bool:
        return any(lo or hi for lo, hi in self.quotas.values())


def default_form(conference: Conference) -> SelectionForm:
    """Before anything is typed: every question balanced, the size left to the organiser."""
    return SelectionForm(balance=[a["key"] for a in conference.attributes])


def selection_form(conference: Conference, form: FormData) -> SelectionForm:
    keys = [a["key"] for a in conference.attributes]
    typed = SelectionForm(
        size=str(form.get("size", ""))[:NUMBER_CHARS].strip(),
        balance=[k for k in form.getlist("balance") if isinstance(k, str) and k in keys],
        seed=str(form.get("seed", ""))[:NUMBER_CHARS].strip(),
    )
    for q, attribute in enumerate(conference.attributes):
        for c, _ in enumerate(attribute["choices"]):
            lo = str(form.get(f"quota-{q}-{c}-min", ""))[:NUMBER_CHARS].strip()
            hi = str(form.get(f"quota-{q}-{c}-max", ""))[:NUMBER_CHARS].strip()
            if lo or hi:
                typed.quotas[(q, c)] = (lo, hi)
    return typed


def _whole(text: str, field_id: str, message: str) -> int:
    if not text.isdigit():
        raise _FieldError(field_id, message)
    return int(text)


class _FieldError(Exception):
    def __init__(self, field_id: str, message: str) -> None:
        super().__init__(message)
        self.field_id = field_id
        self.message = message


def selection_request(conference: Conference, typed: SelectionForm) -> dict[str, Any]:
    """The selection's arguments from what was typed; `_FieldError` names a field that is
    not a whole number (the domain checks the rest)."""
    size = _whole(typed.size, "size", "The size must be a whole number, such as 25.")
    if not typed.balance:
        raise _FieldError("balance", "Choose at least one question to balance.")
    seed = None
    if typed.seed:
        seed = _whole(typed.seed, "seed", "The seed must be a whole number, or empty.")
    quotas: dict[str, dict[str, dict[str, int]]] = {}
    for (q, c), (lo, hi) in typed.quotas.items():
        attribute = conference.attributes[q]
        bounds: dict[str, int] = {}
        if lo:
            bounds["min"] = _whole(lo, f"quota-{q}-{c}-min", "A quota must be a whole number.")
        if hi:
            bounds["max"] = _whole(hi, f"quota-{q}-{c}-max", "A quota must be a whole number.")
        quotas.setdefault(attribute["key"], {})[attribute["choices"][c]] = bounds
    return {"size": size, "balance_by": typed.balance, "quotas": quotas or None, "seed": seed}


# -- the result, as the page shows it ---------------------------------------------------------


def _target_text(t: selection.Target) -> str:
    # A share between two counts is met by either: "8-9" (with an en dash); a whole share
    # is one count.
    return str(t.min) if t.min == t.max else f"{t.min}\N{EN DASH}{t.max}"


def result_view(
    conference: Conference, drawn: selection.Selection, people: dict[str, Registration]
) -> dict[str, Any]:
    """The selection for the page: per balanced question, each choice's applicants, target
    and count (a missed target with its reason), and the waiting list in order."""
    missed = {(m.key, m.choice): m for m in drawn.missed}
    labels = {a["key"]: a["label"] for a in conference.attributes}
    tables: dict[str, dict[str, Any]] = {}
    for target in drawn.targets:
        table = tables.setdefault(
            target.key, {"key": target.key, "label": labels.get(target.key), "rows": []}
        )
        miss = missed.get((target.key, target.choice))
        reason = None
        if miss is not None:
            reason = "too_few" if miss.applied < miss.min else "conflict"
        table["rows"].append(
            {
                "choice": target.choice,
                "applied": target.applied,
                "target": _target_text(target),
                "share": target.share,
                "count": target.count,
                "missed": miss is not None,
                "reason": reason,
                "asked": _target_text(miss) if miss is not None else None,
            }
        )
    waitlist = [people[rid] for rid in drawn.waitlisted if rid in people]
    return {
        "size": drawn.size,
        "selected": len(drawn.selected),
        "seed": drawn.seed,
        "tables": list(tables.values()),
        "missed": len(drawn.missed),
        "waitlist": waitlist,
    }


# -- the page ----------------------------------------------------------------------------------


def _version(conference: Conference, rows: list[Registration]) -> str:
    """What the live fragment shows, as a short digest: the same digest, nothing to redraw."""
    shown = [(r.id, r.name, r.email, r.attributes, r.status, r.place) for r in rows]
    blob = json.dumps([conference.attributes, shown], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _paths(request: Request, conference: Conference) -> dict[str, str]:
    eid = conference.id
    return {
        "page": request.url_for("event_registrations", eid=eid).path,
        "live": request.url_for("event_registrations_live", eid=eid).path,
        "export": request.url_for("event_registrations_export", eid=eid).path,
        "organiser": request.url_for("organiser_page").path,
        # Shown to be copied: the whole address.
        "register": str(request.url_for("event_register", eid=eid)),
    }


async def _live_context(conference: Conference, request: Request) -> dict[str, Any]:
    async with samla_of_page(request).store.read() as db:
        rows = await registrations.registrations_of(db, conference.id)
    return {
        "conference": conference,
        "rows": rows,
        "counts": registrations.counts_by_choice(conference, rows),
        "summary": {
            status: sum(1 for r in rows if r.status == status)
            for status in ("applied", "selected", "waitlisted")
        },
        "version": _version(conference, rows),
        "paths": _paths(request, conference),
        "poll_seconds": POLL_SECONDS,
        "status_words": exports.STATUS_WORDS,
    }


async def _show(
    request: Request,
    conference: Conference,
    status: int = 200,
    *,
    typed: SelectionForm | None = None,
    result: dict[str, Any] | None = None,
    invited: dict[str, Any] | None = None,
    confirm: Registration | None = None,
) -> HTMLResponse:
    live = await _live_context(conference, request)
    return page(
        request,
        "registrations/page.html",
        status,
        **live,
        form=typed or default_form(conference),
        result=result,
        invited=invited,
        confirm=confirm,
        can_mail=mail.can_mail(samla_of_page(request).settings),
        notice=request.query_params.get("done"),
    )


async def registrations_page(request: Request) -> Response:
    found = await _organised(request)
    if isinstance(found, Response):
        return found
    conference = found
    if request.method == "GET":
        return await _show(request, conference)
    try:
        form = await _read_form(request)
    except Refused as exc:
        return refused_page(request, exc)
    op = str(form.get("op", ""))[:20]
    if op == "select":
        return await _select(request, conference, form)
    if op == "invite":
        return await _invite(request, conference)
    if op in ("confirm-delete", "delete"):
        return await _delete(request, conference, form, op == "delete")
    return refused_page(request, Refused("invalid", "That form asks for nothing this page does."))


async def _select(request: Request, conference: Conference, form: FormData) -> Response:
    typed = selection_form(conference, form)
    samla = samla_of_page(request)
    try:
        asked = selection_request(conference, typed)
        drawn = await draw_panel(samla, conference.id, **asked)
        async with samla.store.read() as db:
            people = {r.id: r for r in await registrations.registrations_of(db, conference.id)}
    except _FieldError as exc:
        typed.error, typed.error_field = exc.message, exc.field_id
        return await _show(request, conference, 422, typed=typed)
    except Refused as exc:
        typed.error = exc.message
        typed.error_field = next(
            (f for prefix, f in FIELD_OF.items() if exc.message.startswith(prefix)), None
        )
        return await _show(request, conference, 422 if exc.code == "invalid" else 409, typed=typed)
    typed.seed = str(drawn.seed)
    return await _show(
        request, conference, typed=typed, result=result_view(conference, drawn, people)
    )


async def _invite(request: Request, conference: Conference) -> Response:
    samla = samla_of_page(request)
    invited, programme = await invite_people(samla, conference)
    mailed = send_invitations(samla, conference, invited, programme, request)
    links = [
        {
            "name": i.registration.name,
            "email": i.registration.email,
            "link": invite_url(request, i.invite),
        }
        for i in invited
    ]
    return await _show(request, conference, invited={"links": links, "mailed": mailed})


async def _delete(
    request: Request, conference: Conference, form: FormData, confirmed: bool
) -> Response:
    samla = samla_of_page(request)
    rid = form.get("registration_id")
    try:
        if not confirmed:
            # Without JavaScript, the page again with the confirmation open.
            async with samla.store.read() as db:
                found = await db.get(Registration, rid) if isinstance(rid, str) else None
            if found is None or found.conference_id != conference.id:
                raise Refused("not_found", "No such registration.")
            return await _show(request, conference, confirm=found)
        async with samla.store.write() as db:
            await registrations.remove_registration(db, conference.id, rid)
    except Refused as exc:
        return refused_page(request, exc)
    target = str(request.url_for("event_registrations", eid=conference.id))
    return RedirectResponse(target + "?done=deleted", 303)


async def registrations_live(request: Request) -> Response:
    """The list and the counts, for the page to morph in; 204 while the version it shows
    (`v`) is still the store's."""
    found = await _organised(request)
    if isinstance(found, Response):
        # The page's poll after signing out: nothing to swap in, and no redirect to follow.
        return Response(status_code=403 if found.status_code == 403 else 401)
    live = await _live_context(found, request)
    if request.query_params.get("v") == live["version"]:
        return Response(status_code=204)
    return page(request, "registrations/_live.html", **live)


async def registrations_export(request: Request) -> Response:
    """The registrations as a download: `?format=csv` (the default) or `xlsx`, its words in
    the page's language."""
    found = await _organised(request)
    if isinstance(found, Response):
        return found
    conference = found
    fmt = request.query_params.get("format", "csv")
    if fmt not in EXPORTS:
        return refused_page(request, Refused("invalid", "format must be csv or xlsx."))
    samla = samla_of_page(request)
    lang = page_language(request)
    async with samla.store.read() as db:
        rows = await registrations.registrations_of(db, conference.id)
    write = exports.registrations_csv if fmt == "csv" else exports.registrations_xlsx

    def written() -> bytes:
        return write(
            conference,
            rows,
            lang,
            t=lambda text: samla.templates.gettext(lang, text),
            time_zone=samla.settings.time_zone,
        )

    # A workbook of a national forum's applicants takes a moment: the sockets keep flowing.
    body = await asyncio.to_thread(written)
    filename = exports.file_name(conference, utcnow(), fmt)
    return Response(
        body,
        media_type=EXPORTS[fmt],
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            # Personal data: never kept by a shared cache.
            "Cache-Control": "private, no-store",
        },
    )


def routes() -> list[BaseRoute]:
    return [
        Route(
            "/organiser/events/{eid}/registrations",
            registrations_page,
            methods=["GET", "POST"],
            name="event_registrations",
        ),
        Route(
            "/organiser/events/{eid}/registrations/live",
            registrations_live,
            name="event_registrations_live",
        ),
        Route(
            "/organiser/events/{eid}/registrations/export",
            registrations_export,
            name="event_registrations_export",
        ),
    ]
