"""The public API's Q&A routes: questions, upvotes, moderation."""

from __future__ import annotations

from live.api.base import Endpoint

ENDPOINTS: list[Endpoint] = []
