"""Redis down for a while under two instances: people keep writing, nothing acknowledged
is lost, every screen catches up once it is back, and an ended login or a deleted session
closes its sockets on every instance though its message was lost with Redis."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from tests.conftest import (
    ORGANISER_EMAIL,
    ORGANISER_PASSWORD,
    Api,
    RedisServer,
    Served,
    Stream,
    eventually,
    open_stream,
)
from tests.live.pages import PageSocket, csrf_of, page_socket

OUTAGE = 10.0  # seconds Redis is away while people write
RECONCILE = 1.0  # the instances' reconcile interval in these tests
# However busy this machine is, a socket must have converged (or closed) this long after
# Redis is back: the ten seconds for screens; a reconcile round plus slack for
# revocations (they are applied by the round that follows them, during the outage).
CONVERGE = 10.0
CLOSE_WITHIN = RECONCILE + 2.0


@pytest.fixture
async def pair(
    served_factory: Callable[..., Served], own_redis: RedisServer
) -> AsyncIterator[list[Api]]:
    """Two instances on one Redis and one SQLite file, each with an API client."""
    instances = [served_factory(own_redis.url, reconcile_interval=RECONCILE) for _ in range(2)]
    async with contextlib.AsyncExitStack() as stack:
        apis = []
        for served in instances:
            client = httpx.AsyncClient(base_url=served.base, timeout=30)
            await stack.enter_async_context(client)
            apis.append(Api(served, client))
        yield apis


@dataclass
class Follower:
    """An open event stream read in the background: the newest version it was shown, and
    how it ended."""

    stream: Stream
    version: int = -1
    closed: int | None = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    async def read(self) -> None:
        try:
            while True:
                frame = await self.stream.next(timeout=3600)
                if isinstance(frame.get("version"), int):
                    self.version = max(self.version, frame["version"])
        except ConnectionClosed as closed:
            self.closed = closed.rcvd.code if closed.rcvd is not None else -1


@contextlib.asynccontextmanager
async def following(served: Served, session_id: str, token: str) -> AsyncIterator[Follower]:
    async with open_stream(served)(session_id, token) as stream:
        follower = Follower(stream)
        follower.task = asyncio.create_task(follower.read())

        async def snapshotted() -> bool:
            return follower.version >= 0

        try:
            await eventually(snapshotted, timeout=10)
            yield follower
        finally:
            follower.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await follower.task


async def health(api: Api) -> tuple[int, dict[str, Any]]:
    r = await api.client.get("/healthz")
    body: dict[str, Any] = r.json()
    return r.status_code, body


async def degraded(api: Api) -> bool:
    status, body = await health(api)
    assert status == 200, "an instance that can still write stays in rotation"
    return body["status"] == "degraded" and body["redis"] == "unreachable"


async def healthy(api: Api) -> bool:
    status, body = await health(api)
    return status == 200 and body["status"] == "ok" and body["redis"] == "ok"


def accepted_or_refused(r: httpx.Response) -> bool:
    """True when the write was accepted; a refusal must have the API's error shape."""
    assert r.status_code < 500, (r.status_code, r.text)
    if r.status_code < 300:
        return True
    error = r.json()["error"]
    assert isinstance(error["code"], str) and isinstance(error["message"], str), r.text
    return False


@dataclass
class Acknowledged:
    joined: set[str] = field(default_factory=set)
    voted: set[str] = field(default_factory=set)
    notes: set[str] = field(default_factory=set)
    questions: set[str] = field(default_factory=set)
    upvoted: set[tuple[str, str]] = field(default_factory=set)
    refused: list[str] = field(default_factory=list)


async def write_until(
    api: Api, setup: dict[str, Any], deadline: float, done: Acknowledged, names: Iterator[int]
) -> None:
    """One person after another joins through `api`, answers the poll, posts a note, asks
    a question and upvotes the previous question asked through this writer."""
    session, poll, board = setup["session"], setup["poll"], setup["board"]
    question: str | None = None
    while time.monotonic() < deadline:
        n = next(names)
        r = await api.call("POST", "/api/v1/join", json={"code": session["code"], "name": f"P{n}"})
        if not accepted_or_refused(r):
            done.refused.append(r.json()["error"]["code"])
            continue
        person = r.json()
        done.joined.add(person["participant_id"])
        token = person["token"]
        option = poll["options"][n % len(poll["options"])]["id"]
        r = await api.call(
            "POST", f"/api/v1/polls/{poll['id']}/votes", token, json={"choices": [option]}
        )
        if accepted_or_refused(r):
            done.voted.add(person["participant_id"])
        r = await api.call(
            "POST",
            f"/api/v1/boards/{board['id']}/notes",
            token,
            json={"text": f"Lapp {n}", "column": board["columns"][0]["id"]},
        )
        if accepted_or_refused(r):
            done.notes.add(r.json()["id"])
        if question is not None:
            r = await api.call("POST", f"/api/v1/questions/{question}/upvote", token)
            if accepted_or_refused(r):
                done.upvoted.add((question, person["participant_id"]))
        r = await api.call(
            "POST",
            f"/api/v1/sessions/{session['id']}/questions",
            token,
            json={"text": f"Fråga {n}?"},
        )
        if accepted_or_refused(r):
            question = r.json()["id"]
            done.questions.add(question)


