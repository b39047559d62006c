"""The minutes benchmark: E editors on one room's minutes, each typing R keystrokes a second,
against Samla and against a bare pycrdt-websocket server (pycrdt.websocket's ASGIServer on
uvicorn), measured the same way in the same run.

Each editor is a pycrdt document behind a lean WebSocket client in the driver process (a
process of its own on 127.0.0.1). A keystroke inserts one letter and sends its update; every
other editor notes when that update arrives. Receivers do not integrate what arrives (the
driver shares the machine's cores with the server it measures): they read how far each
update reaches in each writer's clock, and a keystroke arrived when its writer's clock there
first passed it (a server may relay several keystrokes as one update). Reported: from a
keystroke to each other editor p50/p99, to the last of them (every other screen) p50/p99,
keystrokes lost, and the server's and the driver's CPU; and Samla's ratios to the bare
server."""

from __future__ import annotations

import argparse
import asyncio
import base64
import bisect
import json
import os
import resource
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import cast

from pycrdt import Decoder, Doc, Text, YMessageType, YSyncMessageType
from pycrdt import write_var_uint as var_uint

from bench.targets import (
    ORGANISER,
    PASSWORD,
    SamlaServer,
    Target,
    cpu_seconds,
)
from bench.wire import OP_BINARY, OP_CLOSE, OP_PING, OP_PONG, Http

REPORTS = Path(__file__).resolve().parent / "reports"
# The scenario: 50 people on one document (a large room, or a plenary's minutes), each typing
# ten keystrokes a second (a fast typist), for ten seconds.
EDITORS = 50
RATE = 10.0
SECONDS = 10.0
# After the last keystroke, how long stragglers may take before they count as lost.
SETTLE = 5.0


def _sync(step: int, payload: bytes) -> bytes:
    return bytes([YMessageType.SYNC, step]) + var_uint(len(payload)) + payload


def clocks(update: bytes) -> list[tuple[int, int]]:
    """How far an update reaches in each client's clock: the end of each client's structs,
    read from Yjs's update encoding (v1) as far as the benchmark's updates need it (text
    items, and the GC and skip ranges a server may send)."""
    reached = []
    try:
        d = Decoder(update)
        for _ in range(d.read_var_uint()):
            count, client, clock = d.read_var_uint(), d.read_var_uint(), d.read_var_uint()
            for _ in range(count):
                clock += _struct_length(d)
            reached.append((client, clock))
    except (IndexError, RuntimeError, ValueError):
        pass
    return reached


def _struct_length(d: Decoder) -> int:
    info = d.stream[d.i0]
    d.i0 += 1
    d.length -= 1
    ref = info & 0x1F
    if ref in (0, 10):  # GC, skip
        return d.read_var_uint()
    if info & 0x80:  # an origin
        d.read_var_uint(), d.read_var_uint()
    if info & 0x40:  # a right origin
        d.read_var_uint(), d.read_var_uint()
    if not info & 0xC0:  # neither: the parent is named
        if d.read_var_uint() == 1:
            d.read_message()
        else:
            d.read_var_uint(), d.read_var_uint()
        if info & 0x20:
            d.read_message()
    if ref == 4:  # a string: its length in UTF-16 units
        return len((d.read_message() or b"").decode().encode("utf-16-le")) // 2
    if ref == 1:  # deleted content
        return d.read_var_uint()
    raise ValueError(f"content {ref} is not the benchmark's")


