"""The python-socketio peer: what a team would build the vote storm with instead of Samla.

`python -m bench.run --scenario socketio` runs the vote storm against the bare baseline,
Samla and this peer in one run: python-socketio's `AsyncServer` as an ASGI app on uvicorn
(httptools, websockets-sansio, no compression: Samla's own settings), with its Redis manager
(`socketio.AsyncRedisManager`) on a Redis the bench starts, so every emit goes through Redis
as it would between several processes. It counts the votes in memory and emits a
`poll.results` event to everyone at most once per tick (leading edge), as the baseline does,
and not while the last emit is still going out; a newly connected socket gets a `snapshot`
event first.

The driver speaks Engine.IO 4 over a plain WebSocket (`SocketIoStream`): the same lean
callback client as the other streams, answering the server's pings, because python-socketio's
own client costs a task and a JSON parse per message in the driver that shares the machine.

Run the server alone as `python -m bench.socketio_peer --port P --redis URL`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench import distributed
from bench.services import Redis
from bench.targets import OPTIONS, Baseline, Target, Vote, cpu_seconds, raise_fd_limit
from bench.wire import OP_TEXT, VOTERS, Http, Stream

if TYPE_CHECKING:
    from bench.run import Options, Result

POLL_ID = "peer-poll"
# The target: Samla delivers at least this many times the peer's messages/s.
DELIVERY_RATIO_MIN = 8.0
ENGINE_IO_PATH = "/socket.io/?EIO=4&transport=websocket"


class SocketIoStream(Stream):
    """A socket.io client on the driver's callback WebSocket: it joins the default namespace
    when the server opens the Engine.IO session, answers pings, and hands events (`42[…]`)
    to the measuring stream."""

    def _frame(self, op: int, payload: bytes, now: float) -> None:
        if op != OP_TEXT or payload[:2] == b"42":
            super()._frame(op, payload, now)
        elif payload[:1] == b"0":  # Engine.IO open: join the namespace "/"
            self._send(OP_TEXT, b"40")
        elif payload == b"2":  # Engine.IO ping
            self._send(OP_TEXT, b"3")


def peer_progress(payload: bytes, is_snapshot: bool) -> int | None:
    """Progress = the voters total, from `42["snapshot", …]` and `42["poll.results", …]`."""
    if is_snapshot:
        return int(json.loads(payload[2:])[1]["voters"])
    if b'"poll.results"' in payload[:20]:
        match = VOTERS.search(payload)
        return int(match.group(1)) if match else None
    return None


class SocketIoPeer(Target):
    """`python -m bench.socketio_peer` on uvicorn, with the Redis it emits through."""

    def __init__(self, workdir: Path, tick: float) -> None:
        super().__init__("socketio", workdir)
        self.http_port = self.ws_port
        self.tick = tick
        self.stream_path = ENGINE_IO_PATH
        self.stream_kind = SocketIoStream
        self.redis = Redis(workdir)

    async def start(self) -> None:
        await asyncio.to_thread(self.redis.start)
        self._spawn(
            [
                *(sys.executable, "-m", "bench.socketio_peer", "--port", str(self.ws_port)),
                *("--redis", self.redis.url, "--tick", str(self.tick)),
            ],
            {},
        )
        await self._wait_http("/results")

    async def prepare(self, n: int, scenario: str) -> None:
        self.tokens = [None] * n
        self.option_ids = [f"o{i}" for i in range(len(OPTIONS))]
        self.progress = peer_progress

    def vote(self, i: int) -> Vote:
        return Vote("POST", "/vote", {"choices": [self.choice(i)]}, None)

    async def counted(self, http: Http) -> tuple[int, dict[str, int]]:
        found = await http.json("GET", "/results")
        return int(found["voters"]), {o["id"]: int(o["count"]) for o in found["options"]}

    def services_cpu(self) -> float:
        pid = self.redis.pid()
        return cpu_seconds(pid) if pid is not None else 0.0

    def stop(self) -> None:
        try:
            super().stop()
        finally:
            self.redis.stop()


def verdict(samla: Result, peer: Result) -> tuple[str, bool]:
    """Samla's delivery rate against the peer's, with both p99s beside it."""
    ratio = round(samla.broadcast_rate / peer.broadcast_rate, 2) if peer.broadcast_rate else None
    text = (
        f"delivery rate: Samla {samla.broadcast_rate:.0f} vs python-socketio "
        f"{peer.broadcast_rate:.0f} messages/s = {ratio}x (target >= {DELIVERY_RATIO_MIN:g}x); "
        f"vote -> every screen p99 {samla.latency_ms.get('p99')} ms vs "
        f"{peer.latency_ms.get('p99')} ms"
    )
    # The peer's own failures (votes unanswered, screens behind) are in its column, not here.
    complete = samla.delivered_to_all == samla.accepted
    return text, ratio is not None and ratio >= DELIVERY_RATIO_MIN and complete


async def main_async(opts: Options) -> int:
    """The vote storm on the baseline, Samla and the peer, one after the other."""
    from bench.run import begin, run_one, write_report

    raise_fd_limit(2 * opts.participants + 1024)
    storm = dataclasses.replace(opts, scenario="votes")
    started = begin(storm, "storm-socketio")
    results = []
    with tempfile.TemporaryDirectory(prefix="samla-bench-") as tmp, contextlib.ExitStack() as on:
        workdir = Path(tmp)
        targets: list[Target] = [
            Baseline(workdir, opts.tick),
            distributed.samla_target(workdir, opts, on),
            SocketIoPeer(workdir, opts.tick),
        ]
        for target in targets:  # --only baseline|samla leaves the other out, never the peer
            if opts.only in (None, target.name) or target.name == "socketio":
                print(f"bench: {target.name}, N={opts.participants} …", flush=True)
                results.append(await run_one(target, storm))
    by = {r.target: r for r in results}
    lines = []
    if "samla" in by:
        text, ok = verdict(by["samla"], by["socketio"])
        lines = ["", "Samla against python-socketio (the issue's target):"]
        lines.append(f"  [{'PASS' if ok else 'MISS'}] {text}")
    write_report(storm, results, started, lines)
    return 0


# -- the server ------------------------------------------------------------------------


class Poll:
    """The vote counter and its emits: at most one per tick, and never while the last is still
    going out (as Samla's hub holds back updates while a fan-out is slow), so a slow emit
    coalesces the votes behind it instead of queueing emits behind each other."""

    def __init__(self, server: Any, tick: float) -> None:
        self.server = server
        self.tick = tick
        self.counts = {f"o{i}": 0 for i in range(len(OPTIONS))}
        self.voters = 0
        self.version = 1
        self.changed = asyncio.Event()
        self.emitter: asyncio.Task[None] | None = None

    def results(self) -> dict[str, Any]:
        options = [{"id": k, "label": k, "count": v} for k, v in self.counts.items()]
        return {"poll_id": POLL_ID, "status": "open", "voters": self.voters, "options": options}

    def vote(self, body: Any) -> tuple[int, dict[str, Any]]:
        choices = body.get("choices") if isinstance(body, dict) else None
        if not isinstance(choices, list) or len(choices) != 1 or choices[0] not in self.counts:
            return 422, {"error": {"code": "invalid", "message": "Choose one option."}}
        self.counts[choices[0]] += 1
        self.voters += 1
        self.version += 1
        self.changed.set()
        if self.emitter is None:
            self.emitter = asyncio.get_running_loop().create_task(self._emit_forever())
        return 201, {"poll_id": POLL_ID, "choices": choices}

    async def _emit_forever(self) -> None:
        while True:
            await self.changed.wait()
            self.changed.clear()
            started = time.monotonic()
            await self.server.emit("poll.results", {"version": self.version, **self.results()})
            await asyncio.sleep(max(0.0, started + self.tick - time.monotonic()))


def make_app(redis_url: str, tick: float) -> Any:
    """python-socketio's ASGI app, with the vote and result routes beside it."""
    import socketio  # type: ignore[import-untyped]

    server = socketio.AsyncServer(
        async_mode="asgi",
        client_manager=socketio.AsyncRedisManager(redis_url),
        cors_allowed_origins="*",
        ping_interval=20,
        ping_timeout=20,
    )
    poll = Poll(server, tick)

    @server.event  # type: ignore[untyped-decorator]
    async def connect(sid: str, environ: dict[str, Any]) -> None:
        await server.emit("snapshot", {"version": poll.version, **poll.results()}, to=sid)

    async def routes(scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if scope["method"] == "POST" and scope["path"] == "/vote":
            try:
                status, answer = poll.vote(json.loads(body))
            except ValueError:
                status, answer = 422, {"error": {"code": "invalid", "message": "JSON"}}
        elif scope["path"] == "/results":
            status, answer = 200, poll.results()
        else:
            status, answer = 404, {"error": {"code": "not_found", "message": scope["path"]}}
        data = json.dumps(answer).encode()
        headers = [(b"content-type", b"application/json")]
        headers.append((b"content-length", str(len(data)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": data})

    return socketio.ASGIApp(server, other_asgi_app=routes)


def serve(port: int, redis_url: str, tick: float) -> None:
    import uvicorn

    uvicorn.run(
        make_app(redis_url, tick),
        host="127.0.0.1",
        port=port,
        http="httptools",
        ws="websockets-sansio",
        ws_per_message_deflate=False,
        access_log=False,
        log_level="warning",
        backlog=2048,
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis", required=True)
    parser.add_argument("--tick", type=float, default=0.1)
    args = parser.parse_args()
    serve(args.port, args.redis, args.tick)
