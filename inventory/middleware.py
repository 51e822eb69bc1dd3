"""The outermost layer of every request: request id, body limit, security headers, the request
log line, and a JSON 500 (never a stack trace) for anything unexpected."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from inventory.logs import request_id_var

logger = logging.getLogger("inventory.requests")

REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,200}$")
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
]


class BodyTooLargeError(Exception):
    """The request body passed the configured limit."""


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


class RequestContextMiddleware:
    """Wraps the app; see the module docstring."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = _header(scope, b"x-request-id")
        request_id = (
            incoming if incoming and REQUEST_ID_PATTERN.match(incoming) else uuid.uuid4().hex
        )
        token = request_id_var.set(request_id)
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        response = {"status": 500, "started": False}
        extra_headers = [(b"x-request-id", request_id.encode()), *SECURITY_HEADERS]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                response["status"] = message["status"]
                response["started"] = True
                message["headers"] = [*message.get("headers", []), *extra_headers]
            await send(message)

        try:
            declared = _header(scope, b"content-length")
            if declared and declared.isdigit() and int(declared) > self.max_body_bytes:
                raise BodyTooLargeError
            await self.app(scope, self._limited(receive), send_with_headers)
        except BodyTooLargeError:
            if not response["started"]:
                await self._send_error(
                    send_with_headers,
                    413,
                    f"request body is larger than {self.max_body_bytes} bytes",
                    request_id,
                )
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
            self._log_request(scope, response["status"], started)
            request_id_var.reset(token)

    def _limited(self, receive: Receive) -> Receive:
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise BodyTooLargeError
            return message

        return limited_receive

    @staticmethod
    async def _send_error(send: Send, status: int, detail: str, request_id: str) -> None:
        body = json.dumps({"detail": detail, "request_id": request_id}).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    @staticmethod
    def _log_request(scope: Scope, status: int, started: float) -> None:
        route = scope.get("route")
        duration_ms = round((time.perf_counter() - started) * 1000, 2)
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
                "route": getattr(route, "path", None),
                "status": status,
                "duration_ms": duration_ms,
                "user_id": user_id,
            },
        )
