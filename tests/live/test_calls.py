"""Calls in rooms: the video services' links and tokens, the settings that name a service,
and what the pages show (and the headers they send) with and without one."""

from __future__ import annotations

import asyncio
import hashlib
import re
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import httpx
import jwt
import pytest

from live.calls import (
    CREATE_THREADS,
    BigBlueButton,
    Jitsi,
    LinkTemplate,
    call_name,
    service_for,
)
from live.settings import ConfigError, Settings
from rooms.errors import Refused
from tests.conftest import Api, Served
from tests.live.pages import join_by_form

JITSI = "https://meet.samla.test"
APP_ID = "samla-test"
APP_SECRET = "a jitsi app secret, long and random enough"
ROOM_ID = re.compile(r'class="room-name" data-room-id="([^"]+)"')


# -- the names of calls ---------------------------------------------------------------------


def test_a_call_name_is_stable_per_session_and_room_and_not_to_be_guessed() -> None:
    a = call_name("key-one-long-enough", "s1", "r1")
    assert a == call_name("key-one-long-enough", "s1", "r1")
    assert re.fullmatch(r"samla-[a-z2-7]{20}", a)
    others = {
        call_name("key-one-long-enough", "s1", "r2"),
        call_name("key-one-long-enough", "s2", "r1"),
        call_name("key-two-long-enough", "s1", "r1"),
        call_name("key-one-long-enough", "s1", None),  # the plenary's
    }
    assert a not in others and len(others) == 4


# -- Jitsi ------------------------------------------------------------------------------------


def _claims(token: str, **options: Any) -> dict[str, Any]:
    found: dict[str, Any] = jwt.decode(
        token, APP_SECRET, algorithms=["HS256"], audience="jitsi", issuer=APP_ID, **options
    )
    return found


def test_a_jitsi_token_names_the_call_and_the_person_and_expires_within_hours() -> None:
    service = Jitsi(JITSI, APP_ID, APP_SECRET)
    url = service.url_for("samla-abc", "Åsa Öberg", is_moderator=False)
    assert url.startswith(f"{JITSI}/samla-abc?jwt=")
    claims = _claims(url.partition("?jwt=")[2])
    assert claims["room"] == "samla-abc"
    assert claims["sub"] == "meet.samla.test"
    assert claims["context"]["user"] == {"name": "Åsa Öberg"}
    assert "moderator" not in claims
    assert claims["nbf"] <= time.time() <= claims["exp"]
    assert 0 < claims["exp"] - claims["iat"] <= 24 * 3600
    moderator = _claims(service.token("samla-abc", "Moderator", True))
    assert moderator["moderator"] is True and moderator["context"]["user"]["moderator"] == "true"


def test_a_jitsi_token_past_its_time_or_signed_otherwise_does_not_verify() -> None:
    service = Jitsi(JITSI, APP_ID, APP_SECRET)
    old = service.token("samla-abc", "Ada", False, now=time.time() - 5 * 3600)
    with pytest.raises(jwt.ExpiredSignatureError):
        _claims(old)
    forged = Jitsi(JITSI, APP_ID, "another secret, just as long as the first").token(
        "samla-abc", "Ada", False
    )
    with pytest.raises(jwt.InvalidSignatureError):
        _claims(forged)


def test_jitsi_under_a_tenant_names_the_tenant_and_without_tokens_passes_the_name() -> None:
    tenant = Jitsi(f"{JITSI}/Forum/", APP_ID, APP_SECRET)
    assert tenant.url_for("samla-abc", "Ada", False).startswith(f"{JITSI}/Forum/samla-abc?jwt=")
    assert _claims(tenant.token("samla-abc", "Ada", False))["sub"] == "forum"
    plain = Jitsi(JITSI).url_for("samla-abc", 'Ada "A" Lind', False)
    assert "jwt" not in plain
    room, _, fragment = plain.partition("#")
    assert room == f"{JITSI}/samla-abc"
    assert unquote(fragment) == 'userInfo.displayName="Ada \\"A\\" Lind"'


