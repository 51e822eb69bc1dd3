"""The worker process: runs the job queue's jobs (webhook deliveries, maintenance).

`python -m inventory worker` (or `make worker`); `make run` starts one beside the server. Run as
many as you like, on any host that reaches the database: each job is taken by one worker only
(the queue locks it in PostgreSQL), and the jobs of a worker that dies are given to another once
its heartbeats stop (`WORKER_STALLED_AFTER_SECONDS`).
"""

from __future__ import annotations

import asyncio
import logging

from psycopg_pool import AsyncConnectionPool
from sqlalchemy import make_url

from inventory import jobs
from inventory.config import get_settings
from inventory.db import database_url

logger = logging.getLogger(__name__)

FETCH_POLLING_SECONDS = 1.0
"""How often a worker looks for jobs whose retry time has come (new jobs wake it at once)."""


def libpq_url(url: str) -> str:
    """The SQLAlchemy URL as psycopg's own connection string."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def work() -> None:
    """Run a worker until SIGINT or SIGTERM; the job under way finishes first."""
    settings = get_settings()
    # The queue logs two lines per job (every 5 seconds for the dead-worker check alone) and
    # httpx one per request; a delivery logs its own outcome (inventory.webhook_delivery).
    for name in ("procrastinate", "httpx"):
        logging.getLogger(name).setLevel(logging.WARNING)
    pool = AsyncConnectionPool(
        libpq_url(database_url()),
        min_size=1,
        max_size=settings.worker_concurrency + 2,
        kwargs={"application_name": "inventory-worker"},
        open=False,
    )
    await pool.open(wait=True)
    try:
        async with jobs.app.open_async(pool=pool):
            logger.info("worker started: %s at once", settings.worker_concurrency)
            await jobs.app.run_worker_async(
                queues=[jobs.WEBHOOK_QUEUE, jobs.MAINTENANCE_QUEUE],
                concurrency=settings.worker_concurrency,
                fetch_job_polling_interval=FETCH_POLLING_SECONDS,
                update_heartbeat_interval=settings.worker_heartbeat_seconds,
                stalled_worker_timeout=settings.worker_stalled_after_seconds,
                delete_jobs="successful",
                install_signal_handlers=True,
            )
    finally:
        await pool.close()


def run_worker() -> None:
    """The `worker` command."""
    asyncio.run(work())
