"""Calls in rooms in a real browser: a participant's phone offers their room's call and leads
into it (on a small stand-in for the video service on 127.0.0.1, so nothing of a third party
is loaded), the call framed in the page when the organiser allows it, and the moderator
starting a plenary call that appears on phones live."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import jwt
import pytest
from playwright.async_api import Browser, Page, expect

from tests.conftest import CONSOLE, PHONE, Api, Served, axe_violations

pytestmark = pytest.mark.browser

SHOTS = Path("/tmp/shots/calls")
APP_ID = "samla-test"
APP_SECRET = "a jitsi app secret, long and random enough"
STAND_IN = b"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Call</title>
<meta name="viewport" content="width=device-width"></head>
<body style="background:#1d2330;color:#fff;font:1.25rem sans-serif;padding:1rem">
<h1>Video call stand-in</h1></body></html>"""


@dataclass
class VideoService:
    """A stand-in for Jitsi Meet: answers every page, and keeps the paths it was asked for."""

    base: str = ""
    paths: list[str] = field(default_factory=list)
    asked: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def video() -> Iterator[VideoService]:
    service = VideoService()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/favicon.ico":
                service.paths.append(self.path)
                service.asked.set()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(STAND_IN)))
            self.end_headers()
            self.wfile.write(STAND_IN)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    service.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield service
    finally:
        server.shutdown()
        server.server_close()


async def _phone(browser: Browser, served: Served, code: str, name: str) -> Page:
    page = await (await browser.new_context(viewport=PHONE)).new_page()
    await page.goto(f"{served.base}/j/{code}")
    await page.fill("#name", name)
    await page.click("button[type=submit]")
    await expect(page.locator("#breakout")).to_have_attribute("data-place", "plenary")
    return page


async def _open_rooms(api: Api, session: dict[str, Any], count: int = 1) -> None:
    r = await api.call(
        "POST",
        f"/api/v1/sessions/{session['id']}/rooms",
        session["moderator_token"],
        json={"count": count, "assignment": "random", "minutes": 20},
    )
    assert r.status_code == 201, r.text


async def _served_api(
    served_factory: Callable[..., Served], video: VideoService, **settings: Any
) -> tuple[Served, httpx.AsyncClient]:
    served = served_factory(
        jitsi_url=video.base, jitsi_app_id=APP_ID, jitsi_app_secret=APP_SECRET, **settings
    )
    return served, httpx.AsyncClient(base_url=served.base, timeout=30)


async def test_a_participant_joins_their_rooms_call_from_the_phone(
    browser: Browser, served_factory: Callable[..., Served], video: VideoService
) -> None:
    served, client = await _served_api(served_factory, video)
    async with client:
        api = Api(served, client)
        session = await api.make_session("Gruppsamtal")
        phone = await _phone(browser, served, session["code"], "Åsa")
        await expect(phone.locator("#breakout .call-join")).to_have_count(0)
        await _open_rooms(api, session)

        join = phone.locator("#breakout .room-card .call-join")
        await expect(join).to_have_text("Join the call (opens in a new tab)")
        await expect(join).to_have_attribute("target", "_blank")
        await expect(join).to_have_attribute("rel", "noopener noreferrer")
        box = await join.bounding_box()
        assert box is not None and box["height"] >= 44 and box["width"] <= PHONE["width"]
        SHOTS.mkdir(parents=True, exist_ok=True)
        await phone.screenshot(path=str(SHOTS / "phone-room-call.png"), full_page=True)
        assert [v for v in await axe_violations(phone) if "call" in v] == []

        async with phone.context.expect_page() as opened:
            await join.click()
        call = await opened.value
        await expect(call.locator("h1")).to_have_text("Video call stand-in")
        parts = urlsplit(call.url)
        assert f"{parts.scheme}://{parts.netloc}" == video.base
        assert parts.path.startswith("/samla-") and parts.query.startswith("jwt=")
        claims = jwt.decode(
            parts.query.removeprefix("jwt="), APP_SECRET, algorithms=["HS256"], audience="jitsi"
        )
        assert claims["room"] == parts.path[1:]
        assert claims["context"]["user"]["name"] == "Åsa"
        # The call's page was not told where the person came from.
        assert await call.evaluate("document.referrer") == ""
        assert not await call.evaluate("window.opener")


