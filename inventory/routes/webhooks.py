"""Webhook subscriptions and their delivery log (admin only)."""

from typing import Annotated

from fastapi import Query, Request, Response

from inventory import webhooks
from inventory.auth import AdminDep
from inventory.db import SessionDep
from inventory.errors import error_doc
from inventory.models import (
    WebhookCreate,
    WebhookCreated,
    WebhookDeliveryPage,
    WebhookPage,
    WebhookRead,
    WebhookRedelivery,
    WebhookUpdate,
)
from inventory.pagination import PageDep
from inventory.routing import ApiRouter, IdPath

router = ApiRouter("/webhooks", tag="webhooks")

NO_WEBHOOK = error_doc(404, "No such webhook.", "webhook 3 not found")
TURNED_OFF = error_doc(
    409, "The webhook is turned off.", "webhook 3 is turned off: turn it on first"
)


@router.post("", status_code=201, summary="Subscribe a URL to events")
def create_webhook(
    body: WebhookCreate, session: SessionDep, user: AdminDep, request: Request, response: Response
) -> WebhookCreated:
    """Send the events of `event_types` (or `["*"]` for all) to `url`, as a signed POST
    (Standard Webhooks: headers `webhook-id`, `webhook-timestamp`, `webhook-signature`).
    The answer holds the signing `secret`; it is never shown again. The first event the new
    webhook gets may be its own `webhook.created`."""
    webhook = webhooks.create_webhook(
        session, body.url, body.event_types, body.description, user.id
    )
    response.headers["Location"] = request.app.url_path_for("get_webhook", webhook_id=webhook.id)
    return WebhookCreated.model_validate(webhook, from_attributes=True)


@router.get("", summary="List webhooks")
def list_webhooks(session: SessionDep, _: AdminDep, page: PageDep) -> WebhookPage:
    """All webhooks, oldest first, without their secrets."""
    return webhooks.list_webhooks(session, page)


@router.get("/{webhook_id}", summary="Get a webhook", responses=NO_WEBHOOK)
def get_webhook(webhook_id: IdPath, session: SessionDep, _: AdminDep) -> WebhookRead:
    """One webhook, without its secret."""
    return WebhookRead.model_validate(
        webhooks.get_webhook(session, webhook_id), from_attributes=True
    )


@router.patch("/{webhook_id}", summary="Change a webhook", responses=NO_WEBHOOK)
def update_webhook(
    webhook_id: IdPath, body: WebhookUpdate, session: SessionDep, user: AdminDep
) -> WebhookRead:
    """Change url, event_types, description or is_active; fields left out stay as they are.
    Turning a webhook on again forgets its failures."""
    webhook = webhooks.update_webhook(session, webhook_id, body.model_dump(), user.id)
    return WebhookRead.model_validate(webhook, from_attributes=True)


@router.delete("/{webhook_id}", status_code=204, summary="Delete a webhook", responses=NO_WEBHOOK)
def delete_webhook(webhook_id: IdPath, session: SessionDep, user: AdminDep) -> Response:
    """Stop sending to this webhook and forget its delivery log."""
    webhooks.delete_webhook(session, webhook_id, user.id)
    return Response(status_code=204)


@router.get("/{webhook_id}/deliveries", summary="List delivery attempts", responses=NO_WEBHOOK)
def list_deliveries(
    webhook_id: IdPath,
    session: SessionDep,
    _: AdminDep,
    page: PageDep,
    event_id: Annotated[
        int | None, Query(ge=1, le=2**63 - 1, description="Only the attempts of this event.")
    ] = None,
) -> WebhookDeliveryPage:
    """Every attempt to deliver an event to this webhook, newest first: a failed one is retried
    with backoff (WEBHOOK_RETRY_SCHEDULE), each retry listed as the next `attempt`."""
    return webhooks.list_deliveries(session, webhook_id, event_id, page)


@router.post(
    "/{webhook_id}/deliveries/{delivery_id}/redeliver",
    status_code=202,
    summary="Send an event again",
    responses=NO_WEBHOOK | TURNED_OFF,
)
def redeliver(
    webhook_id: IdPath, delivery_id: IdPath, session: SessionDep, _: AdminDep
) -> WebhookRedelivery:
    """Queue the event of this delivery for another attempt (it keeps its `webhook-id`, so a
    receiver that already has it can tell). A worker sends it within moments."""
    delivery = webhooks.redeliver(session, webhook_id, delivery_id)
    return WebhookRedelivery(webhook_id=webhook_id, event_id=delivery.event_id)
