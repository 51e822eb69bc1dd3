"""The stock rules in one place: atomic changes, the movement ledger, alerts, idempotent retries.

- Every change of stock is one SQL statement (or happens under a row lock) and writes a
  `stock_movements` row in the same transaction, so a product's ledger always sums to its stock.
- Stock never goes below zero: the conditional UPDATE matches no row, and the caller gets 409.
- A product at or below its threshold has exactly one active low-stock alert; rising above the
  threshold resolves it. A partial unique index makes a second active alert impossible.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from fastapi import HTTPException
from sqlalchemy import BigInteger, and_, cast, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import joinedload
from sqlmodel import Session

from inventory.http import conflict, not_found
from inventory.models import (
    MAX_DB_INT,
    IdempotencyKey,
    LowStockAlert,
    Product,
    ProductRead,
    StockMovement,
)

logger = logging.getLogger(__name__)

IDEMPOTENCY_KEY_LIFETIME = timedelta(hours=24)
INITIAL_STOCK_REASON = "initial stock"
STOCK_EDIT_REASON = "stock set by product update"


def record_movement(
    session: Session,
    product_id: int,
    delta: int,
    quantity_after: int,
    *,
    reason: str,
    user_id: int | None,
    reference: str | None = None,
) -> None:
    """Write one ledger row; a change of zero is not a movement."""
    if delta == 0:
        return
    session.add(
        StockMovement(
            product_id=product_id,
            delta=delta,
            quantity_after=quantity_after,
            reason=reason,
            reference=reference,
            user_id=user_id,
        )
    )


def sync_low_stock_alert(session: Session, product_id: int, quantity: int, threshold: int) -> bool:
    """Open or resolve the product's alert for its new stock; True when an alert was opened.

    Call it while the product row is locked (after an UPDATE of it in the same transaction).
    """
    if quantity <= threshold:
        opened = session.execute(
            insert(LowStockAlert)
            .values(
                product_id=product_id,
                quantity=quantity,
                threshold=threshold,
                active=True,
            )
            .on_conflict_do_nothing(index_elements=["product_id"], index_where=LowStockAlert.active)
            .returning(LowStockAlert.id)
        ).first()
        return opened is not None
    session.execute(
        update(LowStockAlert)
        .where(LowStockAlert.product_id == product_id, LowStockAlert.active)
        .values(active=False, resolved_at=func.now())
    )
    return False


def log_low_stock(product: Product) -> None:
    """The WARNING that goes with a newly opened alert."""
    logger.warning(
        "low stock: product id=%s sku=%s name=%r quantity=%s threshold=%s",
        product.id,
        product.sku,
        product.name,
        product.stock_quantity,
        product.low_stock_threshold,
        extra={
            "product_id": product.id,
            "sku": product.sku,
            "quantity": product.stock_quantity,
            "threshold": product.low_stock_threshold,
        },
    )


def reload_product(session: Session, product_id: int, *, lock: bool = False) -> Product:
    """The product as the database has it now, with its categories (404 if none).

    With `lock`, its row stays locked (FOR UPDATE) until the transaction ends.
    """
    # Without a lock, the categories come in the same statement (a join); FOR UPDATE cannot
    # take the nullable side of an outer join, so a locked read loads them in a second one.
    options = [] if lock else [joinedload(Product.categories)]
    product = session.get(
        Product, product_id, options=options, with_for_update=lock, populate_existing=True
    )
    if product is None:
        raise not_found("product", product_id)
    return product


def _apply_delta(
    session: Session,
    product_id: int,
    delta: int,
    reason: str,
    reference: str | None,
    user_id: int,
) -> bool:
    """Change the stock by `delta` in one conditional UPDATE; True when an alert opened."""
    new_quantity = cast(Product.stock_quantity, BigInteger) + delta
    changed = session.execute(
        update(Product)
        .where(
            Product.id == product_id,
            and_(new_quantity >= 0, new_quantity <= MAX_DB_INT),
        )
        .values(
            stock_quantity=Product.stock_quantity + delta,
            version=Product.version + 1,
            updated_at=func.now(),
        )
        .returning(Product.stock_quantity, Product.low_stock_threshold)
    ).first()
    if changed is None:
        _refuse_delta(session, product_id, delta)
    quantity, threshold = changed
    record_movement(
        session,
        product_id,
        delta,
        quantity,
        reason=reason,
        reference=reference,
        user_id=user_id,
    )
    return sync_low_stock_alert(session, product_id, quantity, threshold)


def _refuse_delta(session: Session, product_id: int, delta: int) -> None:
    available = session.scalar(select(Product.stock_quantity).where(Product.id == product_id))
    session.rollback()
    if available is None:
        raise not_found("product", product_id)
    if delta < 0:
        raise conflict(
            f"not enough stock: {available} available, {-delta} requested",
            available=available,
        )
    raise conflict(f"stock would exceed the maximum of {MAX_DB_INT}", available=available)


def adjust_stock(
    session: Session,
    product_id: int,
    delta: int,
    reason: str,
    reference: str | None,
    user_id: int,
) -> Product:
    """Add or take stock atomically, record the movement, update the alert, commit."""
    opened = _apply_delta(session, product_id, delta, reason, reference, user_id)
    # Read back while the row is still locked, so the caller sees the result of this change,
    # not of a concurrent one committed just after it.
    product = reload_product(session, product_id)
    session.commit()
    if opened:
        log_low_stock(product)
    return product


@dataclass(frozen=True)
class AdjustmentResult:
    """The product after an adjustment, as the JSON body, and whether it was replayed."""

    body: dict[str, Any]
    replayed: bool


def adjust_stock_once(
    session: Session,
    product_id: int,
    adjustment: dict[str, Any],
    user_id: int,
    idempotency_key: str,
) -> AdjustmentResult:
    """Apply an adjustment at most once per (user, key) within 24 hours.

    The key row is inserted first: a concurrent retry with the same key waits on it and then
    returns the stored result. A failed adjustment stores nothing, so it may be retried.
    """
    fingerprint = hashlib.sha256(
        json.dumps([product_id, adjustment], sort_keys=True).encode()
    ).hexdigest()
    session.execute(
        delete(IdempotencyKey).where(
            IdempotencyKey.user_id == user_id,
            IdempotencyKey.created_at < func.now() - IDEMPOTENCY_KEY_LIFETIME,
        )
    )
    while not _claim_key(session, user_id, idempotency_key, fingerprint):
        stored = session.get(IdempotencyKey, (user_id, idempotency_key), populate_existing=True)
        if stored is not None:  # else the first request failed and released the key: claim it
            session.rollback()
            return _replay(stored, fingerprint)
    opened = _apply_delta(session, product_id, user_id=user_id, **adjustment)
    product = reload_product(session, product_id)
    body = ProductRead.model_validate(product).model_dump(mode="json")
    session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == idempotency_key)
        .values(status_code=200, response_body=json.dumps(body))
    )
    session.commit()
    if opened:
        log_low_stock(product)
    return AdjustmentResult(body=body, replayed=False)


def _claim_key(session: Session, user_id: int, key: str, fingerprint: str) -> bool:
    """Insert the key row; False when it exists (waiting first for a concurrent holder)."""
    claimed = session.execute(
        insert(IdempotencyKey)
        .values(
            user_id=user_id,
            key=key,
            request_fingerprint=fingerprint,
            status_code=0,
            response_body="",
        )
        .on_conflict_do_nothing()
        .returning(IdempotencyKey.key)
    ).first()
    return claimed is not None


def _replay(stored: IdempotencyKey, fingerprint: str) -> AdjustmentResult:
    if stored.request_fingerprint != fingerprint:
        raise HTTPException(
            status_code=422,
            detail="this Idempotency-Key was used for a different request",
        )
    return AdjustmentResult(body=json.loads(stored.response_body), replayed=True)


def set_stock(session: Session, product: Product, new_quantity: int, user_id: int) -> None:
    """Set the stock of a product this transaction has locked; the ledger gets the difference."""
    delta = new_quantity - product.stock_quantity
    product.stock_quantity = new_quantity
    record_movement(
        session,
        product.id,
        delta,
        new_quantity,
        reason=STOCK_EDIT_REASON,
        user_id=user_id,
    )
