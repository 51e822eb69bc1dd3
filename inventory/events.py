"""The audit trail: one event per change, written in the transaction of the change.

`record_event` queues an event on the session; the events are inserted just before the session
commits, in the same transaction, so a change that rolls back leaves no event and no change
commits without its events. The same statement finds the webhooks subscribed to each event, and
their delivery jobs are queued in that transaction too (a transactional outbox).

Ids increase in commit order, which a consumer polling with `after_id` relies on. A sequence
alone does not give that: a transaction may draw id 10, another draw 11 and commit first, and a
poller that saw 11 would never ask for 10. So writers draw their ids under a shared advisory lock,
taken in the statement that inserts the events, at the very end of the transaction (no row lock
is waited for after it, so it cannot be part of a dead-lock); a poller takes the same lock
exclusively for an instant, which waits out the inserts in flight, and hands out only ids up to
the largest committed before that instant.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import event as sa_event
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from inventory import jobs
from inventory.logs import request_id_var
from inventory.models import Event, EventPage
from inventory.pagination import PageParams, paginate

EVENTS_LOCK = 0x6576_656E_7473
"""The advisory lock key of event ids (the bytes of 'events')."""

SECRET_WORDS = ("password", "hash", "secret", "token")
"""No key of an event's data may contain one of these: the audit trail holds no secrets."""

_PENDING = "inventory.pending_events"

_INSERT_EVENTS = text(
    """
    WITH id_lock AS MATERIALIZED (SELECT pg_advisory_xact_lock_shared(:lock_key)),
    inserted AS (
        INSERT INTO events (type, entity_type, entity_id, actor_user_id, request_id, data)
        SELECT e.event->>'type', e.event->>'entity_type', (e.event->>'entity_id')::bigint,
               (e.event->>'actor_user_id')::integer, e.event->>'request_id', e.event->'data'
        FROM id_lock, jsonb_array_elements(CAST(:events AS jsonb)) WITH ORDINALITY AS e(event, n)
        ORDER BY e.n
        RETURNING id, type
    )
    SELECT inserted.id AS event_id, webhooks.id AS webhook_id
    FROM inserted
    JOIN webhooks ON webhooks.is_active
        AND (inserted.type = ANY (webhooks.event_types) OR '*' = ANY (webhooks.event_types))
    ORDER BY inserted.id, webhooks.id
    """
)

_COMMITTED_HORIZON = text(
    """
    WITH wait AS MATERIALIZED (SELECT set_config('lock_timeout', :wait, true)),
    id_lock AS MATERIALIZED (SELECT pg_advisory_xact_lock(:lock_key) FROM wait)
    SELECT (SELECT coalesce(max(id), 0) FROM events) FROM id_lock
    """
)


def _to_json(value: Any) -> Any:
    """JSON for the values an event carries: money as its exact string, times in ISO 8601."""
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, set | frozenset | tuple):
        return sorted(value)
    raise TypeError(f"an event cannot hold a {type(value).__name__}")


def _refuse_secrets(data: Any, path: str = "data") -> None:
    """Raise if any key of `data`, at any depth, names a secret."""
    if isinstance(data, Mapping):
        for key, value in data.items():
            if any(word in str(key).lower() for word in SECRET_WORDS):
                raise ValueError(f"an event must not carry a secret ({path}.{key})")
            _refuse_secrets(value, f"{path}.{key}")
    elif isinstance(data, list | tuple):
        for index, value in enumerate(data):
            _refuse_secrets(value, f"{path}[{index}]")


