"""The stock rules of a product: adjustments, the movement ledger, idempotent retries.

- Stock is kept per location (inventory/stock_levels.py); an adjustment changes one location's
  on-hand (the default location when none is named) in one conditional statement, under the
  product's lock, and writes a `stock_movements` row in the same transaction, so the ledger
  always sums to the stock, per location and in all.
- Stock never goes below zero, and reserved units are never taken: the conditional UPDATE
  matches no row, and the caller gets 409 with what is `available`.
- Every change ends in `commit_change`: the product is read back while its row is still locked
  (the answer is this change's result, not a later one's), committed, and a newly opened
  low-stock alert is logged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from inventory import idempotency, low_stock, stock_levels
from inventory.errors import NotFound
from inventory.events import record_event
from inventory.models import Product, StockMovement, StockMovementPage
from inventory.pagination import PageParams, paginate
from inventory.product_json import read_product

INITIAL_STOCK_REASON = "initial stock"
STOCK_EDIT_REASON = "stock set by product update"


@dataclass(frozen=True)
class ChangedProduct:
    """A product right after a change: its id, ProductRead JSON text and version."""

    id: int
    json: str
    version: int


def record_movement(
    session: Session,
    product_id: int,
    delta: int,
    quantity_after: int,
    *,
    reason: str,
    user_id: int | None,
    location_id: int,
    reference: str | None = None,
) -> None:
    """Write one ledger row, with its `stock.adjusted` event; a change of zero is not a
    movement."""
    if delta == 0:
        return
    details = {
        "product_id": product_id,
        "location_id": location_id,
        "delta": delta,
        "quantity_after": quantity_after,
        "reason": reason,
        "reference": reference,
    }
    record_event(session, "stock.adjusted", "product", product_id, details, user_id)
    session.add(
        StockMovement(
            product_id=product_id,
            location_id=location_id,
            delta=delta,
            quantity_after=quantity_after,
            reason=reason,
            reference=reference,
            user_id=user_id,
        )
    )


def commit_change(
    session: Session, product_id: int, opened: list[low_stock.AlertChange]
) -> ChangedProduct:
    """Read the changed product back under its row lock, commit, and log opened alerts."""
    product = read_product(session, product_id)
    session.commit()
    low_stock.log_opened(opened)
    return ChangedProduct(id=product_id, json=product.json, version=product.version)


def _apply_delta(
    session: Session,
    product_id: int,
    delta: int,
    reason: str,
    reference: str | None,
    user_id: int,
    location_id: int | None = None,
) -> list[low_stock.AlertChange]:
    """Change the stock at the location by `delta` under the product's lock; the alerts
    opened."""
    stock_levels.lock_product(session, product_id)
    location_id = stock_levels.change_on_hand(session, product_id, location_id, delta)
    quantity = stock_levels.product_stock(session, [product_id])[product_id]
    record_movement(
        session,
        product_id,
        delta,
        quantity,
        reason=reason,
        reference=reference,
        user_id=user_id,
        location_id=location_id,
    )
    return low_stock.sync_alerts(session, [product_id], user_id)


def adjust_stock(
    session: Session, product_id: int, adjustment: dict[str, Any], user_id: int
) -> ChangedProduct:
    """Add or take stock atomically (`adjustment`: delta, reason, reference, location_id),
    record the movement, update the alert, commit."""
    opened = _apply_delta(session, product_id, user_id=user_id, **adjustment)
    return commit_change(session, product_id, opened)


@dataclass(frozen=True)
class IdempotentResult:
    """The product after an adjustment, and whether it is a replay of an earlier answer."""

    product: ChangedProduct
    replayed: bool


def adjust_stock_once(
    session: Session,
    product_id: int,
    adjustment: dict[str, Any],
    user_id: int,
    idempotency_key: str,
) -> IdempotentResult:
    """Apply an adjustment at most once per (user, key) within 24 hours (inventory/idempotency.py).

    A failed adjustment stores nothing, so it may be retried."""
    # Without a location the fingerprint is what wave 1 stored, so its keys still replay.
    request = {name: value for name, value in adjustment.items() if name != "location_id"}
    if adjustment.get("location_id") is not None:
        request["location_id"] = adjustment["location_id"]
    fingerprint = idempotency.fingerprint(product_id, request)
    stored = idempotency.claim(session, user_id, idempotency_key, fingerprint)
    if stored is not None:
        body = json.loads(stored.body_json)
        product = ChangedProduct(id=body["id"], json=stored.body_json, version=body["version"])
        return IdempotentResult(product, replayed=True)
    opened = _apply_delta(session, product_id, user_id=user_id, **adjustment)
    product = read_product(session, product_id)
    idempotency.remember(session, user_id, idempotency_key, 200, product.json)
    session.commit()
    low_stock.log_opened(opened)
    return IdempotentResult(
        ChangedProduct(id=product_id, json=product.json, version=product.version), replayed=False
    )


def set_stock(session: Session, product: Product, new_quantity: int, user_id: int) -> None:
    """Set the stock of a product this transaction has locked: the default location's on-hand
    changes by the difference (409 if it cannot: not that many units there, or reserved), and
    the ledger gets it."""
    delta = new_quantity - product.stock_quantity
    if delta == 0:
        return
    stock_levels.lock_product(session, product.id)  # releases due holds before the check
    location_id = stock_levels.change_on_hand(session, product.id, None, delta)
    record_movement(
        session,
        product.id,
        delta,
        new_quantity,
        reason=STOCK_EDIT_REASON,
        user_id=user_id,
        location_id=location_id,
    )


def open_stock(session: Session, product_id: int, quantity: int, user_id: int) -> None:
    """Put a new product's opening stock at the default location, as its first ledger row."""
    if quantity == 0:
        return
    location_id = stock_levels.change_on_hand(session, product_id, None, quantity)
    record_movement(
        session,
        product_id,
        quantity,
        quantity,
        reason=INITIAL_STOCK_REASON,
        user_id=user_id,
        location_id=location_id,
    )


def list_movements(session: Session, product_id: int, page: PageParams) -> StockMovementPage:
    """The product's ledger, newest first; NotFound if there is no such product."""
    if session.get(Product, product_id) is None:
        raise NotFound("product", product_id)
    statement = select(StockMovement).where(StockMovement.product_id == product_id)
    return paginate(session, statement, page, StockMovementPage, StockMovement.id.desc())