async def prepare(api: Api) -> dict[str, Any]:
    session = await api.make_session("Redis borta")
    mod = session["moderator_token"]
    r = await api.call(
        "POST",
        f"/api/v1/sessions/{session['id']}/polls",
        mod,
        json={"question": "Vad behövs mest?", "kind": "single", "options": ["Tid", "Mandat"]},
    )
    assert r.status_code == 201, r.text
    poll = r.json()
    r = await api.call("POST", f"/api/v1/polls/{poll['id']}/open", mod)
    assert r.status_code == 200, r.text
    r = await api.call(
        "POST",
        f"/api/v1/sessions/{session['id']}/boards",
        mod,
        json={"title": "Idéer", "columns": ["Goda exempel"]},
    )
    assert r.status_code == 201, r.text
    return {"session": session, "poll": poll, "board": r.json()}


async def test_health_without_redis_says_it_is_unused(served: Served) -> None:
    async with httpx.AsyncClient(base_url=served.base) as client:
        r = await client.get("/healthz")
    assert r.status_code == 200
    assert r.json() | {"sockets": 0} == {
        "ok": True,
        "status": "ok",
        "redis": "unused",
        "sockets": 0,
    }


@pytest.mark.redis
async def test_writes_go_on_while_redis_is_down_and_every_screen_catches_up(
    pair: list[Api], own_redis: RedisServer
) -> None:
    one, two = pair
    setup = await prepare(one)
    session, mod = setup["session"], setup["session"]["moderator_token"]
    sid = session["id"]
    watchers = [await one.join(session, "Anna"), await two.join(session, "Bo")]
    assert await healthy(one) and await healthy(two)
    done = Acknowledged()
    names = itertools.count()
    async with contextlib.AsyncExitStack() as stack:
        streams = [
            await stack.enter_async_context(following(api.served, sid, token))
            for api in pair
            for token in (mod, watchers[0]["token"], watchers[1]["token"])
        ]
        own_redis.stop()
        deadline = time.monotonic() + OUTAGE
        # People who arrive during the outage connect too (presence cannot be written).
        for api in pair:
            late = await api.join(session, "Sen")
            streams.append(
                await stack.enter_async_context(following(api.served, sid, late["token"]))
            )
        writers = [write_until(api, setup, deadline, done, names) for api in (one, two, one, two)]
        await asyncio.gather(*writers)
        assert await degraded(one) and await degraded(two)
        own_redis.start()
        back = time.monotonic()

        r = await one.call("GET", f"/api/v1/sessions/{sid}", mod)
        stored = r.json()["version"]

        async def converged() -> bool:
            return all(s.version == stored for s in streams)

        await eventually(converged, timeout=CONVERGE, every=0.1)
        took = time.monotonic() - back
        assert all(s.closed is None for s in streams)
        await eventually(lambda: healthy(one), timeout=CONVERGE, every=0.2)
        await eventually(lambda: healthy(two), timeout=CONVERGE, every=0.2)

    # Nothing acknowledged is lost: the store holds every write that was answered 2xx.
    # Each writer got at least one person through (a busy machine may manage few more).
    assert len(done.joined) >= 4 and done.voted and done.notes and done.questions, done
    r = await two.call("GET", f"/api/v1/sessions/{sid}", mod)
    assert r.json()["participants"] == len(done.joined) + len(watchers) + 2
    r = await two.call("GET", f"/api/v1/polls/{setup['poll']['id']}/results", mod)
    assert r.json()["voters"] == len(done.voted)
    r = await one.call("GET", f"/api/v1/boards/{setup['board']['id']}", mod)
    assert {n["id"] for n in r.json()["notes"]} == done.notes
    r = await one.call("GET", f"/api/v1/sessions/{sid}/questions", mod)
    upvotes = {q["id"]: q["upvotes"] for q in r.json()["questions"]}
    assert set(upvotes) == done.questions
    for question in done.questions:
        assert upvotes[question] == sum(1 for q, _ in done.upvoted if q == question)
    print(
        f"outage of {OUTAGE:.0f} s: {len(done.joined)} joins, {len(done.voted)} votes, "
        f"{len(done.notes)} notes, {len(done.questions)} questions acknowledged, "
        f"refused {sorted(set(done.refused))}; every stream at v{stored} {took:.1f} s after"
    )


