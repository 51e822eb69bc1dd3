"""Low-stock alerts: a product whose available stock (on hand less reserved, all locations) is at
or below its threshold has exactly one active alert; rising above the threshold resolves it. A
partial unique index makes a second active alert impossible. Opening one logs a WARNING."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import ARRAY, Integer, bindparam, text
from sqlmodel import Session

from inventory.events import record_event

logger = logging.getLogger("inventory.stock")

SYNC_ALERTS = text(
    """
    WITH opened AS (
        INSERT INTO low_stock_alerts (product_id, quantity, threshold, active)
        SELECT id, stock_quantity - reserved, low_stock_threshold, true FROM products
        WHERE id = ANY(:product_ids) AND stock_quantity - reserved <= low_stock_threshold
        ON CONFLICT (product_id) WHERE active DO NOTHING
        RETURNING id, product_id, quantity, threshold
    ), resolved AS (
        UPDATE low_stock_alerts SET active = false, resolved_at = now()
        FROM products
        WHERE low_stock_alerts.product_id = products.id
            AND products.id = ANY(:product_ids)
            AND low_stock_alerts.active
            AND products.stock_quantity - products.reserved > products.low_stock_threshold
        RETURNING low_stock_alerts.id, low_stock_alerts.product_id,
            products.stock_quantity - products.reserved AS quantity,
            products.low_stock_threshold AS threshold
    ), changed AS (
        SELECT true AS opened, * FROM opened UNION ALL SELECT false, * FROM resolved
    )
    SELECT changed.id, changed.product_id, changed.opened, changed.quantity, changed.threshold,
        products.sku, products.name
    FROM changed JOIN products ON products.id = changed.product_id
    ORDER BY changed.product_id
    """
).bindparams(bindparam("product_ids", type_=ARRAY(Integer)))


@dataclass(frozen=True)
class AlertChange:
    """An alert just opened (or resolved), with what its WARNING (or event) says."""

    alert_id: int
    product_id: int
    opened: bool
    quantity: int
    threshold: int
    sku: str | None
    name: str


def sync_alerts(
    session: Session, product_ids: Iterable[int], user_id: int | None
) -> list[AlertChange]:
    """Open or resolve the products' alerts for their available stock as this transaction
    sees it, each with a `low_stock.opened` or `low_stock.resolved` event by `user_id` (None
    for the system); the alerts opened and resolved. Call it while the products are locked,
    after their change."""
    session.flush()
    rows = session.execute(SYNC_ALERTS, {"product_ids": sorted(set(product_ids))})
    alerts = [AlertChange(*row) for row in rows]
    for alert in alerts:
        details = {
            "product_id": alert.product_id,
            "quantity": alert.quantity,
            "threshold": alert.threshold,
        }
        kind = "low_stock.opened" if alert.opened else "low_stock.resolved"
        record_event(session, kind, "low_stock_alert", alert.alert_id, details, user_id)
    return alerts


def log_opened(changes: list[AlertChange]) -> None:
    """The WARNING that goes with each newly opened alert (log it once committed)."""
    for alert in (change for change in changes if change.opened):
        logger.warning(
            "low stock: product id=%s sku=%s name=%r quantity=%s threshold=%s",
            alert.product_id,
            alert.sku,
            alert.name,
            alert.quantity,
            alert.threshold,
            extra={
                "product_id": alert.product_id,
                "sku": alert.sku,
                "quantity": alert.quantity,
                "threshold": alert.threshold,
            },
        )
