"""Samla's HTTP protocol under uvicorn: uvicorn's own (httptools), with a deadline for every
request's headers, a bound on the connections one address may have still sending them, and a
bounded kernel send buffer on every socket Samla accepts.

uvicorn waits for a request's headers as long as the client likes: 300 clients that send
theirs a byte at a time (slowloris) hold 300 connections, and once the process's file limit is
reached no one else gets in. A client now has `header_timeout` seconds to send them, from
connecting (or from the first byte of its next request on a kept-alive connection). The
per-address bound counts only connections still without their headers after `header_grace`
seconds: a hall of 500 people behind one address keeps 500 sockets open and may open a
hundred at once on a busy instance, but a browser's headers arrive in one packet, so almost
none of them is ever counted; a slowloris client's all are."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
from collections import Counter
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from live.errors import error_body
from live.settings import Settings

# SO_LINGER on, zero seconds: closing the socket resets the connection at once.
_RESET_ON_CLOSE = struct.pack("ii", 1, 0)


def bound_send_buffer(transport: asyncio.BaseTransport, size: int) -> None:
    """Caps what the kernel holds unsent for this socket. Left alone, Linux grows it to
    4 MiB for a client that stops reading; a few hundred KiB still fill a fast link."""
    sock = transport.get_extra_info("socket")
    if sock is not None and size > 0:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)


def reset(transport: asyncio.Transport) -> None:
    """Ends a connection at once with a reset: what the kernel still holds for the client is
    dropped with it, where a plain close keeps socket and data until the client reads."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET_ON_CLOSE)
    transport.abort()


def refusal(status: int, reason: str, code: str, message: str, *extra: str) -> bytes:
    """A whole HTTP response in the API's error shape, closing the connection."""
    body = json.dumps(error_body(code, message)).encode()
    head = [
        f"HTTP/1.1 {status} {reason}",
        "content-type: application/json",
        f"content-length: {len(body)}",
        "connection: close",
        *extra,
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


TOO_MANY_WAITING = refusal(
    429,
    "Too Many Requests",
    "rate_limited",
    "Too many connections from your network are still sending their request; "
    "try again in a moment.",
    "retry-after: 1",
)
TOO_SLOW = refusal(
    408,
    "Request Timeout",
    "timeout",
    "Your request's headers took too long to arrive; please send it again.",
)


class GuardedHttp(HttpToolsProtocol):
    """uvicorn's httptools protocol with a header deadline and a per-address bound on
    connections that are slow to send their headers (see `http_for`)."""

    header_timeout: ClassVar[float] = Settings.header_timeout
    header_grace: ClassVar[float] = Settings.header_grace
    handshakes_per_address: ClassVar[int] = Settings.handshakes_per_address
    send_buffer: ClassVar[int] = Settings.socket_send_buffer
    # Connections per client address past their grace and still without headers; one
    # counter per server (each `http_for` class has its own).
    handshaking: ClassVar[Counter[str]] = Counter()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None
        self._grace_timer: asyncio.TimerHandle | None = None
        self._counted: str | None = None  # the address this connection is counted under

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        bound_send_buffer(transport, self.send_buffer)
        self._expect_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        self._headers_arrived()
        super().connection_lost(exc)

    def handle_websocket_upgrade(self) -> None:
        super().handle_websocket_upgrade()
        # The socket is the WebSocket protocol's now, and this one is done. Its parser calls
        # back into it: a cycle that only a full collection would free (and Samla runs those
        # in quiet spells, live/collector.py), holding the request's scope for each socket.
        del self.parser

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._expect_headers()  # the next request on a kept-alive connection

    def on_headers_complete(self) -> None:
        self._headers_arrived()
        super().on_headers_complete()

    def _expect_headers(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout, self._too_slow)
            grace = min(self.header_grace, self.header_timeout)
            self._grace_timer = self.loop.call_later(grace, self._slow)

    def _headers_arrived(self) -> None:
        for timer in (self._header_timer, self._grace_timer):
            if timer is not None:
                timer.cancel()
        self._header_timer = self._grace_timer = None
        if self._counted is not None:
            self.handshaking[self._counted] -= 1
            if self.handshaking[self._counted] <= 0:
                del self.handshaking[self._counted]
            self._counted = None

    def _slow(self) -> None:
        """Past its grace without headers: counted against its address, or, past the bound,
        refused at once. Data that has arrived is read before timers run, so a connection
        whose headers were merely waiting for a busy loop is never taken for a slow one."""
        self._grace_timer = None
        address = self.client[0] if self.client else None
        if address is None or self.transport.is_closing():
            return
        if self.handshaking[address] >= self.handshakes_per_address:
            self._headers_arrived()  # no longer waited for
            self.transport.write(TOO_MANY_WAITING)
            self.transport.close()
            return
        self.handshaking[address] += 1
        self._counted = address

    def _too_slow(self) -> None:
        self._header_timer = None
        if self.transport.is_closing():
            return
        if self.cycle is None or self.cycle.response_complete:
            self.transport.write(TOO_SLOW)
        # Whatever the client still sends is not read; its small answer fits the buffer.
        self.transport.close()


def http_for(settings: Settings) -> type[GuardedHttp]:
    """The HTTP protocol class for one server, with its settings and its own counter."""

    class Configured(GuardedHttp):
        header_timeout = settings.header_timeout
        header_grace = settings.header_grace
        handshakes_per_address = settings.handshakes_per_address
        send_buffer = settings.socket_send_buffer
        handshaking = Counter()

    return Configured