async def test_with_embedding_the_call_is_framed_in_the_room_and_kept_through_updates(
    browser: Browser, served_factory: Callable[..., Served], video: VideoService
) -> None:
    served, client = await _served_api(served_factory, video, call_embed=True)
    async with client:
        api = Api(served, client)
        session = await api.make_session("Gruppsamtal")
        phone = await _phone(browser, served, session["code"], "Bo")
        await _open_rooms(api, session)
        frame_element = phone.locator("#breakout iframe.call-frame")
        await expect(frame_element).to_have_count(1)
        assert video.base in (await frame_element.get_attribute("allow") or "")
        # Samla's own link, then the service: the frame shows the service's page.
        frame = phone.frame_locator("#breakout iframe.call-frame")
        await expect(frame.locator("h1")).to_have_text("Video call stand-in")
        assert len(video.paths) == 1 and video.paths[0].startswith("/samla-")
        inner = next(f for f in phone.frames if f.url.startswith(video.base))
        await inner.evaluate("window.stillHere = true")

        # The room card is redrawn (a message to all rooms); the call is not interrupted.
        r = await api.call(
            "POST",
            f"/api/v1/sessions/{session['id']}/rooms/broadcast",
            session["moderator_token"],
            json={"text": "Fem minuter kvar"},
        )
        assert r.status_code == 201, r.text
        await expect(phone.locator("#announce")).to_contain_text("Fem minuter kvar")
        assert await inner.evaluate("window.stillHere") is True
        assert len(video.paths) == 1
        SHOTS.mkdir(parents=True, exist_ok=True)
        await phone.screenshot(path=str(SHOTS / "phone-room-call-embedded.png"))
        assert [v for v in await axe_violations(phone) if "call" in v] == []


async def test_the_moderator_starts_a_plenary_call_and_phones_in_the_plenary_show_it(
    browser: Browser, served_factory: Callable[..., Served], video: VideoService
) -> None:
    served, client = await _served_api(served_factory, video)
    async with client:
        api = Api(served, client)
        session = await api.make_session("Storgrupp")
        phone = await _phone(browser, served, session["code"], "Cem")
        await expect(phone.locator("#plenary-call .call-join")).to_have_count(0)

        console = await (await browser.new_context(viewport=CONSOLE)).new_page()
        await console.goto(
            f"{served.base}/s/{session['id']}/moderate?key={session['moderator_token']}#sec-stage"
        )
        form = console.locator("#call-choice-form")
        await expect(form).to_be_visible()
        await form.get_by_label("A plenary call for those taking part from afar").check()
        await form.get_by_role("button", name="Save the calls").click()
        await expect(console.locator("#call-choice")).to_contain_text("Enter the plenary call")

        plenary = phone.locator("#plenary-call .call-join")
        await expect(plenary).to_have_text("Join the plenary call (opens in a new tab)")
        await expect(plenary).to_have_attribute("href", f"/s/{session['id']}/call")
        SHOTS.mkdir(parents=True, exist_ok=True)
        await phone.screenshot(path=str(SHOTS / "phone-plenary-call.png"), full_page=True)

        # In a room, the room's call takes the plenary's place; the console enters each room's.
        await _open_rooms(api, session)
        await expect(phone.locator("#breakout .call-join")).to_have_count(1)
        await expect(plenary).to_have_count(0)
        await console.goto(f"{served.base}/s/{session['id']}/moderator#sec-rooms")
        enter = console.locator("#breakout-overview .call-enter a")
        await expect(enter).to_have_count(1)
        await console.screenshot(path=str(SHOTS / "console-rooms-calls.png"))
        await console.goto(f"{served.base}/s/{session['id']}/moderator#sec-stage")
        await console.locator("#call-choice").scroll_into_view_if_needed()
        await console.screenshot(path=str(SHOTS / "console-call-choice.png"))
        assert [v for v in await axe_violations(console) if "call" in v] == []


async def test_with_embedding_a_call_the_service_did_not_start_says_so_in_the_frame(
    browser: Browser, served_factory: Callable[..., Served]
) -> None:
    # A BigBlueButton that cannot be reached (nothing listens on port 9).
    served = served_factory(
        bbb_url="http://127.0.0.1:9/bigbluebutton/", bbb_secret="a secret", call_embed=True
    )
    async with httpx.AsyncClient(base_url=served.base, timeout=30) as client:
        api = Api(served, client)
        session = await api.make_session("Gruppsamtal")
        phone = await _phone(browser, served, session["code"], "Dan")
        await _open_rooms(api, session)
        await expect(phone.locator("#breakout iframe.call-frame")).to_have_count(1)
        # Samla's own page, framed by Samla's room page: the person reads why, not a frame
        # the browser refused to fill.
        frame = phone.frame_locator("#breakout iframe.call-frame")
        await expect(frame.locator("h1")).to_have_text("Sorry")
        await expect(frame.locator("main")).to_contain_text(
            "The video service did not start the call; try again in a moment."
        )
        # The page itself is still not to be framed by anyone.
        answer = await phone.request.get(f"{served.base}/s/{session['id']}")
        assert answer.headers["x-frame-options"] == "DENY"
        shots = Path("/tmp/shots/calls-fix")
        shots.mkdir(parents=True, exist_ok=True)
        await phone.screenshot(path=str(shots / "phone-room-call-refused-in-frame.png"))
