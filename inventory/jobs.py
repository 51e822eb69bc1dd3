"""The job queue: procrastinate, on the app's own PostgreSQL.

Chosen because it is maintained, speaks psycopg 3, wakes workers with LISTEN/NOTIFY (no polling
delay), retries with a schedule we give it, runs periodic tasks, notices dead workers by their
heartbeats, and can queue a job on a connection we pass it, so a job is queued in the very
transaction that records its event (nothing to lose between the two). Its tables are created by
migration 0007. Workers run with `python -m inventory worker`.
"""

from __future__ import annotations

import logging
from typing import Any

import procrastinate

from inventory.config import get_settings

logger = logging.getLogger(__name__)

WEBHOOK_QUEUE = "webhooks"
DELIVER_TASK = "deliver_webhook"

app = procrastinate.App(
    connector=procrastinate.PsycopgConnector(),
    import_paths=["inventory.webhook_delivery"],
)
"""The queue. The API only queues jobs, on its own connections; a worker opens it with a pool
of its own (`inventory.worker`)."""


def defer_deliveries(connection: Any, deliveries: list[tuple[int, int]]) -> None:
    """Queue one delivery job per (event id, webhook id) on `connection`, a psycopg connection
    in the transaction that recorded the events: the jobs commit or roll back with them."""
    deferrer = app.configure_task(DELIVER_TASK, queue=WEBHOOK_QUEUE, connection=connection)
    deferrer.batch_defer(
        *({"event_id": event_id, "webhook_id": webhook_id} for event_id, webhook_id in deliveries)
    )


MAINTENANCE_QUEUE = "maintenance"


@app.periodic(cron="* * * * * */5", periodic_id="retry_stalled_jobs")
@app.task(queue=MAINTENANCE_QUEUE, queueing_lock="retry_stalled_jobs", pass_context=True)
async def retry_stalled_jobs(context: procrastinate.JobContext, timestamp: int) -> None:
    """Every 5 seconds: put back in the queue the jobs of workers that stopped sending
    heartbeats (killed, or their host died), so another worker runs them."""
    manager = context.app.job_manager
    seconds = get_settings().worker_stalled_after_seconds
    for job in await manager.get_stalled_jobs(seconds_since_heartbeat=seconds):
        logger.warning("job %s (%s) was left by a dead worker; queued again", job.id, job.task_name)
        await manager.retry_job(job)


@app.periodic(cron="* * * * * */15", periodic_id="expire_reservations")
@app.task(queue=MAINTENANCE_QUEUE, queueing_lock="expire_reservations")
def expire_reservations(timestamp: int) -> None:
    """Every 15 seconds: mark reservations past their `expires_at` expired. Their stock is
    available from `expires_at` on anyway (see docs/reservations.md); this only tidies up and
    records each one's `reservation.expired` event."""
    # Imported here: the rule modules import the event recorder, which imports this module.
    from sqlmodel import Session

    from inventory.db import get_engine
    from inventory.reservations import expire_due_reservations

    with Session(get_engine()) as session:
        expired = expire_due_reservations(session)
    if expired:
        logger.info("marked %s reservations expired", expired)
