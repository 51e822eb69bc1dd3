"""Prometheus metrics, mounted only when METRICS_ENABLED is true."""

import secrets
from typing import Annotated

from fastapi import Depends
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from inventory.config import get_settings
from inventory.errors import Unauthorized
from inventory.metrics import render
from inventory.routing import ApiRouter

router = ApiRouter(public=True, base="", include_in_schema=False)
bearer = HTTPBearer(auto_error=False)


async def check_metrics_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> None:
    """With METRICS_TOKEN set, only a scraper that sends it as a bearer token gets the metrics
    (compared in constant time); without it, /metrics is open to whoever can reach it."""
    expected = get_settings().metrics_token
    if expected is None:
        return
    sent = credentials.credentials if credentials else ""
    if not secrets.compare_digest(sent.encode(), expected.encode()):
        raise Unauthorized("send the metrics token as a bearer token")


@router.get("/metrics", dependencies=[Depends(check_metrics_token)])
def metrics() -> Response:
    """Requests, latency, in-flight requests and active low-stock alerts of all workers."""
    body, content_type = render()
    return Response(body, media_type=content_type)
