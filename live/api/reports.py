"""The public API's event report: the editor's draft, publishing and withdrawing it."""

from __future__ import annotations

from live.api.base import Endpoint

ENDPOINTS: list[Endpoint] = []
