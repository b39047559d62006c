"""The API's reference as a page at /api: the OpenAPI document, rendered for people to read."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from live import auth
from live.api.base import Endpoint, openapi
from live.services import Samla
from live.templating import pick_language

_TYPES = {"string": "text", "integer": "integer", "number": "number", "boolean": "true/false"}
_LIMITS = (
    ("minLength", "at least {} characters"),
    ("maxLength", "at most {} characters"),
    ("minimum", "at least {}"),
    ("maximum", "at most {}"),
    ("minItems", "at least {} items"),
    ("maxItems", "at most {} items"),
)
_CODE = re.compile(r"`([^`]+)`")
_STRONG = re.compile(r"\*\*([^*]+)\*\*")


@dataclass(frozen=True)
class Row:
    name: str
    type: Markup
    required: bool
    about: Markup


@dataclass(frozen=True)
class Operation:
    id: str
    method: str
    path: str
    summary: str
    about: list[Markup]
    answers: list[tuple[str, str]]
    parameters: list[tuple[str, str, Markup, bool, Markup]]
    body_name: str | None
    body: list[Row]


@dataclass(frozen=True)
class Group:
    tag: str
    operations: list[Operation]


def prose(text: str) -> list[Markup]:
    """The document's text as paragraphs, its `code` and **bold** marked up (escaped first)."""
    out = []
    for para in re.split(r"\n\s*\n", text.strip()):
        html = str(escape(" ".join(para.split())))
        html = _STRONG.sub(r"<strong>\1</strong>", _CODE.sub(r"<code>\1</code>", html))
        out.append(Markup(html))  # noqa: S704 (escaped above; our own text)
    return out if text.strip() else []


def type_of(schema: dict[str, Any]) -> Markup:
    """A schema as a short phrase: `list of AttributeBody`, `text or null`."""
    if "$ref" in schema:
        name = schema["$ref"].rpartition("/")[2]
        return Markup('<a href="#schema-{0}">{0}</a>').format(name)
    either = schema.get("anyOf") or schema.get("oneOf")
    if either:
        return Markup(" or ").join(type_of(s) for s in either)
    if "enum" in schema:
        return Markup("one of ") + Markup(", ").join(
            Markup("<code>{}</code>").format(v) for v in schema["enum"]
        )
    kind = schema.get("type")
    if kind == "array":
        return Markup("list of ") + type_of(schema.get("items", {}))
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return Markup("object of text to ") + type_of(schema["additionalProperties"])
    if isinstance(kind, list):
        return Markup(" or ").join(escape(_TYPES.get(k, k)) for k in kind)
    shown = escape(_TYPES.get(kind, kind) if isinstance(kind, str) else "any")
    limits = [text.format(schema[key]) for key, text in _LIMITS if key in schema]
    return shown + (Markup(" (") + ", ".join(limits) + ")" if limits else Markup(""))


def rows(schema: dict[str, Any], schemas: dict[str, Any]) -> list[Row]:
    """An object's fields (following a reference to a named schema)."""
    if "$ref" in schema:
        schema = schemas.get(schema["$ref"].rpartition("/")[2], {})
    required = set(schema.get("required", []))
    out = []
    for name, field in schema.get("properties", {}).items():
        about = Markup(" ").join(prose(str(field.get("description", ""))))
        out.append(Row(name, type_of(field), name in required, about))
        # An object written out in place: its fields follow, named `outer.inner`.
        out += [
            Row(f"{name}.{inner.name}", inner.type, inner.required, inner.about)
            for inner in (rows(field, schemas) if "properties" in field else [])
        ]
    return out


def _operation(method: str, path: str, op: dict[str, Any], schemas: dict[str, Any]) -> Operation:
    body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
    body_name = None
    if body is not None:
        body_name = body["$ref"].rpartition("/")[2] if "$ref" in body else "object"
    return Operation(
        op.get("operationId", f"{method}-{path}"),
        method.upper(),
        path,
        op.get("summary", ""),
        prose(op.get("description", "")),
        [(status, answer.get("description", "")) for status, answer in op["responses"].items()],
        [
            (
                p["name"],
                p["in"],
                type_of(p.get("schema", {})),
                bool(p.get("required")),
                Markup(" ").join(prose(p.get("description", ""))),
            )
            for p in op.get("parameters", [])
        ],
        body_name,
        rows(body, schemas) if body is not None else [],
    )


def reference(document: dict[str, Any]) -> dict[str, Any]:
    """What the page shows: the operations by tag, then every named schema."""
    schemas = document["components"]["schemas"]
    groups: dict[str, list[Operation]] = {}
    for path, methods in document["paths"].items():
        for method, op in methods.items():
            tag = (op.get("tags") or ["other"])[0]
            groups.setdefault(tag, []).append(_operation(method, path, op, schemas))
    return {
        "info": document["info"],
        "intro": prose(document["info"].get("description", "")),
        "groups": [Group(tag, ops) for tag, ops in groups.items()],
        "schemas": [
            (name, prose(str(schema.get("description", ""))), rows(schema, schemas))
            for name, schema in schemas.items()
        ],
    }


def api_page(document: Callable[[], dict[str, Any]]) -> Callable[[Request], Any]:
    """The page, rendered once from the document the API serves."""
    shown: dict[str, Any] = {}

    async def serve(request: Request) -> Response:
        if not shown:
            shown.update(reference(document()))
        samla: Samla = request.app.state.samla
        lang = pick_language(
            request.headers.get("accept-language"), auth.cookie(request).get("lang")
        )
        html = samla.templates.render(
            "api.html", lang, request=request, csrf=auth.csrf_token(request), **shown
        )
        return HTMLResponse(html)

    return serve


def routes(endpoints: list[Endpoint]) -> list[BaseRoute]:
    """GET /api: the same document as /api/v1/openapi.json, for people."""
    return [Route("/api", api_page(lambda: openapi(endpoints)), name="api_page")]
