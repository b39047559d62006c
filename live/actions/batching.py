"""Group commit for a storm: writes of one kind in one session (answers to polls, likes),
from the API and from browsers alike, share write transactions; one batcher per kind per
running Samla."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from weakref import WeakKeyDictionary

from sqlalchemy.ext.asyncio import AsyncSession

from live.services import Samla
from rooms.errors import Refused
from rooms.models import Outcome

log = logging.getLogger("samla.batching")

I = TypeVar("I")  # noqa: E741 (one item of a batch, as its kind's functions take it)
R = TypeVar("R")

# The most items one write transaction takes: a longer batch would hold the write lock
# (and delay a moderator's close) for longer than a tick.
BATCH_MAX = 200
# Items gather until just before their session's next update goes out (the hub sends at
# most one per tick), then commit together: a storm's items share one transaction per tick,
# and each shows on the screens at the first update after it arrived, as soon as if it had
# committed alone. The batch commits this long before that update…
COMMIT_LEAD = 0.01
# …and batches are this far apart at least, however soon the next update.
GATHER_MIN = 0.01


@dataclass(frozen=True)
class Kind(Generic[I, R]):
    """What a batcher commits. `many` stores a batch in one transaction, each item accepted
    or refused on its own and nothing written for a refused one; `one` stores one item alone,
    as it would be without batching, for the items of a batch that failed whole."""

    name: str  # as the log names the items: "answers", "likes of notes"
    many: Callable[[AsyncSession, str, list[I]], Awaitable[Outcome[list[R | Refused]]]]
    one: Callable[[AsyncSession, str, I], Awaitable[Outcome[R]]]


@dataclass(eq=False)
class _Waiting(Generic[I, R]):
    item: I
    done: asyncio.Future[R] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class Batcher(Generic[I, R]):
    """Group commit for one kind of write: items that arrive while a write of their session
    is under way share the next transaction, so the store commits once per batch rather than
    once per item. A lone item goes straight through; each item is still accepted or refused
    on its own, and none is acknowledged before its transaction has committed."""

    def __init__(self, samla: Samla, kind: Kind[I, R]) -> None:
        self.samla = samla
        self.kind = kind
        self._waiting: defaultdict[str, list[_Waiting[I, R]]] = defaultdict(list)
        self._draining: dict[str, asyncio.Task[None]] = {}
        self._last_commit: dict[str, float] = {}

    async def submit(self, session_id: str, item: I) -> R:
        """The item's verdict once its batch has committed: its value, or its refusal raised."""
        waiting = _Waiting[I, R](item)
        self._waiting[session_id].append(waiting)
        if session_id not in self._draining:
            self._draining[session_id] = asyncio.create_task(self._drain(session_id))
        return await waiting.done

    async def _drain(self, session_id: str) -> None:
        loop = asyncio.get_running_loop()
        hub = self.samla.hub
        try:
            while self._waiting.get(session_id):
                # An item after a quiet spell commits at once (its update goes out at once
                # too); in a storm, a batch waits for the next update, collecting.
                wait = max(
                    hub.next_flush(session_id) - COMMIT_LEAD,
                    self._last_commit.get(session_id, 0.0) + GATHER_MIN - loop.time(),
                )
                queue = self._waiting[session_id]
                if wait > 0 and len(queue) < BATCH_MAX:
                    await asyncio.sleep(wait)
                self._last_commit[session_id] = loop.time()
                batch, queue[:] = queue[:BATCH_MAX], queue[BATCH_MAX:]
                await self._commit(session_id, batch)
        finally:
            self._waiting.pop(session_id, None)
            del self._draining[session_id]
            if len(self._last_commit) > 1000:  # sessions that are long quiet
                now = loop.time()
                for sid, at in list(self._last_commit.items()):
                    if now - at > GATHER_MIN:
                        del self._last_commit[sid]

    async def _commit(self, session_id: str, batch: list[_Waiting[I, R]]) -> None:
        items = [w.item for w in batch]
        try:
            outcomes = await self.samla.change(lambda db: self.kind.many(db, session_id, items))
        except Refused as exc:  # the session closed: every item in it is refused alike
            for w in batch:
                _settle(w, exc)
            return
        except Exception:
            # A constraint lost a race with another instance, or worse: nothing of the batch
            # was committed; each item gets its own transaction and its own verdict.
            log.info("a batch of %d %s is retried one by one", len(batch), self.kind.name)
            for w in batch:
                await self._commit_one(session_id, w)
            return
        for w, outcome in zip(batch, outcomes, strict=True):
            _settle(w, outcome)

    async def _commit_one(self, session_id: str, w: _Waiting[I, R]) -> None:
        try:
            value = await self.samla.change(lambda db: self.kind.one(db, session_id, w.item))
        except Exception as exc:
            _settle(w, exc)
        else:
            _settle(w, value)


def _settle(w: _Waiting[Any, R], outcome: R | BaseException) -> None:
    if w.done.done():
        return  # the client went away; its item stands (or not) all the same
    if isinstance(outcome, BaseException):
        w.done.set_exception(outcome)
    else:
        w.done.set_result(outcome)


_batchers: WeakKeyDictionary[Samla, dict[Kind[Any, Any], Batcher[Any, Any]]] = WeakKeyDictionary()


async def submit(samla: Samla, kind: Kind[I, R], session_id: str, item: I) -> R:
    """Stores the item in its session's next batch of its kind, in the running Samla's one
    batcher for that kind (the API's items and the browsers' share it): its verdict."""
    of_samla = _batchers.setdefault(samla, {})
    found: Batcher[I, R] | None = of_samla.get(kind)
    if found is None:
        found = of_samla[kind] = Batcher(samla, kind)
    return await found.submit(session_id, item)
