"""Snapshots: everything a socket shows, read together for the sockets that ask at once;
the session's description built once per role and version, the rest once per audience."""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import replace
from functools import partial
from typing import Any

from live.broker import Broker
from live.hub.connections import Connection
from live.screens import ANY_ROOM, PRESENCE, Audience, Painted, Panel, Screens, Viewer
from live.store import Store
from live.templating import Templates
from rooms import breakout, sessions
from rooms.errors import not_found
from rooms.lifecycle import describe
from rooms.participants import session_version, still_in

# How long the count of who is here may be reused, and an audience's HTML panels (which
# show it) after their build: that count changes without a version. Every other shared part
# is reused for as long as its version is asked for.
SNAPSHOT_REUSE = 0.5
# Shared parts kept at most, the oldest dropped first: a session of a thousand rooms has a
# thousand participant audiences at each version, and a part dropped while its version is
# still asked for is built again. A newer version of a session drops its older parts.
SNAPSHOTS_KEPT = 4096

# What the sockets of an audience, or of a role, share at a version: HTML panels, or JSON
# text that each socket's body splices in.
Shared = str
# A shared part's key: its session, what else it depends on, and its version.
Key = tuple[str, Hashable, int]
# A socket waiting for its snapshot, and where the snapshot goes.
Waiting = tuple[Connection, asyncio.Future[str]]
# Sockets whose snapshots are read in one transaction at most. Reading together saves each
# socket a transaction and its statements, but the loop is held while the batch's own
# panels are rendered (about a millisecond a socket for a participant's HTML panels).
BATCH_MAX = 64
# A crowd reconnecting arrives about a socket a millisecond, each handshake in its own turn
# of the loop: gathered for one turn, the reads took two sockets each. A read that follows
# another within CROWD_S waits GATHER_S for more of the crowd; a lone socket is read at once.
CROWD_S = 0.05
GATHER_S = 0.02


# What a snapshot refused for someone no longer in the session says it did not find.
PARTICIPANT = "participant in this session"


def version_marker(version: int) -> str:
    """Tells a page the version it now shows, so that its socket, reopened, says so."""
    return f'<i id="live-version" hidden data-version="{version}" hx-swap-oob="true"></i>'


