"""The public API's event report: the editor's draft, publishing and withdrawing it."""

from __future__ import annotations

from typing import Any

from pydantic import Field, StrictBool, StrictInt
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from live import auth
from live.actions import Body, validate
from live.api.base import Endpoint, route, samla_of
from live.errors import parse_object
from rooms.errors import Refused
from rooms.events import conferences, report
from rooms.models import REPORT_SUMMARY_MAX

# A full draft: a 20,000-character summary and 200 shortened notes of 1,000 characters,
# each character up to 4 bytes (or a 12-byte JSON escape), with room to spare; far above
# the API's usual 64 KB, which such a draft outgrows.
REPORT_BODY_MAX = 4 * 1024 * 1024


class ItemBody(Body):
    """A picked note, with its wording shortened for print (the note itself keeps its text)."""

    note_id: str = Field(description="A note or card of one of the event's sessions.")
    text: str | None = Field(
        None, description=f"The shortened wording (1 to {report.SHORT_TEXT_MAX} characters)."
    )


class SectionBody(Body):
    """A curated section: its title and its notes in order."""

    id: str | None = Field(None, description="Its id (kept from the draft; made if none).")
    title: str = Field(description=f"1 to {report.SECTION_TITLE_MAX} characters.")
    items: list[ItemBody] = Field(
        default_factory=list, description=f"At most {report.ITEMS_MAX} in all sections together."
    )


class ReportBody(Body):
    """The report's draft, saved against the version it was based on."""

    summary: str = Field("", description=f"Markdown, at most {REPORT_SUMMARY_MAX} characters.")
    sections: list[SectionBody] = Field(
        default_factory=list, description=f"At most {report.SECTIONS_MAX} sections."
    )
    omitted: list[str] = Field(
        default_factory=list, description="Notes left out of the published report."
    )
    with_names: StrictBool = Field(
        False, description="Whether the report names those who chose to show a name."
    )
    version: StrictInt = Field(description="The version the draft was based on (from GET).")


async def _organised(request: Request) -> str:
    """The event of the path, if the caller (an organiser's token) organises it."""
    async with samla_of(request).store.read() as db:
        organiser_id = auth.require_organiser(await auth.from_bearer(db, request))
        conference = await conferences.require_organising(
            db, organiser_id, request.path_params["eid"]
        )
    return conference.id


def public_url(request: Request, eid: str) -> str:
    return str(request.url_for("published_report", eid=eid))


def _answer(request: Request, stored: Any) -> JSONResponse:
    return JSONResponse(
        {**report.describe(stored), "public_url": public_url(request, stored.conference_id)}
    )


async def _read_report_body(request: Request) -> dict[str, Any]:
    declared = request.headers.get("content-length")
    too_large = Refused("too_large", f"The report is over {REPORT_BODY_MAX // 1024 // 1024} MB.")
    if declared is not None and declared.isdigit() and int(declared) > REPORT_BODY_MAX:
        raise too_large
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > REPORT_BODY_MAX:
            raise too_large
    return parse_object(raw, "The request body")


async def get_report(request: Request) -> Response:
    """The draft (made on first use, with the phases "Inleda", "Fördjupa" and "Utvärdera"
    as its sections) with its version, and its public address."""
    eid = await _organised(request)
    async with samla_of(request).store.write() as db:
        stored = await report.report_of(db, eid)
    return _answer(request, stored)


async def save_report(request: Request) -> Response:
    """Saves the draft. `version` is the one it was based on: if someone saved meanwhile,
    409 `conflict` and nothing is overwritten. Each item is a note of one of the event's
    sessions (another event's: 403; unknown or hidden: 422)."""
    eid = await _organised(request)
    body = validate(ReportBody, await _read_report_body(request))
    fields = body.model_dump(exclude_none=True)
    async with samla_of(request).store.write() as db:
        stored = await report.save_draft(db, eid, **fields)
    return _answer(request, stored)


async def publish_report(request: Request) -> Response:
    """The report is shown at its public address (`public_url`), without sign-in."""
    eid = await _organised(request)
    async with samla_of(request).store.write() as db:
        stored = await report.publish(db, eid)
    return _answer(request, stored)


async def withdraw_report(request: Request) -> Response:
    """The public address answers 404 again; the draft stays."""
    eid = await _organised(request)
    async with samla_of(request).store.write() as db:
        stored = await report.withdraw(db, eid)
    return _answer(request, stored)


ORGANISERS = "the event's organisers"

ENDPOINTS: list[Endpoint] = [
    route(
        "GET",
        "/api/v1/events/{eid}/report",
        get_report,
        "The event report's draft",
        who=ORGANISERS,
    ),
    route(
        "PUT",
        "/api/v1/events/{eid}/report",
        save_report,
        "Save the event report's draft",
        who=ORGANISERS,
        body=ReportBody,
    ),
    route(
        "POST",
        "/api/v1/events/{eid}/report/publish",
        publish_report,
        "Publish the event report at its public address",
        who=ORGANISERS,
    ),
    route(
        "POST",
        "/api/v1/events/{eid}/report/withdraw",
        withdraw_report,
        "Withdraw the published event report",
        who=ORGANISERS,
    ),
]
