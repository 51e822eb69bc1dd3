"""The outermost layer of every request: request id, body limit, security headers, the request
log line, and a JSON 500 (never a stack trace) for anything unexpected."""

from __future__ import annotations

import json
import logging
import random
import re
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from inventory import metrics
from inventory.logs import request_id_var

logger = logging.getLogger("inventory.requests")

REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,200}$")
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]
NO_STORE = (b"cache-control", b"no-store")
"""API answers hold stock and prices that change any moment, health answers the state of this
moment, and the docs change with each release: no cache keeps them."""
CACHEABLE_PATHS = "/docs-assets/"
"""Swagger UI's and ReDoc's files (`inventory.routes.docs`), the only answers a cache may keep."""


_request_ids = random.Random()  # noqa: S311 (an id to find log lines by, not a secret)
"""Seeded from the system's randomness once per process. `uuid.uuid4()` reads the system's
randomness for every request, and that call lets go of the interpreter lock, so on a busy
worker the event loop waited for the request threads to hand it back: py-spy put 4% of a
worker's samples there under a 16-connection list load; get by id answered 1.6–4% more
requests a second without it (bench/README.md)."""


def new_request_id() -> str:
    """32 random hex digits, as `uuid4().hex` writes them."""
    return f"{_request_ids.getrandbits(128):032x}"


class BodyTooLargeError(Exception):
    """The request body passed the configured limit."""


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


class RequestContextMiddleware:
    """Wraps the app; see the module docstring."""

    def __init__(self, app: ASGIApp, max_body_bytes: int, metrics_enabled: bool = False) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.metrics_enabled = metrics_enabled

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = _header(scope, b"x-request-id")
        request_id = (
            incoming if incoming and REQUEST_ID_PATTERN.match(incoming) else new_request_id()
        )
        token = request_id_var.set(request_id)
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        response = {"status": 500, "started": False}
        extra_headers = [(b"x-request-id", request_id.encode()), *SECURITY_HEADERS]
        if not scope["path"].startswith(CACHEABLE_PATHS):
            extra_headers.append(NO_STORE)
        received = 0

        async def send_with_headers(message: Message) -> None:
            if response.get("refused"):
                return  # a 413 went out already; the app's own answer is dropped
            if message["type"] == "http.response.start":
                response["status"] = message["status"]
                response["started"] = True
                message["headers"] = [*message.get("headers", []), *extra_headers]
            await send(message)

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes and not response["started"]:
                    await self._refuse_large_body(send_with_headers, request_id)
                    response["refused"] = True
                    raise BodyTooLargeError
            return message

        if self.metrics_enabled:
            metrics.IN_FLIGHT.inc()
        try:
            declared = _header(scope, b"content-length")
            if declared and declared.isdigit() and int(declared) > self.max_body_bytes:
                await self._refuse_large_body(send_with_headers, request_id)
            else:
                await self.app(scope, limited_receive, send_with_headers)
        except BodyTooLargeError:
            pass  # answered with 413 already
        except Exception:
            logger.exception("unexpected error in %s %s", scope["method"], scope["path"])
            if not response["started"]:
                await self._send_error(
                    send_with_headers,
                    500,
                    "internal server error; quote the request id when reporting it",
                    request_id,
                )
        finally:
            self._finish(scope, response["status"], started)
            request_id_var.reset(token)

    async def _refuse_large_body(self, send: Send, request_id: str) -> None:
        detail = f"request body is larger than {self.max_body_bytes} bytes"
        await self._send_error(send, 413, detail, request_id)

    @staticmethod
    async def _send_error(send: Send, status: int, detail: str, request_id: str) -> None:
        body = json.dumps({"detail": detail, "request_id": request_id}).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _finish(self, scope: Scope, status: int, started: float) -> None:
        """Log the request once and count it in the metrics."""
        seconds = time.perf_counter() - started
        route = getattr(scope.get("route"), "path", None)
        if self.metrics_enabled:
            metrics.IN_FLIGHT.dec()
            metrics.observe(scope["method"], route or "unmatched", status, seconds)
        duration_ms = round(seconds * 1000, 2)
        user_id = scope.get("state", {}).get("user_id")
        logger.info(
            "%s %s %s %.2fms",
            scope["method"],
            scope["path"],
            status,
            duration_ms,
            extra={
                "method": scope["method"],
                "path": scope["path"],
                "route": route,
                "status": status,
                "duration_ms": duration_ms,
                "user_id": user_id,
            },
        )