class Snapshots:
    """Renders panels (for a snapshot, a first paint, a reply) and caches what an audience
    shares, so a whole session resnapshotted at once costs one render per audience."""

    def __init__(
        self,
        store: Store,
        screens: Screens,
        broker: Broker,
        templates: Templates,
        stats: dict[str, int],
    ) -> None:
        self.store = store
        self.screens = screens
        self.broker = broker
        self.templates = templates
        self.stats = stats
        # Shared parts by key, each with the time until which it may be reused, and the
        # newest version each session's parts were built at.
        self._cache: dict[Key, tuple[float, Shared]] = {}
        # The rooms with something of their own in a panel, by session, panel and version.
        self._owning: dict[tuple[str, str, int], frozenset[str]] = {}
        self._newest: dict[str, int] = {}
        # How many were here in each session, and until when that count may be reused.
        self._here_counts: dict[str, tuple[float, int]] = {}
        # The builds in flight, by the same key: whoever asks while one is being built
        # waits for it rather than build the same again (a reconnecting crowd).
        self._building: dict[Key, asyncio.Future[Shared]] = {}
        # Sockets waiting for their snapshot, read together in the next turn of the loop,
        # and the tasks reading them.
        self._waiting: list[Waiting] = []
        self._gathering = False  # a read is about to take the waiting sockets
        self._reading: set[asyncio.Task[None]] = set()
        # When a batch of snapshots was last read (a crowd opening or moving keeps the loop
        # busy without any message from the broker).
        self.last_read = 0.0

    async def snapshot(self, conn: Connection) -> str:
        """Everything the socket shows, as of one consistent read of the store. Sockets
        that ask within the same two turns of the loop, or while a crowd reconnects within
        GATHER_S, are read together. Changes fanned out meanwhile wait in the socket's outbox
        and follow the snapshot if they are newer (live/hub/outbox.py)."""
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._waiting.append((conn, future))
        if not self._gathering:
            self._gathering = True
            task = asyncio.create_task(self._read_waiting(), name="samla-snapshots")
            self._reading.add(task)
            task.add_done_callback(self._reading.discard)
        return await future

    async def _read_waiting(self) -> None:
        # One more turn, or while a crowd arrives a little longer: the sockets whose
        # handshakes finish meanwhile join this read.
        crowd = time.monotonic() - self.last_read < CROWD_S
        await asyncio.sleep(GATHER_S if crowd else 0)
        self._gathering = False
        waiting, self._waiting = self._waiting, []
        for start in range(0, len(waiting), BATCH_MAX):
            batch = [(c, f) for c, f in waiting[start : start + BATCH_MAX] if not f.done()]
            self.last_read = time.monotonic()
            try:
                async with self.store.read() as db:
                    for session_id, group in _by_session(batch).items():
                        await self._read_session(db, session_id, group)
            except asyncio.CancelledError:
                for _, future in waiting:
                    future.cancel()
                raise
            except Exception as exc:  # the store is unreachable: every socket of the batch
                for _, future in batch:
                    _fail(future, exc)

    async def _read_session(self, db: Any, session_id: str, group: list[Waiting]) -> None:
        """One session's waiting sockets: its version, which of their participants are
        still in it and where they sit, three statements for them all; then each socket's
        frame, its audience's shared part built once."""
        version = await session_version(db, session_id)
        people = sorted({c.participant_id for c, _ in group if c.participant_id is not None})
        members = await still_in(db, session_id, people)
        rooms = await self.screens.place_many(db, session_id, people) if people else {}
        # Each stream's person's own room, as their snapshot's `you` shows it (a page shows
        # its room in its panels).
        streams = {c.participant_id for c, _ in group if c.kind == "json"}
        seated = await breakout.rooms_sized(
            db, [rid for pid, rid in rooms.items() if rid is not None and pid in streams]
        )
        shared: dict[Key, Shared | Exception] = {}
        for conn, future in group:
            if future.done():
                continue  # its socket closed meanwhile
            if version is None:
                _fail(future, not_found("session"))
                continue
            if conn.participant_id is not None and conn.participant_id not in members:
                _fail(future, not_found(PARTICIPANT))  # removed by a moderator
                continue
            conn.version = version
            if conn.participant_id is not None:
                # Read with the version, so the room and the snapshot agree: a move after
                # this read sends the socket another snapshot (live/hub/fanout.py).
                conn.room_id = rooms.get(conn.participant_id)
            try:
                frame = await self._frame(db, conn, version, shared, seated)
            except Exception as exc:
                _fail(future, exc)
                continue
            if not future.done():
                future.set_result(frame)

    async def _frame(
        self,
        db: Any,
        conn: Connection,
        version: int,
        shared: dict[Key, Shared | Exception],
        seated: dict[str, dict[str, Any]],
    ) -> str:
        """The socket's snapshot at this version; `shared` holds what this batch has built
        (or how building it failed: the build is not tried again for it), `seated` the
        rooms its people sit in."""
        shown, conn.page_version = conn.page_version, -1
        if conn.kind == "html" and shown == version:
            # The page already shows this version: redrawing it would only repeat it, and
            # replace what someone is typing.
            return version_marker(version)
        key = (conn.session_id, (conn.audience, conn.kind), version)
        reuse = SNAPSHOT_REUSE if conn.kind == "html" else math.inf
        part = await self._memo(shared, key, lambda: self._shared(db, conn, version), reuse)
        viewer = Viewer(conn.audience, conn.participant_id)
        mine = [p for p in self.screens.panels_for(conn.role) if p.personal]
        if conn.kind == "html":
            html = "".join([await self.render(db, p, viewer) for p in mine])
            return part + html + version_marker(version)
        # The description is the same for every room, and most of the body's bytes: built
        # once per role and version and spliced in, as text, with the audience's panels.
        described = (conn.session_id, conn.role, version)
        head = await self._memo(shared, described, lambda: self._described(db, conn), math.inf)
        own: dict[str, Any] = {p.name: await p.load(db, viewer) for p in mine if p.json}
        own["you"] = {
            "role": conn.role,
            "participant_id": conn.participant_id,
            "room_id": conn.room_id,
            "room": seated.get(conn.room_id) if conn.room_id is not None else None,
        }
        here = await self._here(conn.session_id)
        return f'{head}, "here": {here}{part}, {json.dumps(own)[1:]}'

    async def _memo(
        self,
        shared: dict[Key, Shared | Exception],
        key: Key,
        build: Callable[[], Awaitable[Shared]],
        reuse: float,
    ) -> Shared:
        """A shared part as this batch has it, or from `_once` (a failure is kept too)."""
        if key not in shared:
            try:
                shared[key] = await self._once(key, build, reuse)
            except Exception as exc:
                shared[key] = exc
        part = shared[key]
        if isinstance(part, Exception):
            raise part
        return part

    async def _once(self, key: Key, build: Callable[[], Awaitable[Shared]], reuse: float) -> Shared:
        """A shared part: cached, awaited from the build in flight, or built here (and then
        awaited by whoever asks meanwhile). It is reused for `reuse` seconds after its build
        ends, so a build slower than that still serves every socket that asked during it and
        right after. A failed build fails its waiters too and is not kept: the next to ask
        builds afresh."""
        while True:
            cached = self._cache.get(key)
            if cached is not None and time.monotonic() < cached[0]:
                return cached[1]
            building = self._building.get(key)
            if building is None:
                break
            try:
                # Shielded: a waiter whose socket closes must not cancel the others' build.
                return await asyncio.shield(building)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if not building.cancelled() or (task is not None and task.cancelling()):
                    raise  # this waiter was cancelled
                # The builder's own socket closed mid-build: the next one builds instead.
        future: asyncio.Future[Shared] = asyncio.get_running_loop().create_future()
        self._building[key] = future
        try:
            part = await build()
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # retrieved, whether anyone waited or not
            raise
        finally:
            del self._building[key]
        future.set_result(part)
        self._keep(key, time.monotonic() + reuse, part)
        return part

    def _keep(self, key: Key, until: float, part: Shared) -> None:
        session_id, _, version = key
        if version > self._newest.get(session_id, -1):
            # Nobody asks for the session's older versions again: each snapshot reads the
            # newest.
            if len(self._newest) > SNAPSHOTS_KEPT:
                self._newest.clear()
            self._newest[session_id] = version
            for old in [k for k in self._cache if k[0] == session_id and k[2] < version]:
                del self._cache[old]
        self._cache[key] = (until, part)
        while len(self._cache) > SNAPSHOTS_KEPT:
            del self._cache[next(iter(self._cache))]

    async def _shared(self, db: Any, conn: Connection, version: int) -> Shared:
        """The audience's HTML panels, or its JSON panels' keys (each after a comma) for
        the body to splice in. A JSON panel that is the same in every room is loaded once
        for all rooms' audiences at this version."""
        viewer = Viewer(conn.audience, None)
        shown = [p for p in self.screens.panels_for(conn.role) if not p.personal]
        if conn.kind == "html":
            return "".join([await self.render(db, p, viewer) for p in shown])
        parts = []
        for p in shown:
            if not p.json:
                continue
            audience = await self._json_audience(db, p, conn.audience, version)
            load = partial(self._json_part, db, p, Viewer(audience, None))
            if audience == conn.audience:
                parts.append(await load())
            else:
                key = (conn.session_id, (audience, f"json:{p.name}"), version)
                parts.append(await self._once(key, load, math.inf))
        return "".join(parts)

    async def _json_audience(self, db: Any, p: Panel, audience: Audience, version: int) -> Audience:
        """The audience a JSON panel is the same for at this version: this one, every
        room's (`by_room`), or every room's with nothing of its own in it (`own_rooms`)."""
        audience = p.audience_of(audience)
        if audience.room_id is None or p.own_rooms is None:
            return audience
        key = (audience.session_id, p.name, version)
        owning = self._owning.get(key)
        if owning is None:
            owning = frozenset(await p.own_rooms(db, audience.session_id))
            if len(self._owning) > SNAPSHOTS_KEPT:
                self._owning.clear()
            self._owning[key] = owning
        return audience if audience.room_id in owning else replace(audience, room_id=ANY_ROOM)

    @staticmethod
    async def _json_part(db: Any, p: Panel, viewer: Viewer) -> Shared:
        return f", {json.dumps(p.name)}: {json.dumps(await p.load(db, viewer))}"

    async def _described(self, db: Any, conn: Connection) -> Shared:
        """The JSON body's opening: its type, version and the session as the role sees it,
        serialised without its closing brace."""
        session = await sessions.session_by_id(db, conn.session_id)
        body: dict[str, Any] = {"type": "snapshot", "version": session.version}
        body["session"] = await describe(db, session, conn.role, stream=True)
        return json.dumps(body)[:-1]

    async def _here(self, session_id: str) -> int:
        """How many are here, counted at most once per SNAPSHOT_REUSE for a session."""
        counted = self._here_counts.get(session_id)
        now = time.monotonic()
        if counted is not None and now < counted[0]:
            return counted[1]
        here = await self.broker.count_present(session_id)
        if len(self._here_counts) > SNAPSHOTS_KEPT:
            self._here_counts.clear()
        self._here_counts[session_id] = (now + SNAPSHOT_REUSE, here)
        return here

    async def render(self, db: Any, p: Panel, viewer: Viewer) -> str:
        """One panel as an out-of-band fragment for this viewer."""
        context = await p.load(db, viewer)
        if PRESENCE in p.triggers:
            context["here"] = await self.broker.count_present(viewer.audience.session_id)
        self.stats["renders"] += 1
        return self.templates.render(
            p.template, viewer.audience.locale, oob=True, viewer=viewer, **context
        )

    async def render_panels(self, viewer: Viewer) -> Painted:
        """Every panel of the viewer's role, for a page's first paint, and its version."""
        async with self.store.read() as db:
            session = await sessions.session_by_id(db, viewer.audience.session_id)
            parts = {}
            for p in self.screens.panels_for(viewer.audience.role):
                context = await p.load(db, viewer)
                if PRESENCE in p.triggers:
                    context["here"] = await self.broker.count_present(viewer.audience.session_id)
                parts[p.name] = self.templates.render(
                    p.template, viewer.audience.locale, oob=False, viewer=viewer, **context
                )
        return Painted(session.version, parts)

    async def render_for(self, conn: Connection, p: Panel) -> str:
        """One panel for this socket (a reply to its own message)."""
        async with self.store.read() as db:
            return await self.render(db, p, Viewer(conn.audience, conn.participant_id))


def _by_session(batch: list[Waiting]) -> dict[str, list[Waiting]]:
    found: dict[str, list[Waiting]] = {}
    for conn, future in batch:
        found.setdefault(conn.session_id, []).append((conn, future))
    return found


def _fail(future: asyncio.Future[str], exc: Exception) -> None:
    """Fails a socket's snapshot; the error is marked seen, as its socket may be gone."""
    if not future.done():
        future.set_exception(exc)
        future.exception()