def test_a_link_template_names_the_call() -> None:
    service = LinkTemplate("https://video.samla.test/j/{call}?lang=sv")
    assert (
        service.url_for("samla-abc", "Ada", True) == "https://video.samla.test/j/samla-abc?lang=sv"
    )
    assert service.origin == "https://video.samla.test"


# -- BigBlueButton, against a small server in the test --------------------------------------


@dataclass
class FakeBbb:
    secret: str
    answer: bytes = b"<response><returncode>SUCCESS</returncode></response>"
    seen: list[tuple[str, dict[str, str], bool]] = field(default_factory=list)
    # Held until opened: a slow server. `asked` is set on each request it is holding.
    open: threading.Event = field(default_factory=threading.Event)
    asked: threading.Event = field(default_factory=threading.Event)
    busy: int = 0
    most_at_once: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def creates(self) -> list[dict[str, str]]:
        return [params for call, params, _ in self.seen if call == "create"]


def _checksum_ok(secret: str, call: str, raw_query: str) -> bool:
    query, _, checksum = raw_query.rpartition("&checksum=")
    return hashlib.sha256(f"{call}{query}{secret}".encode()).hexdigest() == checksum


@contextmanager
def serve_bbb() -> Iterator[tuple[FakeBbb, str]]:
    """A small BigBlueButton on 127.0.0.1 that checks checksums and keeps what it was asked."""
    fake = FakeBbb("a bigbluebutton secret of some length")
    fake.open.set()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            call = parts.path.rsplit("/", 1)[1]
            ok = _checksum_ok(fake.secret, call, parts.query)
            with fake.lock:
                fake.seen.append((call, dict(parse_qsl(parts.query)), ok))
                fake.busy += 1
                fake.most_at_once = max(fake.most_at_once, fake.busy)
            fake.asked.set()
            fake.open.wait(30)
            with fake.lock:
                fake.busy -= 1
            body = fake.answer if ok else b"<response><returncode>FAILED</returncode></response>"
            self.send_response(200)
            self.send_header("Content-Type", "text/xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake, f"http://127.0.0.1:{server.server_address[1]}/bigbluebutton/"
    finally:
        fake.open.set()
        server.shutdown()
        server.server_close()


@pytest.fixture
def bbb() -> Iterator[tuple[FakeBbb, str]]:
    with serve_bbb() as served:
        yield served


async def test_bigbluebutton_creates_the_meeting_then_joins_with_a_checksum(
    bbb: tuple[FakeBbb, str],
) -> None:
    fake, base = bbb
    service = BigBlueButton(base, fake.secret)
    await service.prepare("samla-abc", "Forum · Room 1")
    [(call, params, ok)] = fake.seen
    assert (call, ok) == ("create", True)
    assert params["meetingID"] == "samla-abc" and params["name"] == "Forum · Room 1"
    url = service.url_for("samla-abc", "Åsa Öberg", is_moderator=False)
    parts = urlsplit(url)
    assert parts.path == "/bigbluebutton/api/join"
    assert _checksum_ok(fake.secret, "join", parts.query)
    joined = dict(parse_qsl(parts.query))
    assert (joined["fullName"], joined["role"]) == ("Åsa Öberg", "VIEWER")
    assert "MODERATOR" in service.url_for("samla-abc", "M", is_moderator=True)


async def test_bigbluebutton_that_refuses_or_is_away_is_said_plainly(
    bbb: tuple[FakeBbb, str],
) -> None:
    fake, base = bbb
    with pytest.raises(Refused) as refused:
        await BigBlueButton(base, "not the server's secret").prepare("samla-abc", "Forum")
    assert refused.value.code == "conflict"
    with pytest.raises(Refused):
        await BigBlueButton("http://127.0.0.1:9/bigbluebutton/", fake.secret).prepare("x", "y")


FAILED = b"<response><returncode>FAILED</returncode></response>"


async def _asked(fake: FakeBbb) -> None:
    """Until the server holds a request (waited for in a thread of its own)."""
    with ThreadPoolExecutor(1) as waiter:
        assert await asyncio.get_running_loop().run_in_executor(waiter, fake.asked.wait, 10)


async def test_bigbluebutton_makes_a_call_once_for_all_who_ask_at_once(
    bbb: tuple[FakeBbb, str],
) -> None:
    fake, base = bbb
    service = BigBlueButton(base, fake.secret)
    fake.open.clear()
    asking = [asyncio.create_task(service.prepare("samla-abc", "Forum")) for _ in range(20)]
    await _asked(fake)
    # The first one's `create` is under way; the others wait on it rather than ask again.
    assert not any(a.done() for a in asking)
    fake.open.set()
    await asyncio.gather(*asking)
    assert len(fake.creates()) == 1
    await service.prepare("samla-abc", "Forum")  # made a moment ago
    assert len(fake.creates()) == 1
    await service.prepare("samla-def", "Forum")  # another call
    assert [c["meetingID"] for c in fake.creates()] == ["samla-abc", "samla-def"]


async def test_a_call_bigbluebutton_did_not_make_is_asked_for_again(
    bbb: tuple[FakeBbb, str],
) -> None:
    fake, base = bbb
    service = BigBlueButton(base, fake.secret)
    fake.answer, success = FAILED, fake.answer
    fake.open.clear()
    asking = [asyncio.create_task(service.prepare("samla-abc", "Forum")) for _ in range(5)]
    await _asked(fake)
    fake.open.set()
    told = await asyncio.gather(*asking, return_exceptions=True)
    assert all(isinstance(t, Refused) and t.code == "conflict" for t in told)
    assert len(fake.creates()) == 1
    fake.answer = success
    await service.prepare("samla-abc", "Forum")
    assert len(fake.creates()) == 2


async def test_a_slow_bigbluebutton_keeps_only_its_own_threads_busy(
    bbb: tuple[FakeBbb, str],
) -> None:
    fake, base = bbb
    service = BigBlueButton(base, fake.secret)
    fake.open.clear()
    # More calls at once than asyncio's default threads (32 at most), the server holding them.
    asking = [asyncio.create_task(service.prepare(f"samla-{i}", "Forum")) for i in range(40)]
    try:
        await _asked(fake)
        # Logins, archives and registrations run in asyncio's default threads: still free.
        assert await asyncio.wait_for(asyncio.to_thread(sum, [1, 2]), 5) == 3
    finally:
        fake.open.set()
    await asyncio.gather(*asking)
    assert len(fake.creates()) == 40
    assert 1 <= fake.most_at_once <= CREATE_THREADS


# -- settings -----------------------------------------------------------------------------------


def _env(**values: str) -> dict[str, str]:
    return {"SECRET_KEY": "a secret key long enough", **values}


def test_a_video_service_is_chosen_by_its_settings() -> None:
    assert service_for(Settings.from_env(_env())) is None
    jitsi = Settings.from_env(
        _env(JITSI_URL=JITSI, JITSI_APP_ID=APP_ID, JITSI_APP_SECRET=APP_SECRET, CALL_EMBED="true")
    )
    assert (jitsi.jitsi_url, jitsi.jitsi_app_id, jitsi.call_embed) == (JITSI, APP_ID, True)
    assert APP_SECRET not in repr(jitsi)
    assert isinstance(service_for(jitsi), Jitsi)
    local = Settings.from_env(_env(BBB_URL="http://localhost:8090/bigbluebutton/", BBB_SECRET="s"))
    assert isinstance(service_for(local), BigBlueButton)
    linked = Settings.from_env(_env(CALL_LINK_TEMPLATE="https://video.samla.test/{call}"))
    assert isinstance(service_for(linked), LinkTemplate)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"JITSI_URL": "http://meet.samla.test"}, "https://"),
        ({"JITSI_URL": "meet.samla.test"}, "JITSI_URL"),
        ({"JITSI_URL": JITSI, "JITSI_APP_SECRET": APP_SECRET}, "JITSI_APP_ID"),
        ({"JITSI_URL": JITSI, "JITSI_APP_ID": APP_ID}, "JITSI_APP_SECRET"),
        ({"JITSI_APP_ID": APP_ID, "JITSI_APP_SECRET": APP_SECRET}, "JITSI_URL"),
        ({"JITSI_URL": JITSI, "CALL_LINK_TEMPLATE": "https://v.test/{call}"}, "only one"),
        ({"CALL_LINK_TEMPLATE": "https://video.samla.test/room"}, "{call}"),
        ({"CALL_LINK_TEMPLATE": "javascript:alert(1)//{call}"}, "https://"),
        ({"CALL_LINK_TEMPLATE": "https://{call}.video.samla.test/"}, "out of the scheme and"),
        ({"CALL_LINK_TEMPLATE": "https://video.samla.test:{call}/"}, "the host"),
        ({"CALL_LINK_TEMPLATE": "https://{call}@video.samla.test/x"}, "the host"),
        ({"CALL_LINK_TEMPLATE": "{call}://video.samla.test/x"}, "out of the scheme"),
        ({"BBB_URL": "https://bbb.samla.test/bigbluebutton/"}, "BBB_SECRET"),
        ({"BBB_URL": "https://b.test/", "BBB_SECRET": "s", "BBB_CHECKSUM": "md5"}, "sha1"),
        ({"JITSI_URL": JITSI, "CALL_EMBED": "maybe"}, "CALL_EMBED"),
    ],
)
def test_a_bad_video_service_setting_stops_samla_with_the_fix(
    env: dict[str, str], named: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape(named)):
        Settings.from_env(_env(**env))