class Editor(asyncio.Protocol):
    """One person typing: a pycrdt document over a callback WebSocket."""

    def __init__(self, host: str, port: int, path: str, token: str | None) -> None:
        self.host, self.port, self.path, self.token = host, port, path, token
        self.doc: Doc[Text] = Doc()
        self.text = self.doc.get("minutes", type=Text)
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.upgraded = False
        loop = asyncio.get_running_loop()
        self.ready: asyncio.Future[None] = loop.create_future()
        self.closed: str | None = None
        # Per client, each time what arrived reached further in its clock: (clock, when).
        self.reached: dict[int, list[tuple[int, float]]] = {}
        self.sent: list[tuple[tuple[int, int], float]] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
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
            if b" 101 " not in bytes(buf[: buf.find(b"\r\n")]):
                self._fail("handshake refused")
                return
            del buf[: end + 4]
            self.upgraded = True
            self._send(OP_BINARY, _sync(YSyncMessageType.SYNC_STEP1, self.doc.get_state()))
        pos, size = 0, len(buf)
        while size - pos >= 2:
            b1 = buf[pos + 1]
            length, start = b1 & 0x7F, pos + 2
            if length == 126:
                if size - pos < 4:
                    break
                length, start = int.from_bytes(buf[pos + 2 : pos + 4], "big"), pos + 4
            elif length == 127:
                if size - pos < 10:
                    break
                length, start = int.from_bytes(buf[pos + 2 : pos + 10], "big"), pos + 10
            if size < start + length:
                break
            self._frame(buf[pos] & 0x0F, bytes(buf[start : start + length]), now)
            pos = start + length
        if pos:
            del buf[:pos]

    def _frame(self, op: int, payload: bytes, now: float) -> None:
        if op == OP_PING:
            self._send(OP_PONG, payload)
        elif op == OP_CLOSE:
            code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
            self._fail(f"closed by the server: {code} {payload[2:].decode(errors='replace')}")
        elif op == OP_BINARY and len(payload) > 2 and payload[0] == YMessageType.SYNC:
            decoder = Decoder(payload[1:])
            step = decoder.read_var_uint()
            body = decoder.read_message() or b""
            if step == YSyncMessageType.SYNC_STEP1:
                self._send(OP_BINARY, _sync(YSyncMessageType.SYNC_STEP2, self.doc.get_update(body)))
                if not self.ready.done():
                    self.ready.set_result(None)
            else:
                for client, clock in clocks(body):
                    steps = self.reached.setdefault(client, [])
                    if not steps or clock > steps[-1][0]:
                        steps.append((clock, now))

    def arrived(self, client: int, clock: int) -> float | None:
        """When this editor first had the item `clock` of `client`."""
        steps = self.reached.get(client)
        if not steps:
            return None
        found = bisect.bisect_right(steps, (clock, float("inf")))
        return steps[found][1] if found < len(steps) else None

    def arrivals(self) -> int:
        return sum(steps[-1][0] for steps in self.reached.values())

    def type_one(self) -> None:
        """One keystroke: a letter at the end of this editor's own text, sent at once."""
        clock = self._own_clock()
        before = self.doc.get_state()
        self.text.insert(len(self.text), "a")
        update = self.doc.get_update(before)
        self.sent.append(((self.doc.client_id, clock), time.monotonic()))
        self._send(OP_BINARY, _sync(YSyncMessageType.SYNC_UPDATE, update))

    def _own_clock(self) -> int:
        return len(self.text)  # one letter per keystroke, one item clock each

    def _send(self, op: int, payload: bytes) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        n = len(payload)
        if n < 126:
            head = bytes([0x80 | op, 0x80 | n])
        elif n < 65536:
            head = bytes([0x80 | op, 0x80 | 126]) + n.to_bytes(2, "big")
        else:
            head = bytes([0x80 | op, 0x80 | 127]) + n.to_bytes(8, "big")
        # A zero mask key leaves the payload as it is (clients must mask; any key is valid).
        self.transport.write(head + b"\0\0\0\0" + payload)

    def _fail(self, why: str) -> None:
        self.closed = self.closed or why
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(why))
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(f"connection lost: {exc}")

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self._send(OP_CLOSE, (1000).to_bytes(2, "big"))
            self.transport.close()


@dataclass
class Outcome:
    server: str
    editors: int
    rate: float
    seconds: float
    keystrokes: int = 0
    deliveries: int = 0  # keystroke x other editor pairs that arrived
    lost: int = 0  # pairs that never arrived within SETTLE
    pair_p50_ms: float = 0.0
    pair_p99_ms: float = 0.0
    all_p50_ms: float = 0.0  # to the last of the other editors
    all_p99_ms: float = 0.0
    server_cpu_s: float = 0.0
    driver_cpu_s: float = 0.0
    closed: list[str] = field(default_factory=list)


