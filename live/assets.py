"""Static files, fingerprinted: read and compressed once at start, served from memory.

A page links `static_url("samla.css")`, which is `/static/samla.css?v=<hash>`: the hash of
the file as it was at start, so that address never changes its content and a browser keeps
it for a year without asking again. The plain address (`/static/samla.css`), or one with a
stale hash, still works, cached only briefly. Each file is gzipped once here, not per
request: a hall of a thousand phones joining at once costs no compression at all.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from starlette.datastructures import Headers
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES
from starlette.responses import PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

STATIC = Path(__file__).resolve().parent.parent / "static"
MODERATOR = "moderator"  # in SCREEN_FILES: any page a moderator sees
# A fingerprinted address names one content forever.
IMMUTABLE = "public, max-age=31536000, immutable"
# A plain address may change with the next release: kept a few minutes, then revalidated.
SHORT = "public, max-age=300, must-revalidate"
# Eight bytes of SHA-256 tell a few hundred files apart with room to spare.
HASH_CHARS = 16
# Below this, gzip's header costs more than it saves.
COMPRESS_FROM = 256
# Types that are compressed already (an image, a font) are sent as they are.
COMPRESSIBLE = ("text/", "application/javascript", "image/svg+xml", "application/json")
# Pages are rendered per request: a middle level, nearly as small as 9 at a third of the work.
PAGE_GZIP_LEVEL = 6
# Responses never gzipped on the way out: those compressed already (Word and Excel files are
# zip archives) and streams that must flush each event as it happens.
NOT_GZIPPED = (
    *DEFAULT_EXCLUDED_CONTENT_TYPES,
    "application/pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
)


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes | None
    digest: str
    media_type: str

    @property
    def etag(self) -> str:
        return f'"{self.digest}"'


def _media_type(path: Path) -> str:
    guessed = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if guessed == "text/javascript":
        guessed = "application/javascript"
    return f"{guessed}; charset=utf-8" if guessed.startswith("text/") else guessed


def _asset(path: Path) -> Asset:
    body = path.read_bytes()
    media_type = _media_type(path)
    gzipped = None
    if len(body) >= COMPRESS_FROM and media_type.startswith(COMPRESSIBLE):
        # mtime=0: the same file compresses to the same bytes on every instance.
        packed = gzip.compress(body, compresslevel=9, mtime=0)
        gzipped = packed if len(packed) < len(body) else None
    digest = hashlib.sha256(body).hexdigest()[:HASH_CHARS]
    return Asset(body, gzipped, digest, media_type)


@cache
def manifest(directory: Path = STATIC) -> dict[str, Asset]:
    """Every file under `directory` by its relative path ("vendor/htmx-2.0.11.min.js"),
    read once per process: the addresses pages link stay valid for as long as it runs."""
    found = {}
    for path in sorted(directory.rglob("*")):
        if path.is_file() and not any(
            part.startswith(".") for part in path.relative_to(directory).parts
        ):
            found[path.relative_to(directory).as_posix()] = _asset(path)
    return found


# A screen's own files (static/<name>.css and .js) load only on the pages that show it, named
# by their body class, and for a moderator (who may open any of them); every other file, a
# feature's, loads everywhere. A participant's phone never downloads the console.
SCREEN_FILES: dict[str, frozenset[str]] = {
    "phone": frozenset({"phone"}),
    "console": frozenset({"console-page", MODERATOR}),
    "stage": frozenset({"stage-page", "console-page", MODERATOR}),
    "organiser": frozenset({"organiser"}),
    "registrations": frozenset({"registrations-page"}),
    "report-editor": frozenset({"report-editor-page", "report-page"}),
}


class StaticUrls:
    """The templates' `static_url`: `static_url("samla.css")` is the fingerprinted address;
    `static_url.for_page(names, page, moderator)` the files of `names` that page loads."""

    def __call__(self, name: str) -> str:
        """A name that is not there fails loudly: a typo is found by the first render."""
        asset = manifest().get(name)
        if asset is None:
            raise LookupError(f"static/{name} does not exist (static_url in a template)")
        return f"/static/{name}?v={asset.digest}"

    def for_page(self, names: Iterable[str], page: str, moderator: bool = False) -> list[str]:
        here = {page.strip(), MODERATOR} if moderator else {page.strip()}
        return [name for name in names if SCREEN_FILES.get(name.rsplit(".", 1)[0], here) & here]


static_url = StaticUrls()


def accepts_gzip(headers: Headers) -> bool:
    """Whether the request's Accept-Encoding takes gzip (by name, else by `*`), q above 0."""
    weights: dict[str, float] = {}
    for part in headers.get("accept-encoding", "").split(","):
        coding, _, params = part.strip().partition(";")
        q = params.replace(" ", "").removeprefix("q=") if params else "1"
        try:
            weights[coding.strip().lower()] = float(q)
        except ValueError:
            continue
    return weights.get("gzip", weights.get("*", 0.0)) > 0


class StaticAssets:
    """The /static mount: GET and HEAD of the files in the manifest, with an ETag, gzip when
    the browser takes it, and a year's cache for a fingerprinted address."""

    def __init__(self, directory: Path = STATIC) -> None:
        self.directory = directory

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        response = self.respond(scope)
        await response(scope, receive, send)

    def respond(self, scope: Scope) -> Response:
        if scope["method"] not in ("GET", "HEAD"):
            return PlainTextResponse("Method Not Allowed", 405, headers={"Allow": "GET, HEAD"})
        name = scope["path"][len(scope.get("root_path", "")) :].lstrip("/")
        asset = manifest(self.directory).get(name)
        if asset is None:
            return PlainTextResponse("Not Found", 404)
        version = _query_value(scope.get("query_string", b""), b"v")
        headers = Headers(scope=scope)
        out = {
            "Cache-Control": IMMUTABLE if version == asset.digest else SHORT,
            "ETag": asset.etag,
            "Vary": "Accept-Encoding",
        }
        if asset.etag in headers.get("if-none-match", ""):
            return Response(status_code=304, headers=out)
        body = asset.body
        if asset.gzipped is not None and accepts_gzip(headers):
            body = asset.gzipped
            out["Content-Encoding"] = "gzip"
        if scope["method"] == "HEAD":
            out["Content-Length"] = str(len(body))
            return Response(None, media_type=asset.media_type, headers=out)
        return Response(body, media_type=asset.media_type, headers=out)


def _query_value(query: bytes, key: bytes) -> str | None:
    for pair in query.split(b"&"):
        k, _, v = pair.partition(b"=")
        if k == key:
            return v.decode("latin-1")
    return None
