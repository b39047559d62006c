"""Group commit for a vote storm: the answers of one session, from the API and from browsers
alike, share write transactions; one batcher per running Samla."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any
from weakref import WeakKeyDictionary

from live.services import Samla
from rooms import polls
from rooms.errors import Refused

log = logging.getLogger("samla.polls")

# The most answers one write transaction takes: a longer batch would hold the write lock
# (and delay a moderator's close) for longer than a tick.
BATCH_MAX = 200
# Answers gather until just before their session's next update goes out (the hub sends
# at most one per tick), then commit together: a storm's answers share one transaction
# per tick, and each shows on the screens at the first update after it arrived, as soon as
# if it had committed alone. The batch commits this long before that update…
COMMIT_LEAD = 0.01
# …and batches are this far apart at least, however soon the next update.
GATHER_MIN = 0.01


@dataclass(eq=False)
class _Waiting:
    poll_id: str
    participant_id: str
    answer: dict[str, Any]
    done: asyncio.Future[polls.Voted] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class VoteBatcher:
    """Group commit for a vote storm: answers that arrive while a write is under way share
    the next transaction, so the store commits once per batch rather than once per answer.
    A lone answer goes straight through; each answer is still accepted or refused on its own,
    and none is acknowledged before its transaction has committed."""

    def __init__(self, samla: Samla) -> None:
        self.samla = samla
        self._waiting: defaultdict[str, list[_Waiting]] = defaultdict(list)
        self._draining: dict[str, asyncio.Task[None]] = {}
        self._last_commit: dict[str, float] = {}

    async def vote(
        self, session_id: str, poll_id: str, participant_id: str, answer: dict[str, Any]
    ) -> polls.Voted:
        waiting = _Waiting(poll_id, participant_id, answer)
        self._waiting[session_id].append(waiting)
        if session_id not in self._draining:
            self._draining[session_id] = asyncio.create_task(self._drain(session_id))
        return await waiting.done

    async def _drain(self, session_id: str) -> None:
        loop = asyncio.get_running_loop()
        hub = self.samla.hub
        try:
            while self._waiting.get(session_id):
                # An answer after a quiet spell commits at once (its update goes out at
                # once too); in a storm, a batch waits for the next update, collecting.
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

    async def _commit(self, session_id: str, batch: list[_Waiting]) -> None:
        items = [(w.poll_id, w.participant_id, w.answer) for w in batch]
        try:
            outcomes = await self.samla.change(lambda db: polls.vote_many(db, session_id, items))
        except Refused as exc:  # the session closed: every answer in it is refused alike
            for w in batch:
                _settle(w, exc)
            return
        except Exception:
            # A constraint lost a race with another instance, or worse: nothing of the batch
            # was committed; each answer gets its own transaction and its own verdict.
            log.info("a batch of %d answers is retried one by one", len(batch))
            for w in batch:
                await self._commit_one(session_id, w)
            return
        for w, outcome in zip(batch, outcomes, strict=True):
            _settle(w, outcome)

    async def _commit_one(self, session_id: str, w: _Waiting) -> None:
        try:
            voted = await self.samla.change(
                lambda db: polls.vote(
                    db, w.poll_id, w.participant_id, w.answer, in_session=session_id
                )
            )
        except Exception as exc:
            _settle(w, exc)
        else:
            _settle(w, voted)


def _settle(w: _Waiting, outcome: polls.Voted | BaseException) -> None:
    if w.done.done():
        return  # the client went away; its answer stands (or not) all the same
    if isinstance(outcome, BaseException):
        w.done.set_exception(outcome)
    else:
        w.done.set_result(outcome)


_batchers: WeakKeyDictionary[Samla, VoteBatcher] = WeakKeyDictionary()


def batcher_for(samla: Samla) -> VoteBatcher:
    """The running Samla's one batcher: the API's answers and the browsers' share it."""
    found = _batchers.get(samla)
    if found is None:
        found = _batchers[samla] = VoteBatcher(samla)
    return found