def _own_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_SELF)
    return used.ru_utime + used.ru_stime


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Bare(Target):
    """pycrdt-websocket's own server: `python -m bench.minutes --bare PORT`."""

    def __init__(self, workdir: Path) -> None:
        super().__init__("pycrdt-websocket", workdir)
        self.http_port = self.ws_port

    async def start(self) -> None:
        self._spawn([sys.executable, "-m", "bench.minutes", "--bare", str(self.ws_port)], {})
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                _, writer = await asyncio.open_connection(self.host, self.ws_port)
                writer.close()
                return
            except OSError:
                await asyncio.sleep(0.1)
        raise RuntimeError(f"the bare server did not start:\n{self.log_tail()}")


async def _samla_room(samla: SamlaServer, editors: int) -> tuple[str, list[str | None]]:
    """A session whose editors all sit in its one room: the room's sync path, their tokens."""
    http = Http(samla.host, samla.http_port)
    try:
        body = {"email": ORGANISER, "password": PASSWORD}
        organiser = (await http.json("POST", "/api/v1/auth/token", body))["token"]
        samla.session = await http.json(
            "POST", "/api/v1/sessions", {"title": "Protokoll"}, organiser
        )
        tokens = await samla._join(editors)
        opened = await http.json(
            "POST",
            f"/api/v1/sessions/{samla.session['id']}/rooms",
            {"count": 1, "assignment": "random"},
            samla.session["moderator_token"],
        )
    finally:
        http.close()
    return f"/api/v1/rooms/{opened['rooms'][0]['id']}/minutes/sync", tokens


async def measure(
    target: Target, path: str, tokens: list[str | None], rate: float, seconds: float
) -> Outcome:
    loop = asyncio.get_running_loop()
    editors: list[Editor] = []
    for token in tokens:
        _, editor = await loop.create_connection(
            lambda t=token: Editor(target.host, target.ws_port, path, t),  # type: ignore[misc]
            target.host,
            target.ws_port,
        )
        editors.append(editor)
    await asyncio.wait_for(asyncio.gather(*(e.ready for e in editors)), 30)
    cpu_before = cpu_seconds(target.pid)
    driver_before = _own_cpu()
    start = time.monotonic() + 0.5
    end = start + seconds

    async def typing(i: int, editor: Editor) -> None:
        due = start + (i / len(editors)) / rate  # spread over one interval
        while due < end and editor.closed is None:
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            editor.type_one()
            due += 1 / rate

    await asyncio.gather(*(typing(i, e) for i, e in enumerate(editors)))
    expected = sum(len(e.sent) for e in editors) * (len(editors) - 1)
    deadline = time.monotonic() + SETTLE
    while time.monotonic() < deadline:
        if sum(e.arrivals() for e in editors) >= expected:
            break
        await asyncio.sleep(0.1)
    outcome = Outcome(target.name, len(editors), rate, seconds)
    outcome.server_cpu_s = round(cpu_seconds(target.pid) - cpu_before, 2)
    outcome.driver_cpu_s = round(_own_cpu() - driver_before, 2)
    pairs: list[float] = []
    lasts: list[float] = []
    for editor in editors:
        for (client, clock), sent in editor.sent:
            arrivals = [o.arrived(client, clock) for o in editors if o is not editor]
            got = [a - sent for a in arrivals if a is not None]
            pairs += got
            outcome.lost += len(arrivals) - len(got)
            if len(got) == len(arrivals):
                lasts.append(max(got))
    outcome.keystrokes = sum(len(e.sent) for e in editors)
    outcome.deliveries = len(pairs)
    outcome.pair_p50_ms = round(statistics.median(pairs) * 1000, 2) if pairs else float("nan")
    outcome.pair_p99_ms = round(_percentile(pairs, 0.99) * 1000, 2)
    outcome.all_p50_ms = round(_percentile(lasts, 0.5) * 1000, 2)
    outcome.all_p99_ms = round(_percentile(lasts, 0.99) * 1000, 2)
    outcome.closed = sorted({e.closed for e in editors if e.closed})
    for e in editors:
        e.close()
    return outcome


async def run_minutes(workdir: Path, editors: int, rate: float, seconds: float) -> list[Outcome]:
    """Both servers, one after the other, each started fresh and stopped whatever happens."""
    outcomes = []
    bare = Bare(workdir)
    try:
        await bare.start()
        print(f"bench: pycrdt-websocket, {editors} editors …", flush=True)
        outcomes.append(await measure(bare, "/minutes", [None] * editors, rate, seconds))
    finally:
        bare.stop()
    samla = SamlaServer(workdir)
    try:
        await samla.start()
        path, tokens = await _samla_room(samla, editors)
        print(f"bench: samla, {editors} editors …", flush=True)
        outcomes.append(await measure(samla, path, tokens, rate, seconds))
    finally:
        samla.stop()
    return outcomes


