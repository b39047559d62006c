"""The public API's sign-in, session, join and participant routes."""

from __future__ import annotations

from live.api.base import Endpoint

ENDPOINTS: list[Endpoint] = []
