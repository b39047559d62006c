"""The bare baseline: the `websockets` library's asyncio server broadcasting a vote counter.

It does what the vote storm asks of Samla and nothing else: it takes votes as HTTP POSTs
(on a second port, a few lines of asyncio, because the websockets server speaks only
GET), counts them in memory, and at most once per tick (leading edge, like Samla's hub)
broadcasts a `poll.results` frame of the same shape to every open socket with the
library's one-pass `broadcast`. No store, no auth, no templates: the floor to compare with.
For the rooms scenario (bench/rooms.py) a socket opened as `/events?p=ID` is that person's,
and `POST /rooms {"count": K}` / `POST /rooms/close` send each person's socket one frame
with its own room (or the plenary).

Run as `python -m bench.baseline --port P --vote-port Q`; it prints "ready" when listening."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import signal
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed

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
        self.people: dict[str, ServerConnection] = {}  # the rooms scenario's named sockets

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
        shown: dict[str, Any] = {"type": "snapshot", "version": self.version}
        shown["polls"] = [self.results()]
        person = parse_qs(urlsplit(ws.request.path if ws.request else "").query).get("p")
        if person:
            self.people[person[0]] = ws
            shown["you"] = {"participant_id": person[0], "room_id": None}
        # Added before the snapshot is written: no broadcast can fall between the two.
        self.clients.add(ws)
        try:
            await ws.send(json.dumps(shown))
            async for _ in ws:
                pass
        except ConnectionClosed:
            pass  # dropped without a close frame: the reconnect storm's way, nothing to log
        finally:
            self.clients.discard(ws)
            if person:
                self.people.pop(person[0], None)

    def open_rooms(self, body: Any) -> tuple[int, dict[str, Any]]:
        """Deals the named sockets' people into `count` rooms at random and sends each
        socket its own room: one frame per person, as a room's screen differs per person."""
        count = body.get("count") if isinstance(body, dict) else None
        if not isinstance(count, int) or count < 1:
            return 422, {"error": {"code": "invalid", "message": "Give a count."}}
        people = list(self.people)
        random.shuffle(people)
        rooms = [
            {"id": f"r{k}", "name": f"Room {k + 1}", "participant_ids": people[k::count]}
            for k in range(count)
        ]
        self.version += 1
        for room in rooms:
            for person in room["participant_ids"]:
                self._seat(person, room)
        return 201, {"rooms": rooms}

    def close_rooms(self) -> tuple[int, dict[str, Any]]:
        """Everyone back in the plenary, each socket told so in its own frame."""
        self.version += 1
        for person in self.people:
            self._seat(person, None)
        return 200, {"rooms": []}

    def _seat(self, person: str, room: dict[str, Any] | None) -> None:
        you = {"participant_id": person, "room_id": room["id"] if room else None}
        frame = {"type": "snapshot", "version": self.version, "room": room, "you": you}
        broadcast([self.people[person]], json.dumps(frame))
        self.frames += 1


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
            elif method == "POST" and path == "/rooms":
                status, answer = counter.open_rooms(json.loads(body))
            elif method == "POST" and path == "/rooms/close":
                status, answer = counter.close_rooms()
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
