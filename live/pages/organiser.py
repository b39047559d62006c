"""The organiser's pages: signing in and out, their sessions (newest first, with dates,
people, links and downloads), a new session with its join questions built row by row,
duplicating a session as a template, deleting one, and the archive's downloads."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from babel.dates import format_datetime
from sqlalchemy import select
from sqlmodel import col
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from live import auth, retention
from live.api import archive as api_archive
from live.api.stage import stage_url
from live.pages.sessions import (
    own_path,
    page,
    page_language,
    read_form,
    refused_page,
    samla_of_page,
)
from rooms import accounts, archive_parts, copying, sessions
from rooms.errors import Refused
from rooms.models import (
    ATTRIBUTE_CHOICES_MAX,
    ATTRIBUTE_KEY_MAX,
    ATTRIBUTE_LABEL_MAX,
    ATTRIBUTES_MAX,
    TITLE_MAX,
    Session,
)

# The downloads listed for each session on the organiser page: (format, kind, label).
ARCHIVE_LINKS = (
    ("html", None, "Report (HTML)"),
    ("docx", None, "Word"),
    ("md", None, "Markdown"),
    ("xlsx", None, "Excel"),
    ("csv", "notes", "CSV: notes"),
    ("csv", "polls", "CSV: polls"),
    ("csv", "questions", "CSV: questions"),
    ("json", None, "JSON"),
    ("zip", None, "Everything (zip)"),
)

# A session's dates as people read them: "1 dec. 2026 18:29" in Swedish.
DATE_FORMAT = "d MMM y HH:mm"


# -- signing in ---------------------------------------------------------------------------


async def login_page(request: Request) -> Response:
    samla = samla_of_page(request)
    target = request.query_params.get("next", "/organiser")
    if not own_path(target):
        target = "/organiser"
    if request.method == "GET":
        return page(request, "login.html", error=None, next=target, email="")
    try:
        form = await read_form(request)
        async with samla.store.read() as db:
            organiser_id = await accounts.check_password(
                db, form.get("email"), form.get("password")
            )
        async with samla.store.write() as db:
            signed = await accounts.start_login(db, organiser_id, "web")
    except Refused as exc:
        if exc.code in ("unauthorized", "invalid"):
            return page(
                request,
                "login.html",
                401 if exc.code == "unauthorized" else 422,
                error=exc.message,
                next=target,
                email=str(form.get("email", ""))[:254],
            )
        return refused_page(request, exc)
    auth.cookie(request)["o"] = signed.token
    return RedirectResponse(target, 303)


async def logout(request: Request) -> Response:
    samla = samla_of_page(request)
    try:
        await read_form(request)
    except Refused as exc:
        return refused_page(request, exc)
    token = auth.cookie(request).pop("o", None)
    if isinstance(token, str):
        async with samla.store.write() as db:
            login = await accounts.login_by_token(db, token)
            if login is not None:
                await accounts.sign_out(db, login.id)
        if login is not None:
            await samla.hub.announce_logout(login.id)
    return RedirectResponse("/", 303)


async def _organiser(request: Request) -> str | None:
    samla = samla_of_page(request)
    token = auth.cookie(request).get("o")
    if not isinstance(token, str):
        return None
    async with samla.store.read() as db:
        login = await accounts.login_by_token(db, token)
    return login.organiser_id if login else None


def _to_login(request: Request) -> Response:
    return RedirectResponse(str(request.url_for("login_page")) + "?next=/organiser", 303)


# -- join questions, row by row -----------------------------------------------------------


@dataclass
class Question:
    """One row of the join questions' form, as typed: a label and its choices, one a line."""

    label: str = ""
    choices: str = ""
    error: str | None = None  # what is wrong with this row (a key of the template's messages)

    @property
    def empty(self) -> bool:
        return not self.label.strip() and not self.choices.strip()

    def choice_list(self) -> list[str]:
        return [c.strip() for c in self.choices.splitlines() if c.strip()]


@dataclass
class Draft:
    """The new-session form as typed, kept whole through every post-back and refusal."""

    title: str = ""
    questions: list[Question] = field(default_factory=list)
    focus: str | None = None  # the id of the field to put the cursor in after a post-back


def draft_from_form(form: FormData) -> Draft:
    draft = Draft(title=str(form.get("title", ""))[: TITLE_MAX * 2])
    for i in range(ATTRIBUTES_MAX):
        label, choices = form.get(f"q-{i}-label"), form.get(f"q-{i}-choices")
        if label is None and choices is None:
            continue
        draft.questions.append(
            Question(str(label or "")[: ATTRIBUTE_LABEL_MAX * 2], str(choices or "")[:8000])
        )
    return draft


_OP = re.compile(r"^(add|up|down|remove)(?:-(\d{1,2}))?$")


