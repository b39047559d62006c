"""Connections that cannot be held hostage, tested from outside with raw TCP sockets: clients
that stop reading, never answer a close, send their headers a byte at a time, or open many
connections from one address without finishing a request."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gc
import json
import os
import socket
import time
from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import Any

import httpx
import pytest
from starlette.websockets import WebSocket
from websockets.http11 import Request
from websockets.server import ServerProtocol

from live.guard import GuardedHttp
from live.hub.connections import Connection
from live.wire import SamlaWebSockets
from tests.conftest import Api, Served, eventually, open_stream
from tests.live.pages import join_by_form, page_socket

# A client's receive buffer that holds almost nothing: what it does not read stays with Samla.
TINY_RCVBUF = 4096


def upgrade(served: Served, path: str, headers: dict[str, str]) -> socket.socket:
    """A raw TCP socket that completes the WebSocket handshake and then never reads."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, TINY_RCVBUF)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", served.port))
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: 127.0.0.1:{served.port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    head = b""
    while not head.endswith(b"\r\n\r\n"):  # a byte at a time: nothing after it is read
        byte = sock.recv(1)
        assert byte, f"closed during the handshake: {head!r}"
        head += byte
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def port_of(sock: socket.socket) -> int:
    return int(sock.getsockname()[1])


def by_port(served: Served) -> dict[int, Any]:
    """The server's protocol of each connection it holds, by client port (call it on the
    server's loop)."""
    assert served.server is not None
    held: set[Any] = served.server.server_state.connections
    return {p.client[1]: p for p in held if getattr(p, "client", None)}


async def open_ports(served: Served) -> set[int]:
    """The client ports of every connection the server holds."""

    async def ports() -> set[int]:
        return set(by_port(served))

    result: set[int] = await served.run(ports)
    return result


async def server_side(served: Served, port: int, read: Callable[[Any], Any]) -> Any:
    """`read(protocol)` for the server's protocol of the connection from this client port."""

    async def find() -> Any:
        return read(by_port(served)[port])

    return await served.run(find)


async def writable_by_port(served: Served, ports: set[int]) -> dict[int, bool]:
    """For each of these client ports the server still holds: whether its socket is writable
    (false once its transport paused: its client stopped reading and the buffers are full)."""

    async def states() -> dict[int, bool]:
        return {port: p.writable.is_set() for port, p in by_port(served).items() if port in ports}

    result: dict[int, bool] = await served.run(states)
    return result


def send_buffer_of(protocol: Any) -> int:
    sock = protocol.transport.get_extra_info("socket")
    return int(sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF))


def ended(sock: socket.socket, within: float) -> bool:
    """Whether the server has ended this connection: reading what is left comes to EOF or a
    reset within `within` seconds."""
    sock.settimeout(0.5)
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if not sock.recv(65536):
                return True
        except TimeoutError:
            continue
        except ConnectionResetError:
            return True
    return False


@contextlib.asynccontextmanager
async def reading(opened: Any) -> AsyncIterator[list[Any]]:
    """A healthy client: reads every frame as it comes, into the list it yields."""
    frames: list[Any] = []

    async def read() -> None:
        while True:
            frames.append(await opened.ws.recv())

    task = asyncio.create_task(read())
    try:
        yield frames
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


async def broadcast(api: Api, session: dict[str, Any], text: str) -> None:
    r = await api.call(
        "POST",
        f"/api/v1/sessions/{session['id']}/rooms/broadcast",
        session["moderator_token"],
        json={"text": text},
    )
    assert r.status_code == 201, r.text


async def make_board(api: Api, session: dict[str, Any]) -> dict[str, Any]:
    r = await api.call(
        "POST",
        f"/api/v1/sessions/{session['id']}/boards",
        session["moderator_token"],
        json={"title": "Goda exempel", "columns": ["Idéer"]},
    )
    assert r.status_code == 201, r.text
    board: dict[str, Any] = r.json()
    return board


async def add_note(api: Api, board: dict[str, Any], token: str) -> None:
    body = {"text": "y" * 1000, "column": board["columns"][0]["id"]}
    r = await api.call("POST", f"/api/v1/boards/{board['id']}/notes", token, json=body)
    # Past its quota (20 a minute each) the board is as large as the test needs it.
    assert r.status_code in (200, 201, 429), r.text


# -- slow sockets -------------------------------------------------------------------------------

SLOW = {
    "outbox_limit": 8,
    "slow_socket_timeout": 1.0,
    "close_timeout": 1.0,
    "socket_send_buffer": 24 * 1024,
}


