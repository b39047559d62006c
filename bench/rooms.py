"""The breakout storm: N people sent into N/10 rooms at once, and back to the plenary.

`python -m bench.run --scenario rooms -n N` joins N participants, opens their N event
streams, and then the moderator opens N/10 rooms with random placement
(`POST /api/v1/sessions/{sid}/rooms {"count": N/10, "assignment": "random"}`) and later
closes them (`POST /api/v1/sessions/{sid}/rooms/close`). A person's screen shows their room
when their stream has sent a frame whose `you.room_id` is the room the moderator's answer
placed them in (the snapshot a moved socket gets); it shows the plenary again when a frame
after the close says `room_id: null`. Measured per socket from the moment the moderator's
request was written: time-to-room and time-to-plenary (p50/p99/max), and whether every socket
was shown ITS room (the ids in the answer against the ids each stream was shown).

The baseline (bench/baseline.py) is the bare server sending each named socket one frame with
its own room, and one with the plenary, in the same run."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import tempfile
import time
from collections.abc import Awaitable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.distributed import samla_target
from bench.profile import Profiler
from bench.targets import Baseline, SamlaServer, Target, bounded, gather_limited, raise_fd_limit
from bench.wire import Http, Stream, open_stream, summary_ms

if TYPE_CHECKING:
    from bench.run import Options

REPORTS = Path(__file__).resolve().parent / "reports"
# The target: every screen shows its room within this many seconds of the request.
EVERY_SCREEN_S = 3.0
PEOPLE_PER_ROOM = 10
YOU = b'"you": {'


class Seat:
    """What one socket was shown of its own seat: the person, and (time, room id) for each
    frame that says where they sit (a snapshot's `you`, which closes it)."""

    __slots__ = ("person", "shown")

    def __init__(self) -> None:
        self.person: str | None = None
        self.shown: list[tuple[float, str | None]] = []

    def __call__(self, payload: bytes, is_snapshot: bool) -> int | None:
        at = payload.rfind(YOU)
        if at < 0:
            return None
        you = json.loads(payload[at + len(YOU) - 1 : -1])
        self.person = you.get("participant_id")
        self.shown.append((time.monotonic(), you.get("room_id")))
        return len(self.shown)

    def first(self, since: float, room: str | None) -> float | None:
        """When this socket was first shown `room` at or after `since`."""
        return next((at for at, shown in self.shown if at >= since and shown == room), None)

    def others(self, since: float, room: str | None) -> int:
        """Rooms shown at or after `since` that were neither `room` nor the plenary."""
        return sum(1 for at, shown in self.shown if at >= since and shown not in (room, None))


@dataclass
class Rooms:
    target: str
    participants: int
    rooms: int = 0
    streams_open: int = 0
    stream_failures: int = 0
    placed: int = 0  # people the moderator's answer placed in a room
    open_answer_ms: float = 0.0  # request -> the moderator's HTTP answer
    shown_own_room: int = 0  # sockets shown the room the answer placed them in
    shown_other_room: int = 0  # sockets shown a room that was not theirs
    to_room_ms: dict[str, float | str] = field(default_factory=dict)
    close_answer_ms: float = 0.0
    shown_plenary: int = 0
    to_plenary_ms: dict[str, float | str] = field(default_factory=dict)
    frames_per_socket: dict[str, float] = field(default_factory=dict)
    kib_per_socket: dict[str, float] = field(default_factory=dict)
    server_cpu_s: dict[str, float] = field(default_factory=dict)
    rss_idle_kib: int = 0
    load_average: str = ""
    setup_seconds: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    profile: str = ""  # --profile: where Samla's time went from the request to every room


async def moderate(target: Target, path: str, body: Any) -> Any:
    """One request of the moderator's, over a new connection (an idle one may have closed)."""
    http = Http(target.host, target.http_port)
    try:
        if isinstance(target, SamlaServer):
            where = f"/api/v1/sessions/{target.session['id']}{path}"
            return await http.json("POST", where, body, target.session["moderator_token"])
        return await http.json("POST", path, body)
    finally:
        http.close()


async def open_rooms(target: Target, count: int) -> dict[str, str]:
    """The moderator opens `count` rooms at random: who was placed in which room."""
    answer = await moderate(target, "/rooms", {"count": count, "assignment": "random"})
    return {p: room["id"] for room in answer["rooms"] for p in room["participant_ids"]}


async def close_rooms(target: Target) -> None:
    await moderate(target, "/rooms/close", {})


async def until_shown(
    seats: list[Seat], since: float, room_of: dict[str, str | None], limit: float
) -> None:
    """Waits (at most `limit` s) until every socket was shown where its person sits."""
    deadline = time.monotonic() + limit
    waiting = list(seats)
    while waiting and time.monotonic() < deadline:
        waiting = [s for s in waiting if s.first(since, room_of.get(s.person or "")) is None]
        await asyncio.sleep(0.02)


def per_socket(streams: list[Stream], before: tuple[int, int]) -> tuple[float, float]:
    """Frames and KiB each socket received since `before` (frames, bytes over all)."""
    frames = sum(s.frames for s in streams) - before[0]
    data = sum(s.bytes for s in streams) - before[1]
    n = max(1, len(streams))
    return round(frames / n, 2), round(data / 1024 / n, 2)


async def measure(target: Target, opts: Options) -> Rooms:
    n = opts.participants
    result = Rooms(target.name, n, rooms=max(1, n // PEOPLE_PER_ROOM))
    result.load_average = " ".join(f"{x:.2f}" for x in os.getloadavg())
    t0 = time.monotonic()
    await target.start()
    await target.prepare(n, "rooms")
    result.setup_seconds["start and join"] = round(time.monotonic() - t0, 2)
    seats = [Seat() for _ in range(n)]

    async def connect(i: int) -> Stream | str:
        # The bare server learns whose socket it is from the path; Samla from the token.
        path = target.stream_path + ("" if target.tokens[i] else f"?p=p{i}")
        try:
            return await open_stream(
                target.host, target.stream_port(i), path, target.tokens[i], seats[i], 60.0
            )
        except (OSError, TimeoutError, ConnectionError) as exc:
            return f"{type(exc).__name__}: {exc}"

    t0 = time.monotonic()
    opened = await gather_limited(opts.connect_concurrency, [connect(i) for i in range(n)])
    result.setup_seconds["streams"] = round(time.monotonic() - t0, 2)
    streams = [s for s in opened if isinstance(s, Stream)]
    failures = [s for s in opened if isinstance(s, str)]
    result.streams_open, result.stream_failures = len(streams), len(failures)
    if failures:
        result.notes.append(f"{len(failures)} streams failed to open, e.g. {failures[0]}")
    live = [seats[i] for i, s in enumerate(opened) if isinstance(s, Stream)]
    await asyncio.sleep(opts.idle)
    result.rss_idle_kib = target.rss()
    try:
        profiler = None
        if opts.profile and isinstance(target, SamlaServer):
            REPORTS.mkdir(exist_ok=True)
            profiler = Profiler(target.pid, REPORTS / f"{opts.stamp}-{target.name}.pyspy.txt")
            await asyncio.sleep(0.5)  # py-spy attaches
        into = open_rooms(target, result.rooms)
        await phase(target, result, "open", streams, live, into, opts)
        if profiler is not None:
            result.profile = await asyncio.to_thread(profiler.stop)
        await phase(target, result, "close", streams, live, close_rooms(target), opts)
    finally:
        for s in streams:
            s.close()
    return result


async def phase(
    target: Target,
    result: Rooms,
    name: str,
    streams: list[Stream],
    seats: list[Seat],
    request: Awaitable[dict[str, str] | None],
    opts: Options,
) -> None:
    """One move of everyone (into the rooms, or back), timed from the request to each screen."""
    before = (sum(s.frames for s in streams), sum(s.bytes for s in streams))
    cpu = target.cpu()
    since = time.monotonic()
    placed = await request
    answered = time.monotonic() - since
    room_of: dict[str, str | None] = dict(placed) if placed else {}
    await until_shown(seats, since, room_of, opts.settle)
    shown = [s.first(since, room_of.get(s.person or "")) for s in seats]
    times = [at - since for at in shown if at is not None]
    missing = len(seats) - len(times)
    result.server_cpu_s[name] = round(target.cpu() - cpu, 2)
    frames, kib = per_socket(streams, before)
    result.frames_per_socket[name], result.kib_per_socket[name] = frames, kib
    if name == "open":
        result.placed = len(room_of)
        result.open_answer_ms = round(answered * 1000, 1)
        result.shown_own_room = len(times)
        result.shown_other_room = sum(
            1 for s in seats if s.others(since, room_of.get(s.person or ""))
        )
        result.to_room_ms = summary_ms(times, missing)
    else:
        result.close_answer_ms = round(answered * 1000, 1)
        result.shown_plenary = len(times)
        result.to_plenary_ms = summary_ms(times, missing)


ROWS = [
    ("streams open", "streams_open"),
    ("stream failures", "stream_failures"),
    ("rooms", "rooms"),
    ("people placed by the answer", "placed"),
    ("request -> answer (open), ms", "open_answer_ms"),
    ("sockets shown their own room", "shown_own_room"),
    ("sockets shown another room", "shown_other_room"),
    ("request -> own room shown, ms", "to_room_ms"),
    ("request -> answer (close), ms", "close_answer_ms"),
    ("sockets shown the plenary", "shown_plenary"),
    ("request -> plenary shown, ms", "to_plenary_ms"),
    ("frames per socket", "frames_per_socket"),
    ("KiB per socket", "kib_per_socket"),
    ("server CPU, s", "server_cpu_s"),
    ("RSS with idle streams, KiB", "rss_idle_kib"),
    ("setup seconds", "setup_seconds"),
    ("machine load average at start", "load_average"),
]


def verdicts(results: list[Rooms]) -> list[str]:
    by = {r.target: r for r in results}
    if "samla" not in by:
        return []
    samla, base = by["samla"], by.get("baseline")
    lines = ["", "Samla against the issue's target and the baseline:"]
    for label, key, shown in (
        ("room", "to_room_ms", "shown_own_room"),
        ("plenary", "to_plenary_ms", "shown_plenary"),
    ):
        worst = getattr(samla, key).get("max", "never")
        ok = (
            not isinstance(worst, str)
            and worst <= EVERY_SCREEN_S * 1000
            and getattr(samla, shown) == samla.participants
            and not samla.shown_other_room
        )
        ratio = ""
        if base is not None:
            theirs = getattr(base, key).get("p99")
            mine = getattr(samla, key).get("p99")
            if isinstance(theirs, float) and isinstance(mine, float) and theirs:
                ratio = f"; p99 {mine} ms vs the baseline's {theirs} ms = {mine / theirs:.1f}x"
        lines.append(
            f"  [{'PASS' if ok else 'MISS'}] every screen showing its {label}: "
            f"{getattr(samla, shown)}/{samla.participants} sockets, the last after {worst} ms "
            f"(target <= {EVERY_SCREEN_S * 1000:.0f} ms; "
            f"{samla.shown_other_room} shown another room){ratio}"
        )
    return lines


def render(opts: Options, results: list[Rooms], started: str) -> str:
    lines = [
        f"Samla breakout storm — {started} UTC",
        f"N={opts.participants} people into {max(1, opts.participants // PEOPLE_PER_ROOM)} "
        f"rooms at random and back; Samla on {opts.instances} instance(s)",
        "",
    ]
    width = 36
    lines.append(f"{'':{width}}" + "".join(f"{r.target:>26}" for r in results))
    for label, attr in ROWS:
        values = [getattr(r, attr) for r in results]
        if any(isinstance(v, dict) for v in values):
            for key in dict.fromkeys(k for v in values for k in v):
                cells = "".join(f"{v.get(key, '-')!s:>26}" for v in values)
                lines.append(f"{label + ' ' + key:{width}}" + cells)
        else:
            lines.append(f"{label:{width}}" + "".join(f"{v!s:>26}" for v in values))
    for r in results:
        lines += [f"note ({r.target}): {note}" for note in r.notes]
    lines += verdicts(results)
    for r in results:
        if r.profile:
            lines += ["", f"Where {r.target}'s time went into the rooms (py-spy):", r.profile]
    return "\n".join(lines)


async def run_one(target: Target, opts: Options) -> Rooms:
    return await bounded(target, opts.stamp, opts.deadline, measure(target, opts))


async def main_async(opts: Options) -> int:
    from bench.run import begin

    raise_fd_limit(opts.participants + 1024)
    started = begin(opts, "rooms")
    results: list[Rooms] = []
    with tempfile.TemporaryDirectory(prefix="samla-bench-") as tmp, contextlib.ExitStack() as on:
        workdir = Path(tmp)
        if opts.only in (None, "baseline"):
            print(f"bench: rooms, baseline, N={opts.participants} …", flush=True)
            results.append(await run_one(Baseline(workdir, opts.tick), opts))
        if opts.only in (None, "samla"):
            print(f"bench: rooms, samla, N={opts.participants} …", flush=True)
            results.append(await run_one(samla_target(workdir, opts, on), opts))
    text = render(opts, results, started)
    print(text)
    REPORTS.mkdir(exist_ok=True)
    base = REPORTS / opts.stamp
    base.with_suffix(".txt").write_text(text + "\n")
    report: dict[str, Any] = {"options": asdict(opts), "started_utc": started}
    report["results"] = [asdict(r) for r in results]
    base.with_suffix(".json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(f"\nreport: {base.with_suffix('.txt')} (and .json)")
    return 0
