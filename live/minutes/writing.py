"""Storing minutes' updates: those that arrive together are written in one transaction,
whichever documents they are for, so a room typing at once (or a thousand rooms) costs one
commit per turn of the store, not one per keystroke. Each update still gets its own answer
(stored, or why not)."""

from __future__ import annotations

import asyncio
import logging

from live.store import Store
from rooms import minutes
from rooms.errors import Refused
from rooms.minutes import whole

log = logging.getLogger("samla.minutes")

# A transaction holds at most this many updates: a commit stays short whatever arrives.
BATCH_MAX = 500


class Unsaved(Refused):
    """The store could not take the batch just now (its client should come back soon)."""


# An update's answer: why it was refused, or the document's version that stored it.
_Answer = asyncio.Future[Refused | int]


class Clerk:
    """Writes the waiting updates in batches, one batch at a time."""

    def __init__(self, store: Store) -> None:
        self.store = store
        # By document: its target, and its updates waiting with their answers.
        self._waiting: dict[str, tuple[minutes.Target, list[tuple[minutes.Edit, _Answer]]]] = {}
        self._writing: asyncio.Task[None] | None = None
        self.stats = {"batches": 0, "updates": 0}

    async def write(self, target: minutes.Target, edit: minutes.Edit) -> Refused | int:
        """Stores the update (answering the document's version that holds it), or answers
        why it was refused; returns once committed."""
        answer: _Answer = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(target.id, (target, []))[1].append((edit, answer))
        if self._writing is None:
            self._writing = asyncio.create_task(self._write_all(), name="samla-minutes-write")
        return await answer

    async def _write_all(self) -> None:
        try:
            while self._waiting:
                await self._write(self._take())
        finally:
            self._writing = None

    def _take(self) -> list[tuple[minutes.Target, list[tuple[minutes.Edit, _Answer]]]]:
        """The next batch: whole documents' waiting updates, up to BATCH_MAX in all (a
        document with more leaves the rest for the next)."""
        batch = []
        room = BATCH_MAX
        for document_id in list(self._waiting):
            target, waiting = self._waiting[document_id]
            batch.append((target, waiting[:room]))
            if len(waiting) > room:
                self._waiting[document_id] = (target, waiting[room:])
                break
            del self._waiting[document_id]
            room -= len(waiting)
            if room == 0:
                break
        # Every writer takes the documents' locks in the same order (PostgreSQL, several
        # instances): two batches never wait for each other.
        return sorted(batch, key=lambda part: part[0].id)

    async def _write(
        self, batch: list[tuple[minutes.Target, list[tuple[minutes.Edit, _Answer]]]]
    ) -> None:
        answers: dict[str, list[Refused | int]] = {}
        done: dict[str, minutes.Written] = {}
        try:
            async with self.store.write() as db:
                for target, waiting in batch:
                    edits = [edit for edit, _ in waiting]
                    try:
                        written = done[target.id] = await minutes.write(db, target, edits)
                        answers[target.id] = [r or written.version for r in written.refusals]
                    except Refused as exc:  # before it wrote anything: the others go on
                        answers[target.id] = [exc] * len(waiting)
        except Exception:
            log.exception("minutes could not be stored")
            failed = Unsaved("conflict", "The minutes could not be saved just now; reconnect.")
            answers = {target.id: [failed] * len(waiting) for target, waiting in batch}
            done = {}
        for document_id, written in done.items():
            if written.state is not None:  # committed: the next write checks against it
                whole.written(document_id, written.version, written.state, written.whole)
        self.stats["batches"] += 1
        for target, waiting in batch:
            self.stats["updates"] += len(waiting)
            for (_, answer), result in zip(waiting, answers[target.id], strict=True):
                if not answer.done():
                    answer.set_result(result)
