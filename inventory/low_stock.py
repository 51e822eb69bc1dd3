"""Low-stock alerts: a product at or below its threshold has exactly one active alert; rising
above the threshold resolves it. A partial unique index makes a second active alert impossible.
Opening one logs a WARNING."""

from __future__ import annotations

import logging

from sqlalchemy import Row, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session

from inventory.events import record_event
from inventory.models import LowStockAlert, Product

logger = logging.getLogger("inventory.stock")


def sync_alert(
    session: Session, product_id: int, quantity: int, threshold: int, user_id: int | None
) -> bool:
    """Open or resolve the product's alert for its new stock, with a `low_stock.opened` or
    `low_stock.resolved` event by `user_id`; True when an alert was opened.

    Call it while the product row is locked (after an UPDATE of it in the same transaction).
    """
    details = {"product_id": product_id, "quantity": quantity, "threshold": threshold}
    if quantity <= threshold:
        opened = session.execute(
            insert(LowStockAlert)
            .values(product_id=product_id, quantity=quantity, threshold=threshold, active=True)
            .on_conflict_do_nothing(index_elements=["product_id"], index_where=LowStockAlert.active)
            .returning(LowStockAlert.id)
        ).first()
        if opened is not None:
            record_event(
                session, "low_stock.opened", "low_stock_alert", opened.id, details, user_id
            )
        return opened is not None
    resolved = session.execute(
        update(LowStockAlert)
        .where(LowStockAlert.product_id == product_id, LowStockAlert.active)
        .values(active=False, resolved_at=func.now())
        .returning(LowStockAlert.id)
    ).first()
    if resolved is not None:
        record_event(
            session, "low_stock.resolved", "low_stock_alert", resolved.id, details, user_id
        )
    return False


def alert_details(session: Session, product_id: int) -> Row:
    """What the WARNING of a newly opened alert says about the product (read before the
    change commits, logged after)."""
    return session.execute(
        select(
            Product.sku, Product.name, Product.stock_quantity, Product.low_stock_threshold
        ).where(Product.id == product_id)
    ).one()


def log_opened(product_id: int, product: Row) -> None:
    """The WARNING that goes with a newly opened alert."""
    logger.warning(
        "low stock: product id=%s sku=%s name=%r quantity=%s threshold=%s",
        product_id,
        product.sku,
        product.name,
        product.stock_quantity,
        product.low_stock_threshold,
        extra={
            "product_id": product_id,
            "sku": product.sku,
            "quantity": product.stock_quantity,
            "threshold": product.low_stock_threshold,
        },
    )
