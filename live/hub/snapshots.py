"""Snapshots: everything a socket shows, read together for the sockets that ask at once,
rendered once per audience and reused briefly."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from live.broker import Broker
from live.hub.connections import Connection
from live.screens import PRESENCE, Audience, Painted, Panel, Screens, Viewer
from live.store import Store
from live.templating import Templates
from rooms import sessions
from rooms.errors import not_found
from rooms.lifecycle import describe
from rooms.participants import session_version, still_in

# How long a rendered snapshot may be reused for other sockets of the same audience.
SNAPSHOT_REUSE = 0.5
# Audiences and versions cached at most; past it the cache starts afresh (it lives 0.5 s).
SNAPSHOTS_KEPT = 512

# What all sockets of an audience share at a version (HTML panels or the JSON body's text),
# by audience, kind and version.
Shared = str
Key = tuple[Audience, str, int]
# A socket waiting for its snapshot, and where the snapshot goes.
Waiting = tuple[Connection, asyncio.Future[str]]
# Sockets whose snapshots are read in one transaction at most. Reading together saves each
# socket a transaction and its statements, but the loop is held while the batch's own
# panels are rendered (about a millisecond a socket for a participant's HTML panels).
BATCH_MAX = 64


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
        # Shared snapshot parts by audience and version; short-lived, because the count
        # of who is here changes without a version.
        self._cache: dict[Key, tuple[float, Shared]] = {}
        # The builds in flight, by the same key: whoever asks while one is being built
        # waits for it rather than build the same again (a reconnecting crowd).
        self._building: dict[Key, asyncio.Future[Shared]] = {}
        # Sockets waiting for their snapshot, read together in the next turn of the loop,
        # and the tasks reading them.
        self._waiting: list[Waiting] = []
        self._gathering = False  # a read is about to take the waiting sockets
        self._reading: set[asyncio.Task[None]] = set()

    async def snapshot(self, conn: Connection) -> str:
        """Everything the socket shows, as of one consistent read of the store. Sockets
        that ask within the same two turns of the loop (a reconnecting crowd) are read
        together."""
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._waiting.append((conn, future))
        if not self._gathering:
            self._gathering = True
            task = asyncio.create_task(self._read_waiting(), name="samla-snapshots")
            self._reading.add(task)
            task.add_done_callback(self._reading.discard)
        return await future

    async def _read_waiting(self) -> None:
        # One more turn: the sockets whose handshakes finish in it join this read.
        await asyncio.sleep(0)
        self._gathering = False
        waiting, self._waiting = self._waiting, []
        for start in range(0, len(waiting), BATCH_MAX):
            batch = [(c, f) for c, f in waiting[start : start + BATCH_MAX] if not f.done()]
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
        shared: dict[Key, Shared | Exception] = {}
        for conn, future in group:
            if future.done():
                continue  # its socket closed meanwhile
            if version is None or (
                conn.participant_id is not None and conn.participant_id not in members
            ):
                _fail(future, not_found("session"))  # or the person's place in it
                continue
            conn.version = version
            if conn.participant_id is not None:
                # Read with the version, so the room and the snapshot agree: a move after
                # this read sends the socket another snapshot (live/hub/fanout.py).
                conn.room_id = rooms.get(conn.participant_id)
            try:
                frame = await self._frame(db, conn, version, shared)
            except Exception as exc:
                _fail(future, exc)
                continue
            if not future.done():
                future.set_result(frame)

    async def _frame(
        self, db: Any, conn: Connection, version: int, shared: dict[Key, Shared | Exception]
    ) -> str:
        """The socket's snapshot at this version; `shared` holds what this batch has built
        per audience (or how building it failed: the build is not tried again for it)."""
        shown, conn.page_version = conn.page_version, -1
        if conn.kind == "html" and shown == version:
            # The page already shows this version: redrawing it would only repeat it, and
            # replace what someone is typing.
            return version_marker(version)
        key = (conn.audience, conn.kind, version)
        if key not in shared:
            try:
                shared[key] = await self._shared_once(db, conn, version)
            except Exception as exc:
                shared[key] = exc
        part = shared[key]
        if isinstance(part, Exception):
            raise part
        viewer = Viewer(conn.audience, conn.participant_id)
        mine = [p for p in self.screens.panels_for(conn.role) if p.personal]
        if conn.kind == "json":
            own: dict[str, Any] = {p.name: await p.load(db, viewer) for p in mine if p.json}
            own["you"] = {
                "role": conn.role,
                "participant_id": conn.participant_id,
                "room_id": conn.room_id,
            }
            # The shared body is kept serialised and open: only this socket's own keys are
            # serialised here.
            return part + ", " + json.dumps(own)[1:]
        html = "".join([await self.render(db, p, viewer) for p in mine])
        return part + html + version_marker(version)

    async def _shared_once(self, db: Any, conn: Connection, version: int) -> Shared:
        """The audience's shared part at this version: cached, awaited from the build in
        flight, or built here (and then awaited by whoever asks meanwhile). A failed build
        fails its waiters too and is not kept: the next to ask builds afresh."""
        key = (conn.audience, conn.kind, version)
        while True:
            cached = self._cache.get(key)
            if cached is not None and time.monotonic() - cached[0] < SNAPSHOT_REUSE:
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
        started = time.monotonic()
        future: asyncio.Future[Shared] = asyncio.get_running_loop().create_future()
        self._building[key] = future
        try:
            shared = await self._shared(db, conn)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # retrieved, whether anyone waited or not
            raise
        finally:
            del self._building[key]
        future.set_result(shared)
        if len(self._cache) > SNAPSHOTS_KEPT:
            self._cache.clear()
        self._cache[key] = (started, shared)
        return shared

    async def _shared(self, db: Any, conn: Connection) -> Shared:
        """HTML panels, or the JSON body serialised without its closing brace (each socket
        adds its own keys and closes it)."""
        viewer = Viewer(conn.audience, None)
        shown = [p for p in self.screens.panels_for(conn.role) if not p.personal]
        if conn.kind == "html":
            return "".join([await self.render(db, p, viewer) for p in shown])
        session = await sessions.session_by_id(db, conn.session_id)
        body: dict[str, Any] = {"type": "snapshot", "version": session.version}
        body["session"] = await describe(db, session, conn.role)
        body["here"] = await self.broker.count_present(conn.session_id)
        for p in shown:
            if p.json:
                body[p.name] = await p.load(db, viewer)
        return json.dumps(body)[:-1]

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