def apply_op(draft: Draft, op: str) -> bool:
    """Adds, removes or moves a row as the button pressed says; False if it says nothing."""
    found = _OP.match(op)
    if found is None:
        return False
    verb, index = found.group(1), int(found.group(2) or 0)
    rows = draft.questions
    if verb == "add":
        if len(rows) < ATTRIBUTES_MAX:
            rows.append(Question())
        draft.focus = f"q-{len(rows) - 1}-label"
        return True
    if not 0 <= index < len(rows):
        return True
    if verb == "remove":
        rows.pop(index)
        draft.focus = "add-question" if not rows else f"q-{min(index, len(rows) - 1)}-label"
        return True
    other = index - 1 if verb == "up" else index + 1
    if 0 <= other < len(rows):
        rows[index], rows[other] = rows[other], rows[index]
        index = other
    # The same button again, so a row moves on with each press; at either end it is gone.
    still = index > 0 if verb == "up" else index < len(rows) - 1
    draft.focus = f"q-{index}-{verb}" if still else f"q-{index}-label"
    return True


def key_for(label: str, taken: set[str]) -> str:
    """A question's key, from its label: "Nivå" is niva, "Sektor 2" sektor_2; unique."""
    plain = unicodedata.normalize("NFKD", label).encode("ascii", "ignore").decode().lower()
    base = re.sub(r"[^a-z0-9]+", "_", plain).strip("_")[: ATTRIBUTE_KEY_MAX - 6] or "q"
    if not base[0].isalpha():
        base = f"q_{base}"
    key, n = base, 2
    while key in taken:
        key, n = f"{base}_{n}", n + 1
    taken.add(key)
    return key


def questions_of(draft: Draft) -> list[dict[str, Any]] | None:
    """The join questions as the domain takes them, or None when a row is wrong (its
    `error` then says what)."""
    out: list[dict[str, Any]] = []
    taken: set[str] = set()
    labels: set[str] = set()
    for row in draft.questions:
        row.error = None
        if row.empty:
            continue
        label, choices = row.label.strip(), row.choice_list()
        if not label:
            row.error = "no_label"
        elif len(label) > ATTRIBUTE_LABEL_MAX:
            row.error = "label_too_long"
        elif label.casefold() in labels:
            row.error = "same_label"
        elif not choices:
            row.error = "no_choices"
        elif len(choices) > ATTRIBUTE_CHOICES_MAX:
            row.error = "too_many_choices"
        elif any(len(c) > ATTRIBUTE_LABEL_MAX for c in choices):
            row.error = "choice_too_long"
        elif len({c.casefold() for c in choices}) != len(choices):
            row.error = "same_choice"
        labels.add(label.casefold())
        out.append({"key": key_for(label, taken), "label": label, "choices": choices})
    if any(row.error for row in draft.questions):
        return None
    return out


# -- the organiser's page ------------------------------------------------------------------


def _when(moment: datetime | None, lang: str) -> dict[str, str] | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return {
        "iso": moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ"),
        "shown": format_datetime(moment, DATE_FORMAT, tzinfo=UTC, locale=lang),
    }


async def _listed(request: Request, organiser_id: str) -> list[dict[str, Any]]:
    """The organiser's sessions, the newest first, with what the page shows of each."""
    samla = samla_of_page(request)
    lang = page_language(request)
    async with samla.store.read() as db:
        found = list(
            await db.scalars(
                select(Session)
                .where(col(Session.organiser_id) == organiser_id)
                .order_by(col(Session.created_at).desc(), col(Session.id))
            )
        )
        counted = await archive_parts.counts(db, [s.id for s in found])
    days = samla.settings.retention_days
    return [
        {
            "session": s,
            "counts": counted[s.id],
            "participants": counted[s.id]["participants"],
            "created": _when(s.created_at, lang),
            "closed": _when(s.closed_at, lang),
            "deleted_on": retention.expires_at(s.closed_at, days),
            # The stage's own read-only link, to open on the hall's PC (no sign-in there).
            "stage_url": stage_url(request, s.id, s.stage_salt),
        }
        for s in found
    ]


async def organiser_page(request: Request) -> Response:
    samla = samla_of_page(request)
    organiser_id = await _organiser(request)
    if organiser_id is None:
        return _to_login(request)
    created: dict[str, str] | None = None
    error: str | None = None
    draft = Draft()
    status = 200
    if request.method == "POST":
        try:
            form = await read_form(request)
        except Refused as exc:
            return refused_page(request, exc)
        draft = draft_from_form(form)
        if not apply_op(draft, str(form.get("op", ""))[:20]):
            created, error = await _create(request, organiser_id, draft)
            if created is not None:
                draft = Draft()
            else:
                status = 422
    return page(
        request,
        "organiser.html",
        status,
        listed=await _listed(request, organiser_id),
        created=created,
        error=error,
        draft=draft,
        questions_max=ATTRIBUTES_MAX,
        retention_days=samla.settings.retention_days,
        formats=ARCHIVE_LINKS,
        copied_from=None,
    )


