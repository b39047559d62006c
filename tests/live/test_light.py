"""Light and quick, over HTTP: gzip on pages and JSON (never on sockets), fingerprinted static
files cached for a year, plain addresses that keep working with a short cache."""

from __future__ import annotations

import gzip
import io
import re
import zipfile

import httpx
import pytest
from starlette.datastructures import Headers

from live import assets
from tests.conftest import ORGANISER_EMAIL, ORGANISER_PASSWORD, Api, Served
from tests.live.pages import csrf_of, join_by_form, page_socket
from tests.live.test_archive_api import filled

STATIC_REF = re.compile(r'(?:href|src)="(/static/[^"]*)"')
GZIP = {"Accept-Encoding": "gzip"}
PLAIN = {"Accept-Encoding": "identity"}


def raw_client(served: Served) -> httpx.AsyncClient:
    """A client that shows the bytes as they travel: httpx would inflate them silently."""
    return httpx.AsyncClient(base_url=served.base, timeout=30)


async def wire_body(client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> bytes:
    async with client.stream("GET", url, headers=headers) as r:
        return b"".join([chunk async for chunk in r.aiter_raw()])


async def test_every_static_address_on_a_page_is_fingerprinted_and_kept_for_a_year(
    served: Served, api: Api
) -> None:
    session = await api.make_session("Lätt och snabb")
    async with raw_client(served) as client:
        html = (await client.get(f"/j/{session['code']}")).text
        refs = STATIC_REF.findall(html)
        assert len(refs) >= 4  # the stylesheet, htmx, its ws extension, idiomorph
        for ref in refs:
            assert re.fullmatch(r"/static/[\w./-]+\?v=[0-9a-f]{16}", ref), ref
            r = await client.get(ref)
            assert r.status_code == 200, ref
            assert r.headers["cache-control"] == "public, max-age=31536000, immutable", ref
            name = ref.split("?")[0].removeprefix("/static/")
            assert r.content == (assets.STATIC / name).read_bytes()


async def test_a_plain_or_stale_static_address_still_works_with_a_short_cache(
    served: Served,
) -> None:
    async with raw_client(served) as client:
        for url in ("/static/samla.css", "/static/samla.css?v=0123456789abcdef"):
            r = await client.get(url)
            assert r.status_code == 200
            assert r.headers["cache-control"] == assets.SHORT
            assert r.headers["content-type"] == "text/css; charset=utf-8"
        js = await client.get("/static/vendor/htmx-2.0.11.min.js")
        assert js.status_code == 200 and js.headers["content-type"] == "application/javascript"
        # A browser revalidating the plain address is told nothing changed, in no bytes.
        again = await client.get("/static/samla.css", headers={"If-None-Match": r.headers["etag"]})
        assert again.status_code == 304 and again.content == b""
        assert (await client.get("/static/nothing-here.css")).status_code == 404
        assert (await client.get("/static/../pyproject.toml")).status_code == 404
        assert (await client.post("/static/samla.css")).status_code == 405
        head = await client.head(assets.static_url("samla.css"), headers=GZIP)
        assert head.status_code == 200 and head.content == b""
        assert head.headers["content-encoding"] == "gzip"


async def test_static_files_travel_gzipped_to_a_browser_that_takes_gzip(served: Served) -> None:
    url = assets.static_url("vendor/htmx-2.0.11.min.js")
    on_disk = (assets.STATIC / "vendor/htmx-2.0.11.min.js").read_bytes()
    async with raw_client(served) as client:
        packed = await wire_body(client, url, GZIP)
        plain = await wire_body(client, url, PLAIN)
        r = await client.get(url, headers=GZIP)
    assert r.headers["content-encoding"] == "gzip"
    assert "accept-encoding" in r.headers["vary"].lower()
    assert gzip.decompress(packed) == on_disk and plain == on_disk
    assert len(packed) < len(on_disk) / 2


async def test_pages_are_gzipped_and_keep_their_security_headers(served: Served, api: Api) -> None:
    session = await api.make_session("Komprimerad")
    async with raw_client(served) as client:
        r = await client.get(f"/j/{session['code']}", headers=GZIP)
        packed = await wire_body(client, f"/j/{session['code']}", GZIP)
        plain = await client.get(f"/j/{session['code']}", headers=PLAIN)
    assert r.status_code == 200 and r.headers["content-encoding"] == "gzip"
    assert "content-security-policy" in r.headers and r.headers["x-frame-options"] == "DENY"
    assert "content-encoding" not in plain.headers
    assert b"<!doctype html>" in gzip.decompress(packed)


async def test_the_page_socket_is_never_compressed_and_still_delivers(
    served: Served, api: Api
) -> None:
    session = await api.make_session("Uttag")
    async with raw_client(served) as client:
        html = await join_by_form(client, session["code"], "Ada")
        sid = re.search(r'/s/([^/"]+)/ws', html)
        assert sid is not None
        async with page_socket(served.base, client, f"/s/{sid[1]}/ws") as ws:
            first = await ws.next(timeout=10)
            assert "hx-swap-oob" in first or first  # a snapshot or its marker arrives
            extensions = ws.ws.response.headers.get("Sec-WebSocket-Extensions")
            assert extensions is None


async def signed_in(client: httpx.AsyncClient, api: Api) -> None:
    """The organiser's browser session, signed in through the form."""
    await api.organiser_token()
    form = await client.get("/login")
    r = await client.post(
        "/login",
        data={"csrf": csrf_of(form.text), "email": ORGANISER_EMAIL, "password": ORGANISER_PASSWORD},
    )
    assert r.status_code == 303, r.text


async def test_archive_downloads_arrive_whole_gzipped_or_not(served: Served, api: Api) -> None:
    session = (await filled(api))["session"]
    url = f"/s/{session['id']}/archive"
    async with raw_client(served) as client:
        await signed_in(client, api)
        zipped = await client.get(f"{url}?format=zip", headers=GZIP)
        assert zipped.status_code == 200, zipped.text
        assert "content-encoding" not in zipped.headers  # a zip is compressed already
        names = zipfile.ZipFile(io.BytesIO(zipped.content)).namelist()
        assert any(name.endswith(".html") for name in names)
        for fmt in ("docx", "xlsx"):
            office = await client.get(f"{url}?format={fmt}", headers=GZIP)
            assert office.status_code == 200 and "content-encoding" not in office.headers
            assert zipfile.ZipFile(io.BytesIO(office.content)).testzip() is None
        packed = await wire_body(client, f"{url}?format=html", GZIP)
        report = gzip.decompress(packed).decode()
        assert report.startswith("<!doctype html>") and report.rstrip().endswith("</html>")
        data = await client.get(f"{url}?format=json", headers=GZIP)
        assert data.headers["content-encoding"] == "gzip"
        assert data.headers["cache-control"] == "private, no-store"
        assert data.json()["session"]["title"] == "Samverkansforum 2026"
    # A bearer client's download takes the API's direct way, whole.
    r = await api.call(
        "GET", f"/api/v1/sessions/{session['id']}/archive", session["moderator_token"]
    )
    assert r.status_code == 200 and zipfile.ZipFile(io.BytesIO(r.content)).testzip() is None
    assert "content-encoding" not in r.headers
    # Its JSON archive comes compressed, like the pages; a small answer as it is.
    async with raw_client(served) as client:
        auth = {"Authorization": f"Bearer {session['moderator_token']}", **GZIP}
        big = await client.get(
            f"/api/v1/sessions/{session['id']}/archive?format=json", headers=auth
        )
        assert big.status_code == 200 and big.headers["content-encoding"] == "gzip"
        assert big.json()["session"]["title"] == "Samverkansforum 2026"
        small = await client.get(f"/api/v1/sessions/{session['id']}", headers=auth)
        assert small.status_code == 200


@pytest.mark.parametrize(
    "header", ["gzip;q=0", "br", "", "identity, gzip;q=0.0", "*;q=0", "gzip;q=nonsense"]
)
def test_a_client_that_refuses_gzip_gets_none(header: str) -> None:
    assert not assets.accepts_gzip(Headers({"accept-encoding": header}))


@pytest.mark.parametrize(
    "header", ["gzip", "gzip, deflate, br, zstd", "br;q=1, gzip;q=0.5", "*", "*;q=0, gzip"]
)
def test_a_client_that_takes_gzip_gets_it(header: str) -> None:
    assert assets.accepts_gzip(Headers({"accept-encoding": header}))


def test_a_static_name_that_does_not_exist_fails_loudly() -> None:
    with pytest.raises(LookupError, match=r"static/nope\.css"):
        assets.static_url("nope.css")


async def test_each_screen_loads_its_own_files_and_no_other_screens(
    served: Served, api: Api
) -> None:
    session = await api.make_session("Var sak på sin plats")
    async with raw_client(served) as client:
        phone = await join_by_form(client, session["code"], "Ada")
    async with raw_client(served) as client:
        moderate = f"/s/{session['id']}/moderate?key={session['moderator_token']}"
        console = (await client.get(moderate, follow_redirects=True)).text
        stage = (await client.get(session["stage_url"], follow_redirects=True)).text

    def names(html: str) -> set[str]:
        return {ref.split("?")[0].removeprefix("/static/") for ref in STATIC_REF.findall(html)}

    assert {"phone.css", "phone.js", "boards.css", "live.js"} <= names(phone)
    assert not names(phone) & {"console.css", "console.js", "stage.css", "stage.js"}
    assert {"console.css", "console.js", "stage.css", "stage.js"} <= names(console)
    assert "phone.css" not in names(console)
    assert {"stage.css", "stage.js"} <= names(stage)
    assert not names(stage) & {"console.css", "console.js", "phone.css", "phone.js"}


def test_a_screens_own_files_load_only_where_it_is_shown() -> None:
    names = ["boards.css", "console.css", "phone.css", "stage.css", "organiser.css"]
    for_page = assets.static_url.for_page
    assert for_page(names, "phone") == ["boards.css", "phone.css"]
    assert for_page(names, "") == ["boards.css"]  # the join page: what every page shares
    assert for_page(names, "console-page") == ["boards.css", "console.css", "stage.css"]
    assert for_page(names, "stage-page") == ["boards.css", "stage.css"]
    assert for_page(names, "organiser") == ["boards.css", "organiser.css"]
    # A moderator's other live pages (a room seen live) keep the console's confirmations.
    assert for_page(names, "", moderator=True) == ["boards.css", "console.css", "stage.css"]