# -- what pages show and send ---------------------------------------------------------------


async def _person_in_a_room(
    api: Api,
    client: httpx.AsyncClient,
    name: str = "Ada",
    others: tuple[httpx.AsyncClient, ...] = (),
    **opening: Any,
) -> tuple[dict[str, Any], str]:
    """A session, a person joined by its form in this client, and the room they were put in
    (the others, joined as well, each get a room of their own)."""
    session = await api.make_session("Samtal")
    await join_by_form(client, session["code"], name)
    for i, other in enumerate(others):
        await join_by_form(other, session["code"], f"Other {i}")
    body = {"count": 1 + len(others), "assignment": "random", **opening}
    r = await api.call(
        "POST", f"/api/v1/sessions/{session['id']}/rooms", session["moderator_token"], json=body
    )
    assert r.status_code == 201, r.text
    page = await client.get(f"/s/{session['id']}")
    found = ROOM_ID.search(page.text)
    assert found, page.text
    return session, found.group(1)


@pytest.fixture
async def jitsi(served_factory: Callable[..., Served]) -> AsyncIterator[Api]:
    served = served_factory(
        jitsi_url=JITSI, jitsi_app_id=APP_ID, jitsi_app_secret=APP_SECRET, call_embed=False
    )
    async with httpx.AsyncClient(base_url=served.base, timeout=30) as client:
        yield Api(served, client)