async def _create(
    request: Request, organiser_id: str, draft: Draft
) -> tuple[dict[str, str] | None, str | None]:
    """Creates the session the draft describes: what the page shows of it, or an error."""
    samla = samla_of_page(request)
    asked = questions_of(draft)
    if asked is None:
        return None, "rows"
    try:
        made = await samla.change(
            lambda db: sessions.create_session(
                db, title=draft.title, organiser_id=organiser_id, attributes=asked
            )
        )
    except Refused as exc:
        return None, exc.message
    return _created(request, made), None


def _created(request: Request, made: sessions.Created) -> dict[str, str]:
    link = str(request.url_for("moderate_link", sid=made.session.id))
    return {
        "title": made.session.title,
        "link": f"{link}?key={made.moderator_token}",
        "sid": made.session.id,
    }


async def _owned(request: Request) -> Session | Response:
    """The session in the path, if the signed-in organiser owns it."""
    samla = samla_of_page(request)
    organiser_id = await _organiser(request)
    if organiser_id is None:
        return _to_login(request)
    try:
        async with samla.store.read() as db:
            session = await sessions.session_by_id(db, request.path_params["sid"])
    except Refused as exc:
        return refused_page(request, exc)
    if session.organiser_id != organiser_id:
        return refused_page(
            request,
            Refused("forbidden", "Only the organiser who created this session may do that."),
        )
    return session


async def duplicate_page(request: Request) -> Response:
    """Duplicating a session as a template: the organiser page again, with the copy's
    moderator link (shown only then) on top."""
    samla = samla_of_page(request)
    found = await _owned(request)
    if isinstance(found, Response):
        return found
    session = found
    try:
        form = await read_form(request)
        title = str(form.get("title", "")).strip()[:TITLE_MAX] or session.title
        made = await samla.change(
            lambda db: copying.duplicate_session(
                db, session.id, organiser_id=session.organiser_id, title=title
            )
        )
    except Refused as exc:
        return refused_page(request, exc)
    assert session.organiser_id is not None
    return page(
        request,
        "organiser.html",
        200,
        listed=await _listed(request, session.organiser_id),
        created=_created(request, made),
        copied_from=session.title,
        error=None,
        draft=Draft(),
        questions_max=ATTRIBUTES_MAX,
        retention_days=samla.settings.retention_days,
        formats=ARCHIVE_LINKS,
    )


async def delete_page(request: Request) -> Response:
    """Deleting a session and everything in it: a confirmation first, then a POST form."""
    samla = samla_of_page(request)
    found = await _owned(request)
    if isinstance(found, Response):
        return found
    session = found
    if request.method == "GET":
        async with samla.store.read() as db:
            counted = (await archive_parts.counts(db, [session.id]))[session.id]
        return page(request, "archive/delete.html", session=session, counts=counted)
    try:
        await read_form(request)
        async with samla.store.write() as db:
            await sessions.delete_session(db, session.id)
    except Refused as exc:
        return refused_page(request, exc)
    await samla.hub.announce_deleted(session.id)
    return RedirectResponse(str(request.url_for("organiser_page")) + "?deleted=1", 303)


async def archive_download(request: Request) -> Response:
    """The archive for a browser holding this session's organiser or moderator sign-in."""
    samla = samla_of_page(request)
    sid = request.path_params["sid"]
    try:
        async with samla.store.read() as db:
            session = await sessions.session_by_id(db, sid)
            held = await auth.browser_identities(db, request, sid)
        if not any(auth.role_in(who, session) == "moderator" for who in held):
            raise Refused(
                "forbidden",
                "Only this session's organiser and moderators may download its archive.",
            )
        fmt, kind, names = api_archive.choice(request.query_params)
    except Refused as exc:
        return refused_page(request, exc)
    return await api_archive.archive_response(samla, sid, fmt, kind, names, page_language(request))


def routes() -> list[BaseRoute]:
    return [
        Route("/login", login_page, methods=["GET", "POST"], name="login_page"),
        Route("/logout", logout, methods=["POST"], name="logout"),
        Route("/organiser", organiser_page, methods=["GET", "POST"], name="organiser_page"),
        Route(
            "/organiser/sessions/{sid}/duplicate",
            duplicate_page,
            methods=["POST"],
            name="duplicate_page",
        ),
        Route(
            "/organiser/sessions/{sid}/delete",
            delete_page,
            methods=["GET", "POST"],
            name="delete_page",
        ),
        Route("/s/{sid}/archive", archive_download, name="archive_download"),
    ]
