"""The sessions feature's actions, the same over a socket and through the API."""

from __future__ import annotations

from typing import Any

from live.actions import Action

ACTIONS: tuple[Action[Any], ...] = ()
