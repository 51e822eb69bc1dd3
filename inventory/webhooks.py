"""Webhook subscriptions: create, change, delete, and send an event again.

A webhook gets a Standard Webhooks secret (`whsec_` + 32 random bytes in base64), shown once,
when it is created. Its URL is checked when saved (and again before every delivery): http(s)
only, and a host that resolves to public addresses unless `WEBHOOK_ALLOW_PRIVATE_TARGETS`.
"""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from inventory import jobs
from inventory.config import get_settings
from inventory.events import changes, record_event
from inventory.models import EVENT_TYPE_PATTERN, Webhook, WebhookDelivery
from inventory.webhook_targets import UnsafeTargetError, resolve

ALL_EVENTS = "*"


class WebhookNotFound(LookupError):
    """No webhook (or delivery of it) with that id."""


class WebhookInactive(RuntimeError):
    """The webhook is disabled, so nothing would be sent."""


def new_secret() -> str:
    """A Standard Webhooks signing secret."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def check_url(url: str) -> str:
    """`url` if a webhook may send to it, else UnsafeTargetError (a 422)."""
    resolve(url, get_settings().webhook_allow_private_targets)
    return url


def check_event_types(event_types: list[str]) -> list[str]:
    """Event types like `product.updated`, or `["*"]` for all; duplicates dropped."""
    if event_types == [ALL_EVENTS]:
        return event_types
    for event_type in event_types:
        if not re.fullmatch(EVENT_TYPE_PATTERN, event_type):
            raise UnsafeTargetError(
                f"{event_type!r} is not an event type (like product.updated), nor ['*'] alone"
            )
    return list(dict.fromkeys(event_types))


def _public(webhook: Webhook) -> dict[str, Any]:
    """What an event says of a webhook: never its secret."""
    return {
        "url": webhook.url,
        "event_types": webhook.event_types,
        "description": webhook.description,
        "is_active": webhook.is_active,
    }


def create_webhook(
    session: Session,
    url: str,
    event_types: list[str],
    description: str | None,
    actor_user_id: int | None,
) -> Webhook:
    """Subscribe `url` to `event_types`; the answer's `secret` is the only time it is shown."""
    webhook = Webhook(
        url=check_url(url),
        event_types=check_event_types(event_types),
        description=description,
        secret=new_secret(),
    )
    session.add(webhook)
    session.flush()
    record_event(session, "webhook.created", "webhook", webhook.id, _public(webhook), actor_user_id)
    session.commit()
    return webhook


def get_webhook(session: Session, webhook_id: int, *, lock: bool = False) -> Webhook:
    """The webhook, or WebhookNotFound."""
    statement = select(Webhook).where(Webhook.id == webhook_id)
    webhook = session.scalars(statement.with_for_update() if lock else statement).one_or_none()
    if webhook is None:
        raise WebhookNotFound(f"webhook {webhook_id} not found")
    return webhook


def update_webhook(
    session: Session, webhook_id: int, fields: Mapping[str, Any], actor_user_id: int | None
) -> Webhook:
    """Change url, event_types, description or is_active; turning a webhook back on forgets
    its failures."""
    webhook = get_webhook(session, webhook_id, lock=True)
    before = _public(webhook)
    if "url" in fields:
        webhook.url = check_url(fields["url"])
    if "event_types" in fields:
        webhook.event_types = check_event_types(fields["event_types"])
    if "description" in fields:
        webhook.description = fields["description"]
    if "is_active" in fields:
        if fields["is_active"] and not webhook.is_active:
            webhook.failing_since = None
        webhook.is_active = fields["is_active"]
    changed = changes(before, _public(webhook))
    if changed:
        record_event(
            session, "webhook.updated", "webhook", webhook_id, {"changes": changed}, actor_user_id
        )
    session.commit()
    return webhook


def delete_webhook(session: Session, webhook_id: int, actor_user_id: int | None) -> None:
    """Remove the webhook and its delivery log; jobs still queued for it send nothing."""
    webhook = get_webhook(session, webhook_id, lock=True)
    record_event(session, "webhook.deleted", "webhook", webhook_id, _public(webhook), actor_user_id)
    session.delete(webhook)
    session.commit()


def redeliver(session: Session, webhook_id: int, delivery_id: int) -> WebhookDelivery:
    """Queue the event of delivery `delivery_id` for webhook `webhook_id` again (a new
    attempt, with the same `webhook-id`); works for a disabled webhook only once it is on."""
    delivery = session.scalars(
        select(WebhookDelivery).where(
            WebhookDelivery.id == delivery_id, WebhookDelivery.webhook_id == webhook_id
        )
    ).one_or_none()
    if delivery is None:
        raise WebhookNotFound(f"delivery {delivery_id} of webhook {webhook_id} not found")
    if not get_webhook(session, webhook_id).is_active:
        raise WebhookInactive(f"webhook {webhook_id} is disabled: turn it on first")
    jobs.defer_deliveries(
        session.connection().connection.driver_connection,
        [(delivery.event_id, webhook_id)],
    )
    session.commit()
    return delivery
