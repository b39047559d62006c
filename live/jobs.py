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

from live.services import Samla

log = logging.getLogger("samla.jobs")

Job = Callable[[Samla], Awaitable[object]]


@dataclass(frozen=True)
class Every:
    seconds: float
    name: str
    run: Job


_jobs: list[Every] = []


def every(seconds: float, name: str) -> Callable[[Job], Job]:
    """Registers `fn(samla)` to run every `seconds` (the older way: `live/app.py` lists jobs)."""

    def register(fn: Job) -> Job:
        _jobs.append(Every(seconds, name, fn))
        return fn

    return register


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
