"""The API's error shape: a status, a stable code, and a sentence that names the fix."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from rooms.errors import Code, Refused

STATUS: dict[Code, int] = {
    "invalid": 422,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "conflict": 409,
    "session_closed": 409,
    "registration_closed": 409,
    "poll_closed": 409,
    "too_large": 413,
    "rate_limited": 429,
}
# The largest JSON body the API reads; every field limit fits well inside it.
BODY_MAX = 64 * 1024


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def refusal_response(exc: Refused) -> JSONResponse:
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else None
    return JSONResponse(error_body(exc.code, exc.message), STATUS[exc.code], headers=headers)


async def read_json(request: Request) -> dict[str, Any]:
    """The request's JSON object, or a refusal saying what is wrong with it."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > BODY_MAX:
        raise Refused("too_large", f"The request body is over {BODY_MAX // 1024} KB.")
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > BODY_MAX:
            raise Refused("too_large", f"The request body is over {BODY_MAX // 1024} KB.")
    if not raw.strip():
        return {}
    return parse_object(raw, "The request body")


# Samla's deepest body is a poll's scale inside the body (three levels); 32 leaves room
# for any integration's wrapping and is far from Python's recursion limit (about 1,000).
DEPTH_MAX = 32
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def parse_object(raw: bytes | str, what: str) -> dict[str, Any]:
    """A JSON object from a body or a socket message: nested at most DEPTH_MAX deep, numbers
    finite, every text valid Unicode (JSON's \\u escapes can name half a surrogate pair,
    which no store or page can hold). Anything else is a refusal naming what is wrong."""
    try:
        body = json.loads(raw, parse_constant=_no_constant, parse_float=_finite)
    except RecursionError:
        raise Refused("invalid", f"{what} is nested too deeply.") from None
    except (ValueError, UnicodeDecodeError):
        raise Refused("invalid", f"{what} is not valid JSON.") from None
    if not isinstance(body, dict):
        raise Refused("invalid", f"{what} must be a JSON object.")
    _check_values(body, what)
    return body


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is too large")
    return value


def _check_values(body: dict[str, Any], what: str) -> None:
    """Walks the parsed body without recursion: its depth, and its texts (keys too)."""
    stack: list[tuple[Any, str, int]] = [(body, "", 1)]
    while stack:
        value, path, depth = stack.pop()
        if depth > DEPTH_MAX:
            raise Refused("invalid", f"{what} is nested more than {DEPTH_MAX} levels deep.")
        if isinstance(value, str):
            if _SURROGATE.search(value):
                field = path or "a text"
                raise Refused(
                    "invalid", f"{field} contains half a surrogate pair; send valid Unicode text."
                )
        elif isinstance(value, dict):
            for key, item in value.items():
                named = f"{path}.{_shown(key)}" if path else _shown(key)
                if _SURROGATE.search(key):
                    raise Refused(
                        "invalid", f"The key {named} is half a surrogate pair; send valid Unicode."
                    )
                stack.append((item, named, depth + 1))
        elif isinstance(value, list):
            stack.extend((item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value))


def _shown(key: str) -> str:
    """A key as a refusal can name it: short, and printable whatever it holds."""
    return key[:40].encode("ascii", "backslashreplace").decode("ascii")
