"""Prometheus metrics, mounted only when METRICS_ENABLED is true."""

from fastapi import APIRouter
from fastapi.responses import Response

from inventory.metrics import render

router = APIRouter(include_in_schema=False)


@router.get("/metrics")
def metrics() -> Response:
    """Requests, latency, in-flight requests and active low-stock alerts of all workers."""
    body, content_type = render()
    return Response(body, media_type=content_type)
