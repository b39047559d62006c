"""What the hall's big screen shows: chosen by a moderator."""

from __future__ import annotations

from typing import Any

from live.actions import Action

ACTIONS: tuple[Action[Any], ...] = ()
