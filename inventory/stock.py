"""The stock rules: atomic changes, the movement ledger, idempotent retries.

- Every change of stock is one SQL statement (or happens under a row lock) and writes a
  `stock_movements` row in the same transaction, so a product's ledger always sums to its stock.
- Stock never goes below zero: the conditional UPDATE matches no row, and the caller gets 409.
- Every change ends in `commit_change`: the product is read back while its row is still locked
  (the answer is this change's result, not a later one's), committed, and a newly opened
  low-stock alert is logged.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import BigInteger, Row, and_, cast, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session

from inventory import low_stock
from inventory.errors import Conflict, Invalid, NotFound
from inventory.events import record_event
from inventory.models import MAX_DB_INT, IdempotencyKey, Product, StockMovement, StockMovementPage
from inventory.pagination import PageParams, paginate
from inventory.product_json import read_product

IDEMPOTENCY_KEY_LIFETIME = timedelta(hours=24)
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
    reference: str | None = None,
) -> None:
    """Write one ledger row, with its `stock.adjusted` event; a change of zero is not a
    movement."""
    if delta == 0:
        return
    details = {
        "product_id": product_id,
        "delta": delta,
        "quantity_after": quantity_after,
        "reason": reason,
        "reference": reference,
    }
    record_event(session, "stock.adjusted", "product", product_id, details, user_id)
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


def commit_change(session: Session, product_id: int, alert_opened: bool) -> ChangedProduct:
    """Read the changed product back under its row lock, commit, and log an opened alert."""
    return _commit(session, product_id, read_product(session, product_id), alert_opened)


def _commit(session: Session, product_id: int, product: Row, alert_opened: bool) -> ChangedProduct:
    opened = low_stock.alert_details(session, product_id) if alert_opened else None
    session.commit()
    if opened is not None:
        low_stock.log_opened(product_id, opened)
    return ChangedProduct(id=product_id, json=product.json, version=product.version)


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
        .where(Product.id == product_id, and_(new_quantity >= 0, new_quantity <= MAX_DB_INT))
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
        session, product_id, delta, quantity, reason=reason, reference=reference, user_id=user_id
    )
    return low_stock.sync_alert(session, product_id, quantity, threshold, user_id)


def _refuse_delta(session: Session, product_id: int, delta: int) -> None:
    available = session.scalar(select(Product.stock_quantity).where(Product.id == product_id))
    session.rollback()
    if available is None:
        raise NotFound("product", product_id)
    if delta < 0:
        raise Conflict(
            f"not enough stock: {available} available, {-delta} requested", available=available
        )
    raise Conflict(f"stock would exceed the maximum of {MAX_DB_INT}", available=available)


def adjust_stock(
    session: Session,
    product_id: int,
    delta: int,
    reason: str,
    reference: str | None,
    user_id: int,
) -> ChangedProduct:
    """Add or take stock atomically, record the movement, update the alert, commit."""
    opened = _apply_delta(session, product_id, delta, reason, reference, user_id)
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
    product = read_product(session, product_id)
    session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == idempotency_key)
        .values(status_code=200, response_body=product.json)
    )
    return IdempotentResult(_commit(session, product_id, product, opened), replayed=False)


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


def _replay(stored: IdempotencyKey, fingerprint: str) -> IdempotentResult:
    """The stored answer to the first request with this key (Invalid for another request)."""
    if stored.request_fingerprint != fingerprint:
        raise Invalid(
            "this Idempotency-Key was used for a different request",
            loc=("header", "idempotency-key"),
        )
    body = json.loads(stored.response_body)
    product = ChangedProduct(id=body["id"], json=stored.response_body, version=body["version"])
    return IdempotentResult(product, replayed=True)


def set_stock(session: Session, product: Product, new_quantity: int, user_id: int) -> None:
    """Set the stock of a product this transaction has locked; the ledger gets the difference."""
    delta = new_quantity - product.stock_quantity
    product.stock_quantity = new_quantity
    record_movement(
        session, product.id, delta, new_quantity, reason=STOCK_EDIT_REASON, user_id=user_id
    )


def list_movements(session: Session, product_id: int, page: PageParams) -> StockMovementPage:
    """The product's ledger, newest first; NotFound if there is no such product."""
    if session.get(Product, product_id) is None:
        raise NotFound("product", product_id)
    statement = select(StockMovement).where(StockMovement.product_id == product_id)
    return paginate(session, statement, page, StockMovementPage, StockMovement.id.desc())
