"""Delivering one event to one webhook: the job the workers run, one attempt per run.

Each attempt is a row in `webhook_deliveries`, written before the request is sent (so an attempt
cut short by a dead worker still shows) and completed after. The request is the event as JSON,
signed per Standard Webhooks; its `webhook-id` is the same on every attempt and redelivery of
one event to one webhook, so a receiver can deduplicate. A failed attempt raises, and the job
queue retries it per `WEBHOOK_RETRY_SCHEDULE`; a webhook that has failed without a success for
`WEBHOOK_DISABLE_AFTER_SECONDS` is disabled, and a `webhook.disabled` event says so.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

import httpx
import procrastinate
from sqlalchemy import text
from sqlmodel import Session
from standardwebhooks.webhooks import Webhook as Signer

from inventory import jobs
from inventory.config import get_settings
from inventory.db import get_engine
from inventory.events import record_event
from inventory.webhook_targets import UnsafeTargetError, origin, resolve

logger = logging.getLogger(__name__)

USER_AGENT = "inventory-webhooks/1"
STOPPED = "the worker stopped during this attempt"
MAX_ERROR_LENGTH = 500


class DeliveryError(Exception):
    """An attempt did not get a 2xx answer; the job queue retries it."""


class RetrySchedule(procrastinate.BaseRetryStrategy):
    """Retry after the seconds listed in `WEBHOOK_RETRY_SCHEDULE`, one entry per retry."""

    def get_schedule_in(self, *, exception: BaseException, attempts: int) -> int | None:
        schedule = get_settings().webhook_retry_schedule
        return schedule[attempts] if attempts < len(schedule) else None  # type: ignore[return-value]


@dataclass(frozen=True)
class Attempt:
    """An attempt under way: what to send, and where."""

    delivery_id: int
    number: int
    url: str
    secret: str
    message_id: str
    body: str


@dataclass(frozen=True)
class Outcome:
    """What an attempt got back."""

    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def message_id(event_id: int, webhook_id: int) -> str:
    """The `webhook-id` of an event sent to a webhook: the same on every attempt."""
    return f"msg_{event_id}_{webhook_id}"


_START = text(
    """
    WITH earlier AS (
        UPDATE webhook_deliveries SET error = :stopped
        WHERE webhook_id = :webhook_id AND event_id = :event_id
          AND status_code IS NULL AND error IS NULL
    )
    INSERT INTO webhook_deliveries (webhook_id, event_id, attempt)
    SELECT webhooks.id, events.id,
           1 + (SELECT coalesce(max(attempt), 0) FROM webhook_deliveries
                WHERE webhook_id = :webhook_id AND event_id = :event_id)
    FROM webhooks, events
    WHERE webhooks.id = :webhook_id AND webhooks.is_active AND events.id = :event_id
    RETURNING id, attempt,
        (SELECT url FROM webhooks WHERE id = :webhook_id),
        (SELECT secret FROM webhooks WHERE id = :webhook_id),
        (SELECT json_build_object(
             'id', id, 'type', type, 'entity_type', entity_type, 'entity_id', entity_id,
             'actor_user_id', actor_user_id, 'request_id', request_id, 'data', data,
             'created_at', to_char(created_at AT TIME ZONE 'UTC',
                                   'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))::text
         FROM events WHERE id = :event_id)
    """
)


def start_attempt(session: Session, event_id: int, webhook_id: int) -> Attempt | None:
    """Write the attempt's row and read what to send; None when the webhook is gone or
    disabled (or the event gone), in which case nothing is sent. An earlier attempt of the
    same pair left unfinished (its worker died) is marked so."""
    row = session.execute(
        _START, {"event_id": event_id, "webhook_id": webhook_id, "stopped": STOPPED}
    ).one_or_none()
    session.commit()
    if row is None:
        return None
    delivery_id, number, url, secret, body = row
    return Attempt(delivery_id, number, url, secret, message_id(event_id, webhook_id), body)


@lru_cache
def _client() -> httpx.Client:
    """One client per worker process (making one costs tens of milliseconds). It keeps no
    connection open between requests: a connection is made to a checked address, and one
    kept for a host's address could be handed to another host on the same address."""
    return httpx.Client(
        timeout=get_settings().webhook_timeout_seconds,
        follow_redirects=False,
        trust_env=False,
        limits=httpx.Limits(max_keepalive_connections=0),
    )


def send(attempt: Attempt) -> Outcome:
    """POST the event, signed, to the checked address; no redirects, a timeout on all of it."""
    settings = get_settings()
    started = time.monotonic()

    def outcome(status_code: int | None, error: str | None) -> Outcome:
        elapsed = round((time.monotonic() - started) * 1000)
        return Outcome(status_code, error and error[:MAX_ERROR_LENGTH], elapsed)

    try:
        target = resolve(attempt.url, settings.webhook_allow_private_targets)
    except UnsafeTargetError as error:
        return outcome(None, f"refused: {error}")
    now = datetime.now(UTC)
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "host": target.host_header,
        "webhook-id": attempt.message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Signer(attempt.secret).sign(attempt.message_id, now, attempt.body),
    }
    extensions = {"sni_hostname": target.host} if target.url.startswith("https:") else {}
    request = {"content": attempt.body.encode(), "headers": headers, "extensions": extensions}
    try:
        # Only the status matters: the answer's body is never read, whatever its size.
        with _client().stream("POST", target.pinned_url, **request) as response:
            status = response.status_code
    except httpx.TimeoutException:
        return outcome(None, f"no answer within {settings.webhook_timeout_seconds:g} s")
    except httpx.HTTPError as error:
        return outcome(None, f"{type(error).__name__}: {error}")
    if 300 <= status < 400:
        return outcome(status, "the receiver redirected; redirects are not followed")
    return outcome(status, None if 200 <= status < 300 else f"the receiver answered {status}")


def finish_attempt(session: Session, attempt: Attempt, webhook_id: int, outcome: Outcome) -> bool:
    """Record the outcome; on a failure, disable a webhook failing for too long (with a
    `webhook.disabled` event). True when the webhook is still active."""
    session.execute(
        text(
            "UPDATE webhook_deliveries SET status_code = :status, error = :error, "
            "duration_ms = :duration WHERE id = :id"
        ),
        {
            "id": attempt.delivery_id,
            "status": outcome.status_code,
            "error": outcome.error,
            "duration": outcome.duration_ms,
        },
    )
    if outcome.succeeded:
        session.execute(
            text("UPDATE webhooks SET failing_since = NULL WHERE id = :id"), {"id": webhook_id}
        )
        session.commit()
        return True
    disabled = session.execute(
        text(
            """
            UPDATE webhooks SET failing_since = coalesce(failing_since, now()),
                is_active = coalesce(failing_since, now()) > now() - make_interval(secs => :after)
            WHERE id = :id AND is_active
            RETURNING is_active, url, failing_since
            """
        ),
        {"id": webhook_id, "after": get_settings().webhook_disable_after_seconds},
    ).one_or_none()
    still_active = disabled is not None and disabled.is_active
    if disabled is not None and not disabled.is_active:
        data = {"target": origin(disabled.url), "failing_since": disabled.failing_since}
        record_event(session, "webhook.disabled", "webhook", webhook_id, data, None)
        logger.warning("webhook %s disabled: failing since %s", webhook_id, disabled.failing_since)
    session.commit()
    return still_active


@jobs.app.task(name=jobs.DELIVER_TASK, queue=jobs.WEBHOOK_QUEUE, retry=RetrySchedule())
def deliver_webhook(event_id: int, webhook_id: int) -> None:
    """One attempt to deliver event `event_id` to webhook `webhook_id`."""
    with Session(get_engine()) as session:
        attempt = start_attempt(session, event_id, webhook_id)
        if attempt is None:
            return
        outcome = send(attempt)
        still_active = finish_attempt(session, attempt, webhook_id, outcome)
    logger.info(
        "webhook %s event %s attempt %s: %s in %s ms",
        webhook_id,
        event_id,
        attempt.number,
        outcome.error or outcome.status_code,
        outcome.duration_ms,
        extra={"webhook_id": webhook_id, "event_id": event_id, "attempt": attempt.number},
    )
    if not outcome.succeeded and still_active:
        raise DeliveryError(outcome.error)
