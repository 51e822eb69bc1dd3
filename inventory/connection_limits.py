"""What a client may send before the app sees it: request headers of at most 32 KiB, and a
request that arrives in time. `serve` runs uvicorn with this protocol.

uvicorn bounds neither: headers of any size were buffered whole (a worker grew to 601 MB on a
256 MiB header), and a client that sent half a request held its connection for as long as it
liked. The limits live at the connection, where the bytes arrive: the app only sees a request
once its headers are complete, and a body it does not read would not pass through it at all.
"""

from __future__ import annotations

import asyncio
import json
import logging

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from inventory.config import get_settings

logger = logging.getLogger(__name__)

MAX_HEADER_BYTES = 32 * 1024
"""The request line and headers of one request, in total; more is a 431."""


def _plain_response(status: int, reason: str, detail: str) -> bytes:
    body = json.dumps({"detail": detail}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body


HEADERS_TOO_LARGE = _plain_response(
    431,
    "Request Header Fields Too Large",
    f"request headers are larger than {MAX_HEADER_BYTES} bytes in total",
)
TOO_SLOW = _plain_response(408, "Request Timeout", "the request took too long to arrive")


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with a header size limit and read deadlines.

    - Headers: at most MAX_HEADER_BYTES reach the parser before the headers end; past that
      the client gets 431 and the connection closes, so memory never holds more.
    - Deadlines: a request's headers must arrive within REQUEST_READ_TIMEOUT_SECONDS of its
      first byte (or of the connection opening), and its body within as long again after the
      headers; a slower client gets 408 (or, mid-response, a closed connection).
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.read_timeout = get_settings().request_read_timeout_seconds
        self.awaiting_headers = True
        self.header_bytes = 0
        self.read_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_read_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_read_deadline()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        while data and not self.transport.is_closing():
            if not self.awaiting_headers:
                super().data_received(data)
                return
            if self.read_deadline is None:
                self._arm_read_deadline()  # the first byte of the next request on this connection
            budget = MAX_HEADER_BYTES - self.header_bytes
            piece, data = data[:budget], data[budget:]
            self.header_bytes += len(piece)
            super().data_received(piece)
            if self.awaiting_headers and self.header_bytes >= MAX_HEADER_BYTES:
                self._refuse(HEADERS_TOO_LARGE, "request headers over %d bytes", MAX_HEADER_BYTES)
                return

    def on_headers_complete(self) -> None:
        self.awaiting_headers = False
        self._arm_read_deadline()  # now for the body
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm_read_deadline()
        self.awaiting_headers, self.header_bytes = True, 0
        super().on_message_complete()

    def _arm_read_deadline(self) -> None:
        self._disarm_read_deadline()
        self.read_deadline = self.loop.call_later(self.read_timeout, self._too_slow)

    def _disarm_read_deadline(self) -> None:
        if self.read_deadline is not None:
            self.read_deadline.cancel()
            self.read_deadline = None

    def _too_slow(self) -> None:
        self.read_deadline = None
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.awaiting_headers and self.cycle.response_started:
            self.transport.close()  # too late for a 408: the answer is under way
            return
        self._refuse(TOO_SLOW, "request not received within %d s", self.read_timeout)

    def _refuse(self, response: bytes, reason: str, limit: int) -> None:
        """Answer `response` and close; a request the app was given sees a disconnect."""
        logger.warning("closed a connection: " + reason, limit)
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.disconnected = True
            self.cycle.message_event.set()
        self.transport.write(response)
        self.transport.close()