def record_event(
    session: Session,
    type: str,
    entity_type: str,
    entity_id: int,
    data: Mapping[str, Any],
    actor_user_id: int | None,
) -> None:
    """Record that `entity_type` `entity_id` changed (`type`, e.g. "product.updated"), by
    `actor_user_id` (None for the system), in the transaction `session` is about to commit.

    `data` is the event's body (for an update, `{"changes": changes(before, after)}`); it must
    be JSON-able (Decimal and datetime are) and never hold a password, hash, secret or token:
    a key naming one is a ValueError. The request id comes from the request being served.
    """
    _refuse_secrets(data)
    session.connection()  # begins the transaction, so that its rollback forgets the event
    request_id = request_id_var.get()
    pending = session.info.setdefault(_PENDING, [])
    pending.append(
        {
            "type": type,
            "entity_type": entity_type,
            "entity_id": entity_id,
            "actor_user_id": actor_user_id,
            "request_id": None if request_id == "-" else request_id,
            "data": json.loads(json.dumps(data, default=_to_json)),
        }
    )


def changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list[Any]]:
    """The fields of `after` whose value differs from `before`, each as [old, new]."""
    return {
        field: [before.get(field), value]
        for field, value in after.items()
        if before.get(field) != value
    }


@sa_event.listens_for(Session, "before_commit")
def _write_pending_events(session: Session) -> None:
    """Insert the session's queued events, and queue their webhook deliveries, as the last
    statements of its transaction."""
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    deliveries = session.execute(
        _INSERT_EVENTS,
        {"lock_key": EVENTS_LOCK, "events": json.dumps(pending)},
    ).all()
    if deliveries:
        connection = session.connection().connection.driver_connection
        jobs.defer_deliveries(connection, [(row.event_id, row.webhook_id) for row in deliveries])


@sa_event.listens_for(Session, "after_transaction_end")
def _forget_pending_events(session: Session, transaction: Any) -> None:
    """A transaction that ended without committing (rolled back, or its session closed)
    leaves no event behind, not even for the session's next transaction."""
    if transaction.parent is None:
        session.info.pop(_PENDING, None)


def committed_horizon(session: Session, wait_seconds: float = 5.0) -> int:
    """The largest event id such that every smaller id is committed or will never be: a
    poller may hand out ids up to it and resume from it without missing an event.

    Run it on a session in autocommit (a GET's), so the lock is let go at once. It waits for
    the event inserts in flight (each the end of a transaction, so milliseconds) and for at
    most `wait_seconds`, since new writers queue behind it: a transaction stuck between its
    insert and its commit makes the poll fail (a 503) rather than stall every write.
    """
    parameters = {"lock_key": EVENTS_LOCK, "wait": f"{round(wait_seconds * 1000)}ms"}
    return int(session.execute(_COMMITTED_HORIZON, parameters).scalar_one())


class EventQuery(BaseModel):
    """The query string of the event list."""

    type: str | None = Field(
        default=None, max_length=64, description="Only events of this type, e.g. product.updated."
    )
    entity_type: str | None = Field(
        default=None, max_length=32, description="Only events about this kind of thing."
    )
    entity_id: int | None = Field(
        default=None, ge=1, le=2**63 - 1, description="Only events about the thing with this id."
    )
    after_id: int | None = Field(
        default=None,
        ge=0,
        le=2**63 - 1,
        description="Only events with a larger id, oldest first: poll with the last id you saw "
        "and you get every event once, in commit order.",
    )


def list_events(session: Session, query: EventQuery, page: PageParams) -> EventPage:
    """A page of events, newest first; with `after_id`, those after it, oldest first, up to
    the last id that no transaction still in flight can precede."""
    statement = select(Event)
    if query.type is not None:
        statement = statement.where(Event.type == query.type)
    if query.entity_type is not None:
        statement = statement.where(Event.entity_type == query.entity_type)
    if query.entity_id is not None:
        statement = statement.where(Event.entity_id == query.entity_id)
    if query.after_id is None:
        return paginate(session, statement, page, EventPage, Event.id.desc())
    horizon = committed_horizon(session)
    statement = statement.where(Event.id > query.after_id, Event.id <= horizon)
    return paginate(session, statement, page, EventPage, Event.id)
