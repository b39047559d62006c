"""A browser without a browser: joins through the HTML forms and opens the page's socket."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import websockets

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
HERE = re.compile(r'data-here="(\d+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page has no CSRF token"
    return found.group(1)


async def join_by_form(client: httpx.AsyncClient, code: str, name: str = "") -> str:
    """Joins as a person would; returns the session page's HTML."""
    page = await client.get(f"/j/{code}")
    assert page.status_code == 200, page.text
    r = await client.post(
        f"/j/{code}", data={"csrf": csrf_of(page.text), "name": name}, follow_redirects=True
    )
    assert r.status_code == 200, r.text
    return r.text


class PageSocket:
    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.frames: list[str] = []

    async def next(self, timeout: float = 5.0) -> str:
        frame = await asyncio.wait_for(self.ws.recv(), timeout)
        self.frames.append(frame)
        return str(frame)

    async def until(self, needle: str, timeout: float = 5.0) -> str:
        """The first frame (already seen or coming) that contains `needle`."""
        for frame in self.frames:
            if needle in frame:
                return frame
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            left = deadline - loop.time()
            if left <= 0:
                raise AssertionError(f"no frame with {needle!r}")
            frame = await self.next(left)
            if needle in frame:
                return frame

    async def here(self, expected: int, timeout: float = 5.0) -> None:
        """Waits until the socket has shown `expected` people here."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        seen = [int(m) for f in self.frames for m in HERE.findall(f)]
        while not seen or seen[-1] != expected:
            left = deadline - loop.time()
            if left <= 0:
                raise AssertionError(f"expected {expected} here, saw {seen[-5:]}")
            seen += [int(m) for m in HERE.findall(await self.next(left))]


@asynccontextmanager
async def page_socket(
    base: str, client: httpx.AsyncClient, path: str, origin: str | None = None
) -> AsyncIterator[PageSocket]:
    cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    headers = {"Cookie": cookie, "Origin": origin or base}
    url = base.replace("http://", "ws://") + path
    async with websockets.connect(url, additional_headers=headers, compression=None) as ws:
        yield PageSocket(ws)
