"""What the organiser's forms share: who is signed in, the join questions built row by row,
and moments typed in TIME_ZONE (a `datetime-local` field) but stored in UTC."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from live import auth
from live.pages.sessions import samla_of_page
from live.templating import zone_named
from rooms import accounts, sessions
from rooms.models import (
    ATTRIBUTE_CHOICES_MAX,
    ATTRIBUTE_KEY_MAX,
    ATTRIBUTE_LABEL_MAX,
    ATTRIBUTES_MAX,
    TITLE_MAX,
)


def _(message: str) -> str:
    """Marks a message these pages show for the catalog (`make messages` extracts it); the
    template translates it where it shows it."""
    return message


# -- who is signed in -----------------------------------------------------------------------


async def signed_in_organiser(request: Request) -> str | None:
    """The organiser account this browser is signed in as, if any."""
    samla = samla_of_page(request)
    token = auth.cookie(request).get("o")
    if not isinstance(token, str):
        return None
    async with samla.store.read() as db:
        login = await accounts.login_by_token(db, token)
    return login.organiser_id if login else None


def to_login(request: Request, back: str = "/organiser") -> Response:
    return RedirectResponse(str(request.url_for("login_page")) + f"?next={back}", 303)


def created_card(request: Request, made: sessions.Created) -> dict[str, str]:
    """A new session's moderator link, shown once, when it is made."""
    link = str(request.url_for("moderate_link", sid=made.session.id))
    return {
        "title": made.session.title,
        "link": f"{link}?key={made.moderator_token}",
        "sid": made.session.id,
    }


# -- join questions, row by row -----------------------------------------------------------

_KEY = re.compile(rf"^[a-z][a-z0-9_]{{0,{ATTRIBUTE_KEY_MAX - 1}}}$")


@dataclass
class Question:
    """One row of the join questions' form, as typed: a label and its choices, one a line."""

    label: str = ""
    choices: str = ""
    error: str | None = None  # what is wrong with this row (a key of the template's messages)
    # The key a saved question already has: answers given to it are stored under it, so a
    # row keeps it whatever its label becomes (an event's questions came perhaps by the API).
    key: str = ""

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


def questions_from_form(form: FormData) -> list[Question]:
    rows = []
    for i in range(ATTRIBUTES_MAX):
        label, choices = form.get(f"q-{i}-label"), form.get(f"q-{i}-choices")
        if label is None and choices is None:
            continue
        key = str(form.get(f"q-{i}-key", ""))[:ATTRIBUTE_KEY_MAX]
        rows.append(
            Question(
                str(label or "")[: ATTRIBUTE_LABEL_MAX * 2],
                str(choices or "")[:8000],
                key=key if _KEY.match(key) else "",
            )
        )
    return rows


def questions_shown(attributes: list[dict[str, Any]]) -> list[Question]:
    """Saved questions as the form's rows."""
    return [
        Question(str(a.get("label", "")), "\n".join(map(str, a.get("choices", []))), key=a["key"])
        for a in attributes
        if isinstance(a.get("key"), str)
    ]


def draft_from_form(form: FormData) -> Draft:
    return Draft(
        title=str(form.get("title", ""))[: TITLE_MAX * 2], questions=questions_from_form(form)
    )


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


def _row_error(label: str, choices: list[str], labels: set[str]) -> str | None:
    if not label:
        return "no_label"
    if len(label) > ATTRIBUTE_LABEL_MAX:
        return "label_too_long"
    if label.casefold() in labels:
        return "same_label"
    if not choices:
        return "no_choices"
    if len(choices) > ATTRIBUTE_CHOICES_MAX:
        return "too_many_choices"
    if any(len(c) > ATTRIBUTE_LABEL_MAX for c in choices):
        return "choice_too_long"
    if len({c.casefold() for c in choices}) != len(choices):
        return "same_choice"
    return None


def questions_of(draft: Draft) -> list[dict[str, Any]] | None:
    """The join questions as the domain takes them, or None when a row is wrong (its
    `error` then says what)."""
    # Saved keys first, so that a new row's key never takes one a saved row has.
    taken: set[str] = {row.key for row in draft.questions if row.key and not row.empty}
    out: list[dict[str, Any]] = []
    labels: set[str] = set()
    for row in draft.questions:
        row.error = None
        if row.empty:
            continue
        label, choices = row.label.strip(), row.choice_list()
        row.error = _row_error(label, choices, labels)
        labels.add(label.casefold())
        key = row.key or key_for(label, taken)
        out.append({"key": key, "label": label, "choices": choices})
    if any(row.error for row in draft.questions):
        return None
    return out


# -- moments typed in TIME_ZONE -------------------------------------------------------------

# A `datetime-local` field's value: "2026-03-03T09:00" (seconds when a browser adds them).
_LOCAL = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2})?$")


def local_value(moment: datetime | None, time_zone: str) -> str:
    """A stored moment (naive: UTC) as a `datetime-local` field shows it, in TIME_ZONE."""
    if moment is None:
        return ""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(zone_named(time_zone)).strftime("%Y-%m-%dT%H:%M")


def utc_of_local(typed: str, time_zone: str) -> str | None:
    """What a `datetime-local` field holds (a moment in TIME_ZONE) as ISO 8601 in UTC; None
    for an empty field. A text that is not such a moment raises ValueError."""
    text = typed.strip()
    if not text:
        return None
    if not _LOCAL.match(text):
        raise ValueError(text)
    local = datetime.fromisoformat(text.replace(" ", "T")).replace(tzinfo=zone_named(time_zone))
    return local.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
