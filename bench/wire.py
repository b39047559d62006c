"""Lean clients for the load driver: a keep-alive HTTP/1.1 connection and a callback WebSocket.

The driver shares two cores with the server it measures, so its clients do as little as a
client can: no per-message task wake-ups, no JSON parsing of updates (the one number a
frame carries is found with a regular expression), and one timestamp per read. The figures
the report gives (percentiles, delivery rate, vote -> every socket) are read from what the
streams recorded, at the end of this module."""

from __future__ import annotations

import asyncio
import base64
import json
import math
import os
import re
import time
from collections.abc import Callable
from typing import Any, cast

VOTERS = re.compile(rb'"voters":\s*(\d+)')
VERSION = re.compile(rb'"version":\s*(\d+)')
JOINED = re.compile(rb'"(?:joined|participants)":\s*(\d+)')

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10


class HttpError(Exception):
    """The server answered something the driver did not expect."""


class Http:
    """One keep-alive HTTP/1.1 connection (requests on it are sequential)."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        token: str | None = None,
        client: str | None = None,
    ) -> tuple[int, bytes]:
        """One request; `client` is the address a trusted proxy (loopback, for Samla) says
        it came from, so that simulated people count as many, not as one address."""
        if self.writer is None:
            await self.open()
        assert self.reader is not None and self.writer is not None
        data = b"" if body is None else json.dumps(body).encode()
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        if token:
            head.append(f"Authorization: Bearer {token}")
        if client:
            head.append(f"X-Forwarded-For: {client}")
        if body is not None:
            head.append("Content-Type: application/json")
        head.append(f"Content-Length: {len(data)}")
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + data)
        try:
            raw = await self.reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            self.close()
            raise HttpError(f"{method} {path}: connection lost") from exc
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length = 0
        keep = True
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "connection" and value.strip().lower() == "close":
                keep = False
            elif name == "transfer-encoding":
                raise HttpError(f"{method} {path}: chunked answers are not expected")
        payload = await self.reader.readexactly(length) if length else b""
        if not keep:
            self.close()
        return status, payload

    async def json(
        self,
        method: str,
        path: str,
        body: Any = None,
        token: str | None = None,
        expect: tuple[int, ...] = (200, 201),
        client: str | None = None,
    ) -> Any:
        status, payload = await self.request(method, path, body, token, client)
        if status not in expect:
            raise HttpError(f"{method} {path} answered {status}: {payload[:300]!r}")
        return json.loads(payload) if payload else None


Progress = Callable[[bytes, bool], int | None]


class Stream(asyncio.Protocol):
    """One WebSocket event stream. It records, for each increase of the progress number the
    frames carry (voters, or a version), the moment this socket first saw it."""

    def __init__(
        self, path: str, host: str, port: int, token: str | None, progress: Progress
    ) -> None:
        self.path = path
        self.host = host
        self.port = port
        self.token = token
        self.progress = progress
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.upgraded = False
        self.snapshot: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.best = -1  # the highest progress seen so far
        # (lowest newly covered progress, time): this socket saw every k in
        # [lo, its progress then] at that time, and each k for the first time.
        self.steps: list[tuple[int, float]] = []
        self.frames = 0
        self.snapshots = 0
        self.bytes = 0
        self.counting = False  # frames are counted from the storm on
        self.storm_frames = 0
        self.last_frame = 0.0
        self.arrivals: list[tuple[int, float]] = []  # (version, time) of each storm update

    # -- the protocol --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but behave as one.
        self.transport = cast(asyncio.Transport, transport)
        key = base64.b64encode(os.urandom(16)).decode()
        head = [
            f"GET {self.path} HTTP/1.1",
            f"Host: {self.host}:{self.port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
        ]
        if self.token:
            head.append(f"Authorization: Bearer {self.token}")
        self.transport.write(("\r\n".join(head) + "\r\n\r\n").encode())

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        buf = self.buffer
        buf += data
        if not self.upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(buf[: buf.find(b"\r\n")])
            if b" 101 " not in status:
                self._fail(f"handshake refused: {status!r}")
                return
            del buf[: end + 4]
            self.upgraded = True
        pos = 0
        size = len(buf)
        while size - pos >= 2:
            b0 = buf[pos]
            b1 = buf[pos + 1]
            length = b1 & 0x7F
            start = pos + 2
            if length == 126:
                if size - pos < 4:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + 4], "big")
                start = pos + 4
            elif length == 127:
                if size - pos < 10:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + 10], "big")
                start = pos + 10
            if b1 & 0x80:  # servers never mask; tolerate it anyway
                start += 4
            if size < start + length:
                break
            payload = bytes(buf[start : start + length])
            pos = start + length
            self._frame(b0 & 0x0F, payload, now)
        if pos:
            del buf[:pos]

    def _frame(self, op: int, payload: bytes, now: float) -> None:
        if op in (OP_TEXT, OP_BINARY, OP_CONT):
            self.frames += 1
            self.bytes += len(payload)
            is_snapshot = (
                payload.startswith(b'{"type": "snapshot"') or b'"snapshot"' in payload[:40]
            )
            if is_snapshot:
                self.snapshots += 1
            if self.counting:
                self.storm_frames += 1
                self.last_frame = now
                match = VERSION.search(payload, 0, 80)
                if match and not is_snapshot:
                    self.arrivals.append((int(match.group(1)), now))
            value = self.progress(payload, is_snapshot)
            if value is not None and value > self.best:
                self.steps.append((self.best + 1, now))
                self.best = value
            if is_snapshot and not self.snapshot.done():
                self.snapshot.set_result(value if value is not None else 0)
        elif op == OP_PING:
            self._send(OP_PONG, payload)
        elif op == OP_CLOSE:
            code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
            self._send(OP_CLOSE, payload[:2])
            self._fail(f"closed by the server: {code} {payload[2:].decode(errors='replace')}")

    def _send(self, op: int, payload: bytes) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        # Clients must mask; an all-zero mask key is valid and leaves the payload as is.
        assert len(payload) < 126
        self.transport.write(bytes([0x80 | op, 0x80 | len(payload)]) + b"\0\0\0\0" + payload)

    def _fail(self, why: str) -> None:
        if not self.snapshot.done():
            self.snapshot.set_exception(ConnectionError(why))
        if not self.closed.done():
            self.closed.set_result(why)
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(f"connection lost: {exc}")

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self._send(OP_CLOSE, (1000).to_bytes(2, "big"))
            self.transport.close()


async def open_stream(
    host: str,
    port: int,
    path: str,
    token: str | None,
    progress: Progress,
    timeout: float,
    kind: type[Stream] = Stream,
) -> Stream:
    """Opens a stream (`kind`: another server's protocol over the same WebSocket) and waits
    for its snapshot."""
    loop = asyncio.get_running_loop()
    _, stream = await asyncio.wait_for(
        loop.create_connection(lambda: kind(path, host, port, token, progress), host, port),
        timeout,
    )
    try:
        await asyncio.wait_for(asyncio.shield(stream.snapshot), timeout)
    except BaseException:
        stream.close()
        raise
    return stream


def find_voters(value: Any, poll_id: str) -> int | None:
    """The voters count of poll `poll_id` anywhere inside a snapshot."""
    if isinstance(value, dict):
        if (value.get("poll_id") == poll_id or value.get("id") == poll_id) and isinstance(
            value.get("voters"), int
        ):
            return int(value["voters"])
        for item in value.values():
            found = find_voters(item, poll_id)
            if found is not None:
                return found
    elif isinstance(value, list):
        for item in value:
            found = find_voters(item, poll_id)
            if found is not None:
                return found
    return None


def voters_progress(poll_id: str) -> Progress:
    """Progress = the poll's voters total, from `poll.results` frames and from snapshots."""
    marker = b'"poll.results"'
    pid = poll_id.encode()

    def progress(payload: bytes, is_snapshot: bool) -> int | None:
        if is_snapshot:
            found = find_voters(json.loads(payload), poll_id)
            return found if found is not None else 0
        if marker in payload and pid in payload:
            match = VOTERS.search(payload)
            return int(match.group(1)) if match else None
        return None

    return progress


def version_progress(base: int) -> Progress:
    """Progress = how far the session's version has risen past `base` (the join storm)."""

    def progress(payload: bytes, is_snapshot: bool) -> int | None:
        match = VERSION.search(payload)
        return int(match.group(1)) - base if match else None

    return progress


def joined_progress(base: int) -> Progress:
    """Progress = how many have joined past `base` (Samla's join storm): a participant is
    told `{"type": "participants.count", "joined": n}`, a snapshot has `"participants": n`."""

    def progress(payload: bytes, is_snapshot: bool) -> int | None:
        match = JOINED.search(payload)
        return int(match.group(1)) - base if match else None

    return progress


# -- what the records say ---------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 100))))
    return ordered[rank - 1]


def summary_ms(values: list[float], missing: int = 0) -> dict[str, float | str]:
    """Percentiles in ms; `missing` values (never arrived) count as later than any other."""
    if not values and not missing:
        return {}
    ms = [v * 1000 for v in values] + [math.inf] * missing
    out: dict[str, float | str] = {}
    for name, q in (("p50", 50), ("p90", 90), ("p99", 99), ("max", 100)):
        value = percentile(ms, q)
        out[name] = round(value, 1) if value != math.inf else "never"
    if values:
        out["mean_arrived"] = round(sum(ms[: len(values)]) / len(values), 1)
    if missing:
        out["never"] = missing
    return out


def broadcast_rate(streams: list[Stream]) -> float:
    """Messages per second while broadcasts are being delivered: for each update (a version),
    from its first to its last arrival on any socket; the union of those spans is the time
    the server spent delivering, whatever the pace of the votes that caused the updates."""
    spans: dict[int, list[float]] = {}
    frames = 0
    for s in streams:
        for version, at in s.arrivals:
            frames += 1
            span = spans.get(version)
            if span is None:
                spans[version] = [at, at]
            elif at < span[0]:
                span[0] = at
            elif at > span[1]:
                span[1] = at
    busy = 0.0
    end = -math.inf
    for lo, hi in sorted(spans.values()):
        if hi <= end:
            continue
        busy += hi - max(lo, end)
        end = hi
    return round(frames / busy, 1) if busy > 0 else 0.0


def everyone_saw(streams: list[Stream], upto: int) -> list[float | None]:
    """seen[k] = the first moment by which EVERY socket had seen a total >= k (k = 1..upto),
    or None when some socket never did.

    Each socket's "first time it saw >= k" is a non-decreasing step function of k; the max
    of those over sockets is the prefix maximum of, for each k, the latest time any socket
    first covered exactly k."""
    latest = [0.0] * (upto + 2)
    for s in streams:
        for lo, at in s.steps:
            lo = max(lo, 1)  # the first snapshot's step starts at 0 and is earlier anyway
            if lo <= upto and at > latest[lo]:
                latest[lo] = at
    reached = min((s.best for s in streams), default=0)
    seen: list[float | None] = [None] * (upto + 1)
    running = 0.0
    for k in range(1, upto + 1):
        running = max(running, latest[k])
        seen[k] = running if k <= reached else None
    return seen
