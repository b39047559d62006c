"""Background jobs: small coroutines run every few seconds while Samla runs, listed in
`live/app.py`.

Each instance runs every job; a job must therefore be safe to run on several instances at
once (a conditional UPDATE that only one of them wins, a delete of what is expired)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial

from live.services import Samla
from rooms import breakout
from rooms.models import utcnow

log = logging.getLogger("samla.jobs")

Job = Callable[[Samla], Awaitable[object]]


@dataclass(frozen=True)
class Every:
    seconds: float
    name: str
    run: Job


async def _loop(job: Every, samla: Samla) -> None:
    while True:
        await asyncio.sleep(job.seconds)
        try:
            await job.run(samla)
        except Exception:
            log.exception("the %s job failed; it runs again in %.0f s", job.name, job.seconds)


@contextlib.asynccontextmanager
async def running(samla: Samla, jobs: Sequence[Every]) -> AsyncIterator[None]:
    """Runs each job every its `seconds` while the block runs."""
    tasks = [asyncio.create_task(_loop(job, samla), name=f"samla-{job.name}") for job in jobs]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def checkpoint(samla: Samla) -> None:
    """SQLite's write-ahead log goes back into the database in a reader's thread."""
    await samla.store.checkpoint()


# How often the round clock looks for rounds to warn or close: a round's end closes within this.
CLOCK_INTERVAL = 1.0


async def keep_time(samla: Samla) -> int:
    """The round clock: gives the one-minute warning and closes rounds whose end closes them,
    even when nobody writes anything (every write also closes an ended round first, so the
    clock is only the backstop). Returns how many rounds it touched."""
    async with samla.store.read() as db:
        due = await breakout.rounds_due(db, utcnow())
    for _, round_id in due:
        await samla.change(partial(breakout.keep_time, round_id=round_id))
    return len(due)