def render(outcomes: list[Outcome], started: str) -> str:
    lines = [
        f"Minutes benchmark, {started} UTC: {outcomes[0].editors} editors on one document, "
        f"{outcomes[0].rate:g} keystrokes a second each for {outcomes[0].seconds:g} s",
        "",
        f"{'server':<18}{'keys':>7}{'lost':>7}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'all p50':>9}{'all p99':>9}{'cpu s':>8}{'driver':>8}",
    ]
    for o in outcomes:
        lines.append(
            f"{o.server:<18}{o.keystrokes:>7}{o.lost:>7}{o.pair_p50_ms:>9}{o.pair_p99_ms:>9}"
            f"{o.all_p50_ms:>9}{o.all_p99_ms:>9}{o.server_cpu_s:>8}{o.driver_cpu_s:>8}"
        )
        if o.closed:
            lines.append(f"  closed: {'; '.join(o.closed)}")
    if len(outcomes) == 2 and outcomes[0].pair_p50_ms:
        bare, samla = outcomes
        lines += [
            "",
            "Samla / pycrdt-websocket: "
            f"p50 {samla.pair_p50_ms / bare.pair_p50_ms:.2f}x, "
            f"p99 {samla.pair_p99_ms / bare.pair_p99_ms:.2f}x, "
            f"to every editor p50 {samla.all_p50_ms / bare.all_p50_ms:.2f}x, "
            f"p99 {samla.all_p99_ms / bare.all_p99_ms:.2f}x, "
            f"cpu {samla.server_cpu_s / max(bare.server_cpu_s, 0.01):.2f}x",
            "(p50/p99: a keystroke to each other editor; all: to the last of them. Samla "
            "stores every keystroke in SQLite before relaying it; pycrdt-websocket keeps the "
            "document in memory only.)",
        ]
    return "\n".join(lines)


async def main_async(editors: int, rate: float, seconds: float) -> int:
    import tempfile

    started = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
    with tempfile.TemporaryDirectory(prefix="samla-bench-minutes-") as tmp:
        outcomes = await run_minutes(Path(tmp), editors, rate, seconds)
    text = render(outcomes, started)
    print(text)
    REPORTS.mkdir(exist_ok=True)
    base = REPORTS / f"minutes-e{editors}-{started.replace(' ', 'T').replace(':', '')}"
    base.with_suffix(".txt").write_text(text + "\n")
    report = {"started_utc": started, "outcomes": [asdict(o) for o in outcomes]}
    base.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nreport: {base.with_suffix('.txt')} (and .json)")
    return 0


# -- the bare server ------------------------------------------------------------------------


async def serve_bare(port: int) -> None:
    """pycrdt-websocket's WebsocketServer behind its ASGIServer, on uvicorn as Samla runs."""
    import uvicorn
    from pycrdt.websocket import ASGIServer, WebsocketServer

    websocket_server = WebsocketServer(auto_clean_rooms=False)
    app = ASGIServer(websocket_server)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        ws="websockets-sansio",
        ws_per_message_deflate=False,
        log_level="warning",
        lifespan="on",
    )
    async with websocket_server:
        await uvicorn.Server(config).serve()


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.minutes", description=__doc__)
    parser.add_argument("--editors", type=int, default=EDITORS)
    parser.add_argument("--rate", type=float, default=RATE, help="keystrokes a second each")
    parser.add_argument("--seconds", type=float, default=SECONDS, help="how long they type")
    parser.add_argument("--bare", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not 2 <= args.editors <= 500 or not 0 < args.rate <= 40 or not 0 < args.seconds <= 120:
        parser.error("--editors 2..500, --rate up to 40, --seconds up to 120")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.bare:
        asyncio.run(serve_bare(args.bare))
        return 0
    return asyncio.run(main_async(args.editors, args.rate, args.seconds))


if __name__ == "__main__":
    sys.exit(main())
