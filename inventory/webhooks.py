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
from inventory.errors import Conflict, Invalid, NotFound
from inventory.events import changes, record_event
from inventory.models import (
    ALL_EVENT_TYPES,
    EVENT_TYPE_PATTERN,
    Webhook,
    WebhookDelivery,
    WebhookDeliveryPage,
    WebhookPage,
)
from inventory.pagination import PageParams, paginate
from inventory.webhook_targets import UnsafeTargetError, origin, resolve


def new_secret() -> str:
    """A Standard Webhooks signing secret."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def check_url(url: str) -> str:
    """`url` if a webhook may send to it, else Invalid."""
    try:
        resolve(url, get_settings().webhook_allow_private_targets)
    except UnsafeTargetError as error:
        raise Invalid(f"url: {error}", loc=("body", "url")) from error
    return url


def check_event_types(event_types: list[str]) -> list[str]:
    """Event types like `product.updated`, or `["*"]` for all; duplicates dropped."""
    if event_types == [ALL_EVENT_TYPES]:
        return event_types
    for index, event_type in enumerate(event_types):
        if not re.fullmatch(EVENT_TYPE_PATTERN, event_type):
            raise Invalid(
                f"event_types: {event_type[:64]!r} is not an event type like product.updated "
                '(or use ["*"] alone for all)',
                loc=("body", "event_types", index),
            )
    return list(dict.fromkeys(event_types))


def _public(webhook: Webhook) -> dict[str, Any]:
    """What an event says of a webhook: never its secret, and of its URL only the origin
    (events may go to other webhooks)."""
    return {
        "target": origin(webhook.url),
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


def list_webhooks(session: Session, page: PageParams) -> WebhookPage:
    """A page of webhooks, oldest first."""
    return paginate(session, select(Webhook), page, WebhookPage, Webhook.id)


def get_webhook(session: Session, webhook_id: int, *, lock: bool = False) -> Webhook:
    """The webhook, or NotFound."""
    statement = select(Webhook).where(Webhook.id == webhook_id)
    webhook = session.scalars(statement.with_for_update() if lock else statement).one_or_none()
    if webhook is None:
        raise NotFound("webhook", webhook_id)
    return webhook


def list_deliveries(
    session: Session, webhook_id: int, event_id: int | None, page: PageParams
) -> WebhookDeliveryPage:
    """A page of the webhook's delivery attempts, newest first (optionally of one event)."""
    get_webhook(session, webhook_id)
    statement = select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id)
    if event_id is not None:
        statement = statement.where(WebhookDelivery.event_id == event_id)
    return paginate(session, statement, page, WebhookDeliveryPage, WebhookDelivery.id.desc())


def update_webhook(
    session: Session, webhook_id: int, fields: Mapping[str, Any], actor_user_id: int | None
) -> Webhook:
    """Change url, event_types, description or is_active; turning a webhook back on forgets
    its failures. The event tells whether the URL changed, and its origin's [old, new]."""
    webhook = get_webhook(session, webhook_id, lock=True)
    before_url, before = webhook.url, _public(webhook)
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
    url_changed = webhook.url != before_url
    if changed or url_changed:
        details = {"changes": changed, "url_changed": url_changed}
        record_event(session, "webhook.updated", "webhook", webhook_id, details, actor_user_id)
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
        get_webhook(session, webhook_id)
        raise NotFound("delivery", delivery_id)
    if not get_webhook(session, webhook_id).is_active:
        raise Conflict(f"webhook {webhook_id} is turned off: turn it on first")
    jobs.defer_deliveries(
        session.connection().connection.driver_connection,
        [(delivery.event_id, webhook_id)],
    )
    session.commit()
    return delivery