async def sign_in_by_form(client: httpx.AsyncClient) -> None:
    login = await client.get("/login")
    r = await client.post(
        "/login",
        data={
            "csrf": csrf_of(login.text),
            "email": ORGANISER_EMAIL,
            "password": ORGANISER_PASSWORD,
        },
    )
    assert r.status_code == 303, r.text


async def new_api_token(api: Api) -> str:
    r = await api.call(
        "POST",
        "/api/v1/auth/token",
        json={"email": ORGANISER_EMAIL, "password": ORGANISER_PASSWORD},
    )
    assert r.status_code == 200, r.text
    token: str = r.json()["token"]
    return token


async def closed_with(socket: PageSocket) -> int | None:
    """Reads the page socket to its end; its close code (None if it is still open)."""
    try:
        while True:
            await socket.next(timeout=0.05)
    except TimeoutError:
        return None
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd is not None else -1


@pytest.mark.redis
async def test_what_ended_while_redis_was_down_closes_its_sockets_on_every_instance(
    pair: list[Api], own_redis: RedisServer
) -> None:
    one, two = pair
    await one.organiser_token()  # the organiser account
    revoked = await new_api_token(one)
    kept = await one.organiser_token()
    staying = await one.make_session("Blir kvar")
    going = await one.make_session("Raderas")
    guest = await two.join(going, "Cleo")
    dana = await one.join(staying, "Dana")  # removed by the moderator during the outage
    erik = await two.join(staying, "Erik")
    async with contextlib.AsyncExitStack() as stack:
        browser = await stack.enter_async_context(httpx.AsyncClient(base_url=one.served.base))
        await sign_in_by_form(browser)
        page = await browser.get(f"/s/{staying['id']}/moderator")
        assert page.status_code == 200
        # The browser's moderator page on each instance, by its cookie (same SECRET_KEY).
        pages = []
        for api in pair:
            path = f"/s/{staying['id']}/ws?view=moderator"
            socket = await stack.enter_async_context(page_socket(api.served.base, browser, path))
            assert 'id="presence"' in await socket.next(timeout=10)
            pages.append(socket)
        ended, survivors = [], []
        for api in pair:
            enter = stack.enter_async_context
            ended.append(await enter(following(api.served, staying["id"], revoked)))
            ended.append(await enter(following(api.served, going["id"], going["moderator_token"])))
            ended.append(await enter(following(api.served, going["id"], guest["token"])))
            ended.append(await enter(following(api.served, staying["id"], dana["token"])))
            survivors.append(await enter(following(api.served, staying["id"], kept)))
            survivors.append(await enter(following(api.served, staying["id"], erik["token"])))

        own_redis.stop()
        r = await one.call("DELETE", "/api/v1/auth/token", revoked)
        assert r.status_code == 204, r.text
        r = await browser.post(f"{two.served.base}/logout", data={"csrf": csrf_of(page.text)})
        assert r.status_code == 303, r.text
        r = await one.call("DELETE", f"/api/v1/sessions/{going['id']}", kept)
        assert r.status_code == 204, r.text
        r = await two.call(
            "DELETE",
            f"/api/v1/sessions/{staying['id']}/participants/{dana['participant_id']}",
            staying["moderator_token"],
        )
        assert r.status_code == 200, r.text
        r = await two.call("GET", "/api/v1/sessions/" + staying["id"], revoked)
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
        await asyncio.sleep(3 * RECONCILE)  # Redis stays away for a few rounds
        own_redis.start()

        async def all_closed() -> bool:
            codes = [await closed_with(p) for p in pages]
            return all(f.closed is not None for f in ended) and None not in codes

        await eventually(all_closed, timeout=CLOSE_WITHIN, every=0.1)
        assert {f.closed for f in ended} == {1008}
        assert all(f.closed is None for f in survivors)
        # The kept login's streams still work once Redis is back: a change reaches both.
        await eventually(lambda: healthy(one), timeout=CONVERGE, every=0.2)
        await eventually(lambda: healthy(two), timeout=CONVERGE, every=0.2)
        r = await two.call(
            "POST", f"/api/v1/sessions/{staying['id']}/close", staying["moderator_token"]
        )
        assert r.status_code == 200, r.text
        version = (
            r.json().get("version")
            or (await one.call("GET", f"/api/v1/sessions/{staying['id']}", kept)).json()["version"]
        )

        async def told() -> bool:
            return all(f.version >= version for f in survivors)

        await eventually(told, timeout=CONVERGE, every=0.1)
