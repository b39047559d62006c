"""The bare baseline: the `websockets` library's asyncio server broadcasting a vote counter.

It does what the vote storm asks of Samla and nothing else: it takes votes as HTTP POSTs
(on a second port, a few lines of asyncio, because the websockets server speaks only
GET), counts them in memory, and at most once per tick (leading edge, like Samla's hub)
broadcasts a `poll.results` frame of the same shape to every open socket with the
library's one-pass `broadcast`. No store, no auth, no templates: the floor to compare with.

Run as `python -m bench.baseline --port P --vote-port Q`; it prints "ready" when listening."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import time
from typing import Any

from websockets.asyncio.server import ServerConnection, broadcast, serve

POLL_ID = "baseline-poll"


class Counter:
    def __init__(self, options: int, tick: float) -> None:
        self.options = [
            {"id": f"o{i}", "label": f"Option {i + 1}", "count": 0} for i in range(options)
        ]
        self.by_id = {o["id"]: o for o in self.options}
        self.voters = 0
        self.version = 1
        self.tick = tick
        self.clients: set[ServerConnection] = set()
        self.last_flush = 0.0
        self.scheduled = False
        self.broadcasts = 0
        self.frames = 0

    def results(self) -> dict[str, Any]:
        return {
            "poll_id": POLL_ID,
            "status": "open",
            "voters": self.voters,
            "options": self.options,
        }

    def vote(self, body: Any) -> tuple[int, dict[str, Any]]:
        choices = body.get("choices") if isinstance(body, dict) else None
        if not isinstance(choices, list) or len(choices) != 1 or choices[0] not in self.by_id:
            return 422, {"error": {"code": "invalid", "message": "Choose one option."}}
        self.by_id[choices[0]]["count"] += 1
        self.voters += 1
        self.version += 1
        self._schedule()
        return 201, {"poll_id": POLL_ID, "choices": choices}

    def _schedule(self) -> None:
        if self.scheduled:
            return
        self.scheduled = True
        delay = max(0.0, self.last_flush + self.tick - time.monotonic())
        asyncio.get_running_loop().call_later(delay, self._flush)

    def _flush(self) -> None:
        self.scheduled = False
        self.last_flush = time.monotonic()
        frame = json.dumps({"type": "poll.results", "version": self.version, **self.results()})
        broadcast(self.clients, frame)
        self.broadcasts += 1
        self.frames += len(self.clients)

    async def handler(self, ws: ServerConnection) -> None:
        snapshot = json.dumps(
            {"type": "snapshot", "version": self.version, "polls": [self.results()]}
        )
        # Added before the snapshot is written: no broadcast can fall between the two.
        self.clients.add(ws)
        try:
            await ws.send(snapshot)
            async for _ in ws:
                pass
        finally:
            self.clients.discard(ws)


async def http_handler(
    counter: Counter, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            length = 0
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            body = await reader.readexactly(length) if length else b""
            if method == "POST" and path == "/vote":
                try:
                    status, answer = counter.vote(json.loads(body))
                except ValueError:
                    status, answer = 422, {"error": {"code": "invalid", "message": "JSON"}}
            elif method == "GET" and path == "/results":
                status, answer = 200, counter.results()
            elif method == "GET" and path == "/stats":
                status, answer = (
                    200,
                    {
                        "broadcasts": counter.broadcasts,
                        "frames": counter.frames,
                        "clients": len(counter.clients),
                    },
                )
            else:
                status, answer = 404, {"error": {"code": "not_found", "message": path}}
            data = json.dumps(answer).encode()
            writer.write(
                f"HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n"
                f"content-length: {len(data)}\r\n\r\n".encode()
                + data
            )
    finally:
        writer.close()


async def main(port: int, vote_port: int, tick: float, options: int) -> None:
    counter = Counter(options, tick)
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)
    async with serve(
        counter.handler,
        "127.0.0.1",
        port,
        compression=None,
        max_size=64 * 1024,
        ping_interval=20,
        ping_timeout=20,
        backlog=2048,
    ):
        votes = await asyncio.start_server(
            lambda r, w: http_handler(counter, r, w), "127.0.0.1", vote_port, backlog=2048
        )
        print("ready", flush=True)
        with contextlib.suppress(asyncio.CancelledError):
            await stop
        votes.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--vote-port", type=int, required=True)
    parser.add_argument("--tick", type=float, default=0.1)
    parser.add_argument("--options", type=int, default=4)
    args = parser.parse_args()
    try:
        import uvloop  # the event loop uvicorn runs Samla on, when installed

        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    runner(main(args.port, args.vote_port, args.tick, args.options))
