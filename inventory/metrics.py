"""Prometheus metrics: requests by route template and status, latency, in-flight requests, the
number of active low-stock alerts, and (with a replica) reads per database and the replica's lag.

Off unless METRICS_ENABLED is true. With several workers (`serve`), each worker writes its
samples to PROMETHEUS_MULTIPROC_DIR and a scrape of any worker adds them all up.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select
from sqlmodel import Session

from inventory.db import get_engine, get_read_router
from inventory.models import LowStockAlert
from inventory.replica import READS, ReplicaCollector

REQUESTS = Counter(
    "inventory_http_requests_total",
    "HTTP requests by method, route template and status.",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "inventory_http_request_duration_seconds",
    "Time to answer a request, by method and route template.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
IN_FLIGHT = Gauge(
    "inventory_http_requests_in_flight",
    "Requests being answered right now.",
    multiprocess_mode="livesum",
)


class ActiveAlertsCollector:
    """Counts the active low-stock alerts in PostgreSQL at scrape time (shared by all workers)."""

    def collect(self):
        with Session(get_engine()) as session:
            active = session.scalar(
                select(func.count()).select_from(LowStockAlert).where(LowStockAlert.active)
            )
        yield GaugeMetricFamily(
            "inventory_low_stock_alerts_active", "Active low-stock alerts.", value=active or 0
        )


def observe(method: str, route: str, status: int, seconds: float) -> None:
    """Count one answered request."""
    REQUESTS.labels(method, route, str(status)).inc()
    LATENCY.labels(method, route).observe(seconds)


def render() -> tuple[bytes, str]:
    """The current metrics of all workers, in the Prometheus text format."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        for collector in (REQUESTS, LATENCY, IN_FLIGHT, READS):
            registry.register(collector)
    registry.register(ActiveAlertsCollector())
    router = get_read_router()
    if router is not None:
        registry.register(ReplicaCollector(router.monitor))
    return generate_latest(registry), CONTENT_TYPE_LATEST
