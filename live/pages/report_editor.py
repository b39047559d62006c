"""The event report's editor (for the event's organisers) and its published page (public)."""

from __future__ import annotations

from starlette.routing import BaseRoute


def routes() -> list[BaseRoute]:
    return []
