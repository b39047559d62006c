"""The stage's API: what the hall's big screen shows, and its read-only link."""

from __future__ import annotations

from live.api.base import Endpoint

ENDPOINTS: list[Endpoint] = []
