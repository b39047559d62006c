"""Samla's WebSocket protocol under uvicorn: uvicorn's own (websockets-sansio), plus a way
for the hub to write a frame it has already framed straight into a socket's transport.

A change reaches thousands of sockets at once. Through ASGI, each frame would wake the
socket's writer task and pass through several coroutine layers that frame the same bytes
again; a server-to-client frame is unmasked, so its bytes are the same for every socket.
The hub frames it once and writes it in one pass over the sockets, as `websockets`'
own broadcast does. Only a socket that can take it now gets it this way: one that is
closing, or whose transport is paused because its client stopped reading, is left to its
writer task and its bounded outbox, so a slow client still never slows the room."""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.frames import Frame, Opcode
from websockets.protocol import State

# The ASGI scope extension under which a socket's protocol offers `write_framed`.
EXTENSION = "samla.wire"


def framed(text: str) -> bytes:
    """A text message as the bytes of one unmasked, unfragmented frame (server to client)."""
    return Frame(Opcode.TEXT, text.encode()).serialize(mask=False, extensions=[])


class SamlaWebSockets(WebSocketsSansIOProtocol):
    """uvicorn's websockets-sansio protocol, offering `write_framed` in the ASGI scope."""

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        if self.response.status_code == 101:
            extensions: dict[str, Any] = self.scope["extensions"]
            extensions[EXTENSION] = self

    async def send(self, message: Any) -> None:
        await super().send(message)
        if message["type"] == "websocket.accept" and self.handshake_complete:
            # The handshake's request and response (about 4 KiB with their headers) are
            # not needed again; a socket stays open for hours, and thousands do.
            self.__dict__.pop("request", None)
            self.__dict__.pop("response", None)

    def write_framed(self, data: bytes) -> bool:
        """Writes one frame made by `framed` if the socket can take it now; answers whether
        it did. It can while the connection is open (handshake done, no close sent or
        received) and its transport is not paused (its buffer is below the high-water mark)
        nor closing."""
        if self.conn.state is State.OPEN and self.writable.is_set():
            transport = self.transport
            if not transport.is_closing():
                transport.write(data)
                return True
        return False
