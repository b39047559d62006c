"""The API's error shape: a status, a stable code, and a sentence that names the fix."""

from __future__ import annotations

import json
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
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise Refused("invalid", "The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise Refused("invalid", "The request body must be a JSON object.")
    return body