async def test_without_a_service_no_page_offers_a_call_nor_frames_anything(
    served: Served, api: Api
) -> None:
    async with httpx.AsyncClient(base_url=served.base) as client:
        session, rid = await _person_in_a_room(api, client)
        page = await client.get(f"/s/{session['id']}")
        assert "Join the call" not in page.text and '/call"' not in page.text
        csp = page.headers["content-security-policy"]
        assert "frame-src" not in csp and "frame-ancestors 'none'" in csp
        assert "permissions-policy" not in page.headers
        assert (await client.get(f"/rooms/{rid}/call")).status_code == 404
        console = await client.get(
            f"/s/{session['id']}/moderate?key={session['moderator_token']}", follow_redirects=True
        )
        assert "Enter the call" not in console.text and "call-choice-form" not in console.text


async def test_the_room_card_links_to_the_call_and_sends_each_person_on_with_their_own(
    jitsi: Api,
) -> None:
    async with (
        httpx.AsyncClient(base_url=jitsi.served.base) as client,
        httpx.AsyncClient(base_url=jitsi.served.base) as other,
    ):
        session, rid = await _person_in_a_room(jitsi, client, "Åsa", (other,))
        # Someone of the session in another room is not let into this one's call.
        assert (await other.get(f"/rooms/{rid}/call")).status_code == 403
        page = await client.get(f"/s/{session['id']}")
        assert f'href="/rooms/{rid}/call" target="_blank" rel="noopener noreferrer"' in page.text
        assert "Join the call" in page.text and "jwt" not in page.text
        # Without embedding the headers are exactly those without calls.
        assert "frame-src" not in page.headers["content-security-policy"]
        assert "permissions-policy" not in page.headers
        onwards = await client.get(f"/rooms/{rid}/call")
        assert onwards.status_code == 303
        assert onwards.headers["cache-control"] == "no-store"
        url = onwards.headers["location"]
        call = call_name(jitsi.served.settings.secret_key, session["id"], rid)
        assert url.startswith(f"{JITSI}/{call}?jwt=")
        claims = _claims(url.partition("?jwt=")[2])
        assert (claims["room"], claims["context"]["user"]["name"]) == (call, "Åsa")
    async with httpx.AsyncClient(base_url=jitsi.served.base) as stranger:
        assert (await stranger.get(f"/rooms/{rid}/call")).status_code == 403
        assert (await stranger.get("/rooms/nosuchroom/call")).status_code == 404


