"""The refusals a domain action can give, each with a stable code and a sentence naming the fix."""

from __future__ import annotations

from typing import Literal

Code = Literal[
    "invalid",
    "unauthorized",
    "forbidden",
    "not_found",
    "conflict",
    "session_closed",
    "registration_closed",
    "poll_closed",
    "too_large",
    "rate_limited",
]


class Refused(Exception):
    """An action was refused; nothing was written."""

    def __init__(self, code: Code, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.code: Code = code
        self.message = message
        self.retry_after = retry_after


def invalid(message: str) -> Refused:
    return Refused("invalid", message)


def not_found(what: str) -> Refused:
    return Refused("not_found", f"No such {what}.")


def forbidden(message: str = "You may not do that here.") -> Refused:
    return Refused("forbidden", message)
