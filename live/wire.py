"""Samla's WebSocket protocol under uvicorn: uvicorn's own (websockets-sansio), plus a way
for the hub to write a frame it has already framed straight into a socket's transport.

A change reaches thousands of sockets at once. Through ASGI, each frame would wake the
socket's writer task and pass through several coroutine layers that frame the same bytes
again; a server-to-client frame is unmasked, so its bytes are the same for every socket.
The hub frames it once and writes it in one pass over the sockets, as `websockets`'
own broadcast does. Only a socket that can take it now gets it this way: one that is
closing, or whose transport is paused because its client stopped reading, is left to its
writer task and its bounded outbox, so a slow client still never slows the room.

A socket's close is bounded too. uvicorn closes a transport and waits for its buffer to
drain, which never happens for a client that stopped reading: the socket, its buffers and
its tasks would stay forever. A socket that has not closed `close_timeout` seconds after it
began to is reset (live/guard.py), whatever began it: Samla, a keepalive timeout, the client."""

from __future__ import annotations

import asyncio
from collections.abc import Generator
from typing import Any, ClassVar, cast

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.frames import Frame, Opcode
from websockets.protocol import Protocol, State
from websockets.streams import StreamReader

from live.guard import reset
from live.settings import Settings

# The ASGI scope extension under which a socket's protocol offers `write_framed`.
EXTENSION = "samla.wire"


def framed(text: str) -> bytes:
    """A text message as the bytes of one unmasked, unfragmented frame (server to client)."""
    return Frame(Opcode.TEXT, text.encode()).serialize(mask=False, extensions=[])


class SamlaWebSockets(WebSocketsSansIOProtocol):
    """uvicorn's websockets-sansio protocol, offering `write_framed` in the ASGI scope, whose
    close is bounded by `close_timeout` (see `websockets_for`)."""

    close_within: ClassVar[float] = Settings.close_timeout

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.close_timeout = self.close_within  # uvicorn's wait for the client's close reply
        self.raw: asyncio.Transport | None = None  # the transport itself, for the fan-out
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.raw = cast(asyncio.Transport, transport)
        super().connection_made(_BoundedClose(self.raw, self))

    def connection_lost(self, exc: Exception | None) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        super().connection_lost(exc)
        # What holds the socket's objects in cycles is let go of, so that reference counting
        # frees them as it closes rather than a full collection (live/collector.py runs
        # those in quiet spells only; a crowd reconnecting over and over in a busy session
        # piled up 11 KiB a socket): the protocol is held by its transport's wrapper and by
        # its own scope, and the `websockets` connection by its parser (a generator of its
        # own) and by the error that ended it (whose traceback holds that generator).
        if isinstance(self.transport, _BoundedClose):
            self.transport.detach()
        scope = getattr(self, "scope", None)
        if scope is not None:
            scope.get("extensions", {}).pop(EXTENSION, None)
        conn = self.conn
        parser, conn.parser = conn.parser, _ended()
        parser.close()
        conn.parser_exc = None

    def close_soon(self) -> None:
        """The socket is to close: reset it unless it has within `close_timeout`."""
        if self._deadline is None and not self.disconnected:
            self._deadline = self.loop.call_later(self.close_timeout, self.abort)

    def abort(self) -> None:
        """Ends the connection now, dropping what waits to be sent (see `reset`)."""
        if self.raw is not None and not self.disconnected:
            reset(self.raw)

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        if self.response.status_code == 101:
            extensions: dict[str, Any] = self.scope["extensions"]
            extensions[EXTENSION] = self

    async def send(self, message: Any) -> None:
        await super().send(message)
        if message["type"] == "websocket.close":
            self.close_soon()  # uvicorn waits for the client's reply with close() alone
        elif message["type"] == "websocket.accept" and self.handshake_complete:
            # The handshake's request and response (about 4 KiB with their headers) are
            # not needed again; a socket stays open for hours, and thousands do.
            self.__dict__.pop("request", None)
            self.__dict__.pop("response", None)
            _forget_handshake(self.conn)

    def write_framed(self, data: bytes) -> bool:
        """Writes one frame made by `framed` if the socket can take it now; answers whether
        it did. It can while the connection is open (handshake done, no close sent or
        received) and its transport is not paused (its buffer is below the high-water mark)
        nor closing."""
        if self.conn.state is State.OPEN and self.writable.is_set():
            transport = self.raw
            if transport is not None and not transport.is_closing():
                transport.write(data)
                return True
        return False


def _ended() -> Generator[None]:
    """The parser of a connection that is lost: nothing more will be read."""
    while True:
        yield


def _forget_handshake(conn: Protocol) -> None:
    """Lets go of the handshake request that the server's frame parser keeps.

    `websockets` parses the request and then every frame in one generator, whose frame holds
    the request (its headers and what parsed them: 3.4 KiB a socket, measured) for as long as
    the socket is open. Between two frames that generator waits in `StreamReader.at_eof`;
    there, with nothing read of a next frame, it is swapped for the frame parser alone, which
    reads the same buffer. In any other state (a client that sent frames before the
    handshake's answer) it is kept."""
    server_parser = conn.parser
    frames = getattr(server_parser, "gi_yieldfrom", None)
    waiting = getattr(frames, "gi_yieldfrom", None)
    if (
        getattr(frames, "gi_code", None) is Protocol.parse.__code__
        and getattr(waiting, "gi_code", None) is StreamReader.at_eof.__code__
        and not conn.reader.buffer
    ):
        conn.parser = Protocol.parse(conn)
        next(conn.parser)  # started: it waits in at_eof for the next frame
        server_parser.close()


class _BoundedClose(asyncio.Transport):
    """A socket's transport as uvicorn's protocol sees it: closing it (from wherever uvicorn
    does) starts the protocol's close deadline. The fan-out writes to the transport itself."""

    __slots__ = ("_inner", "_protocol")

    def __init__(self, inner: asyncio.Transport, protocol: SamlaWebSockets) -> None:
        super().__init__()
        self._inner = inner
        self._protocol: SamlaWebSockets | None = protocol

    def detach(self) -> None:
        """The connection is lost: nothing is left to bound."""
        self._protocol = None

    def close(self) -> None:
        self._inner.close()
        if self._protocol is not None:
            self._protocol.close_soon()

    def abort(self) -> None:
        reset(self._inner)

    def write(self, data: bytes | bytearray | memoryview[Any]) -> None:
        self._inner.write(data)

    def writelines(self, list_of_data: Any) -> None:
        self._inner.writelines(list_of_data)

    def is_closing(self) -> bool:
        return self._inner.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._inner.get_extra_info(name, default)

    def pause_reading(self) -> None:
        self._inner.pause_reading()

    def resume_reading(self) -> None:
        self._inner.resume_reading()

    def is_reading(self) -> bool:
        return self._inner.is_reading()

    def get_write_buffer_size(self) -> int:
        return self._inner.get_write_buffer_size()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._inner.set_write_buffer_limits(high, low)

    def can_write_eof(self) -> bool:
        return self._inner.can_write_eof()

    def write_eof(self) -> None:
        self._inner.write_eof()

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._inner.set_protocol(protocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._inner.get_protocol()


def websockets_for(settings: Settings) -> type[SamlaWebSockets]:
    """The WebSocket protocol class for one server, with its settings."""

    class Configured(SamlaWebSockets):
        close_within = settings.close_timeout

    return Configured