async def test_the_moderators_overview_enters_each_rooms_call_and_chooses_the_calls(
    jitsi: Api,
) -> None:
    async with httpx.AsyncClient(base_url=jitsi.served.base) as client:
        session, rid = await _person_in_a_room(jitsi, client)
    async with httpx.AsyncClient(base_url=jitsi.served.base) as moderator:
        console = await moderator.get(
            f"/s/{session['id']}/moderate?key={session['moderator_token']}", follow_redirects=True
        )
        assert f'<a href="/rooms/{rid}/call" target="_blank"' in console.text
        assert "Enter the call" in console.text and 'id="call-choice-form"' in console.text
        onwards = await moderator.get(f"/rooms/{rid}/call")
        assert onwards.status_code == 303
        claims = _claims(onwards.headers["location"].partition("?jwt=")[2])
        assert claims["moderator"] is True


async def test_with_embedding_the_room_frames_the_call_and_the_csp_names_that_one_origin(
    served_factory: Callable[..., Served],
) -> None:
    served = served_factory(jitsi_url=f"{JITSI}/forum", call_embed=True)
    async with (
        httpx.AsyncClient(base_url=served.base) as client,
        httpx.AsyncClient(base_url=served.base) as api_client,
    ):
        session, rid = await _person_in_a_room(Api(served, api_client), client)
        page = await client.get(f"/s/{session['id']}")
        frame = re.search(r"<iframe[^>]*>", page.text)
        assert frame is not None
        assert f'src="/rooms/{rid}/call"' in frame.group(0)
        assert f'allow="camera {JITSI}; microphone {JITSI}; display-capture {JITSI}' in frame.group(
            0
        )
        csp = page.headers["content-security-policy"]
        assert csp.endswith(f"; frame-src 'self' {JITSI}")
        assert csp.count("frame-src") == 1 and "frame-ancestors 'none'" in csp
        policy = page.headers["permissions-policy"]
        assert f'camera=(self "{JITSI}")' in policy and f'microphone=(self "{JITSI}")' in policy
        onwards = await client.get(f"/rooms/{rid}/call")
        assert onwards.headers["location"].startswith(f"{JITSI}/forum/samla-")


async def test_the_demo_offers_calls_in_its_online_rooms_when_a_service_is_set(
    served_factory: Callable[..., Served],
) -> None:
    from live.demo import fill

    served = served_factory(jitsi_url=JITSI)
    text = await fill(served.settings, served.base)
    consoles = re.findall(r"http://\S+/moderate\?key=\S+", text)
    assert consoles
    entered = []
    async with httpx.AsyncClient(base_url=served.base, timeout=30) as client:
        for link in consoles:
            page = await client.get(link, follow_redirects=True)
            assert page.status_code == 200
            entered.append(page.text.count("Enter the call<"))
    # The group conversation's four rooms online; its four tables in the hall meet face to face.
    assert max(entered) == 4 and sum(entered) == 4


