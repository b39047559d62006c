"""The accessibility statement, in Swedish and English, shaped after DIGG's template: how
accessible Samla is, the gaps known, how to report one, and who enforces the law."""

from __future__ import annotations

import datetime
import re

from babel.dates import format_date
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from live.pages.sessions import page

# When Samla's screens were last assessed (axe-core on every screen and state, in both
# languages, and by keyboard): the statement says so, as DIGG's template asks.
REVIEWED = datetime.date(2026, 12, 2)
# Myndigheten för digital förvaltning's page for reporting an inaccessible public service.
DIGG_REPORT = "https://www.digg.se/tdosanmalan"
# Where a gap is reported when the organiser has configured no address: a plain email
# address (settings.accessibility_contact), anything else is not shown.
EMAIL = re.compile(r"[^@\s<>\"']{1,64}@[^@\s<>\"']{1,190}\.[a-zA-Z]{2,24}")


def contact_of(request: Request) -> str | None:
    """The address for reports the organiser configured, if any (and if it is one)."""
    settings = request.app.state.samla.settings
    address = (settings.accessibility_contact or "").strip()
    return address if EMAIL.fullmatch(address) else None


async def accessibility(request: Request) -> Response:
    return page(
        request,
        "accessibility.html",
        contact=contact_of(request),
        digg=DIGG_REPORT,
        reviewed=reviewed,
    )


def reviewed(lang: str) -> str:
    """The date of the last assessment, as the reader's language writes a date."""
    return format_date(REVIEWED, "long", locale="sv_SE" if lang == "sv" else "en_GB")


def routes() -> list[BaseRoute]:
    return [Route("/accessibility", accessibility, name="accessibility")]
