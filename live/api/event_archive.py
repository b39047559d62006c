"""The public API's event archive: one report across an event's sessions, in every format."""

from __future__ import annotations

from live.api.base import Endpoint

ENDPOINTS: list[Endpoint] = []