def _framed_by_samla_only(r: httpx.Response) -> None:
    csp = r.headers["content-security-policy"]
    assert "frame-ancestors 'self'" in csp and "frame-ancestors 'none'" not in csp
    assert csp.count("frame-ancestors") == 1 and f"frame-src 'self' {JITSI}" in csp
    assert r.headers.get_list("x-frame-options") == ["SAMEORIGIN"]


def _never_framed(r: httpx.Response) -> None:
    csp = r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "frame-ancestors 'self'" not in csp
    assert r.headers.get_list("x-frame-options") == ["DENY"]


async def test_with_embedding_the_framed_calls_address_and_its_refusals_may_be_framed_by_samla(
    served_factory: Callable[..., Served],
) -> None:
    served = served_factory(jitsi_url=JITSI, call_embed=True)
    async with (
        httpx.AsyncClient(base_url=served.base) as client,
        httpx.AsyncClient(base_url=served.base) as moderator,
        httpx.AsyncClient(base_url=served.base) as api_client,
    ):
        api = Api(served, api_client)
        session, rid = await _person_in_a_room(api, client)
        onwards = await client.get(f"/rooms/{rid}/call")
        assert onwards.status_code == 303
        _framed_by_samla_only(onwards)
        _never_framed(await client.get(f"/s/{session['id']}"))
        await moderator.get(
            f"/s/{session['id']}/moderate?key={session['moderator_token']}", follow_redirects=True
        )
        r = await api.call(
            "POST", f"/api/v1/sessions/{session['id']}/rooms/close", session["moderator_token"]
        )
        assert r.status_code == 200, r.text
        # The rooms closed: the frame shows why, not a frame the browser refused to fill.
        for who, status in ((client, 403), (moderator, 409)):
            refused = await who.get(f"/rooms/{rid}/call")
            assert refused.status_code == status and "<html" in refused.text
            _framed_by_samla_only(refused)
        _framed_by_samla_only(await client.get("/rooms/nosuchroom/call"))
        # Every other address still refuses every frame.
        for path in (
            f"/s/{session['id']}",
            f"/s/{session['id']}/call",
            f"/rooms/{rid}/call/more",
            f"/x/rooms/{rid}/call",
            "/",
        ):
            _never_framed(await client.get(path))
        _never_framed(await moderator.get(f"/s/{session['id']}/moderator"))


async def test_without_embedding_the_calls_address_refuses_frames_like_every_page(
    jitsi: Api,
) -> None:
    async with httpx.AsyncClient(base_url=jitsi.served.base) as client:
        session, rid = await _person_in_a_room(jitsi, client)
        _never_framed(await client.get(f"/rooms/{rid}/call"))
        await jitsi.call(
            "POST", f"/api/v1/sessions/{session['id']}/rooms/close", session["moderator_token"]
        )
        refused = await client.get(f"/rooms/{rid}/call")
        assert refused.status_code == 403
        _never_framed(refused)


async def test_a_person_asking_for_the_call_in_a_loop_is_told_to_wait(jitsi: Api) -> None:
    async with (
        httpx.AsyncClient(base_url=jitsi.served.base) as client,
        httpx.AsyncClient(base_url=jitsi.served.base) as moderator,
    ):
        session, rid = await _person_in_a_room(jitsi, client)
        for _ in range(30):
            assert (await client.get(f"/rooms/{rid}/call")).status_code == 303
        # A bucket of 30 a minute frees one every two seconds: the next few find it full.
        answers = [await client.get(f"/rooms/{rid}/call") for _ in range(5)]
        refused = next(a for a in answers if a.status_code == 429)
        assert "asking for the call very often" in refused.text
        assert int(refused.headers["retry-after"]) >= 1
        # Only that person waits: the moderator's allowance is their own.
        await moderator.get(
            f"/s/{session['id']}/moderate?key={session['moderator_token']}", follow_redirects=True
        )
        assert (await moderator.get(f"/rooms/{rid}/call")).status_code == 303
