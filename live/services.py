"""The running instance's parts in one place, and the one place that commits and publishes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from live.hub import Hub
from live.ratelimit import Limiter
from live.settings import Settings
from live.store import Store
from live.templating import Templates
from rooms.models import Outcome
from rooms.sessions import bump_version

if TYPE_CHECKING:
    from live.actions import Action

T = TypeVar("T")


@dataclass(eq=False)
class Samla:
    settings: Settings
    store: Store
    hub: Hub
    templates: Templates
    limiter: Limiter
    # Every action by its type, for the sockets (the API's endpoints name theirs).
    actions: Mapping[str, Action[Any]] = field(default_factory=dict)

    async def change(self, action: Callable[[AsyncSession], Awaitable[Outcome[T]]]) -> T:
        """Runs a domain action in one write transaction, commits, then tells everyone.

        The version rises with the change in the same transaction, and nothing is
        published before the commit: what a screen shows was stored first."""
        async with self.store.write() as db:
            outcome = await action(db)
            steps = len(outcome.events)
            if steps:
                last = await bump_version(db, outcome.session_id, steps)
        if steps:
            self.hub.publish(outcome.session_id, last - steps + 1, outcome.events)
        return outcome.value
