"""The stage's API: what the hall's big screen shows, and its read-only link."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from live.actions import perform
from live.actions import stage as act
from live.api.base import Endpoint, actor_for, route, samla_of
from live.errors import read_json
from rooms import stage


def stage_url(request: Request, session_id: str, salt: str | None) -> str:
    """The stage's read-only link: it opens the hall's screen with no sign-in."""
    secret = stage.link_secret(samla_of(request).settings.secret_key, session_id, salt)
    return str(request.url_for("stage_page", secret=secret))


async def show(request: Request) -> Response:
    """Puts one thing on the stage; every screen of the stage link follows at once. `id` is
    a poll, question or board of this session (a question must be approved); a message
    needs its `text`. A poll's results stay hidden unless `reveal_results` is true; `by` (a
    join question's key) splits them by its answers, a group of fewer than 3 without counts."""
    sid = request.path_params["sid"]
    raw = await read_json(request)
    shown = await perform(samla_of(request), act.SHOW, await actor_for(request, sid), raw)
    return JSONResponse(shown)


async def revoke(request: Request) -> Response:
    """A new stage link; the old one opens nothing any more, and its open screens close."""
    sid = request.path_params["sid"]
    salt = await perform(samla_of(request), act.REVOKE, await actor_for(request, sid), {})
    return JSONResponse({"stage_url": stage_url(request, sid, salt)})


ENDPOINTS: list[Endpoint] = [
    route(
        "POST",
        "/api/v1/sessions/{sid}/stage",
        show,
        "Choose what the hall's big screen shows",
        who="moderator",
        body=act.StageShown,
    ),
    route(
        "POST",
        "/api/v1/sessions/{sid}/stage/revoke",
        revoke,
        "A new stage link (the old one stops working)",
        who="moderator",
    ),
]
