"""Snapshots: everything a socket shows, rendered once per audience and reused briefly."""

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
from rooms.lifecycle import describe

# How long a rendered snapshot may be reused for other sockets of the same audience.
SNAPSHOT_REUSE = 0.5
# Audiences and versions cached at most; past it the cache starts afresh (it lives 0.5 s).
SNAPSHOTS_KEPT = 512

# What all sockets of an audience share at a version (HTML panels or the JSON body), by
# audience, kind and version.
Shared = str | dict[str, Any]
Key = tuple[Audience, str, int]


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

    async def snapshot(self, conn: Connection) -> str:
        """Everything the socket shows, as of one consistent read of the store. What all
        sockets of an audience share is built once per version and reused briefly."""
        async with self.store.read() as db:
            session = await sessions.session_by_id(db, conn.session_id)
            conn.version = session.version
            shown, conn.page_version = conn.page_version, -1
            if conn.kind == "html" and shown == session.version:
                # The page already shows this version: redrawing it would only repeat it,
                # and replace what someone is typing.
                return version_marker(session.version)
            viewer = Viewer(conn.audience, conn.participant_id)
            shared = await self._shared_once(db, conn, session)
            mine = [p for p in self.screens.panels_for(conn.role) if p.personal]
            if conn.kind == "json":
                assert isinstance(shared, dict)
                you = {
                    "role": conn.role,
                    "participant_id": conn.participant_id,
                    "room_id": conn.room_id,
                }
                personal = {p.name: await p.load(db, viewer) for p in mine if p.json}
                return json.dumps({**shared, **personal, "you": you})
            assert isinstance(shared, str)
            own = "".join([await self.render(db, p, viewer) for p in mine])
            return shared + own + version_marker(session.version)

    async def _shared_once(self, db: Any, conn: Connection, session: Any) -> Shared:
        """The audience's shared part at this version: cached, awaited from the build in
        flight, or built here (and then awaited by whoever asks meanwhile). A failed build
        fails its waiters too and is not kept: the next to ask builds afresh."""
        key = (conn.audience, conn.kind, session.version)
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
            shared = await self._shared(db, conn, session)
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

    async def _shared(self, db: Any, conn: Connection, session: Any) -> Shared:
        viewer = Viewer(conn.audience, None)
        shown = [p for p in self.screens.panels_for(conn.role) if not p.personal]
        if conn.kind == "html":
            return "".join([await self.render(db, p, viewer) for p in shown])
        body: dict[str, Any] = {"type": "snapshot", "version": session.version}
        body["session"] = await describe(db, session, conn.role)
        body["here"] = await self.broker.count_present(conn.session_id)
        for p in shown:
            if p.json:
                body[p.name] = await p.load(db, viewer)
        return body

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