async def test_sockets_that_stop_reading_are_aborted_while_the_rest_keep_receiving(
    served_factory: Callable[..., Served],
) -> None:
    served = served_factory(**SLOW)
    async with httpx.AsyncClient(base_url=served.base, timeout=30) as client:
        api = Api(served, client)
        session = await api.make_session()
        stalled: list[socket.socket] = []
        people = [httpx.AsyncClient(base_url=served.base, timeout=30) for _ in range(6)]
        try:
            for person in people:
                await join_by_form(person, session["code"])
            for person in people[1:]:  # browsers (cookie, HTML) that stop reading
                cookie = "; ".join(f"{k}={v}" for k, v in person.cookies.items())
                headers = {"Cookie": cookie, "Origin": served.base}
                stalled.append(upgrade(served, f"/s/{session['id']}/ws", headers))
            writers = [(await api.join(session))["token"] for _ in range(5)]
            for token in writers:  # integrations (Bearer, JSON) that stop reading
                headers = {"Authorization": f"Bearer {token}"}
                stalled.append(upgrade(served, f"/api/v1/sessions/{session['id']}/events", headers))
            # The kernel holds at most the configured send buffer for each (Linux doubles it).
            for sock in stalled:
                size = await server_side(served, port_of(sock), send_buffer_of)
                assert size == 2 * SLOW["socket_send_buffer"]

            watcher = await api.join(session)
            # The board grows with every note: the pages' frames grow with it.
            board = await make_board(api, session)
            path = f"/s/{session['id']}/ws"
            async with (
                page_socket(served.base, people[0], path) as page,
                open_stream(served)(session["id"], watcher["token"]) as events,
                reading(page) as page_frames,
                reading(events) as event_frames,
            ):

                async def snapshots_in() -> bool:
                    return bool(event_frames) and bool(page_frames)

                # Every message from here on is news to both: each has its snapshot first
                # (a crowd's are read together, a moment after they ask).
                await eventually(snapshots_in)
                sent = 0
                stalled_ports = {port_of(s) for s in stalled}
                paused_at: dict[int, float] = {}
                gone_at: dict[int, float] = {}
                started = time.monotonic()
                # Traffic in the session until every stalled socket is gone (or 60 s).
                while len(gone_at) < len(stalled_ports):
                    assert time.monotonic() - started < 60, "stalled sockets were never aborted"
                    texts = [f"message {sent + i} " + "x" * 480 for i in range(10)]
                    notes = [add_note(api, board, writers[(sent // 10 + i) % 5]) for i in range(3)]
                    await asyncio.gather(*(broadcast(api, session, t) for t in texts), *notes)
                    sent += len(texts)
                    writable = await writable_by_port(served, stalled_ports)
                    now = time.monotonic()
                    for port in stalled_ports - writable.keys():
                        gone_at.setdefault(port, now)
                        paused_at.setdefault(port, now)
                    for port in (p for p, able in writable.items() if not able):
                        paused_at.setdefault(port, now)
                took = time.monotonic() - started
                page_frames_during = len(page_frames)
                await broadcast(api, session, f"message {sent} last")
                sent += 1

                def received() -> list[dict[str, Any]]:
                    return [json.loads(f) for f in event_frames]

                async def everything_arrived() -> bool:
                    got = [d for d in received() if d["type"] == "rooms.broadcast"]
                    return len(got) == sent and any("last" in f for f in page_frames)

                await eventually(everything_arrived, timeout=20)
                # The healthy stream got every message, never a snapshot to catch up with.
                got = received()
                numbers = {int(d["text"].split()[1]) for d in got if d["type"] == "rooms.broadcast"}
                assert numbers == set(range(sent))
                assert [d["type"] for d in got].count("snapshot") == 1
                versions = [d["version"] for d in got]
                assert versions == sorted(set(versions))
                # The healthy page was updated all along (one frame per tick at most).
                assert page_frames_during >= 5
            # Bounded: once a socket's transport pauses, its outbox overflows within a round of
            # traffic, and then it has 1 s (slow_socket_timeout) to catch up.
            waits = [gone_at[p] - paused_at[p] for p in stalled_ports]
            assert max(waits) < 10, f"aborted {max(waits):.1f}s after their transport paused"
            print(
                f"stalled sockets aborted {took:.1f}s into the traffic, at most "
                f"{max(waits):.1f}s after their transport paused"
            )
            for sock in stalled:
                assert ended(sock, within=5)
        finally:
            for person in people:
                await person.aclose()
            for sock in stalled:
                sock.close()


async def test_a_client_that_never_answers_the_close_is_aborted_within_the_close_timeout(
    served_factory: Callable[..., Served],
) -> None:
    served = served_factory(**{**SLOW, "slow_socket_timeout": 60.0, "outbox_limit": 64})
    async with httpx.AsyncClient(base_url=served.base, timeout=30) as client:
        api = Api(served, client)
        session = await api.make_session()
        path = f"/api/v1/sessions/{session['id']}/events"
        tokens = [(await api.join(session))["token"] for _ in range(2)]
        with contextlib.ExitStack() as sockets:
            # One client reads but never answers a close; the other has stopped reading.
            mute, deaf = (
                sockets.enter_context(upgrade(served, path, {"Authorization": f"Bearer {t}"}))
                for t in tokens
            )
            mute.setblocking(False)

            async def deaf_is_paused() -> bool:
                with contextlib.suppress(BlockingIOError):
                    while mute.recv(65536):
                        pass
                await asyncio.gather(*(broadcast(api, session, "x" * 500) for _ in range(10)))
                return not await server_side(served, port_of(deaf), lambda p: p.writable.is_set())

            await eventually(deaf_is_paused, timeout=60, every=0.01)
            # Deleting the session closes its sockets (1008): neither client will finish that.
            started = time.monotonic()
            token = await api.organiser_token()
            r = await api.call("DELETE", f"/api/v1/sessions/{session['id']}", token)
            assert r.status_code == 204, r.text
            ports = {port_of(mute), port_of(deaf)}

            async def both_gone() -> bool:
                return not ports & await open_ports(served)

            await eventually(both_gone, timeout=15)
            took = time.monotonic() - started
            assert took < 4, f"closing took {took:.1f}s with a close timeout of 1 s"
            assert ended(mute, within=5) and ended(deaf, within=5)


# -- slow headers and half-open connections ----------------------------------------------------


async def test_clients_that_send_headers_slowly_are_cut_off_while_others_are_served(
    served_factory: Callable[..., Served],
) -> None:
    served = served_factory(header_timeout=1.0)
    dribbles = [b"GET /healthz HTTP/1.1\r\nHost: samla\r\nX-Slow: " + b"a" * 200] * 20
    stalls = [b"GET /heal"] * 5 + [b""] * 5  # a partial request line, and nothing at all

    async def slow_client(data: bytes, byte_by_byte: bool) -> tuple[float, bytes]:
        reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
        started = time.monotonic()
        answer = b""
        try:
            if byte_by_byte:
                for i in range(len(data)):
                    writer.write(data[i : i + 1])
                    await writer.drain()
                    with contextlib.suppress(TimeoutError):
                        answer += await asyncio.wait_for(reader.read(4096), 0.2)
                    if reader.at_eof():
                        break
            else:
                writer.write(data)
            while not reader.at_eof() and time.monotonic() - started < 15:
                with contextlib.suppress(TimeoutError):
                    answer += await asyncio.wait_for(reader.read(4096), 1)
        except ConnectionError:
            pass
        finally:
            writer.close()
        return time.monotonic() - started, answer

    async def normal_requests() -> list[int]:
        codes = []
        async with httpx.AsyncClient(base_url=served.base, timeout=5) as client:
            for _ in range(20):
                codes.append((await client.get("/healthz")).status_code)
                await asyncio.sleep(0.1)
        return codes

    slow = [slow_client(d, True) for d in dribbles] + [slow_client(d, False) for d in stalls]
    results, codes = await asyncio.gather(asyncio.gather(*slow), normal_requests())
    assert codes == [200] * 20
    for took, answer in results:
        assert took < 4, f"a slow client was held {took:.1f}s with a header timeout of 1 s"
        if answer:
            status, _, body = answer.partition(b"\r\n\r\n")
            assert status.startswith(b"HTTP/1.1 408")
            assert json.loads(body)["error"]["code"] == "timeout"


async def test_one_address_may_have_only_so_many_connections_still_sending_headers(
    served_factory: Callable[..., Served],
) -> None:
    limit = 8
    served = served_factory(handshakes_per_address=limit, header_timeout=30.0, header_grace=0.5)
    async with httpx.AsyncClient(base_url=served.base, timeout=30) as client:
        api = Api(served, client)
        session = await api.make_session()
        tokens = [(await api.join(session))["token"] for _ in range(limit + 4)]
        async with contextlib.AsyncExitStack() as stack:
            # Established sockets from the same address do not count: a hall shares one.
            streams = [
                await stack.enter_async_context(open_stream(served)(session["id"], t))
                for t in tokens
            ]
            for s in streams:
                assert (await s.next())["type"] == "snapshot"
            waiting = [socket.create_connection(("127.0.0.1", served.port)) for _ in range(limit)]

            async def all_waiting() -> bool:
                return {port_of(w) for w in waiting} <= await open_ports(served)

            await eventually(all_waiting)
            # One more slow one, from the same address, is refused after its grace, in the API's
            # error shape; a prompt client from that address is served meanwhile.
            extra = socket.create_connection(("127.0.0.1", served.port), timeout=5)
            answer = b""
            with contextlib.suppress(ConnectionResetError):
                while chunk := extra.recv(4096):
                    answer += chunk
            status, _, body = answer.partition(b"\r\n\r\n")
            assert status.startswith(b"HTTP/1.1 429"), answer
            assert json.loads(body)["error"]["code"] == "rate_limited"
            extra.close()
            async with httpx.AsyncClient(base_url=served.base, timeout=5) as fresh:
                assert (await fresh.get("/healthz")).status_code == 200
            # The established sockets keep working meanwhile.
            await broadcast(api, session, "still here")
            for s in streams:
                await s.until(lambda f: f.get("text") == "still here")
            # Once the waiting connections finish (here: give up), a slow one is waited for
            # again, as long as the header timeout allows.
            ports = {port_of(w) for w in waiting}
            for w in waiting:
                w.close()

            async def none_counted() -> bool:
                return not ports & await open_ports(served)

            await eventually(none_counted)
            late = socket.create_connection(("127.0.0.1", served.port), timeout=0.1)
            await asyncio.sleep(2.0)  # four graces
            with pytest.raises(TimeoutError):  # nothing was answered: still waited for
                late.recv(4096)
            late.close()


async def test_an_open_socket_keeps_nothing_of_its_handshake_request(
    served: Served, api: Api
) -> None:
    # Thousands of sockets stay open for hours: each kept its handshake's request, with
    # every header, for as long as it was open (3.4 KiB a socket with the parser's own).
    session = await api.make_session()
    tokens = [(await api.join(session))["token"] for _ in range(10)]
    marker = os.urandom(8).hex()
    path = f"/api/v1/sessions/{session['id']}/events"

    async def requests_kept() -> int:
        def count() -> int:
            return sum(
                1
                for o in gc.get_objects()
                if isinstance(o, Request) and o.headers.get("X-Samla-Test") == marker
            )

        kept: int = await served.run(lambda: asyncio.sleep(0, count()))
        return kept

    with contextlib.ExitStack() as sockets:
        for token in tokens:
            headers = {"Authorization": f"Bearer {token}", "X-Samla-Test": marker}
            sockets.enter_context(upgrade(served, path, headers))
        assert len(await open_ports(served)) >= len(tokens)

        async def none_kept() -> bool:
            return await requests_kept() == 0

        await eventually(none_kept, timeout=2)


@pytest.mark.parametrize("kind", ["stream", "page"])
@pytest.mark.parametrize("ending", ["aborted", "closed"])
async def test_a_socket_that_ends_is_freed_without_waiting_for_a_full_collection(
    served: Served, api: Api, ending: str, kind: str
) -> None:
    """Samla runs Python's full collection only in quiet spells (live/collector.py): what a
    socket leaves in reference cycles waits for one. A crowd whose network blinks again and
    again in a busy session piled up 11 KiB a socket that way. Whether dropped (no close
    frame) or closed, an event stream's or a page's socket is freed as it ends, its
    protocols, its `websockets` connection and the hub's connection: none is left for the
    collector."""
    session = await api.make_session()
    kinds = (SamlaWebSockets, GuardedHttp, ServerProtocol, Connection, WebSocket)
    if kind == "stream":
        tokens = [(await api.join(session))["token"] for _ in range(6)]
        opens = [partial(open_stream(served), session["id"], token) for token in tokens]
    else:
        people = [httpx.AsyncClient(base_url=served.base, timeout=30) for _ in range(6)]
        for person in people:
            await join_by_form(person, session["code"])
        path = f"/s/{session['id']}/ws"
        opens = [partial(page_socket, served.base, person, path) for person in people]

    async def on_its_loop() -> int:
        return served.samla.hub.count_local()

    async def all_gone() -> bool:
        return await served.run(on_its_loop) == 0

    async def left_in_cycles() -> list[str]:
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            gc.collect()
            # By type alone: the garbage holds weak proxies to objects already gone.
            return sorted(t.__name__ for t in map(type, gc.garbage) if issubclass(t, kinds))
        finally:
            gc.set_debug(0)
            gc.garbage.clear()

    await all_gone()
    gc.collect()
    # No collection of its own may free them meanwhile (the server shares this process).
    gc.disable()
    try:
        for opened in opens:
            async with opened() as socket_:
                await socket_.ws.recv()  # its snapshot
                if ending == "aborted":
                    socket_.ws.transport.abort()
        await eventually(all_gone)
        await asyncio.sleep(0.2)  # the server's side of the last one has ended too
        assert await served.run(left_in_cycles) == []
    finally:
        gc.enable()
        if kind == "page":
            for person in people:
                await person.aclose()
